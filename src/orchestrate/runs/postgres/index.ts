// The shared RunStore backend: run history in PostgreSQL, where several schedulers claim tasks under row locks and leases.
export { PostgresRunStore, type PostgresRunStoreOptions } from "./store.ts";
