// Tests the Confluent REST API with the real @kafkajs/confluent-schema-registry client and with raw fetch.

import fs from "node:fs";
import http from "node:http";
import { SchemaRegistry as ConfluentClient, SchemaType } from "@kafkajs/confluent-schema-registry";
import { describe, expect, it } from "vitest";
import { parseAvroSchema } from "../../registry/compatibility.ts";
import { maxRequestBodyBytes, registryContentType } from "./registry.ts";
import { SAMPLE_PURCHASE } from "../../../test/helpers/events.ts";
import { REGISTRY_MOUNTS, startRegistryServer } from "../../../test/helpers/registry-server.ts";

const schemaDir = new URL("../../contracts/schemas/", import.meta.url);
const userActivityV1 = fs.readFileSync(new URL("user-activity.v1.avsc", schemaDir), "utf8");
const userActivityV2 = fs.readFileSync(new URL("user-activity.v2.avsc", schemaDir), "utf8");

/** v1 plus a required field: old data has no value for it, so BACKWARD must refuse it. */
function withRequiredField(schemaText: string): string {
  const schema = JSON.parse(schemaText) as { fields: unknown[] };
  schema.fields.push({ name: "tenant_id", type: "string" });
  return JSON.stringify(schema);
}

/** A purchase in the fields of UserActivity v1, the schema it is encoded with. */
const { app_version: _v2Only, ...event } = SAMPLE_PURCHASE;

const subject = "user-activity-value";

async function call(url: string, method = "GET", body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "Content-Type": registryContentType, ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    json: JSON.parse(text) as unknown,
  };
}

describe.each(REGISTRY_MOUNTS)("the real Confluent client, registry mounted %s", (_, prefix) => {
  it("registers, encodes, decodes, evolves compatibly and is refused an incompatible evolution", async () => {
    const server = await startRegistryServer({ prefix });
    const client = new ConfluentClient({ host: server.url }, { forSchemaOptions: {} });

    const { id: id1 } = await client.register({ type: SchemaType.AVRO, schema: userActivityV1 }, { subject });
    expect(id1).toBe(1);
    const encoded = await client.encode(id1, event);
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id1);
    expect(await client.decode(encoded)).toEqual(event);

    const { id: id2 } = await client.register({ type: SchemaType.AVRO, schema: userActivityV2 }, { subject });
    expect(id2).toBe(2);
    expect(await client.getLatestSchemaId(subject)).toBe(id2);
    expect(await client.getRegistryId(subject, 1)).toBe(id1);
    expect(
      await client.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: userActivityV1 }),
    ).toBe(id1);
    // A fresh client knows nothing cached: it fetches the writer schema by id over HTTP.
    const fresh = new ConfluentClient({ host: server.url });
    expect(await fresh.decode(encoded)).toEqual(event);

    const incompatible = client.register(
      { type: SchemaType.AVRO, schema: withRequiredField(userActivityV2) },
      { subject },
    );
    await expect(incompatible).rejects.toMatchObject({ status: 409 });
    await expect(incompatible).rejects.toThrow(/READER_FIELD_MISSING_DEFAULT_VALUE at \/fields\/tenant_id/);
    expect(await server.registry.listVersions(subject)).toEqual([1, 2]);
    // The client set the subject's level after the first registration, as it does against Confluent.
    expect(await server.registry.getSubjectConfig(subject)).toBe("BACKWARD");
  });
});

