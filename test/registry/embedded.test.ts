// The embedded registry (SQLite) runs the registry conformance suite.

import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { runRegistryConformance } from "../conformance/registry.ts";

runRegistryConformance("SchemaRegistry (embedded SQLite)", async (ctx) => {
  const registry = SchemaRegistry.open({ path: ":memory:" });
  ctx.onTestFinished(() => registry.close());
  return registry;
});
