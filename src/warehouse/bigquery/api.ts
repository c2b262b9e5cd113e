// The BigQuery REST calls the backend makes, through the client's authenticated requests: jobs.query, results, jobs, datasets, tables.

/*
 * A statement runs as jobs.query (POST /projects/P/queries) with named parameters, the warehouse's
 * dataset as the default dataset, and timestamps as int64 microseconds. When the job is not done within
 * the call, or its rows span pages, jobs.getQueryResults (GET /projects/P/queries/JOB) waits and pages.
 * A failed job answers with an HTTP error holding BigQuery's ErrorProtos (src/warehouse/bigquery/errors.ts).
 * The default dataset is sent only once it is known to exist (datasets.get before the first statement):
 * BigQuery may refuse a job whose default dataset is missing, and on a new project it is.
 * jobs.query carries a requestId, so the client's retry of a lost answer does not run the statement twice.
 */

import { randomUUID } from "node:crypto";
import type { BigQuery } from "@google-cloud/bigquery";
import { bigqueryError, isNotFound, jobError } from "./errors.ts";
import type { FieldSchema, FvRow, QueryParameter } from "./values.ts";

/** How long one jobs.query or getQueryResults call waits for the job on the server before answering. */
const SERVER_WAIT_MS = 10_000;

export interface QueryAnswer {
  fields: FieldSchema[];
  rows: FvRow[];
  /** numDmlAffectedRows: the rows a DML statement wrote; 0 for others. */
  rowsAffected: number;
  jobId: string | undefined;
}

/** A table's metadata as tables.get answers it (the parts the backend reads). */
export interface TableResource {
  type?: string;
  schema?: { fields?: FieldSchema[] };
}

interface QueryResponse {
  jobReference?: { jobId?: string; location?: string };
  jobComplete?: boolean;
  schema?: { fields?: FieldSchema[] };
  rows?: FvRow[];
  pageToken?: string;
  numDmlAffectedRows?: string;
}

interface RequestOptions {
  method?: "GET" | "POST" | "DELETE" | "PATCH";
  uri: string;
  json?: unknown;
  qs?: Record<string, string | number | boolean | undefined>;
}

/** The REST API of one project, through an authenticated client. */
export class BigQueryApi {
  /** Whether the default dataset exists; unknown until the first statement asks. */
  #defaultExists: boolean | undefined;

  constructor(
    readonly client: BigQuery,
    readonly projectId: string,
    readonly location: string | undefined,
    /** The dataset unqualified table names resolve to. */
    readonly defaultDataset: string,
  ) {}