describe("REST endpoints over raw fetch", () => {
  it("serves the subject, version and schema endpoints in Confluent's shapes", async () => {
    const { url } = await startRegistryServer();
    const canonical = parseAvroSchema(userActivityV1).canonical;
    expect(await call(`${url}/subjects/${subject}/versions`, "POST", { schema: userActivityV1 })).toEqual({
      status: 200,
      type: registryContentType,
      json: { id: 1 },
    });
    expect((await call(`${url}/subjects`)).json).toEqual([subject]);
    expect((await call(`${url}/subjects/${subject}/versions`)).json).toEqual([1]);
    expect((await call(`${url}/subjects/${subject}/versions/latest`)).json).toEqual({
      subject,
      version: 1,
      id: 1,
      schema: canonical,
    });
    expect((await call(`${url}/subjects/${subject}/versions/1/schema`)).json).toEqual(JSON.parse(canonical));
    expect((await call(`${url}/schemas/ids/1`)).json).toEqual({ schema: canonical });
    expect((await call(`${url}/schemas/ids/1/schema`)).json).toEqual(JSON.parse(canonical));
    expect((await call(`${url}/schemas/ids/1/versions`)).json).toEqual([{ subject, version: 1 }]);
    expect((await call(`${url}/schemas/types`)).json).toEqual(["AVRO"]);
    expect((await call(`${url}/subjects/${subject}`, "POST", { schema: userActivityV1 })).json).toEqual({
      subject,
      id: 1,
      version: 1,
      schema: canonical,
    });
  });

  it("tests compatibility, with messages when incompatible", async () => {
    const { url } = await startRegistryServer();
    await call(`${url}/subjects/${subject}/versions`, "POST", { schema: userActivityV1 });
    expect(
      (
        await call(`${url}/compatibility/subjects/${subject}/versions/latest`, "POST", {
          schema: userActivityV2,
        })
      ).json,
    ).toEqual({ is_compatible: true });
    const refused = await call(`${url}/compatibility/subjects/${subject}/versions/1`, "POST", {
      schema: withRequiredField(userActivityV1),
    });
    expect(refused.json).toEqual({
      is_compatible: false,
      messages: [
        'the new schema cannot read data written with version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/tenant_id: reader field "tenant_id" of io.pulse.activity.UserActivity is not in the writer record and has no default',
      ],
    });
    expect(
      (
        await call(`${url}/compatibility/subjects/${subject}/versions?verbose=true`, "POST", {
          schema: userActivityV2,
        })
      ).json,
    ).toEqual({ is_compatible: true, messages: [] });
  });

  it("gets and sets config like Confluent, including 40408 for a subject without its own level", async () => {
    const { url } = await startRegistryServer();
    expect((await call(`${url}/config`)).json).toEqual({ compatibilityLevel: "BACKWARD" });
    expect((await call(`${url}/config`, "PUT", { compatibility: "FULL" })).json).toEqual({
      compatibility: "FULL",
    });
    const unset = await call(`${url}/config/s`);
    expect(unset.status).toBe(404);
    expect((unset.json as { error_code: number }).error_code).toBe(40408);
    expect((await call(`${url}/config/s?defaultToGlobal=true`)).json).toEqual({ compatibilityLevel: "FULL" });
    expect((await call(`${url}/config/s`, "PUT", { compatibility: "none" })).json).toEqual({
      compatibility: "NONE",
    });
    expect((await call(`${url}/config/s`)).json).toEqual({ compatibilityLevel: "NONE" });
    expect((await call(`${url}/config/s`, "DELETE")).json).toEqual({ compatibilityLevel: "NONE" });
  });

  it("deletes subjects and versions, soft then permanent", async () => {
    const { url } = await startRegistryServer();
    await call(`${url}/subjects/s/versions`, "POST", { schema: userActivityV1 });
    await call(`${url}/subjects/s/versions`, "POST", { schema: userActivityV2 });
    expect((await call(`${url}/subjects/s/versions/2`, "DELETE")).json).toBe(2);
    expect((await call(`${url}/subjects/s/versions?deleted=true`)).json).toEqual([1, 2]);
    expect((await call(`${url}/subjects/s/versions/2?permanent=true`, "DELETE")).json).toBe(2);
    const notSoft = await call(`${url}/subjects/s?permanent=true`, "DELETE");
    expect([notSoft.status, (notSoft.json as { error_code: number }).error_code]).toEqual([404, 40405]);
    expect((await call(`${url}/subjects/s`, "DELETE")).json).toEqual([1]);
    expect((await call(`${url}/subjects`)).json).toEqual([]);
    expect((await call(`${url}/subjects?deleted=true`)).json).toEqual(["s"]);
    expect((await call(`${url}/subjects/s?permanent=true`, "DELETE")).json).toEqual([1]);
    expect((await call(`${url}/schemas/ids/1`)).status).toBe(404);
  });

  it("URL-decodes subject names", async () => {
    const { url, registry } = await startRegistryServer();
    const name = "team/a: events ü";
    expect(
      (await call(`${url}/subjects/${encodeURIComponent(name)}/versions`, "POST", { schema: '"string"' }))
        .json,
    ).toEqual({ id: 1 });
    expect(await registry.listSubjects()).toEqual([name]);
    expect((await call(`${url}/subjects/${encodeURIComponent(name)}/versions/1`)).json).toMatchObject({
      subject: name,
    });
  });

  it.each([
    ["subject not found", "GET", "/subjects/nope/versions", undefined, 404, 40401],
    ["version not found", "GET", "/subjects/s/versions/9", undefined, 404, 40402],
    ["schema not found", "GET", "/schemas/ids/999", undefined, 404, 40403],
    ["schema id not a number", "GET", "/schemas/ids/abc", undefined, 404, 40403],
    ["schema not in subject", "POST", "/subjects/s", { schema: '"int"' }, 404, 40403],
    ["invalid schema", "POST", "/subjects/s/versions", { schema: '{"type":"recrd"}' }, 422, 42201],
    ["schema field missing", "POST", "/subjects/s/versions", { schma: "{}" }, 422, 42201],
    ["invalid version", "GET", "/subjects/s/versions/zero", undefined, 422, 42202],
    ["invalid level", "PUT", "/config", { compatibility: "SIDEWAYS" }, 422, 42203],
    // Found by the fuzz suite: String() of this object threw, and the registry answered 500.
    ["level not a string", "PUT", "/config", { compatibility: { toString: null } }, 422, 42203],
    ["incompatible", "POST", "/subjects/s/versions", { schema: '"string"' }, 409, 409],
    ["body not JSON", "POST", "/subjects/s/versions", "{schema:", 400, 400],
    ["body not an object", "POST", "/subjects/s/versions", "[1]", 400, 400],
    ["bad percent-encoding", "GET", "/subjects/%E0%A4%A/versions", undefined, 400, 400],
    ["method not allowed", "PATCH", "/subjects", undefined, 405, 405],
  ])("answers %s with a Confluent error", async (_, method, path, body, status, errorCode) => {
    const { url } = await startRegistryServer();
    await call(`${url}/subjects/s/versions`, "POST", { schema: '{"type":"record","name":"R","fields":[]}' });
    const response = await call(`${url}${path}`, method, body);
    expect(response.status).toBe(status);
    expect(response.type).toBe(registryContentType);
    expect((response.json as { error_code: number }).error_code).toBe(errorCode);
    expect(typeof (response.json as { message: string }).message).toBe("string");
  });

  it("refuses PROTOBUF and JSON schemas with a clear 422", async () => {
    const { url } = await startRegistryServer();
    for (const schemaType of ["PROTOBUF", "JSON"]) {
      const response = await call(`${url}/subjects/s/versions`, "POST", {
        schema: "syntax = 'proto3';",
        schemaType,
      });
      expect(response).toEqual({
        status: 422,
        type: registryContentType,
        json: {
          error_code: 42201,
          message: `schemaType "${schemaType}" is not supported: this registry stores AVRO schemas only`,
        },
      });
    }
    expect(
      (await call(`${url}/subjects/s/versions`, "POST", { schema: '"int"', schemaType: "AVRO" })).json,
    ).toEqual({ id: 1 });
  });

  it("accepts JSON, Confluent and octet-stream content types", async () => {
    const { url } = await startRegistryServer();
    const types = [
      "application/json",
      "application/vnd.schemaregistry.v1+json",
      "application/vnd.schemaregistry+json",
      "application/octet-stream",
    ];
    for (const [index, type] of types.entries()) {
      const response = await call(
        `${url}/subjects/s${index}/versions`,
        "POST",
        { schema: '"int"' },
        {
          "Content-Type": type,
        },
      );
      expect(response.json).toEqual({ id: 1 });
    }
  });

  it("refuses a body over the size limit with 413, declared or streamed", async () => {
    const { url, origin } = await startRegistryServer();
    const big = JSON.stringify({ schema: `"${"x".repeat(maxRequestBodyBytes)}"` });
    const declared = await call(`${url}/subjects/s/versions`, "POST", big);
    expect([declared.status, (declared.json as { error_code: number }).error_code]).toEqual([413, 413]);
    // Chunked, so no Content-Length warns the server in advance.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const port = Number(new URL(origin).port);
      const request = http.request(
        {
          host: "127.0.0.1",
          port,
          path: "/subjects/s/versions",
          method: "POST",
          headers: { "Transfer-Encoding": "chunked" },
        },
        (response) => {
          let body = "";
          response.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on("error", reject);
      for (let sent = 0; sent <= maxRequestBodyBytes; sent += 64 * 1024) request.write("x".repeat(64 * 1024));
      request.end();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toMatchObject({ error_code: 413 });
    expect((await call(`${url}/subjects`)).json).toEqual([]);
  });

  it("leaves other paths to the caller, and only claims its prefix when mounted", async () => {
    const root = await startRegistryServer();
    for (const path of ["/", "/api/events", "/subjects/a/b/c/d/e/f"]) {
      expect((await call(`${root.url}${path}`)).json).toMatchObject({
        error_code: 404,
        message: `no route for ${path}`,
      });
    }
    const mounted = await startRegistryServer({ prefix: "/registry" });
    expect((await call(`${mounted.origin}/subjects`)).status).toBe(404);
    expect((await call(`${mounted.url}/subjects`)).json).toEqual([]);
  });

  it("survives a client that disconnects mid-body", async () => {
    const { url, origin } = await startRegistryServer();
    await new Promise<void>((resolve) => {
      const request = http.request({
        host: "127.0.0.1",
        port: Number(new URL(origin).port),
        path: "/subjects/s/versions",
        method: "POST",
        headers: { "Content-Length": "1000" },
      });
      request.on("error", () => resolve());
      request.write('{"schema":');
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 50);
    });
    expect((await call(`${url}/subjects`)).json).toEqual([]);
  });
});
