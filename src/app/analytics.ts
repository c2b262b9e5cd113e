// The Analytics page's reader: the configured warehouse opened read-only for each request and closed after.

import { existsSync } from "node:fs";
import type { PulseConfig } from "../config/index.ts";
import { embeddedPath } from "../paths.ts";
import type { AnalyticsSession, AnalyticsSource } from "../serve/routes/analytics.ts";
import type { Warehouse } from "../warehouse/index.ts";
import { open } from "../warehouse/open.ts";

/** Where `pulse batch` builds the marts (the runner's default target schema). */
export const MARTS_SCHEMA = "monitoring_datalake";

/** A session of a warehouse that does not exist yet: no mart is built. */
const NOTHING_BUILT: AnalyticsSession = {
  mart: async () => undefined,
  query: async () => ({ columns: [], rows: [] }),
};

/**
 * Each read opens the warehouse for itself and closes it after, read-only: DuckDB lets one process write
 * a file, so a server that kept it open would lock `pulse batch` out. A DuckDB file that is not there yet
 * is a warehouse with nothing built; one that a running `pulse batch` holds fails PULSE_WAREHOUSE_LOCKED
 * (retriable), which the route answers 503.
 */
export function warehouseAnalytics(config: Pick<PulseConfig, "warehouse" | "data_dir">): AnalyticsSource {
  return {
    async read(work) {
      const path = embeddedPath(config.warehouse, config.data_dir);
      if (path !== undefined && !existsSync(path)) return work(NOTHING_BUILT);
      const warehouse = await open(config.warehouse, { dataDir: config.data_dir, readOnly: true });
      try {
        return await work(sessionOf(warehouse));
      } finally {
        await warehouse.close();
      }
    },
  };
}

function sessionOf(warehouse: Warehouse): AnalyticsSession {
  return {
    async mart(name) {
      const relation = { schema: MARTS_SCHEMA, name };
      const columns = await warehouse.columns(relation);
      return columns.length === 0 ? undefined : warehouse.dialect.relationName(relation);
    },
    query: (sql, params) => warehouse.query(sql, params),
  };
}
