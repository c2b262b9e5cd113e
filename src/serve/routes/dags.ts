// /api/dags: the orchestrator's DAGs, runs, try logs and reconciliation records, and trigger, clear and backfill behind the admin token.
//
//   GET  /api/dags                                         the DAGs with their tasks
//   GET  /api/dags/<dag>/runs                              its runs, each with its task instances
//   GET  /api/dags/<dag>/runs/<run>/logs/<task>[?try=N]    a try's log (the latest by default)
//   GET  /api/dags/reconciliation[?date=YYYY-MM-DD]        the reconciliation records
//   GET  /api/dags/models                                  the latest model run and data tests (run_results.json)
//   POST /api/dags/<dag>/trigger        {"date"?: "YYYY-MM-DD"}          a manual run
//   POST /api/dags/<dag>/backfill       {"from": "…", "to": "…"}         a run per interval of [from, to)
//   POST /api/dags/<dag>/runs/<run>/clear  {"task"?: "…"}                queue a run or a task again
// <run> is a run id or its logical date. Writes need `Authorization: Bearer <server.admin_token>`; the
// scheduler (pulse up, pulse scheduler) runs what they queue.

import type { IncomingMessage, ServerResponse } from "node:http";
import { OrchestrateError, OrchestrateErrorCode, PulseError } from "../../errors.ts";
import { bearerIs, HttpError, readJson, sendJson } from "../http.ts";
import type { Route } from "../route.ts";

/** What the API reads and does; the composition root binds it to an orchestrator. Values are JSON. */
export interface DagsApi {
  list(): unknown[];
  runs(dagId: string): Promise<unknown[]>;
  log(
    dagId: string,
    run: string,
    taskId: string,
    tryNumber: number | undefined,
  ): Promise<{ tryNumber: number; text: string }>;
  reconciliation(date: string | undefined): Promise<unknown[]>;
  /** The latest model run's results (the project's run_results.json), or null before the first. */
  modelResults(): Promise<unknown>;
  trigger(dagId: string, date: Date | undefined): Promise<{ run: unknown; created: boolean }>;
  backfill(dagId: string, from: Date, to: Date): Promise<unknown[]>;
  clear(dagId: string, run: string, taskId: string | undefined): Promise<string[]>;
}

export interface DagsRouteOptions {
  api: DagsApi;
  /** The admin token; "" refuses every write. */
  adminToken: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_BODY = 16_384;

export function dagsRoute(options: DagsRouteOptions): Route {
  const { api } = options;
  return {
    mounts: ["/api/dags"],
    paths: ["/api/dags", "/api/dags/reconciliation", "/api/dags/models"],
    handler: async (req, res, path) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const parts = path
        .split("/")
        .filter((p) => p !== "")
        .map(decodeURIComponent);
      const method = req.method ?? "GET";
      try {
        if (parts.length === 0) return await get(method, res, () => ({ dags: api.list() }));
        if (parts.length === 1 && parts[0] === "reconciliation") {
          const date = url.searchParams.get("date") ?? undefined;
          if (date !== undefined && !DATE.test(date)) throw bad(`date must be YYYY-MM-DD, got "${date}"`);
          return await get(method, res, async () => ({ records: await api.reconciliation(date) }));
        }
        if (parts.length === 1 && parts[0] === "models")
          return await get(method, res, async () => ({ run: await api.modelResults() }));
        const [dagId, what, run, action, taskId] = parts as [string, string?, string?, string?, string?];
        if (what === "runs" && parts.length === 2)
          return await get(method, res, async () => ({ runs: await api.runs(dagId) }));
        if (what === "runs" && action === "logs" && parts.length === 5) {
          const tryText = url.searchParams.get("try");
          const tryNumber = tryText === null ? undefined : Number(tryText);
          if (tryNumber !== undefined && !(Number.isSafeInteger(tryNumber) && tryNumber >= 1))
            throw bad(`try must be a whole number ≥ 1, got "${tryText}"`);
          return await get(method, res, () => api.log(dagId, run!, taskId!, tryNumber));
        }
        if (what === "trigger" && parts.length === 2) {
          const body = await write(method, req, options.adminToken);
          const date = dateField(body, "date", false);
          const result = await api.trigger(dagId, date);
          sendJson(res, result.created ? 201 : 200, result);
          return true;
        }
        if (what === "backfill" && parts.length === 2) {
          const body = await write(method, req, options.adminToken);
          const runs = await api.backfill(
            dagId,
            dateField(body, "from", true)!,
            dateField(body, "to", true)!,
          );
          sendJson(res, 202, { runs });
          return true;
        }
        if (what === "runs" && action === "clear" && parts.length === 4) {
          const body = await write(method, req, options.adminToken);
          const task = body.task;
          if (task !== undefined && typeof task !== "string")
            throw bad(`"task" must be a task id (a string)`);
          sendJson(res, 200, { cleared: await api.clear(dagId, run!, task) });
          return true;
        }
        throw new HttpError(
          404,
          "PULSE_HTTP_NOT_FOUND",
          `no dags route ${url.pathname}; routes: /api/dags, /api/dags/<dag>/runs, /api/dags/<dag>/runs/<run>/logs/<task>, ` +
            "/api/dags/reconciliation, POST /api/dags/<dag>/trigger, POST /api/dags/<dag>/backfill, POST /api/dags/<dag>/runs/<run>/clear",
        );
      } catch (error) {
        throw asHttp(error);
      }
    },
  };
}

