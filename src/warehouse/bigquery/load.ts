// Bulk appends as BigQuery load jobs: the rows as newline-delimited JSON, uploaded with the job (never tabledata.insertAll).

/*
 * One append is one load job: jobs.insert by multipart upload (the job's configuration, then the rows as
 * NDJSON, one object per row keyed by the table's column names), polled until DONE. A load job is atomic:
 * the table gets every row or none. Outside a transaction the job appends to the table (WRITE_APPEND);
 * inside one it fills the transaction's staging table (WRITE_TRUNCATE, so a retried job cannot double it).
 */

import type { BigQuery, Job } from "@google-cloud/bigquery";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { Relation, SqlValue } from "../index.ts";
import { bigqueryError } from "./errors.ts";
import { type FieldSchema, jsonCell } from "./values.ts";

export type WriteDisposition = "WRITE_APPEND" | "WRITE_TRUNCATE";

/**
 * The table's fields for `columns`, in `columns` order, spelled as the table spells them (BigQuery's
 * names are case-insensitive). Throws badArgument for a column the table does not have.
 */
export function fieldsFor(
  relation: Relation,
  tableFields: readonly FieldSchema[],
  columns: readonly string[],
): FieldSchema[] {
  const byName = new Map(tableFields.map((field) => [field.name.toLowerCase(), field]));
  const unknown = columns.filter((name) => !byName.has(name.toLowerCase()));
  if (unknown.length > 0)
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `append to ${relation.schema}.${relation.name}: the table has no column ${unknown.map((name) => `'${name}'`).join(", ")}; its columns are ${tableFields.map((f) => f.name).join(", ")}.`,
    );
  return columns.map((name) => plainField(byName.get(name.toLowerCase())!));
}

/** A field's name, type, mode and subfields: what a staging table copies (not its policy tags or default). */
function plainField(field: FieldSchema): FieldSchema {
  return {
    name: field.name,
    type: field.type,
    ...(field.mode === undefined ? {} : { mode: field.mode }),
    ...(field.fields === undefined ? {} : { fields: field.fields.map(plainField) }),
  };
}

/** The rows as NDJSON: one object per row, keyed by the fields' names, each value typed by its field. */
export function toNdjson(
  relation: Relation,
  fields: readonly FieldSchema[],
  rows: readonly (readonly SqlValue[])[],
): string {
  const where = `append to ${relation.schema}.${relation.name}`;
  const lines = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    if (row.length !== fields.length)
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        `${where}: row ${r} has ${row.length} values for ${fields.length} columns.`,
      );
    const object: Record<string, unknown> = {};
    for (let c = 0; c < fields.length; c++) {
      const field = fields[c]!;
      object[field.name] = jsonCell(row[c]!, field.type, `${where}, row ${r}, column '${field.name}'`);
    }
    lines[r] = JSON.stringify(object);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

export interface LoadJobOptions {
  writeDisposition: WriteDisposition;
  /** The table's schema, stated in the job (for a staging table); the table's own when unset. */
  fields?: readonly FieldSchema[];
  location?: string;
}

/** Runs one load job of `ndjson` into dataset.table and waits for it; its errors come back as queryFailed. */
export async function runLoadJob(
  client: BigQuery,
  dataset: string,
  table: string,
  ndjson: string,
  options: LoadJobOptions,
  what: string,
): Promise<void> {
  const destination = client.dataset(dataset, { location: options.location }).table(table);
  try {
    await new Promise<void>((resolve, reject) => {
      const upload = destination.createWriteStream({
        sourceFormat: "NEWLINE_DELIMITED_JSON",
        writeDisposition: options.writeDisposition,
        createDisposition: "CREATE_NEVER",
        ...(options.fields === undefined ? {} : { schema: { fields: [...options.fields] } }),
      });
      upload.on("error", reject);
      // The client polls the job (jobs.get) after the upload and emits `complete` once it is DONE
      // without errors; a job that failed destroys the stream with them.
      upload.on("complete", (_job: Job) => resolve());
      upload.end(ndjson);
    });
  } catch (error) {
    throw bigqueryError(error, what);
  }
}
