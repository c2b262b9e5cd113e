// Writing a select's rows into a PostgreSQL table by key: MERGE, or delete+insert, in one transaction.

/*
 * On a connection in a transaction (warehouse.ts opens it), the select is run once into a temporary
 * table, so it sees the target as it was even when it reads it (an incremental model's max(ts)):
 *   CREATE TEMPORARY TABLE pulse_merge_source ON COMMIT DROP AS <select>
 *   "merge":          MERGE INTO target USING pulse_merge_source ON target.k = source.k AND …
 *                       WHEN MATCHED THEN UPDATE SET <every other column of the select>
 *                       WHEN NOT MATCHED THEN INSERT (<the select's columns>) VALUES (…)
 *                     (PostgreSQL 15 and later; two select rows matching one target row fail the
 *                     statement: "MERGE command cannot affect row a second time")
 *   "delete+insert":  DELETE FROM target USING (SELECT DISTINCT keys FROM source) WHERE keys match;
 *                     INSERT INTO target (<the select's columns>) SELECT … FROM pulse_merge_source
 *                     (every select row is inserted, duplicates too)
 * Keys compare with "=", so a NULL key matches nothing (as in dbt). Columns of the target that the
 * select lacks keep their values on update and take their defaults on insert.
 */

import type { PoolClient } from "pg";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { MergeStrategy, Relation } from "../index.ts";
import { postgresDialect } from "./dialect.ts";
import { selectBody } from "./replace.ts";

const q = postgresDialect.quoteIdentifier;

/** PostgreSQL's first version with MERGE, as server_version_num. */
export const MERGE_MIN_VERSION = 150_000;

const SOURCE = "pulse_merge_source";

/** Throws PULSE_WAREHOUSE_BAD_ARGUMENT for a key or strategy mergeInto cannot take. */
export function checkMerge(
  uniqueKey: readonly string[],
  strategy: MergeStrategy,
  serverVersion: number,
): void {
  if (strategy !== "merge" && strategy !== "delete+insert") {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `Unknown merge strategy ${JSON.stringify(strategy)}; use "merge" or "delete+insert".`,
    );
  }
  if (uniqueKey.length === 0) {
    throw new WarehouseError(WarehouseErrorCode.badArgument, "mergeInto needs at least one key column.");
  }
  for (const key of uniqueKey) q(key);
  if (strategy === "merge" && serverVersion < MERGE_MIN_VERSION) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `The "merge" strategy needs PostgreSQL 15 or later (MERGE); this server is ${Math.floor(serverVersion / 10_000)}. Use "delete+insert".`,
    );
  }
}

/** mergeInto's steps, on a connection in a transaction; returns the rows written (updated and inserted). */
export async function mergeIn(
  client: PoolClient,
  relation: Relation,
  select: string,
  uniqueKey: readonly string[],
  strategy: MergeStrategy,
): Promise<number> {
  const target = postgresDialect.relationName(relation);
  await client.query(`CREATE TEMPORARY TABLE ${SOURCE} ON COMMIT DROP AS\n${selectBody(select)}\n`);
  const columns = (await client.query(`SELECT * FROM ${SOURCE} LIMIT 0`)).fields.map((field) => field.name);
  const missing = uniqueKey.filter((key) => !columns.includes(key));
  if (missing.length > 0) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `The select merged into ${target} has no key column ${missing.map((key) => JSON.stringify(key)).join(", ")}; its columns are ${columns.join(", ")}.`,
    );
  }
  const matches = uniqueKey.map((key) => `pulse_target.${q(key)} = pulse_source.${q(key)}`).join(" AND ");
  const columnList = columns.map(q).join(", ");
  if (strategy === "merge") {
    const updates = columns.filter((column) => !uniqueKey.includes(column));
    const whenMatched =
      updates.length === 0
        ? "DO NOTHING"
        : `UPDATE SET ${updates.map((column) => `${q(column)} = pulse_source.${q(column)}`).join(", ")}`;
    const merged = await client.query(
      `MERGE INTO ${target} AS pulse_target USING ${SOURCE} AS pulse_source ON ${matches}
       WHEN MATCHED THEN ${whenMatched}
       WHEN NOT MATCHED THEN INSERT (${columnList}) VALUES (${columns.map((column) => `pulse_source.${q(column)}`).join(", ")})`,
    );
    return merged.rowCount ?? 0;
  }
  await client.query(
    `DELETE FROM ${target} AS pulse_target
      USING (SELECT DISTINCT ${uniqueKey.map(q).join(", ")} FROM ${SOURCE}) AS pulse_source
      WHERE ${matches}`,
  );
  const inserted = await client.query(
    `INSERT INTO ${target} (${columnList}) SELECT ${columnList} FROM ${SOURCE}`,
  );
  return inserted.rowCount ?? 0;
}
