// The load state: per topic and partition, the last raw-lake offset loaded and the rows loaded, written with the rows.

import type { Relation, Warehouse, WarehouseSession } from "../warehouse/index.ts";
import { RAW_SCHEMA } from "./raw-tables.ts";

/** raw._pulse_load_state(topic, partition, last_offset, rows_loaded, loaded_at). */
export const LOAD_STATE: Relation = { schema: RAW_SCHEMA, name: "_pulse_load_state" };

export interface PartitionLoadState {
  partition: number;
  /** The last raw-lake offset loaded into the table. */
  lastOffset: number;
  /** Rows loaded from this partition, over every load. */
  rowsLoaded: number;
}

export async function createLoadState(warehouse: Warehouse): Promise<void> {
  await warehouse.createTable(LOAD_STATE, [
    { name: "topic", type: "string", nullable: false },
    { name: "partition", type: "int64", nullable: false },
    { name: "last_offset", type: "int64", nullable: false },
    { name: "rows_loaded", type: "int64", nullable: false },
    { name: "loaded_at", type: "timestamp", nullable: false },
  ]);
}

/** The state of each partition of `topic` loaded so far, by partition. */
export async function readLoadState(
  warehouse: Warehouse,
  topic: string,
): Promise<Map<number, PartitionLoadState>> {
  const q = (name: string) => warehouse.dialect.quoteIdentifier(name);
  const result = await warehouse.query(
    `SELECT ${q("partition")} AS p, ${q("last_offset")} AS o, ${q("rows_loaded")} AS n FROM ${warehouse.dialect.relationName(LOAD_STATE)} WHERE ${q("topic")} = $1`,
    [topic],
  );
  const out = new Map<number, PartitionLoadState>();
  for (const row of result.rows)
    out.set(Number(row.p), {
      partition: Number(row.p),
      lastOffset: Number(row.o),
      rowsLoaded: Number(row.n),
    });
  return out;
}

/** Replaces the state rows of the partitions in `states`, inside the transaction that loads their rows. */
export async function writeLoadState(
  session: WarehouseSession,
  dialect: Warehouse["dialect"],
  topic: string,
  states: readonly PartitionLoadState[],
  loadedAt: Date,
): Promise<void> {
  if (states.length === 0) return;
  const q = (name: string) => dialect.quoteIdentifier(name);
  const partitions = states.map((state) => dialect.quoteLiteral(state.partition)).join(", ");
  await session.query(
    `DELETE FROM ${dialect.relationName(LOAD_STATE)} WHERE ${q("topic")} = $1 AND ${q("partition")} IN (${partitions})`,
    [topic],
  );
  await session.append(
    LOAD_STATE,
    ["topic", "partition", "last_offset", "rows_loaded", "loaded_at"],
    states.map((state) => [topic, state.partition, state.lastOffset, state.rowsLoaded, loadedAt]),
  );
}
