// The HTTP client runs the registry conformance suite against Pulse's own server, at its root and under a prefix.

import { HttpRegistryClient } from "../../src/registry/http/client.ts";
import { runRegistryConformance } from "../conformance/registry.ts";
import { startRegistryServer } from "../helpers/registry-server.ts";

for (const [where, prefix] of [
  ["at the root", ""],
  ["under /registry", "/registry"],
]) {
  runRegistryConformance(
    `HttpRegistryClient against Pulse's server, mounted ${where}`,
    async () => {
      const server = await startRegistryServer({ prefix });
      // A trailing slash on the base URL is dropped.
      return new HttpRegistryClient({ url: `${server.url}/` });
    },
    {
      remote: true,
      skip: {
        "empty subject": "a URL cannot name an empty subject: /subjects//versions is another route",
      },
    },
  );
}
