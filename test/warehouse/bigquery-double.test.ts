// The BigQuery warehouse against a local double of BigQuery's REST API: the requests it makes and how it reads the answers.

import { describe, expect, it } from "vitest";
import { WarehouseError, WarehouseErrorCode } from "../../src/errors.ts";
import { openBigQueryWarehouse } from "../../src/warehouse/bigquery/index.ts";
import type { Warehouse } from "../../src/warehouse/index.ts";
import { type Field, startBigQueryDouble } from "../helpers/bigquery-double.ts";

const P = "pulse-test";

async function subject(options: { location?: string; listPageSize?: number } = {}) {
  const double = await startBigQueryDouble({ projectId: P, listPageSize: options.listPageSize });
  const warehouse = await openBigQueryWarehouse({
    projectId: P,
    location: options.location,
    apiEndpoint: double.url,
    credentials: { accessToken: "double-token" },
  });
  return { double, warehouse };
}

const EVENTS: Field[] = [
  { name: "id", type: "STRING", mode: "REQUIRED" },
  { name: "n", type: "INTEGER", mode: "NULLABLE" },
  { name: "amount", type: "FLOAT", mode: "NULLABLE" },
  { name: "ok", type: "BOOLEAN", mode: "NULLABLE" },
  { name: "day", type: "DATE", mode: "NULLABLE" },
  { name: "at", type: "TIMESTAMP", mode: "NULLABLE" },
];

const queryFailed = (words: string) =>
  expect.objectContaining({
    code: WarehouseErrorCode.queryFailed,
    retriable: false,
    message: expect.stringContaining(words),
  });

