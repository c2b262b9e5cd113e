// GET /api/ops/schemas and /api/ops/schemas/version: the registry's subjects, versions and schemas, whichever registry backs the platform.

import { RegistryError } from "../../errors.ts";
import { parseVersion } from "../../registry/arguments.ts";
import type { SchemaRegistryAdmin } from "../../registry/index.ts";
import { HttpError, sendJson } from "../http.ts";
import { badParam, getRoute, type Route } from "../route.ts";

/** What the routes read of a registry: the in-process one, or a Confluent-API client of a remote one. */
export type SchemasSource = Pick<
  SchemaRegistryAdmin,
  "listSubjects" | "listVersions" | "getVersion" | "getConfig"
>;

/**
 * GET /api/ops/schemas: the global compatibility level and each subject with its versions, its latest
 * schema id and the level in force for it. GET /api/ops/schemas/version?subject=S&version=N|latest: one
 * version with its schema as JSON. Read through the registry API, so a remote registry answers the same.
 */
export function schemasRoute({ registry }: { registry: SchemasSource }): Route {
  return getRoute("/api/ops/schemas", {
    "": {
      params: [],
      run: async (_query, _req, res) => {
        const subjects = [...(await reading(() => registry.listSubjects()))].sort();
        const rows = await Promise.all(
          subjects.map(async (subject) => {
            const [versions, latest, compatibility] = await Promise.all([
              reading(() => registry.listVersions(subject)),
              reading(() => registry.getVersion(subject, "latest")),
              reading(() => registry.getConfig(subject)),
            ]);
            return { subject, versions, latest: { version: latest.version, id: latest.id }, compatibility };
          }),
        );
        sendJson(res, 200, { compatibility: await reading(() => registry.getConfig()), subjects: rows });
      },
    },
    "/version": {
      params: ["subject", "version"],
      run: async (query, _req, res) => {
        const subject = query.get("subject");
        if (subject === undefined || subject === "") {
          throw badParam(
            "subject is required: GET /api/ops/schemas/version?subject=<subject>&version=<n|latest>",
          );
        }
        const version = query.get("version") ?? "latest";
        const found = await reading(() => registry.getVersion(subject, parseVersion(version)));
        sendJson(res, 200, {
          subject: found.subject,
          version: found.version,
          id: found.id,
          schema: JSON.parse(found.schema) as unknown,
        });
      },
    },
  });
}

/** The registry's "not found" becomes a 404 and its "invalid" a 400, with its message; anything else stays a fault. */
async function reading<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    if (error.httpStatus === 404)
      throw new HttpError(404, "PULSE_HTTP_NOT_FOUND", error.message, { cause: error });
    if (error.httpStatus === 422 || error.httpStatus === 400) throw badParam(error.message);
    if (error.retriable) {
      throw new HttpError(503, error.code, `the schema registry is unavailable: ${error.message}`, {
        retriable: true,
        cause: error,
      });
    }
    throw error;
  }
}
