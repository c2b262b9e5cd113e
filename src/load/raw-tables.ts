// The raw tables pulse load writes: one column per contract field (nested records flattened with _), plus the row's place in the log.

import type { UserActivityV2, WikimediaRecentChange } from "../contracts/types.ts";
import { TOPICS } from "../contracts/types.ts";
import type { Column, Relation, SqlValue } from "../warehouse/index.ts";

/** The schema (BigQuery: dataset) the raw tables live in. */
export const RAW_SCHEMA = "raw";

/** The columns every raw table ends with: the row's key in the raw lake and when the stream job stored it. */
export const LOG_COLUMNS: readonly Column[] = [
  { name: "_topic", type: "string", nullable: false },
  { name: "_log_partition", type: "int64", nullable: false },
  { name: "_offset", type: "int64", nullable: false },
  { name: "_ingested_at", type: "timestamp", nullable: false },
];

/** How one topic's events become rows of its raw table. */
export interface RawTable<E = unknown> {
  topic: string;
  relation: Relation;
  /** The contract's columns, in table order, before LOG_COLUMNS. */
  columns: readonly Column[];
  /** The column holding the event time, which --date reloads by. */
  eventTimeColumn: string;
  /** The contract columns' values of one decoded event, in `columns` order. */
  values(event: E): SqlValue[];
}

const string = (name: string, nullable = true): Column => ({ name, type: "string", nullable });
const int64 = (name: string, nullable = true): Column => ({ name, type: "int64", nullable });
const bool = (name: string, nullable = true): Column => ({ name, type: "boolean", nullable });

export const USER_ACTIVITY_TABLE: RawTable<UserActivityV2> = {
  topic: TOPICS.activity,
  relation: { schema: RAW_SCHEMA, name: "user_activity" },
  columns: [
    string("event_id", false),
    string("user_id", false),
    string("session_id", false),
    string("event_type", false),
    { name: "event_time", type: "timestamp", nullable: false },
    string("page", false),
    string("referrer"),
    string("device", false),
    string("country"),
    { name: "amount", type: "float64" },
    string("currency"),
    string("app_version"),
  ],
  eventTimeColumn: "event_time",
  values: (e) => [
    e.event_id,
    e.user_id,
    e.session_id,
    e.event_type,
    new Date(e.event_time),
    e.page,
    e.referrer ?? null,
    e.device,
    e.country ?? null,
    e.amount ?? null,
    e.currency ?? null,
    e.app_version ?? null,
  ],
};

/**
 * Wikimedia's `user` is `user_name` and `timestamp` is `timestamp_unix`: PostgreSQL reads a bare `user` as
 * the session's user, and the analytics project's SQL must mean the same on every warehouse.
 */
export const WIKIMEDIA_TABLE: RawTable<WikimediaRecentChange> = {
  topic: TOPICS.wikimedia,
  relation: { schema: RAW_SCHEMA, name: "wikimedia_recentchange" },
  columns: [
    string("schema_uri"),
    string("meta_id", false),
    { name: "meta_dt", type: "timestamp", nullable: false },
    string("meta_domain", false),
    string("meta_stream", false),
    string("meta_uri"),
    string("meta_request_id"),
    string("meta_topic"),
    int64("meta_partition"),
    int64("meta_offset"),
    int64("id"),
    string("type", false),
    int64("namespace"),
    string("title"),
    string("comment"),
    int64("timestamp_unix"),
    string("user_name"),
    bool("bot", false),
    bool("minor"),
    bool("patrolled"),
    int64("length_old"),
    int64("length_new"),
    int64("revision_old"),
    int64("revision_new"),
    string("server_url"),
    string("server_name", false),
    string("wiki", false),
    string("log_type"),
    string("log_action"),
  ],
  eventTimeColumn: "meta_dt",
  values: (e) => [
    e.schema_uri ?? null,
    e.meta.id,
    new Date(e.meta.dt),
    e.meta.domain,
    e.meta.stream,
    e.meta.uri ?? null,
    e.meta.request_id ?? null,
    e.meta.topic ?? null,
    e.meta.partition ?? null,
    e.meta.offset ?? null,
    e.id ?? null,
    e.type,
    e.namespace ?? null,
    e.title ?? null,
    e.comment ?? null,
    e.timestamp ?? null,
    e.user ?? null,
    e.bot,
    e.minor ?? null,
    e.patrolled ?? null,
    e.length?.old ?? null,
    e.length?.new ?? null,
    e.revision?.old ?? null,
    e.revision?.new ?? null,
    e.server_url ?? null,
    e.server_name,
    e.wiki,
    e.log_type ?? null,
    e.log_action ?? null,
  ],
};

/** Every raw table, by topic. */
export const RAW_TABLES: readonly RawTable[] = [USER_ACTIVITY_TABLE as RawTable, WIKIMEDIA_TABLE as RawTable];

/** Every column of a raw table, contract fields then LOG_COLUMNS. */
export function tableColumns(table: RawTable): Column[] {
  return [...table.columns, ...LOG_COLUMNS];
}
