// The MongoDB raw lake's retention: per partition, the oldest raw_batches documents wholly before an event-time cutoff and loaded by the warehouse are deleted.
import type { Db } from "mongodb";
import { batchRetention, type LakeRetention, type LakeRetentionResult } from "../index.ts";
import { RAW_BATCHES, type RawBatchDocument } from "./documents.ts";

/** Document ids deleted per command. */
const DELETE_IDS = 256;

/*
 * As the embedded lake's (src/lake/embedded/retention.ts): a prefix of each partition's documents, in
 * offset order, up to the first one holding an event at or after the cutoff or ending past the
 * partition's loaded offset. One walk of the documents' fields without their records, in index order
 * (topic, partition, first_offset), then deletes by _id (FerretDB filters only _id in SQL). The
 * raw_events rows of an older store are read only and kept.
 */
export async function enforceMongoLakeRetention(
  db: Db,
  retention: LakeRetention,
): Promise<LakeRetentionResult> {
  const batches = db.collection<RawBatchDocument>(RAW_BATCHES);
  const result: LakeRetentionResult = { batches: 0, events: 0, partitionsHeld: 0 };
  const doomed: string[] = [];
  const docs = batches.find(
    {},
    {
      sort: { topic: 1, partition: 1, first_offset: 1 },
      projection: { _id: 1, topic: 1, partition: 1, last_offset: 1, count: 1, max_event_time: 1 },
    },
  );
  let at = "";
  let stopped = false;
  for await (const doc of docs) {
    const place = JSON.stringify([doc.topic, doc.partition]);
    if (place !== at) {
      at = place;
      stopped = false;
    }
    if (stopped) continue;
    const verdict = batchRetention(retention, doc.topic, doc.partition, {
      maxEventTimeMs: doc.max_event_time,
      lastOffset: doc.last_offset,
    });
    if (verdict !== "delete") {
      if (verdict === "held") result.partitionsHeld++;
      stopped = true;
      continue;
    }
    doomed.push(doc._id);
    result.batches++;
    result.events += doc.count;
  }
  for (let i = 0; i < doomed.length; i += DELETE_IDS) {
    await batches.deleteMany({ _id: { $in: doomed.slice(i, i + DELETE_IDS) } });
  }
  return result;
}
