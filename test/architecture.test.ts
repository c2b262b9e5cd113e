// The layout holds: each room imports only the rooms below it, backends are opened only through their seam, files stay small and say what they are for.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");

/**
 * What each room of src/ may import, besides its own files. A room is a folder of src/, or one of the
 * leaf modules beside them (errors, bytes, paths), which import nothing of Pulse. The same table is in
 * docs/architecture.md ("Rooms"); a test below keeps the two equal. The table has no cycle: arrows
 * point down only.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  cli: [
    "app",
    "config",
    "contracts",
    "errors",
    "ingest",
    "load",
    "log",
    "models",
    "orchestrate",
    "paths",
    "registry",
    "store",
    "stream",
    "warehouse",
  ],
  app: [
    "config",
    "contracts",
    "errors",
    "ingest",
    "lake",
    "load",
    "log",
    "models",
    "orchestrate",
    "paths",
    "reconcile",
    "registry",
    "serde",
    "serve",
    "store",
    "stream",
    "warehouse",
  ],
  serve: ["bytes", "contracts", "errors", "log", "registry", "store"],
  stream: ["bytes", "contracts", "errors", "lake", "log", "serde", "store"],
  ingest: ["bytes", "contracts", "errors", "log", "serde"],
  store: ["bytes", "errors", "lake", "paths", "sqlite"],
  lake: ["bytes", "contracts", "errors", "serde", "sqlite"],
  load: ["contracts", "errors", "lake", "serde", "warehouse"],
  models: ["errors", "warehouse"],
  reconcile: ["errors", "load", "models", "store", "warehouse"],
  orchestrate: ["errors", "paths", "postgres", "sqlite"],
  warehouse: ["errors", "paths", "postgres"],
  serde: ["bytes", "contracts", "errors", "registry"],
  registry: ["bytes", "errors", "log", "paths"],
  config: ["errors", "log"],
  log: ["bytes", "errors", "paths", "sqlite"],
  sqlite: ["errors"],
  postgres: [],
  contracts: ["errors", "paths"],
  errors: [],
  bytes: [],
  paths: [],
};

/**
 * Each seam's backends: a folder each, opened only through the seam's open.ts (or the app). A seam is a
 * room, or a folder inside one (the orchestrator's run store, orchestrate/runs).
 */
const BACKENDS: Record<string, readonly string[]> = {
  log: ["embedded", "kafka"],
  registry: ["embedded", "kafka", "http"],
  store: ["embedded", "mongo"],
  lake: ["embedded", "mongo"],
  warehouse: ["duckdb", "postgres", "bigquery"],
  "orchestrate/runs": ["sqlite", "postgres"],
};

/**
 * Backends built on another backend: the registry on a Kafka topic folds it into an in-process registry
 * and reads it through the Kafka log; each live store keeps its raw lake in its own storage. The seam's
 * open.ts may import what its backends are built on.
 */
const BUILT_ON: Record<string, readonly string[]> = {
  "registry/kafka": ["log/kafka", "registry/embedded"],
  "store/embedded": ["lake/embedded"],
  "store/mongo": ["lake/mongo"],
};

/** A file a reader can see whole (STYLE.md: "under about 600 lines"). */
const MAX_SOURCE_LINES = 600;
const MAX_TEST_LINES = 650;

interface SourceFile {
  /** Relative to src/, with forward slashes. */
  path: string;
  text: string;
  isTest: boolean;
}

function sourceFiles(dir = SRC): SourceFile[] {
  const out: SourceFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith(".ts")) {
      out.push({
        path: relative(SRC, full).split("\\").join("/"),
        text: readFileSync(full, "utf8"),
        isTest: entry.name.endsWith(".test.ts"),
      });
    }
  }
  return out;
}

/** The src/-relative paths a file imports (static, dynamic and re-exports), resolved; packages left out. */
function importsOf(file: SourceFile): string[] {
  const out: string[] = [];
  for (const match of file.text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*"(\.[^"]+)"/g)) {
    const target = relative(SRC, resolve(SRC, dirname(file.path), match[1]!))
      .split("\\")
      .join("/");
    out.push(target);
  }
  return out;
}

/** The room of a src/-relative path: its top folder, or the leaf module's name. */
function roomOf(path: string): string {
  const slash = path.indexOf("/");
  return slash === -1 ? path.replace(/(\.test)?\.ts$/, "") : path.slice(0, slash);
}

