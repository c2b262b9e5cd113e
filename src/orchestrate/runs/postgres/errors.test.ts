// How the PostgreSQL run store classifies failures: a server out of reach or refusing the session is unavailable, a lost lock race busy, both retriable.
import { DatabaseError } from "pg";
import { describe, expect, it } from "vitest";
import { OrchestrateError, OrchestrateErrorCode } from "../../../errors.ts";
import { toRunStoreError } from "./errors.ts";

const URL = "postgres://pulse@127.0.0.1:5432/pulse";

function serverError(sqlstate: string, message: string): DatabaseError {
  const error = new DatabaseError(message, message.length, "error");
  Object.assign(error, { code: sqlstate, severity: "ERROR" });
  return error;
}

function classify(error: unknown) {
  const mapped = toRunStoreError(error, "claiming task", URL);
  return { code: mapped.code, retriable: mapped.retriable };
}

describe("toRunStoreError", () => {
  it("sorts failures by what the caller can do", () => {
    expect(classify(serverError("3D000", 'database "x" does not exist'))).toEqual({
      code: OrchestrateErrorCode.unavailable,
      retriable: true,
    });
    expect(classify(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toEqual({
      code: OrchestrateErrorCode.unavailable,
      retriable: true,
    });
    expect(classify(serverError("40P01", "deadlock detected"))).toEqual({
      code: OrchestrateErrorCode.busy,
      retriable: true,
    });
    expect(classify(serverError("42501", "permission denied for schema pulse_runs"))).toEqual({
      code: OrchestrateErrorCode.storage,
      retriable: false,
    });
    expect(classify(new Error("something else"))).toEqual({
      code: OrchestrateErrorCode.storage,
      retriable: false,
    });
  });

  it("keeps the run store's own errors, and says what it was doing and where", () => {
    const own = new OrchestrateError(OrchestrateErrorCode.badArgument, "bad");
    expect(toRunStoreError(own, "x", URL)).toBe(own);
    const mapped = toRunStoreError(serverError("42501", "permission denied"), "claiming task", URL);
    expect(mapped.message).toBe(
      "PostgreSQL refused the run store's statement while claiming task: permission denied (SQLSTATE 42501).",
    );
    expect(mapped.details).toEqual({ sqlstate: "42501" });
  });
});
