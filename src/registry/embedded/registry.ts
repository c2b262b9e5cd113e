// The embedded schema registry: Confluent Schema Registry semantics (ids, versions, deletes, config) over SQLite.

import { RegistryError } from "../../errors.ts";
import { checkSubject, parseVersion } from "../arguments.ts";
import type { ParsedSchema } from "../canonical.ts";
import {
  checkCompatibility,
  describeIncompatibility,
  parseAvroSchema,
  parseCompatibilityLevel,
  type VersionIncompatibility,
} from "../compatibility.ts";
import { RegistryErrorCode, registryError } from "../errors.ts";
import {
  type CompatibilityLevel,
  type CompatibilityResult,
  defaultCompatibilityLevel,
  type ReadOptions,
  type RegisteredSchema,
  RegistryBase,
  type SchemaRegistryApi,
  type VersionSpec,
} from "../index.ts";
import { RegistryStore, type VersionRow } from "./store.ts";

export interface SchemaRegistryOptions {
  /** SQLite file, or ":memory:" for a registry that lives as long as this object. */
  path: string;
}

/** How many parsed schemas to keep, so compatibility checks do not re-parse a subject's history each time. */
const parsedCacheSize = 512;

/** How many incompatibilities a 409 message spells out; the rest are in the error's details. */
const messageIssueLimit = 3;

/**
 * Methods are async to match SchemaRegistryClient (and the HTTP client); the work itself is synchronous
 * SQLite, so each call completes within one turn of the event loop.
 */
export class SchemaRegistry extends RegistryBase implements SchemaRegistryApi {
  private readonly store: RegistryStore;
  private readonly parsed = new Map<string, ParsedSchema>();

  private constructor(store: RegistryStore) {
    super();
    this.store = store;
  }

  static open(options: SchemaRegistryOptions): SchemaRegistry {
    return new SchemaRegistry(RegistryStore.open(options.path));
  }

  close(): void {
    this.store.close();
  }

  /**
   * Registers the schema under the subject and returns its global id. A schema already live in the subject
   * returns its id without a new version; a schema known under another subject reuses that id.
   * Rejects with 409 when the subject's compatibility level forbids it, 42201 when the schema is invalid.
   */
  async register(subject: string, schema: string): Promise<number> {
    return (await this.registerVersion(subject, schema)).id;
  }

  /** As register, returning the subject version too. */
  async registerVersion(subject: string, schema: string): Promise<RegisteredSchema> {
    checkSubject(subject);
    const candidate = parseAvroSchema(schema);
    return this.guard(() =>
      this.store.writeTransaction(() => {
        const live = this.store.versions(subject, false);
        const existing = live.find((row) => row.schema === candidate.canonical);
        if (existing !== undefined) return toRegistered(existing);
        const level = this.effectiveLevel(subject);
        const issues = checkCompatibility(level, candidate, this.history(live));
        if (issues.length > 0) throw incompatible(subject, level, issues);
        const id =
          this.store.findSchemaId(candidate.canonical) ?? this.store.insertSchema(candidate.canonical);
        const version = this.store.maxVersion(subject) + 1;
        this.store.insertVersion(subject, version, id);
        return { subject, version, id, schema: candidate.canonical };
      }),
    );
  }

  /** The canonical schema text for a global id; soft-deleted versions still resolve, so old data decodes. */
  async getSchemaById(id: number): Promise<string> {
    const text = Number.isSafeInteger(id) && id > 0 ? this.guard(() => this.store.schemaById(id)) : undefined;
    if (text === undefined)
      throw registryError(RegistryErrorCode.schemaNotFound, `schema id ${id} not found`);
    return text;
  }

  /** Subject/version pairs that use a schema id (Confluent's GET /schemas/ids/{id}/versions). */
  async getSubjectVersionsForId(
    id: number,
    options: ReadOptions = {},
  ): Promise<{ subject: string; version: number }[]> {
    await this.getSchemaById(id);
    return this.guard(() => this.store.versionsOfSchema(id, options.includeDeleted ?? false));
  }

