// A test double of the BigQuery REST API (no emulator runs here): records every request and answers as BigQuery does.

/*
 * It serves the endpoints @google-cloud/bigquery 9 calls for the warehouse backend, under
 * http://127.0.0.1:<port>:
 *
 *   POST   /bigquery/v2/projects/P/queries                     jobs.query
 *   GET    /bigquery/v2/projects/P/queries/JOB                 jobs.getQueryResults (waiting, pages)
 *   POST   /upload/bigquery/v2/projects/P/jobs?uploadType=multipart   jobs.insert of a load job with its data
 *   GET    /bigquery/v2/projects/P/jobs/JOB                    jobs.get (a load job's status)
 *   GET    /bigquery/v2/projects/P/datasets/D                  datasets.get      POST …/datasets  datasets.insert
 *   GET    /bigquery/v2/projects/P/datasets/D/tables[/T]       tables.list, tables.get
 *   POST   /bigquery/v2/projects/P/datasets/D/tables           tables.insert     DELETE …/tables/T  tables.delete
 *   POST   …/tables/T/insertAll                                 streaming inserts (recorded, so a test can assert none)
 *
 * It keeps the datasets and table schemas it was told of (tables.insert, CREATE TABLE IF NOT EXISTS,
 * addTable), but runs no SQL: a query is answered by the first `onQuery` rule whose pattern matches it,
 * else as a statement that returns nothing. Answers have BigQuery's shapes: rows as {f: [{v}]}, numbers
 * and timestamps as strings, errors as {error: {code, message, errors: [{reason, message}], status}}.
 */

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished } from "vitest";

export interface Field {
  name: string;
  type: string;
  mode?: string;
  fields?: Field[];
}

export interface RecordedRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The JSON body; for an upload, its first (metadata) part. */
  body: unknown;
  /** An upload's data part, as text. */
  media?: string;
}

/** How the double answers a query. Cells are given as BigQuery writes them: text or null. */
export interface QueryAnswer {
  fields?: Field[];
  rows?: (string | null | unknown)[][];
  numDmlAffectedRows?: number;
  /** The job is not complete for this many answers (jobs.query's, then getQueryResults'). */
  pendingPolls?: number;
  /** Rows per page; the rest come from getQueryResults with a pageToken. */
  pageSize?: number;
  /** Fail the query with this HTTP status and ErrorProto. */
  error?: { status: number; reason: string; message: string };
}

interface QueryRule {
  pattern: RegExp;
  answer: QueryAnswer | ((body: QueryBody) => QueryAnswer);
}

export interface QueryBody {
  query: string;
  parameterMode?: string;
  queryParameters?: {
    name: string;
    parameterType: { type: string };
    parameterValue: { value: string | null };
  }[];
  location?: string;
  defaultDataset?: { projectId: string; datasetId: string };
  [key: string]: unknown;
}

export interface LoadJob {
  configuration: {
    load: {
      destinationTable: { projectId: string; datasetId: string; tableId: string };
      sourceFormat?: string;
      writeDisposition?: string;
      createDisposition?: string;
      schema?: { fields: Field[] };
    };
  };
  media: string;
}

interface Job {
  id: string;
  location: string;
  answer?: QueryAnswer;
  pending: number;
  /** Rows not yet served, for paging. */
  served: number;
  load?: { polls: number; error?: { reason: string; message: string }; rows: number };
}

export interface BigQueryDoubleOptions {
  projectId?: string;
  /** Where jobs run, as BigQuery reports it in job references. */
  location?: string;
  /** tables.list page size. */
  listPageSize?: number;
}

