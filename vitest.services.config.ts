import { defineConfig } from "vitest/config";

// Tests against real servers (Kafka, FerretDB), started by scripts/services/*.sh: one file at a time,
// each in its own process, since they share the servers.
export default defineConfig({
  test: {
    include: ["test/services/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    // A first start may build or download a server.
    hookTimeout: 900_000,
    // expect.poll waits for what it checks to happen; 1 s (the default) is too short on a loaded machine.
    expect: { poll: { timeout: 20_000 } },
  },
});
