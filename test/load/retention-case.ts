// The warehouse retention case every warehouse runs (DuckDB in test/load/retention.test.ts, PostgreSQL in test/services/load-postgres.test.ts).

import { expect } from "vitest";
import {
  enforceWarehouseRetention,
  RAW_TABLES,
  retentionCutoffMs,
  USER_ACTIVITY_TABLE,
} from "../../src/load/index.ts";
import { tableColumns } from "../../src/load/raw-tables.ts";
import type { SqlValue, Warehouse } from "../../src/warehouse/index.ts";

const DAY = 86_400_000;
/** Today, as the retention's clock says: 2026-12-07 at 18:30 UTC. */
const NOW = Date.UTC(2026, 11, 7, 18, 30);

/** A raw.user_activity row at `eventTimeMs`, partition 0 and offset `offset`. */
function activityRow(offset: number, eventTimeMs: number): SqlValue[] {
  return [
    `e${offset}`,
    `u${offset % 7}`,
    "s1",
    "CLICK",
    new Date(eventTimeMs),
    "/",
    null,
    "web",
    null,
    null,
    null,
    null,
    "user-activity",
    0,
    offset,
    new Date(eventTimeMs + 1000),
  ];
}

/**
 * On an empty warehouse: the raw rows of days before today − N go, to the millisecond of the day's
 * start, and nothing else (a table outside the raw schema, as a mart, is untouched).
 */
export async function warehouseRetentionCase(warehouse: Warehouse): Promise<void> {
  const columns = tableColumns(USER_ACTIVITY_TABLE);
  await warehouse.createTable(USER_ACTIVITY_TABLE.relation, columns);
  // Rows every 5 hours from 5 days before today to now, plus one a millisecond before and one at the
  // start of the first day kept.
  const times: number[] = [];
  for (let t = NOW - 5 * DAY; t <= NOW; t += 5 * 3_600_000) times.push(t);
  const firstKept = retentionCutoffMs({ days: 2, nowMs: NOW });
  expect(new Date(firstKept).toISOString()).toBe("2026-12-05T00:00:00.000Z");
  times.push(firstKept - 1, firstKept);
  await warehouse.append(
    USER_ACTIVITY_TABLE.relation,
    columns.map((c) => c.name),
    times.map((t, i) => activityRow(i, t)),
  );
  // A table outside the raw schema, as a mart: never touched.
  await warehouse.query("CREATE SCHEMA IF NOT EXISTS marts");
  await warehouse.query(
    "CREATE TABLE marts.daily AS SELECT CAST(event_time AS DATE) AS d, count(*) AS n FROM raw.user_activity GROUP BY 1",
  );
  const martBefore = (await warehouse.query("SELECT * FROM marts.daily ORDER BY d")).rows;

  const deleted = times.filter((t) => t < firstKept).length;
  const result = await enforceWarehouseRetention(warehouse, { days: 2, nowMs: NOW });
  // The Wikimedia table was never made: it is skipped.
  expect(result).toEqual({
    keptFrom: "2026-12-05",
    tables: [{ table: "raw.user_activity", rowsDeleted: deleted }],
  });
  const left = await warehouse.query("SELECT _offset AS o FROM raw.user_activity ORDER BY _offset");
  expect(left.rows.map((r) => r.o)).toEqual(times.flatMap((t, i) => (t >= firstKept ? [i] : [])));
  expect((await warehouse.query("SELECT * FROM marts.daily ORDER BY d")).rows).toEqual(martBefore);
  // Again: nothing more goes.
  expect((await enforceWarehouseRetention(warehouse, { days: 2, nowMs: NOW })).tables).toEqual([
    { table: "raw.user_activity", rowsDeleted: 0 },
  ]);
  // Every raw table, when both exist.
  for (const table of RAW_TABLES) await warehouse.createTable(table.relation, tableColumns(table));
  expect((await enforceWarehouseRetention(warehouse, { days: 1, nowMs: NOW })).tables).toEqual([
    {
      table: "raw.user_activity",
      rowsDeleted: times.filter((t) => t >= firstKept && t < firstKept + DAY).length,
    },
    { table: "raw.wikimedia_recentchange", rowsDeleted: 0 },
  ]);
}
