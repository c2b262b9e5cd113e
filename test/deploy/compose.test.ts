// A YAML check of deploy/docker-compose.yml and deploy/Dockerfile (no Docker engine here: nothing is started).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../src/config/index.ts";
import { CONFIG_SCHEMA, type FieldSpec } from "../../src/config/schema.ts";
import { REPO_ROOT } from "../helpers/cli.ts";

interface Service {
  image?: string;
  build?: unknown;
  pull_policy?: string;
  environment?: Record<string, string | number> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: unknown };
  volumes?: string[];
  restart?: string;
  user?: string;
}

const compose = parse(readFileSync(join(REPO_ROOT, "deploy/docker-compose.yml"), "utf8")) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

/** Every environment variable the config schema reads. */
function configVariables(fields: Readonly<Record<string, FieldSpec>>, into = new Set<string>()): Set<string> {
  for (const spec of Object.values(fields)) {
    if (spec.kind === "section") configVariables(spec.fields, into);
    else if (spec.env !== undefined) into.add(spec.env);
  }
  return into;
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => [entry.split("=")[0]!, entry.split("=").slice(1).join("=")]),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

function dependenciesOf(service: Service): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, "service_started"]));
  return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.condition ?? "service_started"]));
}

/** Long-running services: every one but the one-shot steps (restart "no"). */
const longRunning = Object.entries(services).filter(([, s]) => s.restart !== "no");

describe("deploy/docker-compose.yml (checked as YAML, never started here)", () => {
  it("sets only PULSE_* variables that are config variables, with values the config accepts", () => {
    const known = configVariables(CONFIG_SCHEMA);
    for (const [name, service] of Object.entries(services)) {
      const pulse = Object.entries(environmentOf(service)).filter(([k]) => k.startsWith("PULSE_"));
      for (const [key] of pulse) expect(known, `${name}: ${key}`).toContain(key);
      // Each service's values parse as the config would read them in the container.
      if (pulse.length > 0)
        expect(() => loadConfig({ env: Object.fromEntries(pulse), cwd: "/" })).not.toThrow();
    }
  });

  it("the Dockerfile's PULSE_* variables are config variables too", () => {
    const dockerfile = readFileSync(join(REPO_ROOT, "deploy/Dockerfile"), "utf8");
    const names = [...dockerfile.matchAll(/\b(PULSE_[A-Z_]+)=/g)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(configVariables(CONFIG_SCHEMA)).toContain(name);
  });

  it("depends only on services it defines", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(dependenciesOf(service))) {
        expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
      }
    }
  });

  it("keeps Kafka's log in a mounted named volume (KAFKA_LOG_DIRS)", () => {
    const kafka = services.kafka!;
    const logDirs = environmentOf(kafka).KAFKA_LOG_DIRS;
    expect(logDirs).toBeDefined();
    const mounts = (kafka.volumes ?? []).map((v) => v.split(":"));
    for (const dir of logDirs!.split(",")) {
      const mount = mounts.find(([, target]) => target === dir || dir.startsWith(`${target}/`));
      expect(mount, `no volume is mounted at ${dir}`).toBeDefined();
      expect(Object.keys(compose.volumes ?? {})).toContain(mount![0]);
    }
  });

  it("gives the mounted log dir to the image's user before Kafka starts", () => {
    const owner = Object.entries(services).find(
      ([, s]) => s.user === "root" && (s.volumes ?? []).some((v) => v.startsWith("kafka-data:")),
    );
    expect(owner, "a root step that chowns kafka-data").toBeDefined();
    expect(JSON.stringify(owner![1])).toContain("chown -R appuser");
    expect(dependenciesOf(services.kafka!)[owner![0]]).toBe("service_completed_successfully");
  });

  it("has the registry report health, and Pulse wait for it", () => {
    expect(services["schema-registry"]!.healthcheck?.test).toBeDefined();
    for (const name of ["pulse", "stream"]) {
      const deps = dependenciesOf(services[name]!);
      expect(deps["schema-registry"], name).toBe("service_healthy");
      expect(deps.kafka, name).toBe("service_healthy");
      // Whatever a service waits to be healthy must have a healthcheck.
      for (const [dependency, condition] of Object.entries(deps)) {
        if (condition === "service_healthy") {
          expect(services[dependency]!.healthcheck?.test, `${dependency} healthcheck`).toBeDefined();
        }
      }
    }
  });

  it("restarts every long-running service unless stopped", () => {
    expect(longRunning.length).toBeGreaterThanOrEqual(5);
    for (const [name, service] of longRunning) expect(service.restart, name).toBe("unless-stopped");
  });

  it("builds the Pulse image once, for pulse and stream", () => {
    const { pulse, stream } = services;
    expect(pulse!.image).toBeDefined();
    expect(stream!.image).toBe(pulse!.image);
    expect(pulse!.build).toBeDefined();
    expect(stream!.build).toBeUndefined();
    expect(stream!.pull_policy).toBe("never");
  });
});

describe(".dockerignore", () => {
  it("keeps dependencies, data, service state and build output out of the build context", () => {
    const entries = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    for (const entry of ["node_modules", "data/", "dist/", "test-results/", ".ci/"]) {
      expect(entries).toContain(entry);
    }
  });
});
