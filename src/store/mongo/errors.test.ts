// How the MongoDB store classifies server errors: a server going away is retriable, a rejected request is not.

import { MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { StoreErrorCode } from "../../errors.ts";
import { toStoreError } from "./errors.ts";

const URL = "mongodb://127.0.0.1:27017/pulse";

function classify(code: number, message: string) {
  const error = toStoreError(
    new MongoServerError({ code, errmsg: message, message }),
    "committing a batch",
    URL,
    (t) => t,
  );
  return { code: error.code, retriable: error.retriable };
}

describe("toStoreError on server errors", () => {
  it("retries an operation cut short by a shutdown: FerretDB's cancelled context and MongoDB's codes", () => {
    const unavailable = { code: StoreErrorCode.unavailable, retriable: true };
    expect(
      classify(
        1,
        "[msg_insert.go:168 handler.(*Handler).MsgInsert] [db.go:134 fsql.(*DB).InTransaction] context canceled",
      ),
    ).toEqual(unavailable);
    expect(classify(11600, "interrupted at shutdown")).toEqual(unavailable);
    expect(classify(91, "The server is in quiesce mode and will shut down")).toEqual(unavailable);
    expect(classify(10107, "not primary")).toEqual(unavailable);
  });

  it("does not retry a request the server rejected", () => {
    expect(classify(1, "some other internal error")).toEqual({
      code: StoreErrorCode.storage,
      retriable: false,
    });
    expect(classify(11000, "E11000 duplicate key error")).toEqual({
      code: StoreErrorCode.storage,
      retriable: false,
    });
    expect(classify(2, "BadValue")).toEqual({ code: StoreErrorCode.storage, retriable: false });
  });
});
