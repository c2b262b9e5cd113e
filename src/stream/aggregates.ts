// Per-window aggregates for user activity (per event_type) and Wikimedia changes (per wiki), with their rows.

import type { UserActivity, WikimediaRecentChange } from "../contracts/types.ts";
import type { ActivityWindowRow, TopPagesRow as StoreTopPagesRow, WikiWindowRow } from "../store/index.ts";
import type { ByteReader, ByteWriter } from "./binary.ts";
import { IdSet } from "./id-set.ts";
import { ActivityFrame } from "./activity-frame.ts";
import { InternKey, type Interner } from "./interner.ts";

/** The mutable state of one key in one window. idSets[i] holds ids of the aggregate's interner i. */
export interface Accumulator {
  readonly key: string;
  /** Changed since the last flush. */
  dirty: boolean;
  readonly idSets: readonly IdSet[];
}

export interface WindowBounds {
  startMs: number;
  endMs: number;
}

/**
 * What the windowed operator needs to know about one aggregate. prepare() runs once per accepted event
 * (interning its ids), then add() once per window the event joins, so an event in k hopping windows
 * is interned once, not k times.
 */
export interface AggregateKind<E, A extends Accumulator, R, S = never> {
  /** Stored in snapshots; a snapshot only restores into an aggregator of the same name. */
  readonly name: string;
  /** How many interners (string → dense id) each partition keeps for this aggregate. */
  readonly internerCount: number;
  eventTimeMs(event: E): number;
  /** The key of the event's id (what dedup compares): `key` filled with it, or one the event holds. */
  eventKey(event: E, key: InternKey): InternKey;
  key(event: E): string;
  prepare(event: E, interners: readonly Interner[]): void;
  create(key: string): A;
  add(acc: A, event: E): void;
  row(acc: A, window: WindowBounds, partition: number, final: boolean): R;
  /** One extra row per changed window, built from all its keys (e.g. top pages); null for none. */
  summarize?(accs: Iterable<A>, window: WindowBounds, partition: number, final: boolean): S | null;
  writeAccumulator(acc: A, w: ByteWriter): void;
  readAccumulator(key: string, r: ByteReader): A;
}

// ---------------------------------------------------------------------------------------------------
// User activity

export class ActivityAccumulator implements Accumulator {
  readonly key: string;
  dirty = false;
  eventCount = 0;
  /**
   * Revenue is kept in integer cents: each PURCHASE amount is rounded to the cent once, then sums are
   * exact and associative, so per-partition rows add up to the same total in any order and the daily
   * figure reconciles to the cent with the warehouse. Amounts with at most two decimals (all of the
   * simulator's and REES46's) are represented exactly; sums stay exact up to 2^53 cents.
   */
  revenueCents = 0;
  readonly users: IdSet;
  readonly sessions: IdSet;
  readonly idSets: readonly IdSet[];

  constructor(key: string, users = new IdSet(), sessions = new IdSet()) {
    this.key = key;
    this.users = users;
    this.sessions = sessions;
    this.idSets = [users, sessions];
  }
}

/** One row per (window, event_type, partition); sinks upsert it by that key, so rewriting it is idempotent. */
/**
 * The store's activity window row (unique_users and sessions exact distinct counts: the topic is keyed by
 * user_id, so summing them over partitions stays exact), with revenue for display.
 */
export interface ActivityRow extends ActivityWindowRow {
  /** revenue_cents / 100. */
  revenue: number;
}

export function centsOf(amount: number): number {
  return Math.round(amount * 100);
}

/** An activity event as the aggregate reads it: decoded, or located in its record's bytes. */
export type ActivityEvent = UserActivity | ActivityFrame;

class ActivityKind implements AggregateKind<ActivityEvent, ActivityAccumulator, ActivityRow> {
  readonly name = "activity";
  readonly internerCount = 2;
  #userId = 0;
  #sessionId = 0;
  #cents = 0;
  readonly #key = new InternKey();

