// Bad input at the `pulse` command line: exit codes and messages that name what was wrong and what is accepted.
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import zlib from "node:zlib";
import { closedPort, pulseEnv, REPO_ROOT, runPulse, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 120_000;

describe("pulse with bad input", () => {
  it.for<[command: string, args: string[], flag: string]>([
    ["topics", ["topics", "--bogus"], "--bogus"],
    ["produce", ["produce", "activity", "--count", "5", "--colour", "red"], "--colour"],
    ["serve", ["serve", "--prot", "0"], "--prot"],
    ["up", ["up", "--duraton", "1"], "--duraton"],
  ])(
    "pulse %s: an unknown flag exits 2 naming the flag, before touching the data folder",
    { timeout: TIMEOUT_MS },
    async ([command, args, flag], { onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const result = await runPulse([...args, "--data-dir", dataDir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`'${flag}'`);
      expect(result.stderr).toContain(`pulse ${command} --help`);
      expect(result.stderr).toContain("[PULSE_USAGE]");
      // Regression: the command prefix was printed twice ("pulse topics: pulse topics: Unknown option").
      expect(result.stderr.startsWith(`pulse ${command}: Unknown option`)).toBe(true);
      expect(existsSync(join(dataDir, "log.db"))).toBe(false);
      expect(result.stdout).toBe("");
    },
  );

  it(
    "an unknown key in a config file exits 1 with the file, line, key and accepted keys",
    async ({ onTestFinished }) => {
      const dir = tempDir(onTestFinished);
      const config = join(dir, "pulse.config.yaml");
      writeFileSync(
        config,
        ["# Pulse settings", "server:", "  port: 0", "colector:", "  api_keys: [k1]", ""].join("\n"),
      );
      const result = await runPulse(["topics", "--config", config, "--data-dir", join(dir, "data")]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${config}:4: unknown key 'colector'`);
      expect(result.stderr).toContain(
        "Accepted keys: data_dir, log, registry, store, warehouse, orchestrator, server, collector, topics, retention, producer, simulator, wikimedia, validation.",
      );
      expect(result.stderr).toContain("[PULSE_CONFIG_INVALID]");
    },
    TIMEOUT_MS,
  );

  it(
    "an unknown key inside a section names the section's accepted keys",
    async ({ onTestFinished }) => {
      const dir = tempDir(onTestFinished);
      const config = join(dir, "pulse.config.yaml");
      writeFileSync(config, ["collector:", "  max_body_bytes: 2048", "  max_pendng: 1", ""].join("\n"));
      const result = await runPulse([
        "serve",
        "--port",
        "0",
        "--config",
        config,
        "--data-dir",
        join(dir, "data"),
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${config}:3: unknown key 'collector.max_pendng'`);
      expect(result.stderr).toContain(
        "Accepted keys in 'collector': api_keys, max_body_bytes, max_pending_batches.",
      );
      expect(result.stdout).toBe("");
    },
    TIMEOUT_MS,
  );

  it(
    "PULSE_LOG with an unknown scheme exits 1 naming 'log' and the accepted schemes",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const result = await runPulse(["topics", "--data-dir", dataDir], { env: { PULSE_LOG: "foo://x" } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("PULSE_LOG");
      expect(result.stderr).toContain("'log'");
      expect(result.stderr).toContain("accepted: embedded:<file>, kafka://");
      expect(result.stderr).toContain('"foo://x"');
      expect(result.stderr).toContain("[PULSE_CONFIG_INVALID]");
    },
    TIMEOUT_MS,
  );

  it(
    "a PULSE_ variable that is no setting (PULSE_SERVICES_DIR, a typo) is ignored with a warning, and the command runs",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const result = await runPulse(["topics", "--json", "--data-dir", dataDir], {
        env: { PULSE_SERVICES_DIR: "/tmp/x", PULSE_PARTITONS: "3" },
      });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ topics: [] });
      expect(result.stderr).toContain(
        "pulse: warning: environment variable PULSE_SERVICES_DIR is read by Pulse's scripts, benchmarks or tests, not by pulse; it is ignored.",
      );
      expect(result.stderr).toContain(
        "pulse: warning: environment variable PULSE_PARTITONS is not a Pulse setting; it is ignored. Did you mean PULSE_PARTITIONS?",
      );
    },
    TIMEOUT_MS,
  );

  it.for<[command: string, needs: string]>([
    ["produce activity", "--count"],
    ["produce wikimedia", "--replay"],
  ])(
    "pulse %s without its source flag exits 2 naming %s, before touching the data folder",
    { timeout: TIMEOUT_MS },
    async ([command, needs], { onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const result = await runPulse([...command.split(" "), "--data-dir", dataDir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(needs);
      expect(result.stderr).toContain("[PULSE_USAGE]");
      expect(result.stdout).toBe("");
      // Regression: the log and the registry were created (and schemas registered) before the check.
      expect(existsSync(join(dataDir, "log.db"))).toBe(false);
      expect(existsSync(join(dataDir, "registry.db"))).toBe(false);
    },
  );

  it(
    "PULSE_COMPRESSION=zstd where zlib has no zstd stops at once with the fix, before any Kafka call",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const port = await closedPort();
      const result = await runPulse(["topics", "--data-dir", dataDir], {
        env: { PULSE_LOG: `kafka://127.0.0.1:${port}`, PULSE_COMPRESSION: "zstd" },
      });
      if (typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === "function") {
        // This Node.js writes zstd: the command goes on to the (closed) broker instead.
        expect(result.stderr).not.toContain("PULSE_COMPRESSION");
        return;
      }
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("producer.compression (PULSE_COMPRESSION): producing zstd needs");
      expect(result.stderr).toContain("use lz4, snappy or gzip");
      expect(result.stderr).toContain("[PULSE_CONFIG_INVALID]");
    },
    TIMEOUT_MS,
  );

  it.for<[command: string, args: string[]]>([
    ["--help", ["--help"]],
    ["topics", ["topics"]],
  ])(
    "pulse %s whose reader has gone (| head) exits 0 without an EPIPE stack trace",
    { timeout: TIMEOUT_MS },
    async ([, args], { onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const child = spawn(
        process.execPath,
        [join(REPO_ROOT, "bin", "pulse.js"), ...args, "--data-dir", dataDir],
        {
          cwd: REPO_ROOT,
          env: pulseEnv(),
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      // The reading end is closed before the command writes a byte: its first write meets EPIPE.
      child.stdout!.destroy();
      let stderr = "";
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
      expect(stderr).toBe("");
      expect(code).toBe(0);
    },
  );
});
