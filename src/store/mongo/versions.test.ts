// Versioned window rows: a version's _id, and the newest version of each key among sorted documents.

import { describe, expect, it } from "vitest";
import { newestVersions, versionId } from "./versions.ts";

const row = (window_start: number, event_type: string, partition: number, v: number, window_ms = 60_000) => ({
  _id: JSON.stringify([window_ms, window_start, event_type, partition]),
  window_ms,
  window_start,
  event_type,
  partition,
  v,
});

describe("versionId", () => {
  it("appends the batch's sequence number to the key's JSON array", () => {
    const key = JSON.stringify([60_000, 5, "VIEW", 2]);
    expect(versionId(key, 17)).toBe(JSON.stringify([60_000, 5, "VIEW", 2, 17]));
    expect(JSON.parse(versionId(JSON.stringify([1, 'a "quoted", ] name', 0]), 3))).toEqual([
      1,
      'a "quoted", ] name',
      0,
      3,
    ]);
  });
});

describe("newestVersions", () => {
  it("keeps the last of each key's consecutive versions, in the documents' order", () => {
    const docs = [
      row(0, "CLICK", 0, 1),
      row(0, "CLICK", 0, 4),
      row(0, "CLICK", 1, 2),
      row(0, "VIEW", 0, 3),
      row(0, "VIEW", 0, 5),
      row(0, "VIEW", 0, 9),
      row(60_000, "CLICK", 0, 2),
      row(60_000, "CLICK", 0, 2, 3_600_000),
    ];
    expect(
      newestVersions(docs, "event_type").map((d) => [d.window_start, d.event_type, d.partition, d.v]),
    ).toEqual([
      [0, "CLICK", 0, 4],
      [0, "CLICK", 1, 2],
      [0, "VIEW", 0, 9],
      [60_000, "CLICK", 0, 2],
      [60_000, "CLICK", 0, 2],
    ]);
  });

  it("answers nothing for nothing", () => {
    expect(newestVersions([], "event_type")).toEqual([]);
  });
});
