// The dashboard pages: index.html for each page path and the built assets below /assets, with strict security headers.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { HttpError } from "../http.ts";
import type { Route } from "../route.ts";

/**
 * The pages the web app has, each answered with the same index.html (the app picks its page from the
 * path): web/src/pages.ts names the same paths.
 */
export const PAGE_PATHS: readonly string[] = ["/", "/ops", "/analytics", "/dags"];

export interface PagesOptions {
  /**
   * The folder of the built web app (index.html, assets/). A promise, so the server can listen while a
   * first build still runs; a rejected one answers every page 503 with its message.
   */
  assets: () => Promise<string>;
  /** Page paths; PAGE_PATHS by default. */
  pages?: readonly string[];
}

/**
 * A page may load scripts, styles, images and fonts of its own origin only, talk only to its own origin
 * (the JSON APIs and the event stream), and never be framed. No inline script or style element is
 * allowed; setting an element's style from a script (as uPlot does) is not inline CSS and stays allowed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * An asset name as the build writes it: one path segment of letters, digits, dot, dash and underscore,
 * not starting with a dot, with a known extension. Anything else (a slash, "..", a percent escape, a NUL)
 * is not an asset, so no request can name a file outside assets/.
 */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * GET and HEAD of each page path (and the same with a trailing slash) answer index.html, revalidated on
 * every load; /assets/<name> answers a built file, cached for a year (its name holds its content hash).
 * Other paths are left to the next route, so unknown API paths keep their JSON 404.
 */
export function pagesRoute(options: PagesOptions): Route {
  const pages = new Set(options.pages ?? PAGE_PATHS);
  return {
    mounts: [""],
    paths: [...pages, "/assets/*"],
    handler: async (req, res, path) => {
      const page = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
      const isPage = pages.has(page);
      const asset = path.startsWith("/assets/") ? path.slice("/assets/".length) : undefined;
      if (!isPage && asset === undefined) return false;
      if (req.method !== "GET" && req.method !== "HEAD") {
        throw new HttpError(405, "PULSE_HTTP_METHOD", `use GET ${path}`);
      }
      const dir = await builtAssets(options);
      const name = isPage ? undefined : checkedAssetName(asset!);
      if (name === undefined && !isPage) throw notFound(path, pages);
      const file = name === undefined ? join(dir, "index.html") : join(dir, "assets", name);
      const type = isPage ? "text/html; charset=utf-8" : CONTENT_TYPES[extensionOf(file)];
      const body = await readFile(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT" || error.code === "EISDIR") throw notFound(path, pages);
        throw error;
      });
      res.writeHead(200, {
        "content-type": type ?? "application/octet-stream",
        "content-length": body.length,
        // A page must pick up a new build at once; an asset's name changes with its content.
        "cache-control": isPage ? "no-cache" : "public, max-age=31536000, immutable",
        ...SECURITY_HEADERS,
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return true;
    },
  };
}

async function builtAssets(options: PagesOptions): Promise<string> {
  try {
    return await options.assets();
  } catch (error) {
    throw new HttpError(
      503,
      "PULSE_HTTP_PAGES_UNAVAILABLE",
      `the dashboard is not built: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The name when it can be a built asset, else undefined. */
function checkedAssetName(name: string): string | undefined {
  return ASSET_NAME.test(name) && CONTENT_TYPES[extensionOf(name)] !== undefined ? name : undefined;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot).toLowerCase();
}

function notFound(path: string, pages: ReadonlySet<string>): HttpError {
  return new HttpError(
    404,
    "PULSE_HTTP_NOT_FOUND",
    `no page or asset ${path}; the pages are ${[...pages].join(", ")}`,
  );
}
