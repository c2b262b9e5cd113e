// Probes against a server bound off loopback: registry writes need the admin token, path traversal and oversized bodies are refused with 4xx, and nothing changes.
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { startPulse, tempDir } from "../helpers/cli.ts";

const LISTENING = /listening on http:\/\/[^:]+:(\d+)/;

/** A GET whose path goes on the wire as written (fetch would normalise the dots away). */
function rawGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

const NEW_SCHEMA = JSON.stringify({
  schema: JSON.stringify({ type: "record", name: "Probe", fields: [{ name: "x", type: "string" }] }),
});

describe("a server bound to 0.0.0.0", () => {
  it("refuses registry writes without the admin token, traversal and oversized bodies, and keeps its data", async ({
    onTestFinished,
  }) => {
    const dataDir = tempDir(onTestFinished);
    const serve = await startPulse(["serve", "--port", "0", "--data-dir", dataDir], {
      waitFor: LISTENING,
      onCleanup: onTestFinished,
      env: { PULSE_HOST: "0.0.0.0", PULSE_ADMIN_TOKEN: "t0ken", PULSE_API_KEYS: "k1" },
    });
    const base = `http://127.0.0.1:${serve.match[1]}`;
    const subjects = async () => (await (await fetch(`${base}/subjects`)).json()) as string[];
    const before = await subjects();
    expect(before.length).toBeGreaterThan(0);

    const write = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
      fetch(`${base}${path}`, {
        method,
        headers: { "content-type": "application/vnd.schemaregistry.v1+json", ...headers },
        body,
      });
    const anonymous = await write("DELETE", `/subjects/${before[0]}`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error_code: 40101 });
    expect((await write("POST", "/subjects/probe-value/versions", {}, NEW_SCHEMA)).status).toBe(401);
    expect(
      (await write("PUT", "/config", { authorization: "Bearer wrong" }, '{"compatibility":"NONE"}')).status,
    ).toBe(401);
    expect(await subjects()).toEqual(before);
    // With the token a write goes through.
    const allowed = await write(
      "POST",
      "/subjects/probe-value/versions",
      { authorization: "Bearer t0ken" },
      NEW_SCHEMA,
    );
    expect(allowed.status).toBe(200);
    expect(await subjects()).toEqual([...before, "probe-value"].sort());

    for (const path of [
      "/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/assets/..%2f..%2fpackage.json",
      "/ops/../../../etc/passwd",
    ]) {
      const status = await rawGet(Number(serve.match[1]), path);
      expect(status, path).toBeGreaterThanOrEqual(400);
      expect(status, path).toBeLessThan(500);
    }
    const huge = await fetch(`${base}/api/v1/events`, {
      method: "POST",
      headers: { authorization: "Bearer k1", "content-type": "application/json" },
      body: `[${"1,".repeat(700_000)}1]`,
    });
    expect(huge.status).toBe(413);
    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
  }, 60_000);
});
