// The warehouse's retention: the raw tables' rows of whole UTC days before a cutoff deleted, the marts left to keep those days.

import type { Warehouse } from "../warehouse/index.ts";
import { RAW_SCHEMA, RAW_TABLES, type RawTable } from "./raw-tables.ts";

const DAY_MS = 86_400_000;

/*
 * Whole days only, by event time: fct_daily_user_metrics is incremental by day and rebuilds a day only
 * when the staged rows it counts for that day differ from what it built, so a day whose raw rows are all
 * gone is left as it was built, while a day cut in part would be rebuilt short. The load runs this before
 * it loads new rows, so the rows a load brings reach the models of the same DAG run before a later load
 * can delete them.
 */

export interface WarehouseRetention {
  /** Days kept before today (UTC): rows of days before (today − days) go. At least 1. */
  days: number;
  /** The clock that says which day is today. */
  nowMs: number;
}

export interface RawTableRetention {
  /** schema.name of the raw table. */
  table: string;
  rowsDeleted: number;
}

export interface WarehouseRetentionResult {
  /** The first UTC day kept, YYYY-MM-DD. */
  keptFrom: string;
  tables: RawTableRetention[];
}

/** The first day retention keeps, as ms since the epoch: the start of the UTC day `days` before today. */
export function retentionCutoffMs(retention: WarehouseRetention): number {
  return (Math.floor(retention.nowMs / DAY_MS) - retention.days) * DAY_MS;
}

/** Deletes the raw tables' rows whose event time is before the cutoff day; tables not made yet are skipped. */
export async function enforceWarehouseRetention(
  warehouse: Warehouse,
  retention: WarehouseRetention,
  tables: readonly RawTable[] = RAW_TABLES,
): Promise<WarehouseRetentionResult> {
  const cutoffMs = retentionCutoffMs(retention);
  const existing = new Set((await warehouse.relations(RAW_SCHEMA)).map((relation) => relation.name));
  const out: RawTableRetention[] = [];
  for (const table of tables) {
    if (!existing.has(table.relation.name)) continue;
    const time = warehouse.dialect.quoteIdentifier(table.eventTimeColumn);
    const result = await warehouse.query(
      `DELETE FROM ${warehouse.dialect.relationName(table.relation)} WHERE ${time} < $1`,
      [new Date(cutoffMs)],
    );
    out.push({ table: `${table.relation.schema}.${table.relation.name}`, rowsDeleted: result.rowsAffected });
  }
  return { keptFrom: new Date(cutoffMs).toISOString().slice(0, 10), tables: out };
}
