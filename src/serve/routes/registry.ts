// The Confluent Schema Registry REST API over an in-process registry (SQLite or Kafka), at / and /registry.

import type { IncomingMessage, ServerResponse } from "node:http";
import { RegistryError } from "../../errors.ts";
import { parseVersion } from "../../registry/arguments.ts";
import { registryError, RegistryErrorCode } from "../../registry/errors.ts";
import type { SchemaRegistryApi } from "../../registry/index.ts";
import { bearerIs } from "../http.ts";
import type { Route } from "../route.ts";

export const registryContentType = "application/vnd.schemaregistry.v1+json";

/** Largest request body accepted; Avro schemas are kilobytes, so this only stops abuse. */
export const maxRequestBodyBytes = 1024 * 1024;

type Method = "GET" | "POST" | "PUT" | "DELETE";

interface OperationContext {
  registry: SchemaRegistryApi;
  params: string[];
  query: URLSearchParams;
  body: () => Promise<Record<string, unknown>>;
}

interface Reply {
  status?: number;
  body: unknown;
}

type Operation = (context: OperationContext) => Promise<Reply>;

interface Resource {
  /** Literal segments, or ":" for a parameter. */
  pattern: string[];
  methods: Partial<Record<Method, Operation>>;
}

const top = new Set(["subjects", "schemas", "compatibility", "config", "mode"]);

const resources: Resource[] = [
  {
    pattern: ["subjects"],
    methods: {
      GET: async ({ registry, query }) => {
        const prefix = query.get("subjectPrefix") ?? "";
        const subjects = await registry.listSubjects({ includeDeleted: flag(query, "deleted") });
        return { body: subjects.filter((subject) => subject.startsWith(prefix)) };
      },
    },
  },
  {
    pattern: ["subjects", ":"],
    methods: {
      POST: async ({ registry, params, query, body }) => {
        const found = await registry.lookup(params[0], avroSchemaFrom(await body()), {
          includeDeleted: flag(query, "deleted"),
        });
        return {
          body: { subject: found.subject, id: found.id, version: found.version, schema: found.schema },
        };
      },
      DELETE: async ({ registry, params, query }) => ({
        body: await registry.deleteSubject(params[0], flag(query, "permanent")),
      }),
    },
  },
  {
    pattern: ["subjects", ":", "versions"],
    methods: {
      GET: async ({ registry, params, query }) => ({
        body: await registry.listVersions(params[0], { includeDeleted: flag(query, "deleted") }),
      }),
      POST: async ({ registry, params, body }) => ({
        body: { id: await registry.register(params[0], avroSchemaFrom(await body())) },
      }),
    },
  },
  {
    pattern: ["subjects", ":", "versions", ":"],
    methods: {
      GET: async ({ registry, params, query }) => {
        const found = await registry.getVersion(params[0], parseVersion(params[1]), {
          includeDeleted: flag(query, "deleted"),
        });
        return {
          body: { subject: found.subject, version: found.version, id: found.id, schema: found.schema },
        };
      },
      DELETE: async ({ registry, params, query }) => ({
        body: await registry.deleteVersion(params[0], parseVersion(params[1]), flag(query, "permanent")),
      }),
    },
  },
  {
    pattern: ["subjects", ":", "versions", ":", "schema"],
    methods: {
      GET: async ({ registry, params, query }) => {
        const found = await registry.getVersion(params[0], parseVersion(params[1]), {
          includeDeleted: flag(query, "deleted"),
        });
        return { body: JSON.parse(found.schema) };
      },
    },
  },
  {
    // Schema references are not supported, so nothing ever refers to a version.
    pattern: ["subjects", ":", "versions", ":", "referencedby"],
    methods: {
      GET: async ({ registry, params }) => {
        await registry.getVersion(params[0], parseVersion(params[1]));
        return { body: [] };
      },
    },
  },
  {
    pattern: ["schemas", "types"],
    methods: { GET: async () => ({ body: ["AVRO"] }) },
  },
  {
    pattern: ["schemas", "ids", ":"],
    methods: {
      GET: async ({ registry, params }) => ({
        body: { schema: await registry.getSchemaById(schemaId(params[0])) },
      }),
    },
  },
  {
    pattern: ["schemas", "ids", ":", "schema"],
    methods: {
      GET: async ({ registry, params }) => ({
        body: JSON.parse(await registry.getSchemaById(schemaId(params[0]))),
      }),
    },
  },
  {
    pattern: ["schemas", "ids", ":", "versions"],
    methods: {
      GET: async ({ registry, params, query }) => ({
        body: await registry.getSubjectVersionsForId(schemaId(params[0]), {
          includeDeleted: flag(query, "deleted"),
        }),
      }),
    },
  },
  {
    pattern: ["compatibility", "subjects", ":", "versions"],
    methods: {
      POST: async ({ registry, params, query, body }) =>
        compatibilityReply(
          await registry.testCompatibility(params[0], undefined, avroSchemaFrom(await body())),
          query,
        ),
    },
  },
  {
    pattern: ["compatibility", "subjects", ":", "versions", ":"],
    methods: {
      POST: async ({ registry, params, query, body }) =>
        compatibilityReply(
          await registry.testCompatibility(params[0], parseVersion(params[1]), avroSchemaFrom(await body())),
          query,
        ),
    },
  },
  {
    pattern: ["config"],
    methods: {
      GET: async ({ registry }) => ({ body: { compatibilityLevel: await registry.getConfig() } }),
      PUT: async ({ registry, body }) => ({
        body: { compatibility: await registry.setConfig(levelFrom(await body())) },
      }),
      DELETE: async ({ registry }) => ({ body: { compatibilityLevel: await registry.deleteConfig() } }),
    },
  },
  {
    pattern: ["config", ":"],
    methods: {
      GET: async ({ registry, params, query }) => {
        // Like Confluent: a subject without its own level is 40408 unless the caller asks for the fallback.
        const own = await registry.getSubjectConfig(params[0]);
        if (own !== undefined) return { body: { compatibilityLevel: own } };
        if (flag(query, "defaultToGlobal"))
          return { body: { compatibilityLevel: await registry.getConfig() } };
        throw registryError(
          RegistryErrorCode.subjectConfigNotFound,
          `subject "${params[0]}" has no compatibility level of its own; add ?defaultToGlobal=true for the global one`,
        );
      },
      PUT: async ({ registry, params, body }) => ({
        body: { compatibility: await registry.setConfig(levelFrom(await body()), params[0]) },
      }),
      DELETE: async ({ registry, params }) => ({
        body: { compatibilityLevel: await registry.deleteConfig(params[0]) },
      }),
    },
  },
  {
    // Pulse's registries have no import or read-only modes.
    pattern: ["mode"],
    methods: { GET: async () => ({ body: { mode: "READWRITE" } }) },
  },
];

