// The aggregates: Wikimedia windows and top pages, and revenue in integer cents.

import { describe, expect, it } from "vitest";
import { centsOf, mergeTopPages, type PageEdits, type TopPagesRow, type WikiRow } from "./aggregates.ts";
import { createWikimediaAggregator } from "./aggregators.ts";
import { prng } from "../../test/helpers/stream.ts";
import type { WikimediaRecentChange } from "../contracts/types.ts";

const T0 = Date.UTC(2023, 6, 29, 7, 0);
const WIKIS = ["enwiki", "dewiki", "wikidatawiki", "commonswiki", "frwiki"];
const TYPES = ["edit", "edit", "edit", "new", "log", "categorize"];

function change(i: number, random: () => number): WikimediaRecentChange {
  const type = TYPES[Math.floor(random() * TYPES.length)]!;
  const wiki = WIKIS[Math.floor(random() ** 2 * WIKIS.length)]!;
  const hasLength = type === "edit" || type === "new";
  return {
    schema_uri: null,
    meta: {
      id: `m-${i}`,
      dt: T0 + i * 50 - Math.floor(random() * 2_000),
      domain: `${wiki}.org`,
      stream: "mediawiki.recentchange",
      uri: null,
      request_id: null,
      topic: null,
      partition: null,
      offset: null,
    },
    id: i,
    type,
    namespace: 0,
    title: `Page ${Math.floor(random() ** 3 * 300)}`,
    comment: null,
    timestamp: null,
    user: random() < 0.05 ? null : `editor-${Math.floor(random() * 400)}`,
    bot: random() < 0.3,
    minor: null,
    patrolled: null,
    length: hasLength
      ? { old: type === "new" ? null : Math.floor(random() * 5_000), new: Math.floor(random() * 5_000) }
      : null,
    revision: null,
    server_url: null,
    server_name: `${wiki}.org`,
    wiki,
    log_type: null,
    log_action: null,
  };
}

describe("Wikimedia aggregate", () => {
  it("equals a jq-style count per (minute, wiki), with top pages merged across partitions", () => {
    const random = prng(5);
    const events = Array.from({ length: 20_000 }, (_, i) => change(i, random));
    // Keyed by wiki as on the topic: a wiki, and so each of its pages, lives in one partition.
    const partitionOf = (wiki: string): number => WIKIS.indexOf(wiki) % 3;
    const agg = createWikimediaAggregator({
      window: { sizeMs: 60_000, slideMs: 60_000 },
      outOfOrdernessMs: 2_000,
      allowedLatenessMs: 0,
      topN: 5,
    });
    const offsets = [0, 0, 0];
    const rows: WikiRow[] = [];
    const tops: TopPagesRow[] = [];
    for (const e of events) {
      const p = partitionOf(e.wiki);
      agg.process(e, p, offsets[p]!++);
      if (offsets[p]! % 500 === 0) {
        const out = agg.flush();
        rows.push(...out.windows);
        tops.push(...out.summaries);
      }
    }
    agg.advanceToEnd();
    const out = agg.flush();
    rows.push(...out.windows);
    tops.push(...out.summaries);
    expect(out.days).toEqual([]);
    expect(agg.progress()).toMatchObject({ late: 0, duplicates: 0, input: events.length });

    type Cell = {
      changes: number;
      edits: number;
      bot: number;
      human: number;
      news: number;
      delta: number;
      editors: Set<string>;
    };
    const truth = new Map<string, Cell>();
    const pages = new Map<number, Map<string, number>>();
    for (const e of events) {
      const minute = Math.floor(e.meta.dt / 60_000) * 60_000;
      const key = `${minute}|${e.wiki}`;
      const cell = truth.get(key) ?? {
        changes: 0,
        edits: 0,
        bot: 0,
        human: 0,
        news: 0,
        delta: 0,
        editors: new Set(),
      };
      truth.set(key, cell);
      cell.changes++;
      if (e.length) cell.delta += (e.length.new ?? 0) - (e.length.old ?? 0);
      if (e.type !== "edit" && e.type !== "new") continue;
      cell.edits++;
      if (e.bot) cell.bot++;
      else cell.human++;
      if (e.type === "new") cell.news++;
      if (e.user !== null) cell.editors.add(e.user);
      const perPage = pages.get(minute) ?? new Map<string, number>();
      pages.set(minute, perPage);
      const page = `${e.wiki}|${e.title}`;
      perPage.set(page, (perPage.get(page) ?? 0) + 1);
    }

    const finals = new Map<string, WikiRow>();
    for (const r of rows) if (r.final) finals.set(`${r.window_start}|${r.wiki}`, r);
    expect(finals.size).toBe(truth.size);
    for (const [key, c] of truth) {
      expect(finals.get(key), key).toMatchObject({
        changes: c.changes,
        edits: c.edits,
        bot_edits: c.bot,
        human_edits: c.human,
        new_pages: c.news,
        byte_delta: c.delta,
        unique_editors: c.editors.size,
      });
    }

    for (const [minute, perPage] of pages) {
      const finalTops = tops.filter((t) => t.final && t.window_start === minute);
      const merged = mergeTopPages(finalTops, 5);
      const expected: PageEdits[] = [...perPage]
        .map(([page, edits]) => {
          const [wiki, title] = page.split("|") as [string, string];
          return { wiki, title, edits };
        })
        .sort(
          (a, b) =>
            b.edits - a.edits || (a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : a.title < b.title ? -1 : 1),
        )
        .slice(0, 5);
      expect(merged).toEqual(expected);
    }
  });
});

describe("centsOf", () => {
  it("is exact for two-decimal amounts, where float sums drift", () => {
    let cents = 0;
    let float = 0;
    for (let i = 0; i < 1_000; i++) {
      cents += centsOf(0.1) + centsOf(19.99) + centsOf(1.005 - 0.005);
      float += 0.1 + 19.99 + 1;
    }
    expect(cents).toBe(2_109_000);
    expect(float).not.toBe(21_090);
    expect(centsOf(4.35)).toBe(435);
    expect(centsOf(1_234_567.89)).toBe(123_456_789);
  });
});
