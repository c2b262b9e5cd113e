// `pulse schemas`: registered subjects with their versions, ids and compatibility levels.

import { openRegistry } from "../../app/backends.ts";
import type { RegistryClient } from "../../registry/open.ts";
import { reportCommand } from "../report.ts";

export interface SchemasReport {
  compatibility: string;
  subjects: Array<{
    subject: string;
    compatibility: string;
    versions: Array<{ version: number; id: number }>;
  }>;
}

export const schemasCommand = reportCommand({
  name: "schemas",
  summary: "list schema subjects, versions and ids",
  usage: "pulse schemas [--json] [--data-dir <dir>] [--config <file>]",
  open: openRegistry,
  read: (registry) => schemasReport(registry.client),
  lines: (report) => [
    `global compatibility: ${report.compatibility}`,
    ...report.subjects.map(
      (s) =>
        `${s.subject.padEnd(40)} ${s.compatibility.padEnd(20)} ${s.versions.map((v) => `v${v.version}=id ${v.id}`).join(", ")}`,
    ),
  ],
});

async function schemasReport(client: RegistryClient): Promise<SchemasReport> {
  const report: SchemasReport = { compatibility: await client.getConfig(), subjects: [] };
  for (const subject of await client.listSubjects()) {
    const versions = [];
    for (const version of await client.listVersions(subject)) {
      const registered = await client.getVersion(subject, version);
      versions.push({ version, id: registered.id });
    }
    report.subjects.push({ subject, compatibility: await client.getConfig(subject), versions });
  }
  return report;
}