describe("BigQuery warehouse (against a double of the REST API): statements", () => {
  it("sends jobs.query with $n rewritten to named parameters, each typed, and a null as the literal NULL", async () => {
    const { double, warehouse } = await subject({ location: "EU" });
    double.addDataset("monitoring_datalake");
    const at = new Date("2026-01-02T03:04:05.678Z");
    await warehouse.query(
      "SELECT * FROM `raw`.`t` WHERE a = $1 AND b = $2 AND c = $3 AND d = $4 AND e = $5 AND f IS NOT DISTINCT FROM $6 AND g = '$1' -- $2",
      ["x", 42, 0.5, true, at, null],
    );
    const [body] = double.queries();
    expect(body).toMatchObject({
      query:
        "SELECT * FROM `raw`.`t` WHERE a = @p1 AND b = @p2 AND c = @p3 AND d = @p4 AND e = @p5 AND f IS NOT DISTINCT FROM NULL AND g = '$1' -- $2",
      useLegacySql: false,
      parameterMode: "NAMED",
      location: "EU",
      defaultDataset: { projectId: P, datasetId: "monitoring_datalake" },
      formatOptions: { useInt64Timestamp: true },
    });
    expect(body!.queryParameters).toEqual([
      { name: "p1", parameterType: { type: "STRING" }, parameterValue: { value: "x" } },
      { name: "p2", parameterType: { type: "INT64" }, parameterValue: { value: "42" } },
      { name: "p3", parameterType: { type: "FLOAT64" }, parameterValue: { value: "0.5" } },
      { name: "p4", parameterType: { type: "BOOL" }, parameterValue: { value: "true" } },
      {
        name: "p5",
        parameterType: { type: "TIMESTAMP" },
        parameterValue: { value: "2026-01-02T03:04:05.678Z" },
      },
    ]);
    expect(double.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer double-token",
      "Bearer double-token",
    ]);
    expect(double.calls()).toEqual([
      "GET /bigquery/v2/projects/P/datasets/monitoring_datalake",
      "POST /bigquery/v2/projects/P/queries",
    ]);
  });

  it("sends the URL's dataset as the default dataset only once it exists", async () => {
    const { double, warehouse } = await subject();
    await warehouse.query("SELECT 1");
    await warehouse.query("SELECT 2");
    await warehouse.createSchema("monitoring_datalake");
    await warehouse.query("SELECT 3");
    expect(double.queries().map((q) => q.defaultDataset)).toEqual([
      undefined,
      undefined,
      { projectId: P, datasetId: "monitoring_datalake" },
    ]);
    // The dataset is looked up once, before the first statement, and again by createSchema.
    expect(double.calls().filter((call) => call.startsWith("GET"))).toEqual([
      "GET /bigquery/v2/projects/P/datasets/monitoring_datalake",
      "GET /bigquery/v2/projects/P/datasets/monitoring_datalake",
    ]);
  });

  it("refuses a $n with no value, before asking BigQuery", async () => {
    const { double, warehouse } = await subject();
    await expect(warehouse.query("SELECT $1, $2", [1])).rejects.toMatchObject({
      code: WarehouseErrorCode.badArgument,
    });
    expect(double.requests).toEqual([]);
  });

  it("reads f/v rows as SqlValues: INT64 text → number, DATE → 'YYYY-MM-DD', TIMESTAMP micros → Date", async () => {
    const { double, warehouse } = await subject();
    double.onQuery(/FROM `raw`\.`t`/, {
      fields: [
        { name: "event_type", type: "STRING" },
        { name: "event_count", type: "INTEGER" },
        { name: "revenue", type: "FLOAT" },
        { name: "activity_date", type: "DATE" },
        { name: "first_at", type: "TIMESTAMP" },
        { name: "any_bot", type: "BOOLEAN" },
      ],
      rows: [
        ["PURCHASE", "3", "59.97", "2026-01-02", "1767312000123456", "false"],
        ["VIEW", "12", null, "2026-01-03", "1767398400000000", null],
      ],
    });
    const result = await warehouse.query("SELECT * FROM `raw`.`t`");
    expect(result).toEqual({
      columns: ["event_type", "event_count", "revenue", "activity_date", "first_at", "any_bot"],
      rows: [
        {
          event_type: "PURCHASE",
          event_count: 3,
          revenue: 59.97,
          activity_date: "2026-01-02",
          first_at: new Date(Date.UTC(2026, 0, 2, 0, 0, 0, 123)),
          any_bot: false,
        },
        {
          event_type: "VIEW",
          event_count: 12,
          revenue: null,
          activity_date: "2026-01-03",
          first_at: new Date(Date.UTC(2026, 0, 3)),
          any_bot: null,
        },
      ],
      rowsAffected: 0,
    });
  });

  it("waits for a job that is not done and reads every page, in order, by getQueryResults", async () => {
    const { double, warehouse } = await subject({ location: "EU" });
    const rows = Array.from({ length: 7 }, (_, i) => [String(i)]);
    double.onQuery(/big/, { fields: [{ name: "i", type: "INTEGER" }], rows, pendingPolls: 2, pageSize: 3 });
    const result = await warehouse.query("SELECT i FROM big");
    expect(result.rows.map((row) => row.i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const reads = double.requests.filter((r) => r.method === "GET" && r.path.includes("/queries/"));
    expect(reads.map((r) => r.path)).toEqual(
      Array(4).fill(`/bigquery/v2/projects/${P}/queries/job_double_1`),
    );
    expect(reads.map((r) => r.query.pageToken)).toEqual([undefined, undefined, "3", "6"]);
    for (const read of reads)
      expect(read.query).toMatchObject({ location: "EU", "formatOptions.useInt64Timestamp": "true" });
  });

  it("answers a DML statement with BigQuery's numDmlAffectedRows", async () => {
    const { double, warehouse } = await subject();
    double.onQuery(/^DELETE/, { numDmlAffectedRows: 17 });
    expect(await warehouse.query("DELETE FROM raw.t WHERE true")).toEqual({
      columns: [],
      rows: [],
      rowsAffected: 17,
    });
  });

  it("turns a job error into PULSE_WAREHOUSE_QUERY_FAILED with BigQuery's message and reason", async () => {
    const { double, warehouse } = await subject();
    double.onQuery(/SELEC /, {
      error: {
        status: 400,
        reason: "invalidQuery",
        message: 'Syntax error: Unexpected identifier "SELEC" at [1:1]',
      },
    });
    const error = await warehouse.query("SELEC 1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WarehouseError);
    expect(error).toMatchObject({
      code: WarehouseErrorCode.queryFailed,
      retriable: false,
      message: 'SELEC 1: Syntax error: Unexpected identifier "SELEC" at [1:1] (invalidQuery)',
      details: { reason: "invalidQuery", status: 400 },
    });
  });

  it("reports an unreachable endpoint and a failing server as PULSE_WAREHOUSE_UNAVAILABLE, retriable", async () => {
    const { double } = await subject();
    const url = double.url;
    await double.close();
    const gone = await openBigQueryWarehouse({
      projectId: P,
      apiEndpoint: url,
      credentials: { accessToken: "t" },
      maxRetries: 0,
    });
    await expect(gone.query("SELECT 1")).rejects.toMatchObject({
      code: WarehouseErrorCode.unavailable,
      retriable: true,
      message: expect.stringContaining("BigQuery cannot be reached"),
    });

    const { double: failing } = await subject();
    failing.onQuery(/./, { error: { status: 503, reason: "backendError", message: "Backend error" } });
    const flaky = await openBigQueryWarehouse({
      projectId: P,
      apiEndpoint: failing.url,
      credentials: { accessToken: "t" },
      maxRetries: 0,
    });
    await expect(flaky.query("SELECT 1")).rejects.toMatchObject({
      code: WarehouseErrorCode.unavailable,
      retriable: true,
    });

    const { double: refusing } = await subject();
    refusing.onQuery(/./, {
      error: { status: 401, reason: "authError", message: "Request had invalid authentication credentials." },
    });
    const stale = await openBigQueryWarehouse({
      projectId: P,
      apiEndpoint: refusing.url,
      credentials: { accessToken: "expired" },
      maxRetries: 0,
    });
    await expect(stale.query("SELECT 1")).rejects.toMatchObject({
      code: WarehouseErrorCode.unavailable,
      retriable: true,
      message: expect.stringContaining("BigQuery refused the credentials (authError"),
    });
  });

  it("is closed after close()", async () => {
    const { double, warehouse } = await subject();
    await warehouse.close();
    await expect(warehouse.query("SELECT 1")).rejects.toMatchObject({ code: WarehouseErrorCode.closed });
    expect(double.requests).toEqual([]);
  });
});

describe("BigQuery warehouse (against a double of the REST API): appends are load jobs", () => {
  it("uploads the rows as NDJSON in one load job (WRITE_APPEND), never by insertAll", async () => {
    const { double, warehouse } = await subject({ location: "EU" });
    double.addTable("raw", "events", EVENTS);
    const rows = [
      ["a", 1, 0.5, true, "2026-01-02", new Date("2026-01-02T03:04:05.678Z")],
      ["b", null, null, false, null, null],
      ['c\n"quoted"', -9007199254740991, 1e-7, null, "2026-12-31", new Date(0)],
    ];
    const written = await warehouse.append(raw("events"), ["id", "n", "amount", "ok", "day", "at"], rows);
    expect(written).toBe(3);
    const [job, ...more] = double.loadJobs();
    expect(more).toEqual([]);
    expect(job!.configuration.load).toEqual({
      destinationTable: { projectId: P, datasetId: "raw", tableId: "events" },
      sourceFormat: "NEWLINE_DELIMITED_JSON",
      writeDisposition: "WRITE_APPEND",
      createDisposition: "CREATE_NEVER",
    });
    expect(job!.media.endsWith("\n")).toBe(true);
    expect(
      job!.media
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { id: "a", n: 1, amount: 0.5, ok: true, day: "2026-01-02", at: "2026-01-02T03:04:05.678Z" },
      { id: "b", n: null, amount: null, ok: false, day: null, at: null },
      {
        id: 'c\n"quoted"',
        n: -9007199254740991,
        amount: 1e-7,
        ok: null,
        day: "2026-12-31",
        at: "1970-01-01T00:00:00.000Z",
      },
    ]);
    const upload = double.requests.find((r) => r.media !== undefined)!;
    expect(upload.query).toEqual({ uploadType: "multipart" });
    expect(upload.body).toMatchObject({ jobReference: { projectId: P, location: "EU" } });
    expect(double.calls()).toEqual([
      "GET /bigquery/v2/projects/P/datasets/raw/tables/events",
      "POST /upload/bigquery/v2/projects/P/jobs",
      expect.stringMatching(/^GET \/bigquery\/v2\/projects\/P\/jobs\/[\w-]+$/),
    ]);
    expect(double.calls().some((call) => call.endsWith("/insertAll"))).toBe(false);
  });

  it("names the columns as the table spells them, and leaves out the ones not given", async () => {
    const { double, warehouse } = await subject();
    double.addTable("raw", "events", EVENTS);
    await warehouse.append(raw("events"), ["AT", "Id"], [[new Date(1000), "x"]]);
    expect(JSON.parse(double.loadJobs()[0]!.media)).toEqual({ at: "1970-01-01T00:00:01.000Z", id: "x" });
  });

  it("refuses an unknown column, a short row or a wrong type before uploading anything", async () => {
    const { double, warehouse } = await subject();
    double.addTable("raw", "events", EVENTS);
    const badArgument = { code: WarehouseErrorCode.badArgument };
    await expect(warehouse.append(raw("events"), ["id", "nope"], [["a", 1]])).rejects.toMatchObject(
      badArgument,
    );
    await expect(warehouse.append(raw("events"), ["id", "n"], [["a"]])).rejects.toMatchObject(badArgument);
    await expect(warehouse.append(raw("events"), ["id", "n"], [["a", "1"]])).rejects.toMatchObject(
      badArgument,
    );
    expect(double.loadJobs()).toEqual([]);
  });

  it("fails with queryFailed, naming the table, when it does not exist or the load job fails", async () => {
    const { double, warehouse } = await subject();
    await expect(warehouse.append(raw("missing"), ["id"], [["a"]])).rejects.toMatchObject(
      queryFailed("append to raw.missing: the table does not exist"),
    );
    expect(double.loadJobs()).toEqual([]);

    double.addTable("raw", "events", EVENTS);
    double.failNextLoadJob("invalid", "Error while reading data, error message: JSON parsing error in row 1");
    await expect(warehouse.append(raw("events"), ["id"], [["a"]])).rejects.toMatchObject(
      queryFailed(
        "append to raw.events: Error while reading data, error message: JSON parsing error in row 1",
      ),
    );
  });
});

describe("BigQuery warehouse (against a double of the REST API): transactions", () => {
  it("stages each append in its own table and commits the steps, in order, as one script", async () => {
    const { double, warehouse } = await subject();
    // The staging table copies name, type and mode, not a column's description or policy tags.
    const tagged = {
      ...EVENTS[0]!,
      description: "the key",
      policyTags: { names: ["projects/p/taxonomies/1"] },
    };
    double.addTable("raw", "events", [tagged, ...EVENTS.slice(1)]);
    double.addTable("raw", "state", [
      { name: "topic", type: "STRING", mode: "REQUIRED" },
      { name: "last_offset", type: "INTEGER", mode: "REQUIRED" },
    ]);
    const result = await warehouse.transaction(async (session) => {
      expect(
        await session.append(
          raw("events"),
          ["id", "n"],
          [
            ["a", 1],
            ["b", 2],
          ],
        ),
      ).toBe(2);
      expect(
        await session.query("DELETE FROM `raw`.`state` WHERE topic = $1 AND last_offset < $2", ["t", 5]),
      ).toEqual({
        columns: [],
        rows: [],
        rowsAffected: 0,
      });
      await session.append(raw("state"), ["topic", "last_offset"], [["t", 7]]);
      // Nothing has reached the tables yet: one statement so far, none of them a query.
      expect(double.queries()).toEqual([]);
      return "done";
    });
    expect(result).toBe("done");

    const staged = double.loadJobs();
    expect(staged.map((job) => job.configuration.load.writeDisposition)).toEqual([
      "WRITE_TRUNCATE",
      "WRITE_TRUNCATE",
    ]);
    const [first, second] = staged.map((job) => job.configuration.load.destinationTable.tableId);
    expect(first).toMatch(/^_pulse_staging_[0-9a-f]{16}_1$/);
    expect(second).toBe(first!.replace(/_1$/, "_3"));
    expect(staged[0]!.configuration.load.schema).toEqual({ fields: [EVENTS[0], EVENTS[1]] });
    expect(staged.map((job) => job.media)).toEqual([
      '{"id":"a","n":1}\n{"id":"b","n":2}\n',
      '{"topic":"t","last_offset":7}\n',
    ]);
    const inserts = double.requests.filter(
      (r) => r.method === "POST" && r.path.endsWith("/datasets/raw/tables"),
    );
    expect(
      inserts.map((r) => (r.body as { tableReference: { tableId: string } }).tableReference.tableId),
    ).toEqual([first, second]);
    const expiry = Number((inserts[0]!.body as { expirationTime: string }).expirationTime);
    expect(expiry - Date.now()).toBeGreaterThan(23 * 3_600_000);

    const [script, ...others] = double.queries();
    expect(others).toEqual([]);
    expect(script!.query).toBe(
      [
        "BEGIN TRANSACTION;",
        `INSERT INTO \`${P}\`.\`raw\`.\`events\` (\`id\`, \`n\`) SELECT \`id\`, \`n\` FROM \`${P}\`.\`raw\`.\`${first}\`;`,
        "DELETE FROM `raw`.`state` WHERE topic = @s2_p1 AND last_offset < @s2_p2;",
        `INSERT INTO \`${P}\`.\`raw\`.\`state\` (\`topic\`, \`last_offset\`) SELECT \`topic\`, \`last_offset\` FROM \`${P}\`.\`raw\`.\`${second}\`;`,
        "COMMIT TRANSACTION;",
      ].join("\n"),
    );
    expect(script!.queryParameters).toEqual([
      { name: "s2_p1", parameterType: { type: "STRING" }, parameterValue: { value: "t" } },
      { name: "s2_p2", parameterType: { type: "INT64" }, parameterValue: { value: "5" } },
    ]);
    // The staging tables are dropped after the commit.
    const scriptAt = double.requests.findIndex((r) => r.path.endsWith("/queries"));
    const drops = double.requests.filter((r) => r.method === "DELETE");
    expect(drops.map((r) => r.path.split("/").at(-1)).sort()).toEqual([first, second].sort());
    expect(double.requests.indexOf(drops[0]!)).toBeGreaterThan(scriptAt);
    expect(double.hasTable("raw", first!)).toBe(false);
    expect(double.calls().some((call) => call.endsWith("/insertAll"))).toBe(false);
  });

  it("runs no script when work throws, and drops what it staged", async () => {
    const { double, warehouse } = await subject();
    double.addTable("raw", "events", EVENTS);
    await expect(
      warehouse.transaction(async (session) => {
        await session.append(raw("events"), ["id"], [["a"]]);
        throw new Error("work failed");
      }),
    ).rejects.toThrow("work failed");
    expect(double.queries()).toEqual([]);
    expect(double.requests.filter((r) => r.method === "DELETE")).toHaveLength(1);
    expect(double.loadJobs().map((j) => j.configuration.load.destinationTable.tableId)).not.toContain(
      "events",
    );
  });

  it("refuses a query that returns rows inside a transaction (it cannot wait for the commit)", async () => {
    const { double, warehouse } = await subject();
    const error = await warehouse
      .transaction(async (session) => {
        await session.query("DELETE FROM t WHERE true");
        await session.query("  /* read */ SELECT count(*) FROM t");
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: WarehouseErrorCode.badArgument,
      message: expect.stringContaining(
        "a statement that returns rows cannot run inside a BigQuery transaction",
      ),
    });
    expect(double.queries()).toEqual([]);
  });

  it("fails with the script's error when the commit fails, still dropping the staging tables", async () => {
    const { double, warehouse } = await subject();
    double.addTable("raw", "events", EVENTS);
    double.onQuery(/^BEGIN TRANSACTION/, {
      error: { status: 400, reason: "invalidQuery", message: "Required field id cannot be null" },
    });
    await expect(
      warehouse.transaction(async (session) => {
        await session.append(raw("events"), ["id"], [[null]]);
      }),
    ).rejects.toMatchObject(queryFailed("Required field id cannot be null"));
    expect(double.requests.filter((r) => r.method === "DELETE")).toHaveLength(1);
  });

  it("refuses a session used after its transaction ended", async () => {
    const { warehouse } = await subject();
    let kept: Parameters<Parameters<Warehouse["transaction"]>[0]>[0] | undefined;
    await warehouse.transaction(async (session) => {
      kept = session;
    });
    await expect(kept!.query("DELETE FROM t WHERE true")).rejects.toMatchObject({
      code: WarehouseErrorCode.closed,
    });
  });
});

function raw(name: string) {
  return { schema: "raw", name };
}
