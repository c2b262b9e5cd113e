// `pulse schemas`: registered subjects with their versions, ids and compatibility levels.

import { openRegistry } from "../../config/backends.ts";
import { configFromFlags, parseCommandArgs } from "../args.ts";
import type { Command } from "../main.ts";

export interface SchemasReport {
  compatibility: string;
  subjects: Array<{
    subject: string;
    compatibility: string;
    versions: Array<{ version: number; id: number }>;
  }>;
}

export const schemasCommand: Command = {
  summary: "list schema subjects, versions and ids",
  usage: "pulse schemas [--json] [--data-dir <dir>] [--config <file>]",
  async run(argv) {
    const { values } = parseCommandArgs("schemas", argv, {});
    const registry = await openRegistry(configFromFlags(values));
    try {
      const { client } = registry;
      const report: SchemasReport = { compatibility: await client.getConfig(), subjects: [] };
      for (const subject of await client.listSubjects()) {
        const versions = [];
        for (const version of await client.listVersions(subject)) {
          const registered = await client.getVersion(subject, version);
          versions.push({ version, id: registered.id });
        }
        report.subjects.push({ subject, compatibility: await client.getConfig(subject), versions });
      }
      if (values.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return 0;
      }
      process.stdout.write(`global compatibility: ${report.compatibility}\n`);
      for (const s of report.subjects) {
        process.stdout.write(
          `${s.subject.padEnd(40)} ${s.compatibility.padEnd(20)} ${s.versions.map((v) => `v${v.version}=id ${v.id}`).join(", ")}\n`,
        );
      }
      return 0;
    } finally {
      registry.close();
    }
  },
};
