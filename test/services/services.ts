// Where the real services of scripts/services/ listen (overridable for a remote setup), a reset for Kafka, FerretDB and PostgreSQL for a file's tests.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { Pool } from "pg";
import { afterAll, beforeAll } from "vitest";
import { REPO_ROOT } from "../helpers/cli.ts";
import { resetPulseKafka } from "../helpers/kafka-reset.ts";

export const KAFKA_URL = process.env.PULSE_TEST_KAFKA ?? "kafka://127.0.0.1:9092";
export const MONGODB_URL = process.env.PULSE_TEST_MONGODB ?? "mongodb://127.0.0.1:27017";
/** A PostgreSQL database whose user may create and drop databases (scripts/services/postgres.sh: superuser pulse). */
export const POSTGRES_URL = process.env.PULSE_TEST_POSTGRES ?? "postgres://pulse@127.0.0.1:5432/pulse";

/**
 * Deletes Pulse's fixed-name topics and the given consumer groups on the test broker, so a test that
 * runs the real CLI on Kafka starts from an empty log. Service tests run one file at a time.
 */
export async function resetKafka(groups: readonly string[] = []): Promise<void> {
  await resetPulseKafka(KAFKA_URL, groups, "pulse-test-reset");
}

/**
 * FerretDB for the tests of one file: started before them if it is not running (idempotent; the first
 * start may build it), with an admin client on it, closed after them. `server` has no database path.
 */
export function useFerretDb(): { readonly server: string; readonly admin: MongoClient } {
  const ferret = { server: MONGODB_URL.replace(/\/$/, ""), admin: undefined as unknown as MongoClient };
  beforeAll(() => {
    execFileSync(join(REPO_ROOT, "scripts/services/ferretdb.sh"), ["start"], { stdio: "inherit" });
    ferret.admin = new MongoClient(ferret.server, { serverSelectionTimeoutMS: 5_000 });
  }, 900_000);
  afterAll(async () => {
    await ferret.admin?.close();
  });
  return ferret;
}

/**
 * PostgreSQL for the tests of one file: started before them if it is not running (idempotent; the first
 * start may install it), with an admin pool on POSTGRES_URL's database, ended after them. `urlOf(db)` is
 * the URL of another database on the same server.
 */
export function usePostgres(): { readonly admin: Pool; urlOf(database: string): string } {
  const postgres = {
    admin: undefined as unknown as Pool,
    urlOf(database: string): string {
      const url = new URL(POSTGRES_URL);
      url.pathname = `/${encodeURIComponent(database)}`;
      return url.toString();
    },
  };
  beforeAll(() => {
    execFileSync(join(REPO_ROOT, "scripts/services/postgres.sh"), ["start"], { stdio: "inherit" });
    postgres.admin = new Pool({ connectionString: POSTGRES_URL, max: 2 });
  }, 900_000);
  afterAll(async () => {
    await postgres.admin?.end();
  });
  return postgres;
}