  eventTimeMs(event: ActivityEvent): number {
    return event.event_time;
  }
  eventKey(event: ActivityEvent, key: InternKey): InternKey {
    return event instanceof ActivityFrame ? event.eventIdKey() : key.set(event.event_id);
  }
  key(event: ActivityEvent): string {
    return event.event_type;
  }
  prepare(event: ActivityEvent, interners: readonly Interner[]): void {
    const key = this.#key;
    if (event instanceof ActivityFrame) {
      const buf = event.buf;
      this.#userId = interners[0]!.internKey(key.setBytes(buf, event.userIdStart, event.userIdEnd));
      this.#sessionId = interners[1]!.internKey(key.setBytes(buf, event.sessionIdStart, event.sessionIdEnd));
    } else {
      this.#userId = interners[0]!.internKey(key.set(event.user_id));
      this.#sessionId = interners[1]!.internKey(key.set(event.session_id));
    }
    this.#cents = event.event_type === "PURCHASE" && event.amount !== null ? centsOf(event.amount) : 0;
  }
  create(key: string): ActivityAccumulator {
    return new ActivityAccumulator(key);
  }
  add(acc: ActivityAccumulator, _event: ActivityEvent): void {
    acc.eventCount++;
    acc.revenueCents += this.#cents;
    acc.users.add(this.#userId);
    acc.sessions.add(this.#sessionId);
  }
  row(acc: ActivityAccumulator, window: WindowBounds, partition: number, final: boolean): ActivityRow {
    return {
      partition,
      window_start: window.startMs,
      window_end: window.endMs,
      event_type: acc.key,
      event_count: acc.eventCount,
      unique_users: acc.users.size,
      sessions: acc.sessions.size,
      revenue_cents: acc.revenueCents,
      revenue: acc.revenueCents / 100,
      final,
    };
  }
  writeAccumulator(acc: ActivityAccumulator, w: ByteWriter): void {
    w.f64(acc.eventCount);
    w.f64(acc.revenueCents);
    acc.users.write(w);
    acc.sessions.write(w);
  }
  readAccumulator(key: string, r: ByteReader): ActivityAccumulator {
    const eventCount = r.f64();
    const revenueCents = r.f64();
    const acc = new ActivityAccumulator(key, IdSet.read(r), IdSet.read(r));
    acc.eventCount = eventCount;
    acc.revenueCents = revenueCents;
    return acc;
  }
}

export function activityAggregate(): AggregateKind<ActivityEvent, ActivityAccumulator, ActivityRow> {
  return new ActivityKind();
}

// ---------------------------------------------------------------------------------------------------
// Wikimedia recent changes

/**
 * Definitions (so an independent jq count can reproduce them): a change is any recentchange event; an
 * edit is a change of type "edit" or "new"; new_pages counts type "new"; bot/human split the edits by
 * the `bot` flag; unique_editors is distinct `user` over edits; byte_delta sums
 * (length.new ?? 0) − (length.old ?? 0) over changes that carry `length`; pages count edits by title.
 */
export class WikiAccumulator implements Accumulator {
  readonly key: string;
  dirty = false;
  changes = 0;
  edits = 0;
  botEdits = 0;
  newPages = 0;
  byteDelta = 0;
  readonly editors: IdSet;
  /** Edits per page title within this wiki and window, for the top-pages summary. */
  readonly pages: Map<string, number>;
  readonly idSets: readonly IdSet[];

  constructor(key: string, editors = new IdSet(), pages = new Map<string, number>()) {
    this.key = key;
    this.editors = editors;
    this.pages = pages;
    this.idSets = [editors];
  }
}

/** The live store's row shapes are the sink's contract; the aggregates produce them as they are. */
export type WikiRow = WikiWindowRow;
export type TopPagesRow = StoreTopPagesRow;
export type PageEdits = StoreTopPagesRow["pages"][number];

function byEditsThenName(a: PageEdits, b: PageEdits): number {
  return b.edits - a.edits || (a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : a.title < b.title ? -1 : 1);
}

/** The top n pages over several partitions' rows of the same window. */
export function mergeTopPages(rows: readonly TopPagesRow[], n: number): PageEdits[] {
  const all: PageEdits[] = [];
  for (const row of rows) all.push(...row.pages);
  return all.sort(byEditsThenName).slice(0, n);
}

class WikiKind implements AggregateKind<WikimediaRecentChange, WikiAccumulator, WikiRow, TopPagesRow> {
  readonly name = "wikimedia";
  readonly internerCount = 1;
  readonly #topN: number;
  #editorId = -1;
  #isEdit = false;
  #delta = 0;

  constructor(topN: number) {
    this.#topN = topN;
  }

  eventTimeMs(event: WikimediaRecentChange): number {
    return event.meta.dt;
  }
  eventKey(event: WikimediaRecentChange, key: InternKey): InternKey {
    return key.set(event.meta.id);
  }
  key(event: WikimediaRecentChange): string {
    return event.wiki;
  }
  prepare(event: WikimediaRecentChange, interners: readonly Interner[]): void {
    this.#isEdit = event.type === "edit" || event.type === "new";
    this.#editorId = this.#isEdit && event.user !== null ? interners[0]!.intern(event.user) : -1;
    const length = event.length;
    this.#delta = length === null ? 0 : (length.new ?? 0) - (length.old ?? 0);
  }
  create(key: string): WikiAccumulator {
    return new WikiAccumulator(key);
  }
  add(acc: WikiAccumulator, event: WikimediaRecentChange): void {
    acc.changes++;
    acc.byteDelta += this.#delta;
    if (!this.#isEdit) return;
    acc.edits++;
    if (event.bot) acc.botEdits++;
    if (event.type === "new") acc.newPages++;
    if (this.#editorId >= 0) acc.editors.add(this.#editorId);
    const title = event.title ?? "";
    acc.pages.set(title, (acc.pages.get(title) ?? 0) + 1);
  }
  row(acc: WikiAccumulator, window: WindowBounds, partition: number, final: boolean): WikiRow {
    return {
      partition,
      window_start: window.startMs,
      window_end: window.endMs,
      wiki: acc.key,
      changes: acc.changes,
      edits: acc.edits,
      bot_edits: acc.botEdits,
      human_edits: acc.edits - acc.botEdits,
      new_pages: acc.newPages,
      byte_delta: acc.byteDelta,
      unique_editors: acc.editors.size,
      final,
    };
  }
  summarize(
    accs: Iterable<WikiAccumulator>,
    window: WindowBounds,
    partition: number,
    final: boolean,
  ): TopPagesRow | null {
    if (this.#topN === 0) return null;
    const pages: PageEdits[] = [];
    for (const acc of accs)
      for (const [title, edits] of acc.pages) pages.push({ wiki: acc.key, title, edits });
    if (pages.length === 0) return null;
    pages.sort(byEditsThenName);
    return {
      partition,
      window_start: window.startMs,
      window_end: window.endMs,
      pages: pages.slice(0, this.#topN),
      final,
    };
  }
  writeAccumulator(acc: WikiAccumulator, w: ByteWriter): void {
    w.f64(acc.changes);
    w.f64(acc.edits);
    w.f64(acc.botEdits);
    w.f64(acc.newPages);
    w.f64(acc.byteDelta);
    acc.editors.write(w);
    w.u32(acc.pages.size);
    for (const [title, edits] of acc.pages) {
      w.str(title);
      w.f64(edits);
    }
  }
  readAccumulator(key: string, r: ByteReader): WikiAccumulator {
    const changes = r.f64();
    const edits = r.f64();
    const botEdits = r.f64();
    const newPages = r.f64();
    const byteDelta = r.f64();
    const editors = IdSet.read(r);
    const pages = new Map<string, number>();
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const title = r.str();
      pages.set(title, r.f64());
    }
    const acc = new WikiAccumulator(key, editors, pages);
    acc.changes = changes;
    acc.edits = edits;
    acc.botEdits = botEdits;
    acc.newPages = newPages;
    acc.byteDelta = byteDelta;
    return acc;
  }
}

export interface WikiAggregateOptions {
  /** Pages in each window's top list (default 10; 0 turns the summary off). */
  topN?: number;
}

export function wikiAggregate(
  options: WikiAggregateOptions = {},
): AggregateKind<WikimediaRecentChange, WikiAccumulator, WikiRow, TopPagesRow> {
  return new WikiKind(options.topN ?? 10);
}
