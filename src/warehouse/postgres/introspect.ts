// What the PostgreSQL catalog says of relations: the tables and views of a schema, a relation's columns, and the views that read a relation.
import type { ColumnInfo, ColumnType, Relation, RelationInfo, RelationKind } from "../index.ts";
import { postgresDialect } from "./dialect.ts";
import type { Queryable } from "./session.ts";

/*
 * Read from pg_catalog rather than information_schema: it holds materialized views and partitioned
 * tables, prints types as PostgreSQL writes them (format_type: "character varying(20)", "integer[]"),
 * and shows every relation whatever the user's privileges on it.
 *   relkind  r table, p partitioned table, f foreign table  →  "table"
 *            v view, m materialized view                   →  "view"
 */

const KIND_OF: Record<string, RelationKind> = { r: "table", p: "table", f: "table", v: "view", m: "view" };

/** The seam's type of a column, by its type's name in pg_type (a domain by its base type's). */
const SEAM_TYPES: Record<string, ColumnType> = {
  text: "string",
  varchar: "string",
  bpchar: "string",
  name: "string",
  citext: "string",
  int2: "int64",
  int4: "int64",
  int8: "int64",
  float4: "float64",
  float8: "float64",
  numeric: "float64",
  bool: "boolean",
  date: "date",
  timestamp: "timestamp",
  timestamptz: "timestamp",
};

/** The tables and views of `schema`, sorted by name (byte order); [] when the schema does not exist. */
export async function listRelations(db: Queryable, schema: string): Promise<RelationInfo[]> {
  const result = await db.query<{ name: string; relkind: string }>(
    `SELECT c.relname AS name, c.relkind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
      ORDER BY c.relname COLLATE "C"`,
    [schema],
  );
  return result.rows.map((row) => ({ schema, name: row.name, kind: KIND_OF[row.relkind]! }));
}

/** Whether `relation` is a table or a view; undefined when it does not exist. */
export async function relationKind(db: Queryable, relation: Relation): Promise<RelationKind | undefined> {
  const result = await db.query<{ relkind: string }>(
    `SELECT c.relkind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'f', 'v', 'm')`,
    [relation.schema, relation.name],
  );
  const relkind = result.rows[0]?.relkind;
  return relkind === undefined ? undefined : KIND_OF[relkind];
}

/** The columns of a table or view in order; [] when it does not exist. */
export async function listColumns(db: Queryable, relation: Relation): Promise<ColumnInfo[]> {
  const result = await db.query<{
    name: string;
    database_type: string;
    base_type: string;
    nullable: boolean;
  }>(
    `SELECT a.attname AS name,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS database_type,
            CASE WHEN t.typtype = 'd' THEN b.typname ELSE t.typname END AS base_type,
            NOT a.attnotnull AS nullable
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
        AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [relation.schema, relation.name],
  );
  return result.rows.map((row) => ({
    name: row.name,
    databaseType: row.database_type,
    type: SEAM_TYPES[row.base_type],
    nullable: row.nullable,
  }));
}

/** A view that reads a relation, directly or through other views, as the catalog holds it. */
export interface DependentView extends Relation {
  materialized: boolean;
  /** Its reloptions as `WITH (…)` takes them ("security_barrier=true"), or "" for none. */
  options: string;
  /** Its SELECT, as pg_get_viewdef prints it (names qualified where the search path needs it). */
  definition: string;
}

/**
 * Every view that reads `relation`, directly or through other views, in an order they can be created
 * again: a view after every view it reads (by the longest path from the relation). A view's rewrite rule
 * depends (pg_depend) on each relation its query reads.
 */
export async function dependentViews(db: Queryable, relation: Relation): Promise<DependentView[]> {
  const result = await db.query<{
    schema: string;
    name: string;
    relkind: string;
    options: string | null;
    definition: string;
  }>(
    `WITH RECURSIVE dependents (oid, depth) AS (
       SELECT r.ev_class, 1
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
          AND d.refobjid = $1::regclass AND r.ev_class <> d.refobjid
       UNION
       SELECT r.ev_class, dependents.depth + 1
         FROM dependents
         JOIN pg_catalog.pg_depend d ON d.refobjid = dependents.oid
          AND d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
         JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
        WHERE r.ev_class <> d.refobjid
     )
     SELECT n.nspname AS schema, c.relname AS name, c.relkind,
            array_to_string(c.reloptions, ', ') AS options,
            pg_catalog.pg_get_viewdef(c.oid) AS definition
       FROM dependents
       JOIN pg_catalog.pg_class c ON c.oid = dependents.oid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      GROUP BY c.oid, n.nspname, c.relname, c.relkind, c.reloptions
      ORDER BY max(dependents.depth), c.oid`,
    [postgresDialect.relationName(relation)],
  );
  return result.rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    materialized: row.relkind === "m",
    options: row.options ?? "",
    definition: row.definition.replace(/;\s*$/, ""),
  }));
}