/**
 * The registry's REST API at the server's root and under /registry: Confluent clients take a base URL,
 * so both http://host:port and http://host:port/registry work. Paths that are not the registry's are
 * left to the next route.
 */
export function registryRoute(registry: SchemaRegistryApi, options: RegistryRouteOptions = {}): Route {
  return {
    mounts: ["/registry", ""],
    handler: (req, res, path) => handleRegistryRequest(registry, req, res, path, options),
  };
}

export interface RegistryRouteOptions {
  /**
   * When set, every write (POST, PUT, DELETE) needs `Authorization: Bearer <adminToken>`; "" refuses
   * them all. The app sets it when the server listens on an address other than loopback.
   */
  guardWrites?: { adminToken: string };
}

/**
 * Serves one request if `path` (relative to the registry's base URL, without the query string) is a
 * registry route; returns false otherwise so the caller can try its other routes. Never throws: every
 * failure becomes a Confluent-style {"error_code", "message"} response.
 */
export async function handleRegistryRequest(
  registry: SchemaRegistryApi,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  options: RegistryRouteOptions = {},
): Promise<boolean> {
  // Tolerate callers that pass the query string along with the path.
  const rawSegments = (path.split("?")[0] ?? "").split("/").filter((segment) => segment !== "");
  if (rawSegments.length === 0 || !top.has(rawSegments[0])) return false;
  try {
    const segments = rawSegments.map(decodeSegment);
    const resource = resources.find((candidate) => matches(candidate.pattern, segments));
    if (resource === undefined) return false;
    const method = (req.method ?? "GET").toUpperCase();
    const operation = resource.methods[method as Method];
    if (operation === undefined) {
      res.setHeader("Allow", Object.keys(resource.methods).join(", "));
      throw registryError(RegistryErrorCode.methodNotAllowed, `${method} is not allowed on ${path}`);
    }
    if (method !== "GET" && options.guardWrites !== undefined)
      checkAdmin(req, options.guardWrites.adminToken);
    const params = segments.filter((_, index) => resource.pattern[index] === ":");
    const query = new URL(req.url ?? "/", "http://registry.invalid").searchParams;
    const reply = await operation({ registry, params, query, body: () => readJsonBody(req) });
    send(res, reply.status ?? 200, reply.body);
  } catch (error) {
    sendError(req, res, error);
  }
  return true;
}

