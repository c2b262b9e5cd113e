// pulse load's loader over a real stream job's raw lake into DuckDB: exact rows, incremental, exactly-once, day reloads.

import { describe, expect, it, type TestContext } from "vitest";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { LoadErrorCode } from "../../src/errors.ts";
import { type LoadProgress, loadRaw } from "../../src/load/index.ts";
import type { Warehouse, WarehouseSession } from "../../src/warehouse/index.ts";
import { open as openWarehouse } from "../../src/warehouse/open.ts";
import { generate, type JobFixture, producedWithTruth } from "../helpers/stream-job.ts";

async function warehouseFor(ctx: TestContext, fx: JobFixture, file = "warehouse.duckdb"): Promise<Warehouse> {
  const warehouse = await openWarehouse(`embedded:${file}`, { dataDir: fx.dir });
  ctx.onTestFinished(() => warehouse.close());
  return warehouse;
}

/** `${partition}:${offset}` → event_id of every row of raw.user_activity. */
async function loadedKeys(warehouse: Warehouse): Promise<Map<string, string>> {
  const result = await warehouse.query(
    "SELECT _log_partition AS p, _offset AS o, event_id AS e FROM raw.user_activity ORDER BY 1, 2",
  );
  return new Map(result.rows.map((row) => [`${row.p}:${row.o}`, String(row.e)]));
}

/** Every row of the table as text, in key order: equal texts mean equal tables. */
async function tableText(warehouse: Warehouse, table = "raw.user_activity"): Promise<string> {
  const result = await warehouse.query(
    `SELECT * EXCLUDE (_ingested_at) FROM ${table} ORDER BY _log_partition, _offset`,
  );
  return JSON.stringify(result.rows);
}

const sorted = <V>(map: Map<string, V>) => [...map].sort(([a], [b]) => a.localeCompare(b));

