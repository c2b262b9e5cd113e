// The pages of the app, in navigation order: the one list the nav and the router read (the server's PAGE_PATHS names the same paths).

/** What a page module exports: it fills `main` and returns how to stop its timers and streams. */
export interface PageModule {
  mount(main: HTMLElement): Promise<() => void>;
}

export interface PageEntry {
  path: string;
  /** The nav link's text. */
  title: string;
  /** The document title's detail. */
  heading: string;
  load(): Promise<PageModule>;
}

/**
 * Each page is its own chunk, loaded when opened. A new page is one entry here, its module, and its path
 * in the server's PAGE_PATHS.
 */
export const PAGES: readonly PageEntry[] = [
  { path: "/", title: "Live", heading: "Live metrics", load: () => import("./live/page.ts") },
  { path: "/ops", title: "Pipeline", heading: "Pipeline", load: () => import("./ops/page.ts") },
  { path: "/analytics", title: "Analytics", heading: "Analytics", load: () => import("./analytics/page.ts") },
  { path: "/dags", title: "Batch", heading: "Batch DAGs", load: () => import("./dags/page.ts") },
];

/** The page of a location path ("/ops/" is "/ops"); undefined for a path the app has no page for. */
export function pageFor(pathname: string): PageEntry | undefined {
  const path = pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
  return PAGES.find((page) => page.path === path);
}
