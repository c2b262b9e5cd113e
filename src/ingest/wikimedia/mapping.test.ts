// Tests for mapping current and legacy recentchange events onto the WikimediaRecentChange contract.

import { readFileSync } from "node:fs";
import avro from "avsc";
import { describe, expect, it } from "vitest";
import type { WikimediaRecentChange } from "../../contracts/types.ts";
import { isCanary, mapRecentChange } from "./mapping.ts";

const FIXTURES = new URL("../../../fixtures/wikimedia/", import.meta.url);
const ENWIKI = new URL("recentchange-enwiki-2023-07-29.ndjson", FIXTURES);
const LEGACY = new URL("recentchange-wikidata-2018-03-07.legacy.jsonl", FIXTURES);
const SCHEMA = avro.Type.forSchema(
  JSON.parse(
    readFileSync(new URL("../../contracts/schemas/wikimedia-recentchange.avsc", import.meta.url), "utf8"),
  ),
);

function rawEvents(file: URL): unknown[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

function mapAll(file: URL): WikimediaRecentChange[] {
  return rawEvents(file).map((raw, i) => {
    const result = mapRecentChange(raw);
    if (!result.ok) expect.unreachable(`line ${i + 1}: ${result.code} ${result.message}`);
    return result.value;
  });
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

describe("mapRecentChange over the fixtures", () => {
  const current = mapAll(ENWIKI);
  const legacy = mapAll(LEGACY);

  it("maps every event of both files, each valid against the Avro contract", () => {
    expect(current).toHaveLength(80);
    expect(legacy).toHaveLength(3054);
    for (const value of [...current, ...legacy]) expect(SCHEMA.isValid(value)).toBe(true);
  });

  it("keeps per-wiki, per-type, bot and log counts equal to jq's", () => {
    // jq -r '.wiki' FILE | sort | uniq -c
    expect(countBy(current, (v) => v.wiki)).toEqual({ enwiki: 80 });
    expect(countBy(legacy, (v) => v.wiki)).toEqual({ wikidatawiki: 3054 });
    // jq -r '.type' FILE | sort | uniq -c
    expect(countBy(current, (v) => v.type)).toEqual({ edit: 80 });
    expect(countBy(legacy, (v) => v.type)).toEqual({ edit: 3000, new: 34, log: 20 });
    // jq -r '.bot' FILE | sort | uniq -c
    expect(countBy(current, (v) => String(v.bot))).toEqual({ false: 79, true: 1 });
    expect(countBy(legacy, (v) => String(v.bot))).toEqual({ false: 723, true: 2331 });
    // jq -r 'select(.type=="log") | .log_type+"/"+.log_action' FILE | sort | uniq -c
    const logs = legacy.filter((v) => v.type === "log");
    expect(countBy(logs, (v) => `${v.log_type}/${v.log_action}`)).toEqual({
      "abusefilter/hit": 12,
      "patrol/patrol": 6,
      "tag/update": 2,
    });
    // jq -r .meta.id FILE | sort -u | wc -l
    expect(new Set(current.map((v) => v.meta.id)).size).toBe(80);
    expect(new Set(legacy.map((v) => v.meta.id)).size).toBe(3054);
    // jq -r 'select(.minor==true)|1' FILE | wc -l ; jq -r 'select(.patrolled==null)|1' FILE | wc -l
    expect(current.filter((v) => v.minor === true)).toHaveLength(6);
    expect(legacy.filter((v) => v.minor === true)).toHaveLength(3);
    expect(current.filter((v) => v.patrolled === null)).toHaveLength(80);
    expect(legacy.filter((v) => v.patrolled === null)).toHaveLength(20);
    // jq -s 'map(.length.new // 0)|add' FILE
    expect(current.reduce((sum, v) => sum + (v.length?.new ?? 0), 0)).toBe(2128170);
    expect(legacy.reduce((sum, v) => sum + (v.length?.new ?? 0), 0)).toBe(22159421);
  });

  it("maps the current shape field by field (last line of the enwiki file)", () => {
    expect(current[79]).toEqual({
      schema_uri: "/mediawiki/recentchange/1.0.0",
      meta: {
        id: "1ca4c420-d08b-4de2-a994-fc5d78386e6b",
        dt: Date.UTC(2023, 6, 29, 7, 53, 42),
        domain: "en.wikipedia.org",
        stream: "mediawiki.recentchange",
        uri: "https://en.wikipedia.org/wiki/Foam_concrete",
        request_id: "cff7efb5-05d4-4d58-8510-10a43e2f0ec1",
        topic: "eqiad.mediawiki.recentchange",
        partition: 0,
        offset: 4820787990,
      },
      id: 1659529919,
      type: "edit",
      namespace: 0,
      title: "Foam concrete",
      comment: expect.any(String),
      timestamp: 1690617222,
      user: "121.123.29.10",
      bot: false,
      minor: false,
      patrolled: null,
      length: { old: 11567, new: 11571 },
      revision: { old: 1167689416, new: 1167689452 },
      server_url: "https://en.wikipedia.org",
      server_name: "en.wikipedia.org",
      wiki: "enwiki",
      log_type: null,
      log_action: null,
    });
  });

  it("maps the legacy shape: schema_uri from meta, default stream, +00:00 dates", () => {
    const first = legacy[0]!;
    expect(first.schema_uri).toBe("mediawiki/recentchange/1");
    expect(first.meta.stream).toBe("mediawiki.recentchange");
    expect(first.meta.id).toBe("dd8c5690-2222-11e8-a2ad-1418776134f3");
    expect(first.meta.dt).toBe(Date.UTC(2018, 2, 7, 16, 16, 17));
    expect(first.meta.offset).toBe(759089343);
    expect(first.patrolled).toBe(true);
    expect(first.length).toEqual({ old: 1007, new: 1438 });
    // Event time and the server's unix timestamp agree on every line.
    for (const v of legacy) expect(v.meta.dt).toBe(v.timestamp! * 1000);
  });

  it("maps a new page with no old revision and a log event without length or revision", () => {
    const created = legacy.find((v) => v.meta.id === "e167b86e-2222-11e8-9384-141877614a1b")!;
    expect(created.type).toBe("new");
    expect(created.revision).toEqual({ old: null, new: 645091390 });
    expect(created.length).toEqual({ old: null, new: 159 });
    const log = legacy.find((v) => v.meta.id === "e8c9812b-2222-11e8-91d2-141877614a81")!;
    expect(log).toMatchObject({
      type: "log",
      id: null,
      log_type: "patrol",
      log_action: "patrol",
      length: null,
      revision: null,
      minor: null,
      patrolled: null,
      user: "YMS",
      comment: "",
      timestamp: 1520439396,
    });
  });
});

describe("mapRecentChange on broken input", () => {
  const base = (rawEvents(ENWIKI)[0] as Record<string, unknown>) ?? {};
  const withMeta = (meta: Record<string, unknown>): Record<string, unknown> => ({
    ...base,
    meta: { ...(base.meta as object), ...meta },
  });
  const without = (key: string): Record<string, unknown> => {
    const copy = { ...base };
    delete copy[key];
    return copy;
  };

  it.each([
    ["meta", without("meta")],
    ["meta.id", withMeta({ id: undefined })],
    ["meta.dt", withMeta({ dt: null })],
    ["meta.domain", withMeta({ domain: undefined })],
    ["wiki", without("wiki")],
    ["server_name", without("server_name")],
    ["type", without("type")],
  ])("rejects a missing %s, naming it", (field, raw) => {
    const result = mapRecentChange(raw);
    expect(result).toMatchObject({ ok: false, code: "PULSE_WIKIMEDIA_MISSING_FIELD" });
    if (!result.ok) expect(result.message).toContain(field);
  });

  it("rejects wrong types and unparseable dates with PULSE_WIKIMEDIA_BAD_FIELD", () => {
    for (const raw of [
      withMeta({ dt: "yesterday" }),
      withMeta({ dt: "2023-07-29 07:51:39" }),
      // Found by the fuzz suite: Date.parse rolled a day that does not exist over into March.
      withMeta({ dt: "2023-02-30T07:51:39Z" }),
      withMeta({ partition: "0" }),
      { ...base, bot: "no" },
      { ...base, length: { old: 1.5, new: 2 } },
      { ...base, namespace: 2 ** 40 },
    ]) {
      expect(mapRecentChange(raw)).toMatchObject({ ok: false, code: "PULSE_WIKIMEDIA_BAD_FIELD" });
    }
  });

  it("rejects a value that is not an object", () => {
    for (const raw of [null, 42, "x", [base]]) {
      expect(mapRecentChange(raw)).toMatchObject({ ok: false, code: "PULSE_WIKIMEDIA_NOT_OBJECT" });
    }
  });

  it("stringifies a numeric type (schema 1.0.1) and fills absent optional fields with null", () => {
    const result = mapRecentChange({
      meta: { id: "x", dt: "2024-01-01T00:00:00.250Z", domain: "de.wikipedia.org", stream: "s" },
      type: 142,
      wiki: "dewiki",
      server_name: "de.wikipedia.org",
    });
    expect(result).toEqual({
      ok: true,
      value: {
        schema_uri: null,
        meta: {
          id: "x",
          dt: Date.UTC(2024, 0, 1, 0, 0, 0, 250),
          domain: "de.wikipedia.org",
          stream: "s",
          uri: null,
          request_id: null,
          topic: null,
          partition: null,
          offset: null,
        },
        id: null,
        type: "142",
        namespace: null,
        title: null,
        comment: null,
        timestamp: null,
        user: null,
        bot: false,
        minor: null,
        patrolled: null,
        length: null,
        revision: null,
        server_url: null,
        server_name: "de.wikipedia.org",
        wiki: "dewiki",
        log_type: null,
        log_action: null,
      },
    });
    if (result.ok) expect(SCHEMA.isValid(result.value)).toBe(true);
  });
});

describe("isCanary", () => {
  it("is true only for meta.domain canary", () => {
    expect(isCanary({ meta: { domain: "canary" } })).toBe(true);
    expect(isCanary({ meta: { domain: "en.wikipedia.org" } })).toBe(false);
    expect(isCanary({ domain: "canary" })).toBe(false);
    expect(isCanary(null)).toBe(false);
  });
});
