// Speed = batch reconciliation for one UTC day: the speed layer's daily counts and late events against fct_daily_user_metrics.
//
// Per event_type of the day:
//   batch_count   fct_daily_user_metrics.event_count: distinct event_ids, from the raw tables
//   speed_count   the speed layer's daily total: events counted on time, once each (its dedup)
//   late_count    distinct event_ids the speed layer set aside as late and never counted on time
//   unexplained   batch_count − speed_count − late_count, which must be 0
// A late copy of an event the speed layer had counted on time (a producer's retry arriving after the
// window closed, once the dedup state had forgotten the id) is in its late output but must not count
// twice: an event_id is late_count's only when every copy of it in the raw table is one of the speed
// layer's late events (raw copies are the accepted one, if any, and the late ones; the log's duplicates
// the speed layer dropped never reach the lake). Such copies are reported as late_copies. Late events
// not loaded into the warehouse yet (the speed layer saw them after the load) are left out of both sides
// and reported as late_pending.

import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import { USER_ACTIVITY_TABLE } from "../load/raw-tables.ts";
import { DEFAULT_TARGET_SCHEMA } from "../models/runner.ts";
import type { LiveStore } from "../store/index.ts";
import { ACTIVITY_SERIES } from "../store/series.ts";
import type { Column, Relation, Warehouse } from "../warehouse/index.ts";

export const MARTS_SCHEMA = DEFAULT_TARGET_SCHEMA;
const HEADLINE: Relation = { schema: MARTS_SCHEMA, name: "fct_daily_user_metrics" };
/** pulse_audit.reconciliation: one record per (activity_date, event_type), replaced on each reconciliation. */
export const RECONCILIATION: Relation = { schema: "pulse_audit", name: "reconciliation" };

const COLUMNS: readonly Column[] = [
  { name: "activity_date", type: "date", nullable: false },
  { name: "event_type", type: "string", nullable: false },
  { name: "batch_count", type: "int64", nullable: false },
  { name: "speed_count", type: "int64", nullable: false },
  { name: "late_count", type: "int64", nullable: false },
  { name: "late_copies", type: "int64", nullable: false },
  { name: "late_pending", type: "int64", nullable: false },
  { name: "unexplained", type: "int64", nullable: false },
  { name: "run_id", type: "string", nullable: true },
  { name: "reconciled_at", type: "timestamp", nullable: false },
];

export interface ReconciliationRecord {
  activity_date: string;
  event_type: string;
  batch_count: number;
  speed_count: number;
  late_count: number;
  late_copies: number;
  late_pending: number;
  unexplained: number;
  run_id: string | null;
  reconciled_at: string;
}

export interface ReconcileOptions {
  warehouse: Warehouse;
  store: LiveStore;
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  /** The orchestrator run this reconciliation belongs to, kept in the records. */
  runId?: string;
  now?: Date;
}

const DAY_MS = 86_400_000;
const IN_CHUNK = 1000;

/**
 * Reconciles one day and replaces its records; returns them by event_type. Throws
 * PULSE_ORCHESTRATE_UNRECONCILED (after writing the records) when any unexplained difference is not 0.
 */
export async function reconcileDay(options: ReconcileOptions): Promise<ReconciliationRecord[]> {
  const { warehouse, store, day } = options;
  const fromMs = Date.parse(`${day}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !Number.isFinite(fromMs)) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badArgument,
      `reconcile needs a day as YYYY-MM-DD (e.g. 2026-12-06), got ${JSON.stringify(day)}.`,
    );
  }
  const toMs = fromMs + DAY_MS;
  const batch = await batchCounts(warehouse, day);
  const speed = new Map<string, number>();
  for (const row of await store.daily(ACTIVITY_SERIES, { fromMs, toMs })) {
    if (row.window_start === fromMs)
      speed.set(row.event_type, (speed.get(row.event_type) ?? 0) + row.event_count);
  }
  const late = await lateByType(warehouse, store, fromMs, toMs);

  const types = [...new Set([...batch.keys(), ...speed.keys(), ...late.keys()])].sort();
  const at = (options.now ?? new Date()).toISOString();
  const records = types.map((type): ReconciliationRecord => {
    const b = batch.get(type) ?? 0;
    const s = speed.get(type) ?? 0;
    const l = late.get(type) ?? { late: 0, copies: 0, pending: 0 };
    return {
      activity_date: day,
      event_type: type,
      batch_count: b,
      speed_count: s,
      late_count: l.late,
      late_copies: l.copies,
      late_pending: l.pending,
      unexplained: b - s - l.late,
      run_id: options.runId ?? null,
      reconciled_at: at,
    };
  });
  await writeRecords(warehouse, day, records);
  const off = records.filter((r) => r.unexplained !== 0);
  if (off.length > 0) {
    throw new OrchestrateError(
      OrchestrateErrorCode.unreconciled,
      `${day}: the batch and speed layers disagree on ${off
        .map(
          (r) =>
            `${r.event_type} (batch ${r.batch_count}, speed ${r.speed_count}, late ${r.late_count}: ${r.unexplained > 0 ? "+" : ""}${r.unexplained})`,
        )
        .join(
          ", ",
        )}. If the speed layer has not finalized the day yet (its watermark is before the day's end ` +
        "plus the allowed lateness), load and reconcile again later; otherwise events were lost or counted twice.",
      { details: { records: off } },
    );
  }
  return records;
}

