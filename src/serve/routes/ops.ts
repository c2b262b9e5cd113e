// The pipeline page's API under /api/ops: topics and consumer groups, schema subjects and versions, the dead-letter browser.

import type { Log } from "../../log/index.ts";
import { notFoundRoute, type Route } from "../route.ts";
import { deadLettersRoute, type DeadLettersOptions } from "./dead-letters.ts";
import { type SchemasSource, schemasRoute } from "./schemas.ts";
import { topicsRoute } from "./topics.ts";

export interface OpsApiOptions {
  log: Pick<Log, "listTopics" | "lag" | "describeTopic" | "fetch">;
  registry: SchemasSource;
  serde: DeadLettersOptions["serde"];
}

/** Every /api/ops route, then a 404 listing them for any other path below /api/ops. All are GET only. */
export function opsApiRoutes(options: OpsApiOptions): Route[] {
  const routes = [topicsRoute(options), schemasRoute(options), deadLettersRoute(options)];
  return [...routes, notFoundRoute("ops", ["/api/ops"], routes)];
}
