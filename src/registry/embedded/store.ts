// SQLite persistence for the schema registry: schemas by global id, subject versions, compatibility config.

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { RegistryErrorCode, registryError } from "../errors.ts";
import type { CompatibilityLevel } from "../index.ts";

export interface VersionRow {
  subject: string;
  version: number;
  id: number;
  schema: string;
  deleted: boolean;
}

/** How long a writer waits for another process holding the file's write lock, in milliseconds. */
const busyTimeoutMs = 5000;

/**
 * Tables:
 *   schemas(id, canonical)        one row per distinct canonical schema; ids are never reused, so a
 *                                 schema registered again after a hard delete gets its old id back
 *   versions(subject, version, schema_id, deleted)
 *                                 soft delete sets deleted = 1; hard delete removes the row
 *   config(scope, level)          scope "global" or "subject:<name>"
 */
const migrations = `
CREATE TABLE IF NOT EXISTS schemas (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  canonical TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS versions (
  subject TEXT NOT NULL,
  version INTEGER NOT NULL,
  schema_id INTEGER NOT NULL REFERENCES schemas(id),
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, version)
);
CREATE INDEX IF NOT EXISTS versions_by_schema ON versions(schema_id);
CREATE TABLE IF NOT EXISTS config (
  scope TEXT PRIMARY KEY,
  level TEXT NOT NULL
);
`;

interface RawVersionRow {
  subject: string;
  version: number;
  id: number;
  schema: string;
  deleted: number;
}

const globalScope = "global";

function subjectScope(subject: string): string {
  return `subject:${subject}`;
}

/** Synchronous store; SchemaRegistry holds the semantics, this class only reads and writes rows. */
export class RegistryStore {
  private readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  static open(path: string): RegistryStore {
    let db: Database.Database;
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true });
      db = new Database(path);
      // busy_timeout first: switching to WAL itself needs the lock when another process has the file open.
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.exec(migrations);
    } catch (error) {
      throw registryError(
        RegistryErrorCode.storeFailed,
        `cannot open the schema registry database at ${path}: ${(error as Error).message ?? error}`,
        {
          cause: error,
        },
      );
    }
    return new RegistryStore(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  /**
   * Runs fn in an IMMEDIATE transaction: the write lock is taken before reading, so two processes
   * cannot both check compatibility against version n and then both write version n + 1.
   */
  writeTransaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  findSchemaId(canonical: string): number | undefined {
    const row = this.db.prepare("SELECT id FROM schemas WHERE canonical = ?").get(canonical) as
      | { id: number }
      | undefined;
    return row?.id;
  }

  insertSchema(canonical: string): number {
    const result = this.db.prepare("INSERT INTO schemas (canonical) VALUES (?)").run(canonical);
    return Number(result.lastInsertRowid);
  }

  /** The schema text for an id still used by some version, soft-deleted versions included. */
  schemaById(id: number): string | undefined {
    const row = this.db
      .prepare(
        "SELECT canonical FROM schemas WHERE id = ? AND EXISTS (SELECT 1 FROM versions WHERE schema_id = ?)",
      )
      .get(id, id) as { canonical: string } | undefined;
    return row?.canonical;
  }

  /** Every version of a subject, oldest first. */
  versions(subject: string, includeDeleted: boolean): VersionRow[] {
    const rows = this.db
      .prepare(
        `SELECT v.subject, v.version, v.schema_id AS id, s.canonical AS schema, v.deleted
           FROM versions v JOIN schemas s ON s.id = v.schema_id
          WHERE v.subject = ? ${includeDeleted ? "" : "AND v.deleted = 0"}
          ORDER BY v.version`,
      )
      .all(subject) as RawVersionRow[];
    return rows.map(toVersionRow);
  }

  /** Subject/version pairs that use a schema id, live ones only unless asked. */
  versionsOfSchema(id: number, includeDeleted: boolean): { subject: string; version: number }[] {
    return this.db
      .prepare(
        `SELECT subject, version FROM versions WHERE schema_id = ? ${includeDeleted ? "" : "AND deleted = 0"}
          ORDER BY subject, version`,
      )
      .all(id) as { subject: string; version: number }[];
  }

  /** The highest version ever given in the subject, soft-deleted ones included (0 when none). */
  maxVersion(subject: string): number {
    const row = this.db
      .prepare("SELECT MAX(version) AS max FROM versions WHERE subject = ?")
      .get(subject) as {
      max: number | null;
    };
    return row.max ?? 0;
  }

  insertVersion(subject: string, version: number, id: number): void {
    this.db
      .prepare("INSERT INTO versions (subject, version, schema_id, deleted) VALUES (?, ?, ?, 0)")
      .run(subject, version, id);
  }

  markDeleted(subject: string, versions: readonly number[]): void {
    const statement = this.db.prepare("UPDATE versions SET deleted = 1 WHERE subject = ? AND version = ?");
    for (const version of versions) statement.run(subject, version);
  }

  removeVersions(subject: string, versions: readonly number[]): void {
    const statement = this.db.prepare("DELETE FROM versions WHERE subject = ? AND version = ?");
    for (const version of versions) statement.run(subject, version);
  }

  subjects(includeDeleted: boolean): string[] {
    const rows = this.db
      .prepare(
        `SELECT DISTINCT subject FROM versions ${includeDeleted ? "" : "WHERE deleted = 0"} ORDER BY subject`,
      )
      .all() as { subject: string }[];
    return rows.map((row) => row.subject);
  }

  /** The level set for a subject, or with no subject the global one; undefined when none was set. */
  level(subject?: string): CompatibilityLevel | undefined {
    const row = this.db
      .prepare("SELECT level FROM config WHERE scope = ?")
      .get(subject === undefined ? globalScope : subjectScope(subject)) as { level: string } | undefined;
    return row?.level as CompatibilityLevel | undefined;
  }

  setLevel(level: CompatibilityLevel, subject?: string): void {
    this.db
      .prepare(
        "INSERT INTO config (scope, level) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET level = excluded.level",
      )
      .run(subject === undefined ? globalScope : subjectScope(subject), level);
  }

  deleteLevel(subject?: string): void {
    this.db
      .prepare("DELETE FROM config WHERE scope = ?")
      .run(subject === undefined ? globalScope : subjectScope(subject));
  }
}

function toVersionRow(row: RawVersionRow): VersionRow {
  return {
    subject: row.subject,
    version: row.version,
    id: row.id,
    schema: row.schema,
    deleted: row.deleted === 1,
  };
}
