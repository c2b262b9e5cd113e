// The PostgreSQL warehouse's entry: open it on a postgres:// URL (src/warehouse/open.ts picks it by the URL's scheme).
import type { Warehouse } from "../index.ts";
import { displayPostgresUrl, isPostgresUrl, type PostgresWarehouseOptions } from "./connection.ts";
import { PostgresWarehouse } from "./warehouse.ts";

export { displayPostgresUrl, isPostgresUrl, PostgresWarehouse, type PostgresWarehouseOptions };

/**
 * The warehouse in the PostgreSQL database `options.url` names (postgres:// or postgresql://), connected
 * and checked; PULSE_WAREHOUSE_UNAVAILABLE (retriable) when the server cannot be reached or refuses the
 * credentials, PULSE_WAREHOUSE_BAD_ARGUMENT for a URL that is not PostgreSQL's.
 */
export async function openPostgresWarehouse(options: PostgresWarehouseOptions): Promise<Warehouse> {
  return PostgresWarehouse.open(options);
}
