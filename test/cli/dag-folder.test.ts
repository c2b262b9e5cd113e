// orchestrator.dags_folder: a user's own TypeScript DAG file is listed, triggered and logged beside the built-in DAGs; a broken or clashing one is an error naming the file.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPulse, runPulseJson, tempDir } from "../helpers/cli.ts";

const MY_DAG = `// A user's DAG: two tasks, the second fails once and then succeeds.
import { appendFileSync } from "node:fs";
interface Ctx { dagId: string; tryNumber: number; dataIntervalStart: Date; log: { info(m: string): void } }
let calls = 0;
export default ({ defineDag }: { defineDag: (spec: unknown) => unknown }) =>
  defineDag({
    id: "my_dag",
    schedule: "@daily",
    startDate: new Date("2026-01-01T00:00:00Z"),
    tasks: [
      { id: "hello", run: (ctx: Ctx) => ctx.log.info(\`hello from \${ctx.dagId} for \${ctx.dataIntervalStart.toISOString().slice(0, 10)}\`) },
      {
        id: "flaky",
        upstream: ["hello"],
        options: { retries: 1, retryDelayMs: 0 },
        run: (ctx: Ctx) => {
          appendFileSync(process.env.MY_DAG_RECORD as string, \`try \${ctx.tryNumber}\\n\`);
          if (++calls === 1) throw new Error("first try fails");
        },
      },
    ],
  });
`;

describe("orchestrator.dags_folder", () => {
  it("runs a user's TypeScript DAG beside the built-in ones", async ({ onTestFinished }) => {
    const dataDir = tempDir(onTestFinished);
    const folder = join(tempDir(onTestFinished), "dags");
    mkdirSync(folder);
    writeFileSync(join(folder, "my_dag.ts"), MY_DAG);
    writeFileSync(join(folder, "notes.md"), "not a DAG file\n");
    const record = join(dataDir, "record");
    const env = { PULSE_DAGS_FOLDER: folder, MY_DAG_RECORD: record };
    const { dags } = await runPulseJson<{ dags: Array<{ id: string; tasks: Array<{ id: string }> }> }>(
      ["dags", "list", "--json", "--data-dir", dataDir],
      { env },
    );
    expect(dags.map((d) => d.id)).toEqual(["daily_metrics", "intraday_metrics", "my_dag"]);
    expect(dags[2]!.tasks.map((t) => t.id)).toEqual(["hello", "flaky"]);

    const triggered = await runPulseJson<{
      run: { runId: string; state: string };
      tasks: Array<{ taskId: string; state: string; tryNumber: number }>;
    }>(["dags", "trigger", "my_dag", "--date", "2026-12-03", "--wait", "--json", "--data-dir", dataDir], {
      env,
    });
    expect(triggered.run).toMatchObject({ runId: "manual__2026-12-03T00:00:00.000Z", state: "success" });
    expect(triggered.tasks.map((t) => [t.taskId, t.state, t.tryNumber])).toEqual([
      ["hello", "success", 1],
      ["flaky", "success", 2],
    ]);
    const log = await runPulse(["dags", "logs", "my_dag", "2026-12-03", "hello", "--data-dir", dataDir], {
      env,
    });
    expect(log.stdout).toMatch(/INFO hello from my_dag for 2026-12-03/);
  });

  it("names the file of a DAG that does not load, returns no DAG, or takes a built-in id", async ({
    onTestFinished,
  }) => {
    const dataDir = tempDir(onTestFinished);
    const cases: Array<[string, string, RegExp]> = [
      [
        "broken.ts",
        "export default ({ defineDag }) => defineDag({ id: ",
        /DAG file .*broken\.ts could not be loaded/,
      ],
      [
        "empty.ts",
        "export default 42;\n",
        /DAG file .*empty\.ts: its default export must be a DAG made with defineDag/,
      ],
      [
        "cycle.ts",
        'export default ({ defineDag }: any) => defineDag({ id: "loop", schedule: "manual", startDate: new Date(0), tasks: [{ id: "a", upstream: ["b"], run: () => {} }, { id: "b", upstream: ["a"], run: () => {} }] });\n',
        /DAG file .*cycle\.ts: DAG "loop" has a dependency cycle: a → b → a/,
      ],
      [
        "clash.ts",
        'export default ({ defineDag }: any) => defineDag({ id: "daily_metrics", schedule: "manual", startDate: new Date(0), tasks: [{ id: "a", run: () => {} }] });\n',
        /DAG id "daily_metrics" is defined twice/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const folder = join(tempDir(onTestFinished), "dags");
      mkdirSync(folder);
      writeFileSync(join(folder, name), text);
      const result = await runPulse(["dags", "list", "--data-dir", dataDir], {
        env: { PULSE_DAGS_FOLDER: folder },
      });
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toMatch(message);
    }
    const missing = await runPulse(["dags", "list", "--data-dir", dataDir], {
      env: { PULSE_DAGS_FOLDER: "/nowhere/dags" },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/orchestrator\.dags_folder "\/nowhere\/dags" is not a folder/);
  });
});