/** A write's admin token, checked in constant time. */
function checkAdmin(req: IncomingMessage, adminToken: string): void {
  if (adminToken === "") {
    throw registryError(
      RegistryErrorCode.forbidden,
      "the registry is read-only on this address until an admin token is set: server.admin_token or PULSE_ADMIN_TOKEN",
    );
  }
  if (!bearerIs(req, adminToken)) {
    throw registryError(
      RegistryErrorCode.unauthorized,
      "registry writes on this address need the admin token: Authorization: Bearer <token>",
    );
  }
}

function matches(pattern: string[], segments: string[]): boolean {
  return (
    pattern.length === segments.length &&
    pattern.every((part, index) => part === ":" || part === segments[index])
  );
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    throw registryError(
      RegistryErrorCode.badRequest,
      `malformed percent-encoding in URL segment "${segment}"`,
      {
        cause: error,
      },
    );
  }
}

function flag(query: URLSearchParams, name: string): boolean {
  return query.get(name)?.toLowerCase() === "true";
}

function schemaId(text: string): number {
  const id = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id))
    throw registryError(RegistryErrorCode.schemaNotFound, `schema id ${text} not found`);
  return id;
}

/** The schema text from a register/lookup/compatibility body, refusing what this registry cannot hold. */
function avroSchemaFrom(body: Record<string, unknown>): string {
  const type = body.schemaType;
  if (type !== undefined && type !== null && (typeof type !== "string" || type.toUpperCase() !== "AVRO")) {
    throw registryError(
      RegistryErrorCode.unsupportedSchemaType,
      `schemaType ${JSON.stringify(type)} is not supported: this registry stores AVRO schemas only`,
    );
  }
  if (Array.isArray(body.references) && body.references.length > 0) {
    throw registryError(
      RegistryErrorCode.invalidSchema,
      "schema references are not supported: inline the referenced named types in the schema",
    );
  }
  if (typeof body.schema !== "string" || body.schema.trim() === "") {
    throw registryError(
      RegistryErrorCode.invalidSchema,
      'the request body needs a "schema" field holding the schema as a JSON string',
    );
  }
  return body.schema;
}

function levelFrom(body: Record<string, unknown>): string {
  const level = body.compatibility ?? body.compatibilityLevel;
  // Unknown values fall through to setConfig, which rejects them with 42203. A non-string is shown as
  // its JSON: String() throws on an object whose own toString is not a function (a 500 before).
  return typeof level === "string" ? level : (JSON.stringify(level) ?? "undefined");
}

function compatibilityReply(
  result: { compatible: boolean; messages: string[] },
  query: URLSearchParams,
): Reply {
  const verbose = flag(query, "verbose") || !result.compatible;
  return {
    body: verbose ? { is_compatible: result.compatible, messages: result.messages } : { is_compatible: true },
  };
}

/** Reads the body as JSON whatever its declared content type (Confluent's, JSON or octet-stream). */
async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxRequestBodyBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxRequestBodyBytes) throw tooLarge();
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw registryError(
      RegistryErrorCode.badRequest,
      `the request body is not valid JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw registryError(RegistryErrorCode.badRequest, "the request body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

function tooLarge(): RegistryError {
  return registryError(
    RegistryErrorCode.bodyTooLarge,
    `the request body is larger than ${maxRequestBodyBytes} bytes`,
  );
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": registryContentType,
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  const known = error instanceof RegistryError;
  // Unknown failures are bugs; their text may hold internals, so the client gets a generic message.
  const status = known ? error.httpStatus : 500;
  const body = {
    error_code: known ? error.confluentCode : 50001,
    message: known ? error.message : "internal error in the schema registry",
  };
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!req.complete) {
    // The body was not read (too large, or rejected first): close after replying rather than read it.
    res.setHeader("Connection", "close");
    req.resume();
  }
  try {
    send(res, status, body);
  } catch {
    // The socket is already gone; there is no one left to tell.
    res.destroy();
  }
}
