// The MongoDB raw lake against a real FerretDB (scripts/services/ferretdb.sh): the RawLake contract, through the store's lake and through one opened on its own.
import { randomBytes } from "node:crypto";
import type { OpenedRawLake } from "../../src/lake/index.ts";
import { MongoLiveStore, openMongoRawLake } from "../../src/store/mongo/index.ts";
import { type LakeConformanceSubject, runLakeConformance } from "../conformance/lake.ts";
import { useFerretDb } from "./services.ts";

const ferret = useFerretDb();

/** A store on a fresh database, and the lake the case reads through: the store's own, or one `open` opens on it. */
function subject(open?: (url: string) => Promise<OpenedRawLake>) {
  return async (): Promise<LakeConformanceSubject> => {
    const name = `pulse_test_${randomBytes(6).toString("hex")}`;
    const url = `${ferret.server}/${name}`;
    const store = await MongoLiveStore.open({ url });
    const opened = await open?.(url);
    return {
      lake: opened ?? store.lake,
      commit: (batch) => store.commit(batch),
      // Documents as the lake wrote them before it kept frames: the JSON text in `payload`.
      writeLegacy: async (rows) => {
        await ferret.admin
          .db(name)
          .collection<{ _id: string }>("raw_events")
          .insertMany(
            rows.map((row) => ({
              _id: JSON.stringify([row.topic, row.partition, row.offset]),
              topic: row.topic,
              partition: row.partition,
              offset: row.offset,
              event_time: row.event_time,
              ingested_at: row.ingested_at,
              payload: row.json,
            })),
          );
      },
      keepsRawRowsOfFailedCommit:
        "MongoDB writes a commit's raw rows in its first step, before the commit points (FerretDB has no multi-document transactions); a commit that fails later leaves them, and its retry or replay writes the same rows",
      cleanup: async () => {
        await opened?.close();
        await store.close();
        await ferret.admin.db(name).dropDatabase();
      },
    };
  };
}

runLakeConformance("mongodb (FerretDB), the store's lake", subject());

runLakeConformance(
  "mongodb (FerretDB), opened on its own",
  subject((url) => openMongoRawLake({ url })),
);
