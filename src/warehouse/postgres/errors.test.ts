// How the PostgreSQL warehouse classifies failures: a server out of reach or refusing the session is retriable, a refused statement carries its SQLSTATE.
import { DatabaseError } from "pg";
import { describe, expect, it } from "vitest";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import { displayPostgresUrl, isPostgresUrl } from "./connection.ts";
import { toWarehouseError } from "./errors.ts";

const URL = "postgres://pulse@127.0.0.1:5432/pulse";

function serverError(sqlstate: string, message: string, extra: Partial<DatabaseError> = {}): DatabaseError {
  const error = new DatabaseError(message, message.length, "error");
  Object.assign(error, { code: sqlstate, severity: "ERROR", ...extra });
  return error;
}

function classify(error: unknown) {
  const mapped = toWarehouseError(error, "running a query", URL);
  return { code: mapped.code, retriable: mapped.retriable };
}

describe("toWarehouseError", () => {
  it("gives a refused statement as queryFailed with the server's words and its SQLSTATE", () => {
    const mapped = toWarehouseError(
      serverError("23505", 'duplicate key value violates unique constraint "k_pkey"', {
        detail: "Key (k)=(1) already exists.",
        constraint: "k_pkey",
      }),
      "running a query",
      URL,
    );
    expect(mapped).toBeInstanceOf(WarehouseError);
    expect(mapped.code).toBe(WarehouseErrorCode.queryFailed);
    expect(mapped.retriable).toBe(false);
    expect(mapped.message).toContain('duplicate key value violates unique constraint "k_pkey"');
    expect(mapped.message).toContain("Key (k)=(1) already exists.");
    expect(mapped.message).toContain("SQLSTATE 23505");
    expect(mapped.details).toEqual({
      sqlstate: "23505",
      detail: "Key (k)=(1) already exists.",
      constraint: "k_pkey",
    });
  });

  it("marks a statement that lost to another transaction retriable", () => {
    for (const sqlstate of ["40001", "40P01", "55P03"]) {
      expect(classify(serverError(sqlstate, "could not serialize access"))).toEqual({
        code: WarehouseErrorCode.queryFailed,
        retriable: true,
      });
    }
  });

  it("gives a server that refuses the session, or cannot be reached, as unavailable and retriable", () => {
    const unavailable = { code: WarehouseErrorCode.unavailable, retriable: true };
    for (const sqlstate of ["28P01", "28000", "3D000", "53300", "57P01", "57P03", "08006"]) {
      expect(classify(serverError(sqlstate, "no"))).toEqual(unavailable);
    }
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    expect(classify(refused)).toEqual(unavailable);
    expect(classify(new Error("Connection terminated unexpectedly"))).toEqual(unavailable);
    expect(classify(new Error("timeout exceeded when trying to connect"))).toEqual(unavailable);
  });

  it("keeps a WarehouseError as it is and gives anything else as queryFailed", () => {
    const own = new WarehouseError(WarehouseErrorCode.badArgument, "bad");
    expect(toWarehouseError(own, "x", URL)).toBe(own);
    expect(classify(new TypeError("something odd"))).toEqual({
      code: WarehouseErrorCode.queryFailed,
      retriable: false,
    });
  });
});

describe("PostgreSQL URLs", () => {
  it("shows a URL without its password or query", () => {
    expect(displayPostgresUrl("postgres://u:s3cret@db.example:5432/pulse?sslmode=require&password=x")).toBe(
      "postgres://u@db.example:5432/pulse",
    );
    expect(displayPostgresUrl("postgresql://u:p@ss@host/db")).toBe("postgresql://u@host/db");
    expect(displayPostgresUrl("postgres://host/db")).toBe("postgres://host/db");
  });

  it("knows its schemes", () => {
    expect(isPostgresUrl("postgres://h/db")).toBe(true);
    expect(isPostgresUrl("PostgreSQL://h/db")).toBe(true);
    expect(isPostgresUrl("duckdb:./w.duckdb")).toBe(false);
    expect(isPostgresUrl("embedded:warehouse.duckdb")).toBe(false);
  });
});
