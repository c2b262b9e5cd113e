import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["test/services/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits for what it checks to happen; 1 s (the default) is too short on a loaded machine.
    expect: { poll: { timeout: 20_000 } },
    pool: "forks",
  },
});
