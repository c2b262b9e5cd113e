// SqliteFile: opening reports failures in the part's own codes, use after close, busy/storage/bad-value mapping, close with the checkpointer; a part's segment-size option.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it, type TestContext } from "vitest";
import { PulseError, type PulseErrorCode } from "../errors.ts";
import { SqliteFile, type SqlitePartErrors, segmentBytesOption } from "./lifecycle.ts";

/** A part of its own, so the tests show that every failure comes out in its class and codes. */
class PartError extends PulseError {}
/** The test part's codes are its own, outside the catalog. */
const own = (code: string) => code as PulseErrorCode;

const PART_ERRORS: SqlitePartErrors = {
  part: "the test part",
  className: "TestPart",
  file: "the test file",
  reopen: "open a new TestPart",
  codes: {
    badOption: own("PART_BAD_OPTION"),
    closed: own("PART_CLOSED"),
    busy: own("PART_BUSY"),
    storage: own("PART_STORAGE"),
    schemaTooNew: own("PART_TOO_NEW"),
    badValue: own("PART_BAD_VALUE"),
  },
  isOwn: (error) => error instanceof PartError,
  error: (code, message, options) => new PartError(code, message, options),
};

const SCHEMA = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);";

function tempDir(ctx: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-sqlite-file-"));
  ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(
  ctx: TestContext,
  path: string,
  options: { schemaVersion?: number; busyTimeoutMs?: number; backgroundCheckpoints?: boolean } = {},
): SqliteFile {
  const file = SqliteFile.open({ path, schema: SCHEMA, schemaVersion: 1, ...options }, PART_ERRORS);
  ctx.onTestFinished(() => file.close());
  return file;
}

/** Matches a PartError with this code, and this message (a RegExp: matching it) and fields when given. */
function partError(code: string, message?: string | RegExp, fields: Record<string, unknown> = {}) {
  return expect.objectContaining({
    name: "PartError",
    code,
    ...(message === undefined
      ? {}
      : { message: typeof message === "string" ? message : expect.stringMatching(message) }),
    ...fields,
  });
}

describe("SqliteFile", () => {
  it("opens the file with its schema and version, creating parent folders", (ctx) => {
    const path = join(tempDir(ctx), "nested", "part.db");
    const file = open(ctx, path, { schemaVersion: 4 });
    expect(file.path).toBe(path);
    expect(file.isOpen).toBe(true);
    const db = file.use();
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(4);
    db.prepare("INSERT INTO items (name) VALUES (?)").run("a");
    expect(db.prepare("SELECT name FROM items").pluck().all()).toEqual(["a"]);
  });

  it("without a schema version, applies the schema at every open and leaves user_version alone", async (ctx) => {
    const path = join(tempDir(ctx), "part.db");
    const first = SqliteFile.open({ path, schema: SCHEMA }, PART_ERRORS);
    first.use().prepare("INSERT INTO items (name) VALUES (?)").run("kept");
    await first.close();
    const again = open(ctx, path, { schemaVersion: undefined });
    expect(again.use().pragma("user_version", { simple: true })).toBe(0);
    expect(again.use().prepare("SELECT name FROM items").pluck().all()).toEqual(["kept"]);
  });

  it("reports a bad option, an unopenable path and a newer schema in the part's codes", async (ctx) => {
    const dir = tempDir(ctx);
    expect(() =>
      SqliteFile.open({ path: join(dir, "a.db"), schema: SCHEMA, synchronous: "OFF" as "FULL" }, PART_ERRORS),
    ).toThrow(partError("PART_BAD_OPTION", 'TestPart synchronous must be "FULL" or "NORMAL", got "OFF".'));

    writeFileSync(join(dir, "plain-file"), "");
    expect(() => open(ctx, join(dir, "plain-file", "part.db"))).toThrow(
      partError("PART_STORAGE", /^The test part: cannot open .*; check the path and its permissions\.$/, {
        cause: expect.anything(),
      }),
    );

    const newer = join(dir, "newer.db");
    await open(ctx, newer, { schemaVersion: 7 }).close();
    expect(() => open(ctx, newer, { schemaVersion: 6 })).toThrow(
      partError(
        "PART_TOO_NEW",
        `The test file ${newer} has schema version 7, newer than this Pulse (6); upgrade Pulse or use another file.`,
      ),
    );
  });

  it("reports a failed upgrade as a storage error, and passes the part's own errors through", async (ctx) => {
    const path = join(tempDir(ctx), "part.db");
    await open(ctx, path, { schemaVersion: 1 }).close();
    const upgradeWith = (upgrade: (db: Database.Database) => void) =>
      SqliteFile.open({ path, schema: SCHEMA, schemaVersion: 2, upgrade }, PART_ERRORS);
    const db = open(ctx, path, { schemaVersion: 1 }).use();
    expect(() => upgradeWith((upgrading) => upgrading.exec("SELECT * FROM no_such_table"))).toThrow(
      partError(
        "PART_STORAGE",
        `SQLite failed while opening the test part ${path}: no such table: no_such_table`,
      ),
    );
    expect(() =>
      upgradeWith(() => {
        throw new PartError(own("PART_REFUSED"), "refused");
      }),
    ).toThrow(partError("PART_REFUSED", "refused"));
    // Neither attempt changed the file.
    expect(db.pragma("user_version", { simple: true })).toBe(1);
  });

  it("maps what a call throws: its own errors as they are, busy retriable, bad values, the rest storage", (ctx) => {
    const path = join(tempDir(ctx), "part.db");
    const file = open(ctx, path, { busyTimeoutMs: 50 });
    const insert = (name: unknown) => () =>
      file.run("adding an item", () => file.use().prepare("INSERT INTO items (name) VALUES (?)").run(name));
    expect(() =>
      file.run("checking", () => {
        throw new PartError(own("PART_OWN"), "own");
      }),
    ).toThrow(partError("PART_OWN", "own"));

    const holder = new Database(path);
    ctx.onTestFinished(() => {
      holder.close();
    });
    holder.exec("BEGIN IMMEDIATE");
    expect(insert("b")).toThrow(
      partError(
        "PART_BUSY",
        "The test part file is locked by another process while adding an item; retry, or raise busyTimeoutMs.",
        { retriable: true, cause: expect.objectContaining({ code: "SQLITE_BUSY" }) },
      ),
    );
    holder.exec("ROLLBACK");

    expect(insert({})).toThrow(partError("PART_BAD_VALUE", /^Invalid value while adding an item: /));
    expect(() => file.run("reading", () => file.use().prepare("SELECT * FROM missing_table").all())).toThrow(
      partError("PART_STORAGE", "SQLite failed while reading: no such table: missing_table", {
        retriable: false,
        cause: expect.any(Error),
      }),
    );
  });

  it("reports unbindable values as storage failures for a part without a bad-value code", (ctx) => {
    const { badValue: _, ...codes } = PART_ERRORS.codes;
    const file = SqliteFile.open(
      { path: ":memory:", schema: SCHEMA, schemaVersion: 1 },
      { ...PART_ERRORS, codes },
    );
    ctx.onTestFinished(() => file.close());
    expect(() =>
      file.run("adding an item", () => file.use().prepare("INSERT INTO items (name) VALUES (?)").run({})),
    ).toThrow(partError("PART_STORAGE", /^SQLite failed while adding an item: /));
  });

  it("fails use() after close with the part's closed error, and closes only once", async (ctx) => {
    const path = join(tempDir(ctx), "part.db");
    const file = open(ctx, path);
    const db = file.use();
    let released = 0;
    const closing = file.close(() => released++);
    // Without a checkpointer the connection is closed before close() returns.
    expect(db.open).toBe(false);
    await closing;
    await file.close(() => released++);
    expect(released).toBe(1);
    expect(file.isOpen).toBe(false);
    expect(() => file.use()).toThrow(
      partError("PART_CLOSED", `The test part ${path} is closed; open a new TestPart.`),
    );
  });

  it("starts the background checkpointer on the first write and stops it before the connection closes", async (ctx) => {
    const path = join(tempDir(ctx), "part.db");
    const file = open(ctx, path, { backgroundCheckpoints: true });
    const db = file.use();
    expect(file.checkpointer).toBeDefined();
    db.prepare("INSERT INTO items (name) VALUES ('a')").run();
    file.wrote();
    // Started: the connection no longer checkpoints by itself.
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    let openWhenReleased: boolean | undefined;
    await file.close(() => {
      openWhenReleased = db.open;
    });
    expect(openWhenReleased).toBe(true);
    expect(db.open).toBe(false);
    expect(file.checkpointer?.failure).toBeUndefined();
  });

  it("has no checkpointer for an in-memory file or without backgroundCheckpoints", (ctx) => {
    expect(open(ctx, ":memory:", { backgroundCheckpoints: true }).checkpointer).toBeUndefined();
    expect(open(ctx, join(tempDir(ctx), "part.db")).checkpointer).toBeUndefined();
  });

  it("checks a segment-size option: the fallback when unset, a whole number of bytes > 0, else the part's bad option", () => {
    expect(segmentBytesOption(PART_ERRORS, "segmentBytes", undefined, 4096)).toBe(4096);
    expect(segmentBytesOption(PART_ERRORS, "segmentBytes", 1, 4096)).toBe(1);
    for (const bytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => segmentBytesOption(PART_ERRORS, "segmentBytes", bytes, 4096)).toThrow(
        partError(
          "PART_BAD_OPTION",
          `TestPart segmentBytes must be a whole number of bytes > 0, got ${bytes}.`,
        ),
      );
    }
  });
});