/** "log/kafka" for src/log/kafka/…, "orchestrate/runs/sqlite" for src/orchestrate/runs/sqlite/…, undefined outside a backend folder. */
function backendOf(path: string): string | undefined {
  for (const [seam, folders] of Object.entries(BACKENDS)) {
    const folder = folders.find((name) => path.startsWith(`${seam}/${name}/`));
    if (folder !== undefined) return `${seam}/${folder}`;
  }
  return undefined;
}

/** The seam of a backend: "log" for "log/kafka", "orchestrate/runs" for "orchestrate/runs/sqlite". */
function seamOf(backend: string): string {
  return backend.slice(0, backend.lastIndexOf("/"));
}

const FILES = sourceFiles();
const PRODUCTION = FILES.filter((file) => !file.isTest);

describe("the rooms of src/", () => {
  it("has a row for every room, and the table has no cycle", () => {
    const rooms = new Set(FILES.map((file) => roomOf(file.path)));
    expect([...rooms].sort()).toEqual(Object.keys(MAY_IMPORT).sort());
    const done = new Set<string>();
    const visit = (room: string, path: string[]): void => {
      expect(path, `a cycle: ${[...path, room].join(" → ")}`).not.toContain(room);
      if (done.has(room)) return;
      for (const below of MAY_IMPORT[room] ?? []) visit(below, [...path, room]);
      done.add(room);
    };
    for (const room of Object.keys(MAY_IMPORT)) visit(room, []);
  });

  it("imports only the rooms each room may import", () => {
    const wrong: string[] = [];
    for (const file of PRODUCTION) {
      const from = roomOf(file.path);
      for (const target of importsOf(file)) {
        const to = roomOf(target);
        // The built-in DAGs (dags/, outside src/) are checked by the test below.
        if (target.startsWith("../dags/")) continue;
        if (to !== from && !MAY_IMPORT[from]?.includes(to))
          wrong.push(`src/${file.path} imports src/${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("opens a backend only through its seam's open.ts, or from a backend built on it", () => {
    const wrong: string[] = [];
    for (const file of PRODUCTION) {
      const fromBackend = backendOf(file.path);
      for (const target of importsOf(file)) {
        const backend = backendOf(target);
        if (backend === undefined || backend === fromBackend) continue;
        const viaOpen =
          file.path === `${seamOf(backend)}/open.ts` ||
          Object.entries(BUILT_ON).some(
            ([built, on]) => file.path === `${seamOf(built)}/open.ts` && on.includes(backend),
          );
        const builtOn = fromBackend !== undefined && BUILT_ON[fromBackend]?.includes(backend);
        if (!viaOpen && !builtOn) wrong.push(`src/${file.path} imports src/${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps test code out of src/: nothing but tests imports vitest or anything outside src/ but the built-in DAGs", () => {
    // The DAGs Pulse ships live in dags/ (where DAG files are looked for), and only the app binds them.
    const outside = (file: SourceFile, target: string) =>
      target.startsWith("../") && !(file.path.startsWith("app/") && target.startsWith("../dags/"));
    const wrong = PRODUCTION.filter(
      (file) => /from "vitest"/.test(file.text) || importsOf(file).some((target) => outside(file, target)),
    ).map((file) => file.path);
    expect(wrong).toEqual([]);
  });

  it("keeps every file small enough to read whole", () => {
    const long = FILES.map((file) => ({ file, lines: file.text.split("\n").length - 1 }))
      .filter(({ file, lines }) => lines > (file.isTest ? MAX_TEST_LINES : MAX_SOURCE_LINES))
      .map(({ file, lines }) => `src/${file.path}: ${lines} lines`);
    expect(long).toEqual([]);
  });

  it("opens every file with a line saying what it is for", () => {
    const bare = FILES.filter((file) => !/^\/\/ \S.{10,}/.test(file.text)).map((file) => file.path);
    expect(bare).toEqual([]);
  });

  it("has no bare `throw new Error(…)` in src/: every error carries a code from the catalog", () => {
    const bare = PRODUCTION.filter((file) => /throw new Error\(/.test(file.text)).map((file) => file.path);
    expect(bare).toEqual([]);
  });

  it("is described in docs/architecture.md by the same table", () => {
    const doc = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Rooms"));
    const rows = new Map<string, string[]>();
    for (const line of section.split("\n").slice(1)) {
      if (line.startsWith("## ")) break;
      const cells = line.split("|").map((cell) => cell.trim());
      const room = /^`(?:src\/)?([a-z-]+)(?:\.ts)?\/?`$/.exec(cells[1] ?? "")?.[1];
      if (room === undefined) continue;
      const may = cells[3] === "—" ? [] : [...(cells[3] ?? "").matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!);
      rows.set(room, may);
    }
    expect(Object.fromEntries(rows)).toEqual(MAY_IMPORT);
  });
});
