// dbt Core conformance: analytics/ built by Pulse's runner and by dbt Core from the same raw tables gives the same rows in every model, on DuckDB and on PostgreSQL.

import { randomBytes } from "node:crypto";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runModels } from "../../src/models/index.ts";
import type { Relation, Row, Warehouse } from "../../src/warehouse/index.ts";
import { open } from "../../src/warehouse/open.ts";
import { SuiteCleanups, tempDir } from "../helpers/cli.ts";
import {
  ANALYTICS_DIR,
  ANALYTICS_MODELS,
  dbtBuild,
  dbtExecutable,
  MARTS_SCHEMA,
} from "../helpers/dbt-core.ts";
import { writeRawFixtureTables } from "../helpers/raw-fixture-tables.ts";
import { usePostgres } from "./services.ts";

const PROJECT_DIR = ANALYTICS_DIR;
const SCHEMA = MARTS_SCHEMA;
const MODELS = ANALYTICS_MODELS;
const RAW_TABLES = ["user_activity", "wikimedia_recentchange"];

const postgres = usePostgres();
const suite = new SuiteCleanups();
let dbt: string;
let dir: string;
/** The raw tables of the real fixtures, written once; each build starts from a copy. */
let fixtureFile: string;

beforeAll(async () => {
  dbt = await dbtExecutable();
  dir = tempDir(suite.add, "pulse-dbt-vs-runner-");
  fixtureFile = join(dir, "fixtures.duckdb");
  await writeRawFixtureTables(fixtureFile);
}, 900_000);
afterAll(suite.run);

/** `dbt build` of analytics/ on the named target; its run_results.json statuses by unique id. */
async function buildWithDbt(target: string, env: Record<string, string>): Promise<Map<string, string>> {
  const results = await dbtBuild({ dbt, dir, target, env });
  return new Map(results.results.map((r) => [r.unique_id, r.status]));
}

/** Pulse's `models build` on `warehouse`; its statuses by unique id. */
async function pulseBuild(warehouse: Warehouse): Promise<Map<string, string>> {
  const built = await runModels({
    command: "build",
    projectDir: PROJECT_DIR,
    warehouse,
    targetPath: join(dir, `pulse-target-${randomBytes(4).toString("hex")}`),
  });
  return new Map(built.results.map((r) => [r.uniqueId, r.outcome.status]));
}

/** Every model's rows, sorted by every column, so two builds compare row by row. */
async function modelRows(warehouse: Warehouse): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  for (const model of MODELS) {
    const relation: Relation = { schema: SCHEMA, name: model };
    const columns = (await warehouse.columns(relation)).map((c) => warehouse.dialect.quoteIdentifier(c.name));
    expect(columns.length, model).toBeGreaterThan(0);
    out[model] = (
      await warehouse.query(
        `SELECT * FROM ${warehouse.dialect.relationName(relation)} ORDER BY ${columns.join(", ")}`,
      )
    ).rows;
  }
  return out;
}

/** The statuses of two builds agree node by node (dbt's "success" for a model is Pulse's too). */
function expectSameStatuses(pulse: Map<string, string>, dbtCore: Map<string, string>): void {
  const models = (m: Map<string, string>) => [...m].filter(([id]) => id.startsWith("model.")).sort();
  expect(models(pulse)).toEqual(models(dbtCore));
  expect(models(pulse).map(([, status]) => status)).toEqual(MODELS.map(() => "success"));
  const tests = (m: Map<string, string>) => [...m].filter(([id]) => id.startsWith("test.")).map(([, s]) => s);
  expect(tests(pulse).length).toBe(tests(dbtCore).length);
  expect(new Set([...tests(pulse), ...tests(dbtCore)])).toEqual(new Set(["pass"]));
}

describe("analytics/ built by Pulse's runner and by dbt Core", () => {
  it("gives the same rows in every model on DuckDB", async () => {
    const pulseFile = join(dir, "pulse.duckdb");
    const dbtFile = join(dir, "dbt.duckdb");
    copyFileSync(fixtureFile, pulseFile);
    copyFileSync(fixtureFile, dbtFile);
    const pulseWarehouse = await open(`embedded:${pulseFile}`, { dataDir: dir });
    let pulseStatuses: Map<string, string>;
    let pulseRows: Record<string, Row[]>;
    try {
      pulseStatuses = await pulseBuild(pulseWarehouse);
      pulseRows = await modelRows(pulseWarehouse);
    } finally {
      await pulseWarehouse.close();
    }
    const dbtStatuses = await buildWithDbt("duckdb", { ANALYTICS_DUCKDB_PATH: dbtFile });
    expectSameStatuses(pulseStatuses, dbtStatuses);
    const dbtWarehouse = await open(`embedded:${dbtFile}`, { dataDir: dir });
    try {
      const dbtRows = await modelRows(dbtWarehouse);
      expect(dbtRows.fct_daily_user_metrics!.length).toBeGreaterThan(0);
      for (const model of MODELS) expect(pulseRows[model], model).toEqual(dbtRows[model]);
    } finally {
      await dbtWarehouse.close();
    }
  });

  it("gives the same rows in every model on PostgreSQL", async () => {
    const databases = [
      `pulse_runner_${randomBytes(4).toString("hex")}`,
      `pulse_dbt_${randomBytes(4).toString("hex")}`,
    ];
    const source = await open(`embedded:${fixtureFile}`, { dataDir: dir });
    const warehouses: Warehouse[] = [];
    try {
      for (const database of databases) {
        await postgres.admin.query(`CREATE DATABASE ${database}`);
        const warehouse = await open(postgres.urlOf(database), { dataDir: dir });
        warehouses.push(warehouse);
        await copyRawTables(source, warehouse);
      }
    } finally {
      await source.close();
    }
    try {
      const [runnerWarehouse, dbtWarehouse] = warehouses as [Warehouse, Warehouse];
      const pulseStatuses = await pulseBuild(runnerWarehouse);
      const url = new URL(postgres.urlOf(databases[1]!));
      const dbtStatuses = await buildWithDbt("postgres", {
        ANALYTICS_POSTGRES_HOST: url.hostname,
        ANALYTICS_POSTGRES_PORT: url.port || "5432",
        ANALYTICS_POSTGRES_USER: decodeURIComponent(url.username),
        ANALYTICS_POSTGRES_PASSWORD: decodeURIComponent(url.password),
        ANALYTICS_POSTGRES_DB: databases[1]!,
      });
      expectSameStatuses(pulseStatuses, dbtStatuses);
      const pulseRows = await modelRows(runnerWarehouse);
      const dbtRows = await modelRows(dbtWarehouse);
      expect(dbtRows.fct_daily_wiki_metrics!.length).toBeGreaterThan(0);
      for (const model of MODELS) expect(pulseRows[model], model).toEqual(dbtRows[model]);
    } finally {
      for (const warehouse of warehouses) await warehouse.close();
      for (const database of databases)
        await postgres.admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });
});

/** The raw tables from the fixture DuckDB file into `target`, column types as the seam maps them. */
async function copyRawTables(source: Warehouse, target: Warehouse): Promise<void> {
  for (const name of RAW_TABLES) {
    const relation: Relation = { schema: "raw", name };
    const columns = await source.columns(relation);
    await target.createTable(
      relation,
      columns.map((c) => ({ name: c.name, type: c.type ?? "string", nullable: c.nullable })),
    );
    const rows = (await source.query(`SELECT * FROM ${source.dialect.relationName(relation)}`)).rows;
    await target.append(
      relation,
      columns.map((c) => c.name),
      rows.map((row) => columns.map((c) => row[c.name] ?? null)),
    );
  }
}
