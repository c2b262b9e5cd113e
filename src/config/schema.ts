// The table of every configuration key: its type, default, environment variable and documentation.

import { KAFKA_COMPRESSIONS } from "../log/index.ts";

export type FieldSpec =
  /** `pattern`, when given, is what the whole value must match (the doc says it in words). */
  | { kind: "string"; default: string; pattern?: RegExp; env?: string; doc: string }
  | { kind: "int"; default: number; min: number; max: number; env?: string; doc: string }
  | { kind: "number"; default: number; min: number; max: number; env?: string; doc: string }
  | { kind: "enum"; default: string; values: readonly string[]; env?: string; doc: string }
  /**
   * A backend URL; `schemes` are the accepted URL schemes (without "://" or ":"). `topicSchemes` are
   * schemes followed by a topic name instead of an address (`kafka:<topic>`); `keywords` are plain words
   * accepted as they are (`auto`).
   */
  | {
      kind: "url";
      default: string;
      schemes: readonly string[];
      topicSchemes?: readonly string[];
      keywords?: readonly string[];
      env?: string;
      doc: string;
    }
  | { kind: "list"; default: readonly string[]; env?: string; doc: string }
  | { kind: "section"; fields: Readonly<Record<string, FieldSpec>>; doc: string };

export const CONFIG_SCHEMA: Readonly<Record<string, FieldSpec>> = {
  data_dir: {
    kind: "string",
    default: "./data",
    env: "PULSE_DATA_DIR",
    doc: "Folder for every embedded file (log, registry). Separate runs should use separate folders.",
  },
  log: {
    kind: "url",
    default: "embedded:log.db",
    schemes: ["embedded", "kafka"],
    env: "PULSE_LOG",
    doc: "The event log: embedded:<file> (relative to data_dir; the records' bytes go to <file>-segments/ beside it) or kafka://host:port[,host:port].",
  },
  registry: {
    kind: "url",
    default: "auto",
    schemes: ["embedded", "kafka", "http", "https"],
    topicSchemes: ["kafka"],
    keywords: ["auto"],
    env: "PULSE_REGISTRY",
    doc: "The schema registry: embedded:<file> (relative to data_dir), kafka:<topic> (a topic of the Kafka log named by `log`, shared by every Pulse process on it), or the URL of a Confluent-API registry. auto: kafka:_schemas (after topics.prefix) when the log is Kafka, else embedded:registry.db.",
  },
  store: {
    kind: "url",
    default: "embedded:store.db",
    schemes: ["embedded", "mongodb", "mongodb+srv"],
    env: "PULSE_STORE",
    doc: "The live store (windows, alerts, late events, raw lake, stream checkpoints): embedded:<file> (relative to data_dir), or a MongoDB connection string mongodb://[user:password@]host:port[,host:port]/db or mongodb+srv://host/db (the database defaults to pulse).",
  },
  warehouse: {
    kind: "url",
    default: "embedded:warehouse.duckdb",
    schemes: ["embedded", "postgres", "postgresql", "bigquery"],
    env: "PULSE_WAREHOUSE",
    doc: "The batch layer's warehouse: embedded:<file> (a DuckDB file, relative to data_dir), postgres://[user:password@]host:port/db, or bigquery://project[/dataset][?location=EU] (the dataset defaults to monitoring_datalake).",
  },
  orchestrator: {
    kind: "section",
    doc: "The scheduler of the batch DAGs (pulse up, pulse scheduler, pulse dags).",
    fields: {
      runs: {
        kind: "url",
        default: "embedded:runs.db",
        schemes: ["embedded", "postgres", "postgresql"],
        env: "PULSE_RUNS",
        doc: "The run store (run history and task leases): embedded:<file> (SQLite, relative to data_dir) or postgres://[user:password@]host:port/db, which several schedulers can share.",
      },
      scheduler: {
        kind: "enum",
        default: "on",
        values: ["on", "off"],
        env: "PULSE_SCHEDULER",
        doc: "Whether pulse up runs the scheduler with the built-in DAGs (daily_metrics, intraday_metrics).",
      },
      dags_folder: {
        kind: "string",
        default: "",
        env: "PULSE_DAGS_FOLDER",
        doc: "A folder of your own DAG files (.ts or .js, relative to the working folder), each exporting default ({ defineDag, tasks }) => defineDag({…}); run beside the built-in DAGs. Empty: the built-in DAGs only.",
      },
      webhook: {
        kind: "string",
        default: "",
        env: "PULSE_DAGS_WEBHOOK",
        doc: "A URL every task retry and failure and every run's end is POSTed to as JSON; empty for none.",
      },
      parallelism: {
        kind: "int",
        default: 4,
        min: 1,
        max: 256,
        env: "PULSE_SCHEDULER_PARALLELISM",
        doc: "Task tries one scheduler runs at once.",
      },
      lease_sec: {
        kind: "int",
        default: 30,
        min: 2,
        max: 3600,
        env: "PULSE_SCHEDULER_LEASE_SEC",
        doc: "How long a running try's lease lasts without a heartbeat; after a crash its try is failed (and retried) this long after the last heartbeat.",
      },
    },
  },
  server: {
    kind: "section",
    doc: "The HTTP server (API, schema registry, collector).",
    fields: {
      host: { kind: "string", default: "127.0.0.1", env: "PULSE_HOST", doc: "Address to bind." },
      port: {
        kind: "int",
        default: 8501,
        min: 0,
        max: 65535,
        env: "PULSE_PORT",
        doc: "Port; 0 picks a free one.",
      },
      admin_token: {
        kind: "string",
        default: "",
        env: "PULSE_ADMIN_TOKEN",
        doc: "The bearer token the API's writes need (trigger, clear and backfill of DAG runs). Empty: those requests are refused.",
      },
    },
  },
  collector: {
    kind: "section",
    doc: "The HTTP collector, POST /api/v1/events.",
    fields: {
      api_keys: {
        kind: "list",
        default: [],
        env: "PULSE_API_KEYS",
        doc: "Accepted bearer tokens (comma-separated in the environment). Empty: the collector rejects every request.",
      },
      max_body_bytes: {
        kind: "int",
        default: 1_048_576,
        min: 1024,
        max: 64 * 1_048_576,
        doc: "Largest request body; larger ones get 413.",
      },
      max_pending_batches: {
        kind: "int",
        default: 64,
        min: 1,
        max: 10_000,
        doc: "Batches waiting for the log before new requests get 429.",
      },
    },
  },
  topics: {
    kind: "section",
    doc: "Topics created at start-up.",
    fields: {
      prefix: {
        kind: "string",
        default: "",
        // Kafka's topic name characters; the longest Pulse topic name (26) plus this stays under 249.
        pattern: /^[A-Za-z0-9._-]{0,200}$/,
        env: "PULSE_TOPIC_PREFIX",
        doc: "Put before every topic name on the log, e.g. 'acme.' gives acme.user-activity, acme.alerts and acme._schemas (the auto registry): several deployments, or other teams' topics, on one Kafka cluster. Up to 200 of letters, digits, '.', '_', '-'; empty (the default) for none.",
      },
      partitions: {
        kind: "int",
        default: 6,
        min: 1,
        max: 1024,
        env: "PULSE_PARTITIONS",
        doc: "Partitions per topic.",
      },
      retention_hours: {
        kind: "number",
        default: 168,
        min: 0,
        max: 1_000_000,
        doc: "Delete records older than this; 0 keeps them forever.",
      },
      retention_mb: {
        kind: "number",
        default: 0,
        min: 0,
        max: 1_000_000_000,
        doc: "Keep each partition under this many MiB; 0 means no size limit.",
      },
    },
  },
  retention: {
    kind: "section",
    doc: "How long the live store and the warehouse keep rows (the log's own is topics.retention_hours); pulse up enforces both.",
    fields: {
      store_hours: {
        kind: "number",
        default: 0,
        min: 0,
        max: 1_000_000,
        env: "PULSE_STORE_RETENTION_HOURS",
        doc: "Delete live-store windows, alerts and late events, and raw-lake batches the warehouse has loaded, more than this many hours of event time behind the stream job's watermark (checked every minute); 0 keeps them forever. Raw-lake batches not loaded yet are kept. With the daily DAG, keep at least 48 so reconciliation finds the day's late events (pulse up warns below that).",
      },
      warehouse_days: {
        kind: "int",
        default: 0,
        min: 0,
        max: 100_000,
        env: "PULSE_WAREHOUSE_RETENTION_DAYS",
        doc: "Delete the raw tables' rows of whole UTC days (by event time) more than this many days before today, at the start of each load (pulse load, the DAGs' load task), so the rows a load brings reach that run's models first: fct_daily_user_metrics (incremental) keeps the deleted days, the marts built as tables cover the days kept. 0 keeps them forever.",
      },
    },
  },
  producer: {
    kind: "section",
    doc: "What Pulse's producers write to the log.",
    fields: {
      compression: {
        kind: "enum",
        default: "none",
        values: KAFKA_COMPRESSIONS,
        env: "PULSE_COMPRESSION",
        doc: "Codec of the record batches written to Kafka (Kafka's compression.type): none, gzip, snappy, lz4, or zstd (needs Node.js 22.15 or later). The embedded log stores its batches uncompressed.",
      },
    },
  },
  simulator: {
    kind: "section",
    doc: "The activity simulator run by `pulse up`.",
    fields: {
      rate: {
        kind: "number",
        default: 200,
        min: 0,
        max: 10_000_000,
        env: "PULSE_RATE",
        doc: "Events per second; 0 turns it off.",
      },
      seed: {
        kind: "int",
        default: 1,
        min: 0,
        max: 2 ** 31 - 1,
        env: "PULSE_SEED",
        doc: "Seed; the same seed gives the same events.",
      },
      users: {
        kind: "int",
        default: 10_000,
        min: 1,
        max: 100_000_000,
        doc: "Size of the simulated user population.",
      },
      out_of_order_share: {
        kind: "number",
        default: 0.02,
        min: 0,
        max: 1,
        doc: "Share of events that arrive late.",
      },
      max_lateness_sec: {
        kind: "number",
        default: 30,
        min: 0,
        max: 86_400,
        doc: "How late an out-of-order event can be.",
      },
      duplicate_share: {
        kind: "number",
        default: 0.01,
        min: 0,
        max: 1,
        doc: "Share of exact duplicates (same event_id).",
      },
      malformed_share: {
        kind: "number",
        default: 0.005,
        min: 0,
        max: 1,
        doc: "Share of malformed events (dead-lettered).",
      },
    },
  },
  wikimedia: {
    kind: "section",
    doc: "The Wikimedia recent-changes source.",
    fields: {
      source: {
        kind: "string",
        default: "live",
        env: "PULSE_WIKIMEDIA",
        doc: "live, replay:<file> or off. Live falls back to the bundled sample when the feed cannot be reached.",
      },
      url: {
        kind: "url",
        default: "https://stream.wikimedia.org/v2/stream/recentchange",
        schemes: ["http", "https"],
        env: "PULSE_WIKIMEDIA_URL",
        doc: "EventStreams URL.",
      },
    },
  },
  validation: {
    kind: "section",
    doc: "Semantic validation of incoming events.",
    fields: {
      max_future_skew_sec: {
        kind: "number",
        default: 300,
        min: 0,
        max: 31_536_000,
        doc: "An event_time further ahead of the clock than this is rejected.",
      },
    },
  },
};

/**
 * PULSE_* variables that are not settings but belong to Pulse's own tools: the service scripts
 * (scripts/services/*.sh), the benchmarks (PULSE_BENCH_*) and the tests (PULSE_TEST_*). pulse ignores
 * them, and its warning says whose they are rather than guessing at a typo.
 */
export const TOOL_VARIABLES: readonly string[] = [
  "PULSE_SERVICES_DIR",
  "PULSE_SERVICES_CACHE",
  "PULSE_PYTHON",
  "PULSE_KAFKA_PORT",
  "PULSE_KAFKA_CONTROLLER_PORT",
  "PULSE_FERRETDB_PORT",
  "PULSE_POSTGRES_PORT",
  "PULSE_CHROMIUM",
  "PULSE_BIGQUERY_PROJECT",
  "PULSE_BIGQUERY_LOCATION",
];

/** True for a tool variable (TOOL_VARIABLES, or a PULSE_BENCH_ or PULSE_TEST_ one). */
export function isToolVariable(name: string): boolean {
  return TOOL_VARIABLES.includes(name) || name.startsWith("PULSE_BENCH_") || name.startsWith("PULSE_TEST_");
}
