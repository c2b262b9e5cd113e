// bigquery://project[/dataset][?location=…] URLs: the project, the dataset Pulse's models go to, and where jobs run.

/*
 * Grammar:  bigquery://<project>[/<dataset>][?location=<location>]
 *   project   a Google Cloud project id (lowercase letters, digits, hyphens; a domain-scoped id
 *             "example.com:project" is accepted too)
 *   dataset   letters, digits and underscores; monitoring_datalake when left out. Relations name their
 *             own dataset as their schema: the raw tables are in dataset `raw`, the models in this one.
 *   location  the location new datasets are made in and jobs run in (US, EU, europe-west1, …); BigQuery
 *             infers it from the datasets a job touches when left out.
 */

import { ConfigError } from "../../errors.ts";

export const DEFAULT_DATASET = "monitoring_datalake";

export interface BigQueryUrl {
  projectId: string;
  dataset: string;
  location?: string;
}

const PROJECT = /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const DATASET = /^[A-Za-z0-9_]{1,1024}$/;
const LOCATION = /^[A-Za-z][A-Za-z0-9-]*$/;

/** Parses a bigquery:// URL; throws ConfigError naming what is wrong and the form to use. */
export function parseBigQueryUrl(url: string): BigQueryUrl {
  const form =
    "write it bigquery://<project>[/<dataset>][?location=<location>], e.g. bigquery://my-project/monitoring_datalake?location=EU";
  const bad = (what: string) => new ConfigError(`warehouse '${url}': ${what}; ${form}.`);
  if (!url.startsWith("bigquery://")) throw bad("not a bigquery:// URL");
  const rest = url.slice("bigquery://".length);
  const question = rest.indexOf("?");
  const path = question === -1 ? rest : rest.slice(0, question);
  const query = new URLSearchParams(question === -1 ? "" : rest.slice(question + 1));
  const parts = path.replace(/\/$/, "").split("/");
  if (parts.length > 2) throw bad(`'${path}' has more than a project and a dataset`);
  const [projectId = "", dataset = DEFAULT_DATASET] = parts;
  if (projectId === "") throw bad("the project is missing");
  if (!PROJECT.test(projectId))
    throw bad(`'${projectId}' is not a project id (lowercase letters, digits and hyphens)`);
  if (!DATASET.test(dataset))
    throw bad(`'${dataset}' is not a dataset name (letters, digits and underscores)`);
  const out: BigQueryUrl = { projectId, dataset };
  for (const [key, value] of query) {
    if (key !== "location") throw bad(`'${key}' is not a setting of the URL (only location is)`);
    if (!LOCATION.test(value)) throw bad(`'${value}' is not a location (US, EU, europe-west1, …)`);
    out.location = value;
  }
  return out;
}
