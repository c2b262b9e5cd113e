// Tests the pages route over a real PulseServer and a built folder on disk: pages, assets, headers, and path-traversal probes.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { serveRoutes } from "../../../test/helpers/http-server.ts";
import { CONTENT_SECURITY_POLICY, pagesRoute } from "./pages.ts";

const INDEX = "<!doctype html><title>Pulse</title>";

/** A built app: <root>/build/{index.html, assets/…}, and a secret beside the build a probe must not reach. */
function builtFolder(): string {
  const root = mkdtempSync(join(tmpdir(), "pulse-pages-"));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, "build");
  mkdirSync(join(dir, "assets"), { recursive: true });
  writeFileSync(join(dir, "index.html"), INDEX);
  writeFileSync(join(dir, "assets", "index-Ab12_x.js"), "console.log(1)");
  writeFileSync(join(dir, "assets", "index-Cd34.css"), "body{}");
  writeFileSync(join(dir, "assets", ".hidden.js"), "hidden");
  writeFileSync(join(dir, "assets", "notes.exe"), "binary");
  writeFileSync(join(root, "secret.js"), "SECRET");
  return dir;
}

/** Sends the path as written, without the URL normalisation fetch would do first. */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("pagesRoute", () => {
  it("answers index.html for each page path, revalidated, with a strict CSP", async () => {
    const dir = builtFolder();
    const { url } = await serveRoutes([pagesRoute({ assets: async () => dir })]);
    for (const path of ["/", "/ops", "/ops/", "/analytics", "/dags"]) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(response.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await response.text()).toBe(INDEX);
    }
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain("unsafe-inline");
  });

  it("serves assets with their content type, cached for good; HEAD sends no body", async () => {
    const dir = builtFolder();
    const { url } = await serveRoutes([pagesRoute({ assets: async () => dir })]);
    const js = await fetch(`${url}/assets/index-Ab12_x.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await js.text()).toBe("console.log(1)");
    const css = await fetch(`${url}/assets/index-Cd34.css`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const head = await fetch(`${url}/assets/index-Cd34.css`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("6");
    expect(await head.text()).toBe("");
  });

  it("refuses every path-traversal probe and odd name with a JSON 404, and never serves the file beside the build", async () => {
    const dir = builtFolder();
    const { url } = await serveRoutes([pagesRoute({ assets: async () => dir })]);
    const probes = [
      "/assets/../../secret.js",
      "/assets/%2e%2e/%2e%2e/secret.js",
      "/assets/..%2f..%2fsecret.js",
      "/assets/%2e%2e%2f%2e%2e%2fsecret.js",
      "/assets/....//....//secret.js",
      "/assets/.hidden.js",
      "/assets/notes.exe",
      "/assets/missing.js",
      "/assets/",
      "/assets/index-Ab12_x.js%00.css",
      "/../secret.js",
      "/secret.js",
      "/etc/passwd",
      "/assets/../../../../etc/passwd",
    ];
    for (const probe of probes) {
      const answer = await rawGet(url, probe);
      expect(answer.status, probe).toBe(404);
      expect(answer.body, probe).not.toContain("SECRET");
      expect(JSON.parse(answer.body), probe).toMatchObject({ error: { code: "PULSE_HTTP_NOT_FOUND" } });
    }
  });

  it("leaves other paths to the next route (a JSON 404 for an unknown API), and answers 405 to a POST", async () => {
    const dir = builtFolder();
    const served = await serveRoutes([pagesRoute({ assets: async () => dir })]);
    expect(await served.get("/api/nope")).toMatchObject({
      status: 404,
      body: { error: { code: "PULSE_HTTP_NOT_FOUND" } },
    });
    expect((await served.get("/nope")).status).toBe(404);
    expect(await served.get("/ops", { method: "POST" })).toMatchObject({
      status: 405,
      body: { error: { code: "PULSE_HTTP_METHOD" } },
    });
  });

  it("answers 503 with the reason when the build failed, and keeps serving", async () => {
    const failed = Promise.reject(new Error("Vite is not installed"));
    failed.catch(() => undefined);
    const served = await serveRoutes([pagesRoute({ assets: () => failed })]);
    const answer = await served.get("/");
    expect(answer).toMatchObject({ status: 503, body: { error: { code: "PULSE_HTTP_PAGES_UNAVAILABLE" } } });
    expect((answer.body as { error: { message: string } }).error.message).toContain("Vite is not installed");
    expect((await served.get("/api/health")).status).toBe(200);
  });
});