export class BigQueryDouble {
  readonly projectId: string;
  readonly location: string;
  readonly requests: RecordedRequest[] = [];
  url = "";
  readonly #datasets = new Set<string>();
  readonly #tables = new Map<string, { fields: Field[]; type: string }>();
  readonly #rules: QueryRule[] = [];
  readonly #jobs = new Map<string, Job>();
  readonly #loadFailures: { reason: string; message: string }[] = [];
  readonly #listPageSize: number;
  #nextJob = 1;
  readonly #server = createServer((req, res) => {
    this.#serve(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: { code: 500, message: String(error), status: "INTERNAL" } }));
    });
  });

  constructor(options: BigQueryDoubleOptions = {}) {
    this.projectId = options.projectId ?? "pulse-test";
    this.location = options.location ?? "US";
    this.#listPageSize = options.listPageSize ?? 1000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  addDataset(dataset: string): void {
    this.#datasets.add(dataset);
  }

  addTable(dataset: string, table: string, fields: Field[], type = "TABLE"): void {
    this.#datasets.add(dataset);
    this.#tables.set(`${dataset}.${table}`, { fields, type });
  }

  hasTable(dataset: string, table: string): boolean {
    return this.#tables.has(`${dataset}.${table}`);
  }

  onQuery(pattern: RegExp, answer: QueryRule["answer"]): void {
    this.#rules.push({ pattern, answer });
  }

  /** The next load job ends DONE with this error. */
  failNextLoadJob(reason: string, message: string): void {
    this.#loadFailures.push({ reason, message });
  }

  /** Every jobs.query request's body, in order. */
  queries(): QueryBody[] {
    return this.requests
      .filter((r) => r.method === "POST" && r.path === `/bigquery/v2/projects/${this.projectId}/queries`)
      .map((r) => r.body as QueryBody);
  }

  /** Every load job uploaded, with its data. */
  loadJobs(): LoadJob[] {
    return this.requests
      .filter((r) => r.path.startsWith("/upload/bigquery/v2/"))
      .map((r) => ({ ...(r.body as Omit<LoadJob, "media">), media: r.media ?? "" }));
  }

  /** Every request as "METHOD path", the project written P. */
  calls(): string[] {
    return this.requests.map(
      (r) => `${r.method} ${r.path.replace(`/projects/${this.projectId}`, "/projects/P")}`,
    );
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://double");
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: undefined,
    };
    const type = req.headers["content-type"] ?? "";
    if (type.startsWith("multipart/related")) {
      const [metadata, media] = multipartParts(raw, /boundary=([^;]+)/.exec(type)?.[1] ?? "");
      recorded.body = JSON.parse(metadata ?? "{}");
      recorded.media = media;
    } else if (raw !== "") recorded.body = JSON.parse(raw);
    this.requests.push(recorded);
    const [status, body] = this.#answer(recorded);
    res.statusCode = status;
    res.setHeader("content-type", "application/json; charset=UTF-8");
    res.end(body === undefined ? "" : JSON.stringify(body));
  }

  #answer(r: RecordedRequest): [number, unknown] {
    const api = `/bigquery/v2/projects/${this.projectId}`;
    const path = r.path;
    if (r.method === "POST" && path === `/upload/bigquery/v2/projects/${this.projectId}/jobs`)
      return this.#insertLoadJob(r);
    if (!path.startsWith(api)) return notFound(`Not found: ${path}`);
    const rest = path.slice(api.length);
    // Path segments after the project: ["queries", JOB], ["datasets", D, "tables", T], …
    const [kind, id, sub, child, action] = rest.split("/").slice(1).map(decodeURIComponent);
    const get = r.method === "GET";
    if (kind === "queries" && id === undefined && r.method === "POST")
      return this.#query(r.body as QueryBody);
    if (kind === "queries" && id !== undefined && get) return this.#results(id, r.query);
    if (kind === "jobs" && id !== undefined && get) return this.#job(id);
    if (kind !== "datasets") return notFound(`Not found: ${r.method} ${path}`);
    if (id === undefined && r.method === "POST") {
      const dataset = (r.body as { datasetReference: { datasetId: string } }).datasetReference.datasetId;
      if (this.#datasets.has(dataset))
        return error(409, "duplicate", `Already Exists: Dataset ${this.projectId}:${dataset}`);
      this.#datasets.add(dataset);
      return [200, { kind: "bigquery#dataset", ...(r.body as object), id: `${this.projectId}:${dataset}` }];
    }
    if (id === undefined || !this.#datasets.has(id))
      return notFound(`Not found: Dataset ${this.projectId}:${id}`);
    if (sub === undefined && get)
      return [
        200,
        { kind: "bigquery#dataset", datasetReference: { projectId: this.projectId, datasetId: id } },
      ];
    if (sub === "tables" && child === undefined) {
      if (r.method === "POST") return this.#insertTable(id, r.body as InsertTableBody);
      return this.#listTables(id, Number(r.query.pageToken ?? 0));
    }
    if (sub === "tables" && child !== undefined && action === "insertAll")
      return [200, { kind: "bigquery#tableDataInsertAllResponse" }];
    if (sub === "tables" && child !== undefined && action === undefined) {
      const key = `${id}.${child}`;
      const table = this.#tables.get(key);
      if (table === undefined) return notFound(`Not found: Table ${this.projectId}:${key}`);
      if (r.method === "DELETE") {
        this.#tables.delete(key);
        return [204, undefined];
      }
      return [200, { kind: "bigquery#table", type: table.type, schema: { fields: table.fields } }];
    }
    return notFound(`Not found: ${r.method} ${path}`);
  }

  #query(body: QueryBody): [number, unknown] {
    this.#createTableOf(body.query);
    const rule = this.#rules.find((candidate) => candidate.pattern.test(body.query));
    const answer =
      rule === undefined ? {} : typeof rule.answer === "function" ? rule.answer(body) : rule.answer;
    if (answer.error !== undefined)
      return error(answer.error.status, answer.error.reason, answer.error.message, "query");
    const job = this.#newJob(answer, undefined, body.location);
    if (job.pending > 0) {
      job.pending--;
      return [200, { kind: "bigquery#queryResponse", jobReference: this.#ref(job), jobComplete: false }];
    }
    return [200, { kind: "bigquery#queryResponse", ...this.#page(job) }];
  }

  #results(jobId: string, query: Record<string, string>): [number, unknown] {
    const job = this.#jobs.get(jobId);
    if (job?.answer === undefined)
      return notFound(`Not found: Job ${this.projectId}:${this.location}.${jobId}`);
    if (job.pending > 0) {
      job.pending--;
      return [
        200,
        { kind: "bigquery#getQueryResultsResponse", jobReference: this.#ref(job), jobComplete: false },
      ];
    }
    if (query.pageToken !== undefined) job.served = Number(query.pageToken);
    return [200, { kind: "bigquery#getQueryResultsResponse", ...this.#page(job) }];
  }

  #page(job: Job): Record<string, unknown> {
    const answer = job.answer!;
    const all = answer.rows ?? [];
    const size = answer.pageSize ?? all.length;
    const rows = all.slice(job.served, job.served + size);
    job.served += rows.length;
    return {
      jobReference: this.#ref(job),
      jobComplete: true,
      ...(answer.fields === undefined ? {} : { schema: { fields: answer.fields } }),
      ...(answer.fields === undefined ? {} : { totalRows: String(all.length) }),
      ...(rows.length === 0 ? {} : { rows: rows.map((cells) => ({ f: cells.map((v) => ({ v })) })) }),
      ...(job.served < all.length ? { pageToken: String(job.served) } : {}),
      ...(answer.numDmlAffectedRows === undefined
        ? {}
        : { numDmlAffectedRows: String(answer.numDmlAffectedRows) }),
    };
  }

  #insertLoadJob(r: RecordedRequest): [number, unknown] {
    const body = r.body as Omit<LoadJob, "media"> & { jobReference?: { jobId?: string; location?: string } };
    const destination = body.configuration.load.destinationTable;
    const job = this.#newJob(undefined, body.jobReference?.jobId, body.jobReference?.location);
    const rows = (r.media ?? "").split("\n").filter((line) => line !== "").length;
    const key = `${destination.datasetId}.${destination.tableId}`;
    const failure =
      this.#loadFailures.shift() ??
      (this.#tables.has(key)
        ? undefined
        : { reason: "notFound", message: `Not found: Table ${this.projectId}:${key}` });
    job.load = { polls: 0, error: failure, rows };
    return [
      200,
      {
        kind: "bigquery#job",
        id: `${this.projectId}:${this.location}.${job.id}`,
        jobReference: this.#ref(job),
        configuration: body.configuration,
        status: { state: "RUNNING" },
      },
    ];
  }

  #job(jobId: string): [number, unknown] {
    const job = this.#jobs.get(jobId);
    if (job?.load === undefined)
      return notFound(`Not found: Job ${this.projectId}:${this.location}.${jobId}`);
    job.load.polls++;
    const failed = job.load.error;
    return [
      200,
      {
        kind: "bigquery#job",
        id: `${this.projectId}:${this.location}.${job.id}`,
        jobReference: this.#ref(job),
        status:
          failed === undefined ? { state: "DONE" } : { state: "DONE", errorResult: failed, errors: [failed] },
        statistics: failed === undefined ? { load: { outputRows: String(job.load.rows) } } : {},
      },
    ];
  }

  #insertTable(dataset: string, body: InsertTableBody): [number, unknown] {
    const key = `${dataset}.${body.tableReference.tableId}`;
    if (this.#tables.has(key))
      return error(409, "duplicate", `Already Exists: Table ${this.projectId}:${key}`);
    this.#tables.set(key, { fields: body.schema?.fields ?? [], type: "TABLE" });
    return [200, { kind: "bigquery#table", ...body, type: "TABLE" }];
  }

  #listTables(dataset: string, from: number): [number, unknown] {
    const ids = [...this.#tables].filter(([key]) => key.startsWith(`${dataset}.`));
    const page = ids.slice(from, from + this.#listPageSize);
    return [
      200,
      {
        kind: "bigquery#tableList",
        tables: page.map(([key, table]) => ({
          kind: "bigquery#table",
          tableReference: {
            projectId: this.projectId,
            datasetId: dataset,
            tableId: key.slice(dataset.length + 1),
          },
          type: table.type,
        })),
        totalItems: ids.length,
        ...(from + page.length < ids.length ? { nextPageToken: String(from + page.length) } : {}),
      },
    ];
  }

  /** Registers the table a `CREATE TABLE IF NOT EXISTS` names, as BigQuery would make it. */
  #createTableOf(sql: string): void {
    const m = /^CREATE TABLE IF NOT EXISTS `([^`]+)`\.`([^`]+)`\.`([^`]+)` \((.*)\)$/s.exec(sql);
    if (m === null || this.#tables.has(`${m[2]}.${m[3]}`)) return;
    const fields = [...m[4]!.matchAll(/`([^`]+)` (\w+)( NOT NULL)?/g)].map(([, name, type, notNull]) => ({
      name: name!,
      type: LEGACY_TYPES[type!] ?? type!,
      mode: notNull === undefined ? "NULLABLE" : "REQUIRED",
    }));
    this.addTable(m[2]!, m[3]!, fields);
  }

  /** A job in `location` (the request's), the double's own when the request names none. */
  #newJob(answer: QueryAnswer | undefined, id?: string, location?: string): Job {
    const job: Job = {
      id: id ?? `job_double_${this.#nextJob++}`,
      location: location ?? this.location,
      answer,
      pending: answer?.pendingPolls ?? 0,
      served: 0,
    };
    this.#jobs.set(job.id, job);
    return job;
  }

  #ref(job: Job) {
    return { projectId: this.projectId, jobId: job.id, location: job.location };
  }
}

