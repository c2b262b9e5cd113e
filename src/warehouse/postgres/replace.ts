// Swapping a PostgreSQL table or view for a new one in one transaction, keeping the views that read it.

/*
 * PostgreSQL's DDL is transactional, so each replace is one transaction on one connection:
 *   replaceTable:  DROP TABLE IF EXISTS <name>__pulse_new; CREATE TABLE <name>__pulse_new AS <select>;
 *                  DROP <old> CASCADE; ALTER TABLE <name>__pulse_new RENAME TO <name>; views again
 *   replaceView:   DROP <old> CASCADE; CREATE VIEW <name> AS <select>; views again
 * A reader sees the old relation until the commit and the new one after it (a reader waiting on the
 * old one's lock looks the name up again). A view binds to the table it reads, not to its name, so the
 * views that read the old relation (directly or through other views) would go with it: their
 * definitions are read from the catalog first and created again, in dependency order, on the new one.
 * A view the new relation cannot serve (a column it reads is gone) fails the replace, which then
 * changes nothing. Grants, owners and comments of those views are not carried over.
 */

import type { PoolClient } from "pg";
import { createHash } from "node:crypto";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { Relation } from "../index.ts";
import { postgresDialect } from "./dialect.ts";
import { type DependentView, dependentViews, relationKind } from "./introspect.ts";

const q = postgresDialect.quoteIdentifier;

/** A select as the body of a statement: without the semicolons and space it may end with. */
export function selectBody(select: string): string {
  const body = select.replace(/[\s;]+$/, "");
  if (body.trim() === "") {
    throw new WarehouseError(WarehouseErrorCode.badArgument, "The select is empty.");
  }
  return body;
}

/**
 * The name the new table is built under: `<name>__pulse_new`, or, when that is past PostgreSQL's 63
 * bytes, the name cut and a hash of it, so two long names never share one.
 */
export function buildName(name: string): string {
  const plain = `${name}__pulse_new`;
  if (Buffer.byteLength(plain, "utf8") <= 63) return plain;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  let prefix = name;
  while (Buffer.byteLength(`${prefix}__pulse_new_${hash}`, "utf8") > 63) prefix = prefix.slice(0, -1);
  return `${prefix}__pulse_new_${hash}`;
}

/** Drops `relation` (whatever its kind) with the views on it, handing back those views' definitions. */
async function dropKeepingViews(client: PoolClient, relation: Relation): Promise<DependentView[]> {
  const kind = await relationKind(client, relation);
  if (kind === undefined) return [];
  const views = await dependentViews(client, relation);
  const name = postgresDialect.relationName(relation);
  // A materialized view is a "view" to the seam; DROP VIEW does not take one.
  const materialized = await client.query(
    `SELECT 1 FROM pg_catalog.pg_matviews WHERE schemaname = $1 AND matviewname = $2`,
    [relation.schema, relation.name],
  );
  const what = kind === "table" ? "TABLE" : materialized.rowCount ? "MATERIALIZED VIEW" : "VIEW";
  await client.query(`DROP ${what} ${name} CASCADE`);
  return views;
}

/** Creates the views again, in the order given (each after the views it reads). */
async function createViews(client: PoolClient, replaced: Relation, views: readonly DependentView[]) {
  for (const view of views) {
    const name = postgresDialect.relationName(view);
    const options = view.options === "" ? "" : ` WITH (${view.options})`;
    try {
      await client.query(
        `CREATE ${view.materialized ? "MATERIALIZED VIEW" : "VIEW"} ${name}${options} AS\n${view.definition}`,
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new WarehouseError(
        WarehouseErrorCode.queryFailed,
        `The view ${name} reads ${postgresDialect.relationName(replaced)} and cannot be created again on its new version: ${reason}. Nothing was replaced; change or drop the view first.`,
        { cause: error, details: { view: name, sqlstate: (error as { code?: unknown }).code } },
      );
    }
  }
}

/** replaceTable's steps, on a connection in a transaction; returns the rows of the new table. */
export async function replaceTableIn(
  client: PoolClient,
  relation: Relation,
  select: string,
): Promise<number> {
  const body = selectBody(select);
  const building = { schema: relation.schema, name: buildName(relation.name) };
  const buildingName = postgresDialect.relationName(building);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${q(relation.schema)}`);
  await client.query(`DROP TABLE IF EXISTS ${buildingName}`);
  const built = await client.query(`CREATE TABLE ${buildingName} AS\n${body}\n`);
  const views = await dropKeepingViews(client, relation);
  await client.query(`ALTER TABLE ${buildingName} RENAME TO ${q(relation.name)}`);
  await createViews(client, relation, views);
  return built.rowCount ?? 0;
}

/** replaceView's steps, on a connection in a transaction. */
export async function replaceViewIn(client: PoolClient, relation: Relation, select: string): Promise<void> {
  const body = selectBody(select);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${q(relation.schema)}`);
  const views = await dropKeepingViews(client, relation);
  await client.query(`CREATE VIEW ${postgresDialect.relationName(relation)} AS\n${body}\n`);
  await createViews(client, relation, views);
}