  async getVersion(
    subject: string,
    version: VersionSpec,
    options: ReadOptions = {},
  ): Promise<RegisteredSchema> {
    const wanted = parseVersion(version);
    const rows = this.subjectRows(subject, options.includeDeleted ?? false);
    const row = wanted === "latest" ? rows.at(-1) : rows.find((candidate) => candidate.version === wanted);
    if (row === undefined) {
      throw registryError(
        RegistryErrorCode.versionNotFound,
        `version ${wanted} of subject "${subject}" not found`,
      );
    }
    return toRegistered(row);
  }

  async listSubjects(options: ReadOptions = {}): Promise<string[]> {
    return this.guard(() => this.store.subjects(options.includeDeleted ?? false));
  }

  async listVersions(subject: string, options: ReadOptions = {}): Promise<number[]> {
    return this.subjectRows(subject, options.includeDeleted ?? false).map((row) => row.version);
  }

  /** Finds the live version of the subject holding this schema; 40403 when the subject does not have it. */
  async lookup(subject: string, schema: string, options: ReadOptions = {}): Promise<RegisteredSchema> {
    const candidate = parseAvroSchema(schema);
    const rows = this.subjectRows(subject, options.includeDeleted ?? false);
    const row = rows.find((candidateRow) => candidateRow.schema === candidate.canonical);
    if (row === undefined) {
      throw registryError(RegistryErrorCode.schemaNotFound, `schema not found under subject "${subject}"`);
    }
    return toRegistered(row);
  }

  /**
   * Tests the schema against one version under the subject's level (its direction only: a version is one
   * version, transitive or not), or with version undefined against every version the level covers.
   */
  async testCompatibility(
    subject: string,
    version: VersionSpec | undefined,
    schema: string,
  ): Promise<CompatibilityResult> {
    const candidate = parseAvroSchema(schema);
    const level = this.effectiveLevel(subject);
    let against: VersionRow[];
    if (version === undefined) {
      against = this.guard(() => this.store.versions(subject, false));
    } else {
      const target = await this.getVersion(subject, version);
      against = [{ ...target, deleted: false }];
    }
    const issues = checkCompatibility(level, candidate, this.history(against));
    return {
      compatible: issues.length === 0,
      messages: issues.map(describeIncompatibility),
      incompatibilities: issues,
    };
  }

  /** The level in force: the subject's own, else the global one, else BACKWARD. */
  async getConfig(subject?: string): Promise<CompatibilityLevel> {
    return this.guard(() => this.effectiveLevel(subject));
  }

  /** The level set on the subject itself, undefined when it follows the global level. */
  async getSubjectConfig(subject: string): Promise<CompatibilityLevel | undefined> {
    return this.guard(() => this.store.level(subject));
  }

  /** Sets the global level, or the subject's; the level may be any case. Rejects unknown levels with 42203. */
  async setConfig(level: CompatibilityLevel | string, subject?: string): Promise<CompatibilityLevel> {
    const parsed = parseCompatibilityLevel(level);
    if (subject !== undefined) checkSubject(subject);
    this.guard(() => this.store.setLevel(parsed, subject));
    return parsed;
  }

  /** Removes a subject's own level (it then follows the global one), or resets the global level to BACKWARD. */
  async deleteConfig(subject?: string): Promise<CompatibilityLevel> {
    return this.guard(() => {
      const previous = this.store.level(subject);
      if (previous === undefined && subject !== undefined) {
        throw registryError(
          RegistryErrorCode.subjectConfigNotFound,
          `subject "${subject}" has no compatibility level of its own`,
        );
      }
      this.store.deleteLevel(subject);
      return previous ?? defaultCompatibilityLevel;
    });
  }