interface InsertTableBody {
  tableReference: { tableId: string };
  schema?: { fields: Field[] };
  expirationTime?: string;
}

/** The REST API reports the types of DDL-made tables by their legacy names. */
const LEGACY_TYPES: Record<string, string> = { INT64: "INTEGER", FLOAT64: "FLOAT", BOOL: "BOOLEAN" };

/** A started double, closed when the test finishes. */
export async function startBigQueryDouble(options: BigQueryDoubleOptions = {}): Promise<BigQueryDouble> {
  const double = await new BigQueryDouble(options).start();
  onTestFinished(() => double.close());
  return double;
}

function error(status: number, reason: string, message: string, location?: string): [number, unknown] {
  const statusText: Record<number, string> = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
  };
  return [
    status,
    {
      error: {
        code: status,
        message,
        errors: [
          {
            message,
            domain: "global",
            reason,
            ...(location === undefined ? {} : { location, locationType: "parameter" }),
          },
        ],
        status: statusText[status] ?? "UNKNOWN",
      },
    },
  ];
}

function notFound(message: string): [number, unknown] {
  return error(404, "notFound", message);
}

/** The parts of a multipart/related body, each without its headers. */
function multipartParts(raw: string, boundary: string): string[] {
  return raw
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const start = part.indexOf("\r\n\r\n") !== -1 ? part.indexOf("\r\n\r\n") + 4 : part.indexOf("\n\n") + 2;
      return part.slice(start).replace(/\r?\n$/, "");
    });
}
