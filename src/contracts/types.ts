// TypeScript shapes of the Avro contracts in ./schemas (the .avsc files are the source of truth).

export const EVENT_TYPES = [
  "CLICK",
  "VIEW",
  "ADD_TO_CART",
  "REMOVE_FROM_CART",
  "PURCHASE",
  "SEARCH",
  "LOGIN",
  "LOGOUT",
  "SIGNUP",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const DEVICES = ["DESKTOP", "MOBILE", "TABLET", "UNKNOWN"] as const;
export type Device = (typeof DEVICES)[number];

/** UserActivity v1 (user-activity.v1.avsc). */
export interface UserActivity {
  event_id: string;
  user_id: string;
  session_id: string;
  event_type: EventType;
  /** Event time, ms since the epoch. */
  event_time: number;
  page: string;
  referrer: string | null;
  device: Device;
  country: string | null;
  amount: number | null;
  currency: string | null;
}

/** UserActivity v2 adds one optional field. */
export interface UserActivityV2 extends UserActivity {
  app_version: string | null;
}

export interface WikimediaRecentChange {
  schema_uri: string | null;
  meta: {
    id: string;
    /** Event time, ms since the epoch. */
    dt: number;
    domain: string;
    stream: string;
    uri: string | null;
    request_id: string | null;
    topic: string | null;
    partition: number | null;
    offset: number | null;
  };
  id: number | null;
  type: string;
  namespace: number | null;
  title: string | null;
  comment: string | null;
  /** Unix seconds. */
  timestamp: number | null;
  user: string | null;
  bot: boolean;
  minor: boolean | null;
  patrolled: boolean | null;
  length: { old: number | null; new: number | null } | null;
  revision: { old: number | null; new: number | null } | null;
  server_url: string | null;
  server_name: string;
  wiki: string;
  log_type: string | null;
  log_action: string | null;
}

export interface DeadLetter {
  source_topic: string;
  source_partition: number | null;
  source_offset: number | null;
  error_code: string;
  error_message: string;
  raw: Buffer;
  /** Processing time of the failure, ms since the epoch. */
  failed_at: number;
}

/** Topic names; keys are chosen so per-partition aggregates merge exactly. */
export const TOPICS = {
  activity: "user-activity",
  wikimedia: "wikimedia.recentchange",
  alerts: "alerts",
} as const;

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}