describe("loadRaw (raw lake → DuckDB raw tables)", () => {
  it("loads every raw-lake row once, with every contract field, and its place in the log", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, {
      seed: 7,
      count: 3000,
      duplicateShare: 0.05,
      lagShare: 0.1,
    });
    await fx.job().drain();
    const warehouse = await warehouseFor(ctx, fx);
    const progress: LoadProgress[] = [];
    const result = await loadRaw({
      lake: fx.store.lake,
      serde: fx.serde,
      warehouse,
      pageRows: 700,
      onProgress: (p) => progress.push(p),
    });

    expect(sorted(await loadedKeys(warehouse))).toEqual(sorted(truth.lake));
    const activity = result.topics.find((t) => t.topic === "user-activity")!;
    expect(activity.rowsLoaded).toBe(truth.lake.size);
    expect(result.topics.find((t) => t.topic === "wikimedia.recentchange")!.rowsLoaded).toBe(0);

    // Each row holds the event it was produced as, field by field.
    const byId = new Map<string, UserActivityV2>(events.map((e) => [e.event_id, e]));
    const rows = (await warehouse.query("SELECT * FROM raw.user_activity")).rows;
    for (const row of rows) {
      const event = byId.get(String(row.event_id))!;
      expect({
        ...row,
        _ingested_at: undefined,
        _log_partition: undefined,
        _offset: undefined,
        _topic: undefined,
      }).toEqual({
        ...event,
        event_time: new Date(event.event_time),
        _ingested_at: undefined,
        _log_partition: undefined,
        _offset: undefined,
        _topic: undefined,
      });
      expect(row._topic).toBe("user-activity");
    }

    // The load state: per partition, the last offset and the row count.
    const expected = new Map<number, { last: number; n: number }>();
    for (const key of truth.lake.keys()) {
      const [p, o] = key.split(":").map(Number) as [number, number];
      const cell = expected.get(p) ?? { last: -1, n: 0 };
      expected.set(p, { last: Math.max(cell.last, o), n: cell.n + 1 });
    }
    const state = await warehouse.query(
      `SELECT "partition" AS p, last_offset AS o, rows_loaded AS n FROM raw._pulse_load_state WHERE topic = 'user-activity' ORDER BY 1`,
    );
    expect(state.rows).toEqual(
      [...expected].sort(([a], [b]) => a - b).map(([p, c]) => ({ p, o: c.last, n: c.n })),
    );
    expect(activity.partitions.map((s) => [s.partition, s.lastOffset, s.rowsLoaded])).toEqual(
      state.rows.map((r) => [r.p, r.o, r.n]),
    );

    // Progress: a page at a time, the offsets covered growing to every offset up to each partition's last.
    const offsetsTotal = [...expected.values()].reduce((n, c) => n + c.last + 1, 0);
    expect(progress.length).toBe(Math.ceil(truth.lake.size / 700));
    expect(progress.map((p) => p.offsetsTotal)).toEqual(progress.map(() => offsetsTotal));
    expect(progress.at(-1)).toMatchObject({ rows: truth.lake.size, offsetsDone: offsetsTotal });
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.offsetsDone).toBeGreaterThan(progress[i - 1]!.offsetsDone);
      expect(progress[i]!.rows - progress[i - 1]!.rows).toBeLessThanOrEqual(700);
    }

    // Days by event_id: the produced events, each counted once.
    const days = new Map<string, { n: number; users: Set<string> }>();
    for (const e of byId.values()) {
      const key = `${new Date(e.event_time).toISOString().slice(0, 10)}|${e.event_type}`;
      const cell = days.get(key) ?? { n: 0, users: new Set() };
      cell.n++;
      cell.users.add(e.user_id);
      days.set(key, cell);
    }
    const sql = await warehouse.query(
      `SELECT CAST(event_time AS DATE) AS d, event_type AS t, count(DISTINCT event_id) AS n, count(DISTINCT user_id) AS u
         FROM raw.user_activity GROUP BY 1, 2`,
    );
    expect(sorted(new Map(sql.rows.map((r) => [`${r.d}|${r.t}`, [r.n, r.u]])))).toEqual(
      sorted(new Map([...days].map(([k, c]) => [k, [c.n, c.users.size]]))),
    );
    expect(activity.days).toEqual([...new Set([...days.keys()].map((k) => k.slice(0, 10)))].sort());
  });

  it("loads nothing twice: a second load adds no row, and new events load incrementally", async (ctx) => {
    const { fx } = await producedWithTruth(ctx, { seed: 11, count: 1500, duplicateShare: 0.02 });
    await fx.job().drain();
    const warehouse = await warehouseFor(ctx, fx);
    await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, pageRows: 400 });
    const first = await tableText(warehouse);
    const again = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, pageRows: 400 });
    expect(again.topics.every((t) => t.rowsLoaded === 0)).toBe(true);
    expect(await tableText(warehouse)).toBe(first);

    await fx.produceActivity(
      generate({ seed: 12, count: 800 }).map((e) => ({ ...e, event_time: e.event_time + 3_600_000 })),
    );
    await fx.job().drain();
    const truth = await fx.truth();
    const more = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, pageRows: 400 });
    expect(sorted(await loadedKeys(warehouse))).toEqual(sorted(truth.lake));
    expect(more.topics[0]!.rowsLoaded).toBe(truth.lake.size - JSON.parse(first).length);
  });

  it("reloads a day by event time: the day's rows come back exactly, other days untouched", async (ctx) => {
    const { fx, truth } = await producedWithTruth(ctx, { seed: 5, count: 5000, lagShare: 0.05 });
    await fx.job().drain();
    const warehouse = await warehouseFor(ctx, fx);
    const first = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, pageRows: 600 });
    const days = first.topics[0]!.days;
    expect(days.length).toBeGreaterThanOrEqual(2);
    const before = await tableText(warehouse);
    const day = days[0]!;
    const inDay = await warehouse.query(
      `SELECT count(*) AS n FROM raw.user_activity WHERE CAST(event_time AS DATE) = CAST($1 AS DATE)`,
      [day],
    );
    await warehouse.query(`DELETE FROM raw.user_activity WHERE CAST(event_time AS DATE) = CAST($1 AS DATE)`, [
      day,
    ]);

    const reload = await loadRaw({
      lake: fx.store.lake,
      serde: fx.serde,
      warehouse,
      reloadDays: [day],
      pageRows: 600,
    });
    expect(reload.topics[0]!.rowsLoaded).toBe(0);
    expect(reload.topics[0]!.rowsReloaded).toBe(Number(inDay.rows[0]!.n));
    expect(await tableText(warehouse)).toBe(before);
    expect(sorted(await loadedKeys(warehouse))).toEqual(sorted(truth.lake));

    await expect(
      loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, reloadDays: ["2024-02-30"] }),
    ).rejects.toMatchObject({ code: LoadErrorCode.badArgument });
  });

  it("reloads a day after the lake's retention: the rows it deleted stay as loaded, the others come back", async (ctx) => {
    const { fx, truth } = await producedWithTruth(ctx, { seed: 5, count: 5000, lagShare: 0.05 });
    // Small batches: many raw-lake batches per partition, of increasing event times.
    await fx.job({ maxBatchRecords: 300 }).drain();
    const warehouse = await warehouseFor(ctx, fx);
    const first = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, pageRows: 600 });
    const before = await tableText(warehouse);
    const loaded = new Map([
      ["user-activity", new Map(first.topics[0]!.partitions.map((s) => [s.partition, s.lastOffset]))],
    ]);
    const times = (await fx.store.lake.scanAfter("user-activity", new Map(), 100_000))
      .map((row) => row.event_time)
      .sort((a, b) => a - b);
    const retention = await fx.store.enforceRetention({ beforeMs: times[times.length >> 1]!, loaded });
    expect(retention.rawEvents).toBeGreaterThan(0);
    const held = (await fx.store.lake.scanAfter("user-activity", new Map(), 100_000)).length;
    expect(held).toBe(truth.lake.size - retention.rawEvents);

    const reload = await loadRaw({
      lake: fx.store.lake,
      serde: fx.serde,
      warehouse,
      reloadDays: first.topics[0]!.days,
      pageRows: 600,
    });
    expect(reload.topics[0]!.rowsReloaded).toBe(held);
    expect(await tableText(warehouse)).toBe(before);
    expect(sorted(await loadedKeys(warehouse))).toEqual(sorted(truth.lake));
  });

  it("commits a page with its load state or not at all: a failed page leaves the pages before it, and the next load completes", async (ctx) => {
    const { fx, truth } = await producedWithTruth(ctx, { seed: 3, count: 2000 });
    await fx.job().drain();
    const real = await warehouseFor(ctx, fx);
    let transactions = 0;
    // The real warehouse, whose third transaction fails after its rows and state were written.
    const failing: Warehouse = {
      dialect: real.dialect,
      query: (sql, params) => real.query(sql, params),
      append: (relation, columns, rows) => real.append(relation, columns, rows),
      transaction: <T>(work: (session: WarehouseSession) => Promise<T>) =>
        real.transaction(async (session) => {
          const result = await work(session);
          if (++transactions === 3) throw new Error("the warehouse went away mid-commit");
          return result;
        }),
      createSchema: (schema) => real.createSchema(schema),
      createTable: (relation, columns) => real.createTable(relation, columns),
      replaceTable: (relation, select) => real.replaceTable(relation, select),
      replaceView: (relation, select) => real.replaceView(relation, select),
      mergeInto: (relation, select, key, strategy) => real.mergeInto(relation, select, key, strategy),
      drop: (relation, kind) => real.drop(relation, kind),
      relations: (schema) => real.relations(schema),
      columns: (relation) => real.columns(relation),
      close: () => real.close(),
    };
    await expect(
      loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse: failing, pageRows: 300 }),
    ).rejects.toThrow("went away");
    const partial = await loadedKeys(real);
    expect(partial.size).toBe(600);
    const state = await real.query(
      `SELECT sum(rows_loaded) AS n FROM raw._pulse_load_state WHERE topic = 'user-activity'`,
    );
    expect(Number(state.rows[0]!.n)).toBe(600);

    await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse: real, pageRows: 300 });
    expect(sorted(await loadedKeys(real))).toEqual(sorted(truth.lake));
    const clean = await warehouseFor(ctx, fx, "clean.duckdb");
    await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse: clean });
    expect(await tableText(real)).toBe(await tableText(clean));
  });
});
