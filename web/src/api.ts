// The JSON APIs the pages read (docs/api.md), typed, and one fetch that turns an error answer into an ApiError.

export interface ActivityWindow {
  window_start: number;
  window_end: number;
  event_type: string;
  event_count: number;
  unique_users: number;
  sessions: number;
  revenue: number;
  final: boolean;
}

export interface WikiWindow {
  window_start: number;
  window_end: number;
  wiki: string;
  changes: number;
  edits: number;
  bot_edits: number;
  human_edits: number;
  new_pages: number;
  byte_delta: number;
  unique_editors: number;
  final: boolean;
}

export interface Windows<W> {
  window_ms: number;
  windows: W[];
}

export interface TopPages {
  window_ms: number;
  window_start: number | null;
  window_end: number | null;
  pages: Array<{ wiki: string; title: string; edits: number }>;
}

export interface Alert {
  series: string;
  window_start: number;
  window_end: number;
  observed: number;
  expected: number;
  score: number;
  kind: "spike" | "drop";
  created_at: number;
}

/** GET /api/stream/job: `running` false in a process without a stream job (`pulse serve`). */
export type StreamJobAnswer = ({ running: true } & StreamJobInfo) | { running: false };

export interface StreamJobInfo {
  job: string;
  window_ms: number;
  slide_ms: number;
  out_of_orderness_ms: number;
  topics: string[];
}

export interface StreamTotals {
  input: number;
  accepted: number;
  partiallyLate: number;
  late: number;
  duplicates: number;
  deadLettered: number;
}

export interface SourceProgress {
  topic: string;
  watermarkMs: number | null;
  lag: number;
  partitions: Array<{
    partition: number;
    nextOffset: number;
    highWatermark: number;
    lag: number;
    watermarkMs: number | null;
  }>;
}

/** The stream job's progress after a batch (GET /api/stream/progress, SSE `progress`). */
export interface StreamProgress {
  job: string;
  batchId: number;
  timestampMs: number;
  numInputRows: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  batchDurationMs: number;
  durationMs: { fetch: number; process: number; deadLetter: number; commit: number };
  eventTime: { minMs: number | null; maxMs: number | null; watermarkMs: number | null };
  totals: StreamTotals;
  stateRows: number;
  stateBytes: number;
  sources: SourceProgress[];
}

/** One batch in GET /api/stream/progress/history. */
export interface ProgressPoint {
  timestampMs: number;
  batchId: number;
  numInputRows: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  batchDurationMs: number;
  durationMs: { fetch: number; process: number; deadLetter: number; commit: number };
  watermarkMs: number | null;
  lag: number;
  stateRows: number;
  stateBytes: number;
}

export interface TopicReport {
  name: string;
  partitions: number;
  messages: number;
  end_offset: number;
  offsets: Array<{ partition: number; low: number; high: number }>;
  retention: { max_age_ms: number | null; max_size_bytes: number | null };
  rate_per_sec: number | null;
}

export interface GroupReport {
  group: string;
  topic: string;
  total_lag: number;
  partitions: Array<{ partition: number; committed: number | null; high: number; lag: number }>;
}

export interface SubjectReport {
  subject: string;
  versions: number[];
  latest: { version: number; id: number };
  compatibility: string;
}

export interface SchemaVersion {
  subject: string;
  version: number;
  id: number;
  schema: unknown;
}

export interface DeadLetterEntry {
  partition: number;
  offset: number;
  timestamp_ms: number;
  error_code: string | null;
  error_message: string;
  source_topic: string | null;
  source_partition: number | null;
  source_offset: number | null;
  failed_at: number | null;
  raw_bytes: number;
  payload: { format: string; value: unknown; schema_id?: number; truncated?: boolean };
}

/** A task instance's state (Airflow's names). */
export type TaskState =
  | "queued"
  | "running"
  | "success"
  | "failed"
  | "up_for_retry"
  | "upstream_failed"
  | "skipped";

export type DagRunState = "queued" | "running" | "success" | "failed";

/** One DAG of GET /api/dags. */
export interface DagInfo {
  id: string;
  /** As written: a cron expression, a preset ("@daily") or "manual". */
  schedule: string;
  /** The 5-field cron expression the schedule stands for; null for "manual". */
  cron: string | null;
  timezone: string;
  startDate: string;
  catchup: boolean;
  maxActiveRuns: number;
  tags: string[];
  description: string;
  tasks: Array<{
    id: string;
    upstream: string[];
    command: string[] | null;
    retries: number;
    timeoutMs: number | null;
    pool: string | null;
    triggerRule: string;
  }>;
}

/** One task instance of a run; `tryNumber` is 0 before its first try. */
export interface TaskInstanceInfo {
  taskId: string;
  state: TaskState;
  tryNumber: number;
  reason: string | null;
  updatedAt: string;
}

/** One run of GET /api/dags/<dag>/runs (ISO 8601 times). */
export interface DagRunInfo {
  dagId: string;
  runId: string;
  runType: "scheduled" | "manual" | "backfill";
  state: DagRunState;
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  createdAt: string;
  updatedAt: string;
  tasks: TaskInstanceInfo[];
}

/** GET /api/dags/<dag>/runs/<run>/logs/<task>[?try=N]. */
export interface TaskLog {
  tryNumber: number;
  text: string;
}

/** One record of GET /api/dags/reconciliation: a day and event type, batch against speed. */
export interface ReconciliationRecord {
  activity_date: string;
  event_type: string;
  batch_count: number;
  speed_count: number;
  late_count: number;
  late_copies: number;
  late_pending: number;
  unexplained: number;
  run_id: string | null;
  reconciled_at: string;
}

/** An error answer of a Pulse API: its HTTP status and the code and message of its body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** GETs a JSON API; a non-2xx answer rejects with its code and message, a network failure with status 0. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" }, signal });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "NETWORK", `the server cannot be reached (${(error as Error).message})`);
  }
  return answerOf<T>(response);
}

/**
 * POSTs `body` as JSON to a write API, with the admin token as a Bearer header when one is given; an
 * error answer (401, 403, 400…) rejects with its code and message.
 */
export async function postJson<T>(path: string, body: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {
    accept: "application/json",
    "content-type": "application/json",
  };
  if (token !== undefined && token !== "") headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, "NETWORK", `the server cannot be reached (${(error as Error).message})`);
  }
  return answerOf<T>(response);
}

async function answerOf<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => null)) as unknown;
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? response.statusText,
    );
  }
  return body as T;
}

/** A query string from defined parameters. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/** GET /api/dags/models: the latest `pulse models` command's results (run_results.json), or null. */
export interface ModelResults {
  generatedAt: string;
  command: string | null;
  elapsedTime: number;
  counts: { pass: number; warn: number; fail: number; error: number; skipped: number };
  results: Array<{
    uniqueId: string;
    status: string;
    failures: number | null;
    message: string | null;
    executionTime: number;
  }>;
}