  /**
   * Soft delete hides every version of the subject; permanent delete removes them and the subject's level,
   * and (as in Confluent) is allowed only after a soft delete. Returns the versions deleted.
   */
  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    return this.guard(() =>
      this.store.writeTransaction(() => {
        const all = this.store.versions(subject, true);
        if (all.length === 0) throw subjectNotFound(subject);
        const live = all.filter((row) => !row.deleted).map((row) => row.version);
        if (!permanent) {
          if (live.length === 0) {
            throw registryError(
              RegistryErrorCode.subjectSoftDeleted,
              `subject "${subject}" was already soft-deleted; delete with permanent=true to remove it`,
            );
          }
          this.store.markDeleted(subject, live);
          return live;
        }
        if (live.length > 0) {
          throw registryError(
            RegistryErrorCode.subjectNotSoftDeleted,
            `subject "${subject}" must be soft-deleted before it is permanently deleted`,
          );
        }
        const versions = all.map((row) => row.version);
        this.store.removeVersions(subject, versions);
        this.store.deleteLevel(subject);
        return versions;
      }),
    );
  }

  /** Soft or (after a soft delete) permanent delete of one version; returns the version number. */
  async deleteVersion(subject: string, version: VersionSpec, permanent = false): Promise<number> {
    const wanted = parseVersion(version);
    return this.guard(() =>
      this.store.writeTransaction(() => {
        const all = this.store.versions(subject, true);
        if (all.length === 0) throw subjectNotFound(subject);
        const row =
          wanted === "latest"
            ? (permanent ? all : all.filter((candidate) => !candidate.deleted)).at(-1)
            : all.find((candidate) => candidate.version === wanted);
        if (row === undefined) {
          throw registryError(
            RegistryErrorCode.versionNotFound,
            `version ${wanted} of subject "${subject}" not found`,
          );
        }
        if (!permanent) {
          if (row.deleted) {
            throw registryError(
              RegistryErrorCode.versionSoftDeleted,
              `version ${row.version} of subject "${subject}" was already soft-deleted; delete with permanent=true to remove it`,
            );
          }
          this.store.markDeleted(subject, [row.version]);
          return row.version;
        }
        if (!row.deleted) {
          throw registryError(
            RegistryErrorCode.versionNotSoftDeleted,
            `version ${row.version} of subject "${subject}" must be soft-deleted before it is permanently deleted`,
          );
        }
        this.store.removeVersions(subject, [row.version]);
        return row.version;
      }),
    );
  }

  private effectiveLevel(subject?: string): CompatibilityLevel {
    return (
      (subject === undefined ? undefined : this.store.level(subject)) ??
      this.store.level() ??
      defaultCompatibilityLevel
    );
  }

  /** A subject's rows; 40401 when it has none (or, without includeDeleted, only soft-deleted ones). */
  private subjectRows(subject: string, includeDeleted: boolean): VersionRow[] {
    const rows = this.guard(() => this.store.versions(subject, includeDeleted));
    if (rows.length === 0) throw subjectNotFound(subject);
    return rows;
  }

  private history(rows: readonly VersionRow[]): { version: number; schema: ParsedSchema }[] {
    return rows.map((row) => ({ version: row.version, schema: this.parse(row.schema) }));
  }

  private parse(canonical: string): ParsedSchema {
    let parsed = this.parsed.get(canonical);
    if (parsed === undefined) {
      parsed = parseAvroSchema(canonical);
      if (this.parsed.size >= parsedCacheSize) this.parsed.clear();
      this.parsed.set(canonical, parsed);
    }
    return parsed;
  }

  /** Lets RegistryErrors through and turns SQLite failures (busy past the timeout, closed) into one. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof RegistryError) throw error;
      const reason = this.store.isOpen ? "the registry database failed" : "the registry is closed";
      throw registryError(RegistryErrorCode.storeFailed, `${reason}: ${(error as Error).message ?? error}`, {
        cause: error,
      });
    }
  }
}

function subjectNotFound(subject: string): RegistryError {
  return registryError(RegistryErrorCode.subjectNotFound, `subject "${subject}" not found`);
}

function incompatible(
  subject: string,
  level: CompatibilityLevel,
  issues: VersionIncompatibility[],
): RegistryError {
  const messages = issues.map(describeIncompatibility);
  const shown = messages.slice(0, messageIssueLimit).join("; ");
  const more =
    messages.length > messageIssueLimit ? ` (and ${messages.length - messageIssueLimit} more)` : "";
  return registryError(
    RegistryErrorCode.incompatible,
    `schema is incompatible with subject "${subject}" under ${level}: ${shown}${more}`,
    { details: { subject, level, messages } },
  );
}

function toRegistered(row: VersionRow | RegisteredSchema): RegisteredSchema {
  return { subject: row.subject, version: row.version, id: row.id, schema: row.schema };
}
