// The BigQuery warehouse backend: datasets of one project, statements as query jobs, appends as load jobs.

import { BigQuery, type BigQueryOptions } from "@google-cloud/bigquery";
import { ConfigError } from "../../errors.ts";
import type { Warehouse } from "../index.ts";
import { BigQueryApi } from "./api.ts";
import { DEFAULT_DATASET } from "./url.ts";
import { BigQueryWarehouse } from "./warehouse.ts";

export { type BigQueryUrl, DEFAULT_DATASET, parseBigQueryUrl } from "./url.ts";

/**
 * How the client authenticates: a service account's key fields, or an OAuth access token (one from
 * `gcloud auth print-access-token`, or a test double's). Left out: Application Default Credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login, or the metadata server).
 */
export type BigQueryCredentials = { client_email: string; private_key: string } | { accessToken: string };

export interface BigQueryWarehouseOptions {
  projectId: string;
  /** The dataset unqualified names resolve to, where the models go; monitoring_datalake by default. */
  dataset?: string;
  /** Where new datasets are made and jobs run (US, EU, a region); inferred by BigQuery when unset. */
  location?: string;
  /** The API's origin, https://bigquery.googleapis.com by default (a test double's, an emulator's). */
  apiEndpoint?: string;
  credentials?: BigQueryCredentials;
  /** Retries of a request that failed with a 429 or a 5xx, with backoff; the client's default (3) when unset. */
  maxRetries?: number;
}

/** Opens the warehouse; nothing is asked of BigQuery until the first call. */
export async function openBigQueryWarehouse(options: BigQueryWarehouseOptions): Promise<Warehouse> {
  if (options.projectId === "")
    throw new ConfigError("the BigQuery warehouse needs a project id (bigquery://<project>/<dataset>).");
  const clientOptions: BigQueryOptions = {
    projectId: options.projectId,
    location: options.location,
    apiEndpoint: options.apiEndpoint,
    // The client reads a maxRetries of 0 as "unset"; no retries at all is autoRetry: false.
    ...(options.maxRetries === undefined
      ? {}
      : {
          retryOptions: options.maxRetries === 0 ? { autoRetry: false } : { maxRetries: options.maxRetries },
        }),
  };
  if (options.credentials !== undefined) {
    if ("accessToken" in options.credentials)
      clientOptions.authClient = bearer(options.credentials.accessToken);
    else clientOptions.credentials = options.credentials;
  }
  const client = new BigQuery(clientOptions);
  const api = new BigQueryApi(
    client,
    options.projectId,
    options.location,
    options.dataset ?? DEFAULT_DATASET,
  );
  return new BigQueryWarehouse(client, api);
}

/**
 * An auth client that sends a fixed access token. google-auth-library asks a client only for its request
 * headers when the project id is given, which it always is here.
 */
function bearer(token: string): BigQueryOptions["authClient"] {
  const client = { getRequestHeaders: async () => new Headers({ authorization: `Bearer ${token}` }) };
  return client as unknown as BigQueryOptions["authClient"];
}