/** The day's records from pulse_audit.reconciliation, by event_type; [] when none. */
export async function readReconciliation(
  warehouse: Warehouse,
  day?: string,
): Promise<ReconciliationRecord[]> {
  if ((await warehouse.columns(RECONCILIATION)).length === 0) return [];
  const d = warehouse.dialect;
  const text = d.typeName("string");
  const cols = COLUMNS.map((c) =>
    c.type === "date"
      ? `CAST(${d.quoteIdentifier(c.name)} AS ${text}) AS ${c.name}`
      : d.quoteIdentifier(c.name),
  );
  const where = day === undefined ? "" : `WHERE CAST(activity_date AS ${text}) = $1`;
  const result = await warehouse.query(
    `SELECT ${cols.join(", ")} FROM ${d.relationName(RECONCILIATION)} ${where} ORDER BY activity_date, event_type`,
    day === undefined ? [] : [day],
  );
  return result.rows.map((row) => ({
    activity_date: String(row.activity_date).slice(0, 10),
    event_type: String(row.event_type),
    batch_count: Number(row.batch_count),
    speed_count: Number(row.speed_count),
    late_count: Number(row.late_count),
    late_copies: Number(row.late_copies),
    late_pending: Number(row.late_pending),
    unexplained: Number(row.unexplained),
    run_id: row.run_id === null ? null : String(row.run_id),
    reconciled_at:
      row.reconciled_at instanceof Date ? row.reconciled_at.toISOString() : String(row.reconciled_at),
  }));
}

async function batchCounts(warehouse: Warehouse, day: string): Promise<Map<string, number>> {
  const d = warehouse.dialect;
  if ((await warehouse.columns(HEADLINE)).length === 0) {
    throw new OrchestrateError(
      OrchestrateErrorCode.notFound,
      `${d.relationName(HEADLINE)} does not exist in the warehouse; build the models first (pulse models build).`,
    );
  }
  const result = await warehouse.query(
    `SELECT event_type, event_count FROM ${d.relationName(HEADLINE)} WHERE CAST(activity_date AS ${d.typeName("string")}) = $1`,
    [day],
  );
  return new Map(result.rows.map((row) => [String(row.event_type), Number(row.event_count)]));
}

interface LateTally {
  late: number;
  copies: number;
  pending: number;
}

/** The day's late events by event_type: new ones, copies of events counted on time, and ones not loaded yet. */
async function lateByType(
  warehouse: Warehouse,
  store: LiveStore,
  fromMs: number,
  toMs: number,
): Promise<Map<string, LateTally>> {
  const rows = await store.lateEventsBetween(USER_ACTIVITY_TABLE.topic, { fromMs, toMs });
  const lateById = new Map<string, { type: string; positions: Set<string> }>();
  for (const row of rows) {
    const event = JSON.parse(row.payload) as { event_id: string; event_type: string };
    const entry = lateById.get(event.event_id) ?? { type: event.event_type, positions: new Set<string>() };
    entry.positions.add(`${row.partition}:${row.offset}`);
    lateById.set(event.event_id, entry);
  }
  // Every raw copy of those ids, by position.
  const rawById = new Map<string, string[]>();
  const ids = [...lateById.keys()];
  const d = warehouse.dialect;
  const raw = d.relationName(USER_ACTIVITY_TABLE.relation);
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const chunk = ids.slice(i, i + IN_CHUNK);
    const list = chunk.map((_, j) => `$${j + 3}`).join(", ");
    const result = await warehouse.query(
      `SELECT event_id, _log_partition AS p, _offset AS o FROM ${raw}
        WHERE event_time >= $1 AND event_time < $2 AND event_id IN (${list})`,
      [new Date(fromMs), new Date(toMs), ...chunk],
    );
    for (const row of result.rows) {
      const id = String(row.event_id);
      rawById.set(id, [...(rawById.get(id) ?? []), `${Number(row.p)}:${Number(row.o)}`]);
    }
  }
  const out = new Map<string, LateTally>();
  for (const [id, entry] of lateById) {
    const tally = out.get(entry.type) ?? { late: 0, copies: 0, pending: 0 };
    const copies = rawById.get(id) ?? [];
    const loaded = copies.filter((position) => entry.positions.has(position)).length;
    tally.pending += entry.positions.size - loaded;
    if (loaded === 0) {
      // Not in the warehouse yet: neither side has it.
    } else if (copies.every((position) => entry.positions.has(position))) tally.late++;
    else tally.copies++;
    out.set(entry.type, tally);
  }
  return out;
}

async function writeRecords(
  warehouse: Warehouse,
  day: string,
  records: readonly ReconciliationRecord[],
): Promise<void> {
  await warehouse.createTable(RECONCILIATION, COLUMNS);
  const d = warehouse.dialect;
  await warehouse.transaction(async (session) => {
    await session.query(
      `DELETE FROM ${d.relationName(RECONCILIATION)} WHERE CAST(activity_date AS ${d.typeName("string")}) = $1`,
      [day],
    );
    if (records.length === 0) return;
    await session.append(
      RECONCILIATION,
      COLUMNS.map((c) => c.name),
      records.map((r) => [
        r.activity_date,
        r.event_type,
        r.batch_count,
        r.speed_count,
        r.late_count,
        r.late_copies,
        r.late_pending,
        r.unexplained,
        r.run_id,
        new Date(r.reconciled_at),
      ]),
    );
  });
}