  /** Runs one statement (or script) and reads all of its rows. `what` names it in an error. */
  async query(sql: string, params: readonly QueryParameter[], what: string): Promise<QueryAnswer> {
    try {
      if (this.#defaultExists === undefined)
        this.#defaultExists = await this.#datasetExists(this.defaultDataset);
      let answer = await this.#request<QueryResponse>({
        method: "POST",
        uri: "/queries",
        json: {
          query: sql,
          useLegacySql: false,
          ...(params.length === 0 ? {} : { parameterMode: "NAMED", queryParameters: params }),
          ...(this.#defaultExists
            ? { defaultDataset: { projectId: this.projectId, datasetId: this.defaultDataset } }
            : {}),
          location: this.location,
          formatOptions: { useInt64Timestamp: true },
          timeoutMs: SERVER_WAIT_MS,
          requestId: randomUUID(),
        },
      });
      const jobId = answer.jobReference?.jobId;
      const location = answer.jobReference?.location ?? this.location;
      while (answer.jobComplete !== true) answer = await this.#results(jobId, location, undefined);
      const fields = answer.schema?.fields ?? [];
      const rows = [...(answer.rows ?? [])];
      const rowsAffected = Number(answer.numDmlAffectedRows ?? 0);
      while (answer.pageToken !== undefined) {
        answer = await this.#results(jobId, location, answer.pageToken);
        rows.push(...(answer.rows ?? []));
      }
      return { fields, rows, rowsAffected, jobId };
    } catch (error) {
      throw bigqueryError(error, what);
    }
  }

  /** tables.get: the table's metadata, or undefined when it (or its dataset) does not exist. */
  async getTable(dataset: string, table: string, what: string): Promise<TableResource | undefined> {
    try {
      return await this.#request<TableResource>({ uri: tableUri(dataset, table) });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw bigqueryError(error, what);
    }
  }

  /** tables.insert of an empty table with `fields`, expiring at `expiresAtMs`. */
  async insertTable(
    dataset: string,
    table: string,
    fields: readonly FieldSchema[],
    expiresAtMs: number,
    what: string,
  ): Promise<void> {
    try {
      await this.#request({
        method: "POST",
        uri: `/datasets/${encodeURIComponent(dataset)}/tables`,
        json: {
          tableReference: { projectId: this.projectId, datasetId: dataset, tableId: table },
          schema: { fields },
          expirationTime: String(expiresAtMs),
        },
      });
    } catch (error) {
      throw bigqueryError(error, what);
    }
  }

  /** tables.delete; a table that is already gone is fine. */
  async deleteTable(dataset: string, table: string, what: string): Promise<void> {
    try {
      await this.#request({ method: "DELETE", uri: tableUri(dataset, table) });
    } catch (error) {
      if (!isNotFound(error)) throw bigqueryError(error, what);
    }
  }

  /** tables.list, every page: each table's id and type (TABLE, VIEW, MATERIALIZED_VIEW, EXTERNAL, …). */
  async listTables(dataset: string, what: string): Promise<{ id: string; type: string }[] | undefined> {
    const out: { id: string; type: string }[] = [];
    let pageToken: string | undefined;
    try {
      do {
        const page = await this.#request<{
          tables?: { tableReference?: { tableId?: string }; type?: string }[];
          nextPageToken?: string;
        }>({
          uri: `/datasets/${encodeURIComponent(dataset)}/tables`,
          qs: { maxResults: 1000, pageToken },
        });
        for (const table of page.tables ?? [])
          out.push({ id: table.tableReference?.tableId ?? "", type: table.type ?? "TABLE" });
        pageToken = page.nextPageToken;
      } while (pageToken !== undefined);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw bigqueryError(error, what);
    }
    return out;
  }

  /** datasets.get, then datasets.insert (in the warehouse's location) when it is missing. */
  async ensureDataset(dataset: string, what: string): Promise<void> {
    try {
      if (!(await this.#datasetExists(dataset))) await this.#insertDataset(dataset);
    } catch (error) {
      throw bigqueryError(error, what);
    }
    if (dataset === this.defaultDataset) this.#defaultExists = true;
  }

  async #datasetExists(dataset: string): Promise<boolean> {
    try {
      await this.#request({ uri: `/datasets/${encodeURIComponent(dataset)}` });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async #insertDataset(dataset: string): Promise<void> {
    try {
      await this.#request({
        method: "POST",
        uri: "/datasets",
        json: {
          datasetReference: { projectId: this.projectId, datasetId: dataset },
          ...(this.location === undefined ? {} : { location: this.location }),
        },
      });
    } catch (error) {
      // Another process made it between the get and the insert.
      if ((error as { code?: unknown }).code !== 409) throw error;
    }
  }

  #results(jobId: string | undefined, location: string | undefined, pageToken: string | undefined) {
    if (jobId === undefined)
      throw jobError("read a query's results", [{ message: "BigQuery answered without a job reference" }]);
    return this.#request<QueryResponse>({
      uri: `/queries/${encodeURIComponent(jobId)}`,
      qs: { location, pageToken, timeoutMs: SERVER_WAIT_MS, "formatOptions.useInt64Timestamp": true },
    });
  }

  #request<T>(options: RequestOptions): Promise<T> {
    const qs = Object.fromEntries(Object.entries(options.qs ?? {}).filter(([, v]) => v !== undefined));
    return new Promise<T>((resolve, reject) => {
      this.client.request(
        { method: options.method ?? "GET", uri: options.uri, json: options.json, qs },
        (error, body) => {
          if (error) reject(error);
          else resolve(body as T);
        },
      );
    });
  }
}

function tableUri(dataset: string, table: string): string {
  return `/datasets/${encodeURIComponent(dataset)}/tables/${encodeURIComponent(table)}`;
}