async function get(method: string, res: ServerResponse, answer: () => unknown): Promise<boolean> {
  if (method !== "GET") throw new HttpError(405, "PULSE_HTTP_METHOD", "use GET for this path");
  sendJson(res, 200, await answer());
  return true;
}

/** A write's checks: POST, the admin token, a JSON object body (empty is {}). */
async function write(
  method: string,
  req: IncomingMessage,
  adminToken: string,
): Promise<Record<string, unknown>> {
  if (method !== "POST") throw new HttpError(405, "PULSE_HTTP_METHOD", "use POST for this path");
  if (adminToken === "") {
    req.resume();
    throw new HttpError(
      403,
      "PULSE_HTTP_FORBIDDEN",
      "DAG runs cannot be changed over HTTP until an admin token is set: server.admin_token or PULSE_ADMIN_TOKEN",
    );
  }
  if (!bearerIs(req, adminToken)) {
    req.resume();
    throw new HttpError(
      401,
      "PULSE_HTTP_UNAUTHORIZED",
      "send the admin token as Authorization: Bearer <token>",
    );
  }
  if (
    req.headers["content-length"] === "0" ||
    (req.headers["content-length"] === undefined && !req.headers["transfer-encoding"])
  )
    return {};
  const body = await readJson(req, MAX_BODY);
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw bad("the body must be a JSON object");
  return body as Record<string, unknown>;
}

function dateField(body: Record<string, unknown>, name: string, required: boolean): Date | undefined {
  const value = body[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== "string" || !DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
    throw bad(
      `"${name}" must be a date as YYYY-MM-DD${required ? "" : " (or left out)"}, got ${JSON.stringify(value)}`,
    );
  return new Date(`${value}T00:00:00Z`);
}

function bad(message: string): HttpError {
  return new HttpError(400, "PULSE_HTTP_BAD_PARAM", message);
}

/** The orchestrator's errors as HTTP answers: a missing DAG, run or log is 404, a bad argument 400. */
function asHttp(error: unknown): unknown {
  if (error instanceof HttpError || !(error instanceof PulseError)) return error;
  if (error instanceof OrchestrateError) {
    if (error.code === OrchestrateErrorCode.notFound)
      return new HttpError(404, "PULSE_HTTP_NOT_FOUND", error.message, { cause: error });
    if (error.code === OrchestrateErrorCode.badArgument)
      return new HttpError(400, "PULSE_HTTP_BAD_PARAM", error.message, { cause: error });
  }
  return error;
}
