// The Pipeline page (/ops): topics and consumer groups, schema subjects, the stream job's progress over time, and the dead-letter browser.

import {
  getJson,
  type GroupReport,
  type ProgressPoint,
  type StreamJobAnswer,
  type StreamProgress,
  type TopicReport,
} from "../api.ts";
import { h, replace } from "../dom.ts";
import { coalesced, openLiveEvents, showNoStream } from "../events.ts";
import { DeadLettersPanel } from "./dead-letters.ts";
import { ProgressPanels } from "./progress.ts";
import { SchemasPanel } from "./schemas.ts";
import { TopicsPanels } from "./topics.ts";

/** Offsets and lag are polled: they move with every produce, which the event stream does not carry. */
const POLL_MS = 2_000;

/** `#dead-letters?topic=<name>` (the Live page links there) opens the browser on that topic. */
function linkedTopic(): string | undefined {
  const match = /^#dead-letters\?topic=([^&]+)$/.exec(location.hash);
  return match === null ? undefined : decodeURIComponent(match[1]!);
}

export async function mount(main: HTMLElement): Promise<() => void> {
  const job = await getJson<StreamJobAnswer>("/api/stream/job");
  if (!job.running) showNoStream(document.getElementById("connection"));
  const grid = h("div", { class: "grid" });
  replace(
    main,
    h("h1", {}, "Pipeline"),
    h("p", { class: "lede" }, "The log, the schemas and the stream job behind the live numbers."),
    grid,
  );
  const log = new TopicsPanels(grid);
  const schemas = new SchemasPanel(grid);
  const progress = job.running ? new ProgressPanels(grid) : undefined;
  if (!job.running) {
    grid.append(
      h(
        "p",
        { class: "notice wide", role: "status" },
        "No stream job runs in this process: start the platform with `pulse up` to see its progress.",
      ),
    );
  }
  const deadLetters = new DeadLettersPanel(grid);

  let first = true;
  const poll = coalesced(async () => {
    const [topics, groups] = await Promise.all([
      getJson<{ topics: TopicReport[] }>("/api/ops/topics"),
      getJson<{ groups: GroupReport[] }>("/api/ops/groups"),
    ]);
    log.renderTopics(topics.topics);
    log.renderGroups(groups.groups);
    deadLetters.setTopics(
      topics.topics.map((t) => t.name),
      first ? linkedTopic() : undefined,
    );
    if (first) {
      first = false;
      await deadLetters.load();
      if (linkedTopic() !== undefined) document.getElementById("dead-letters")?.scrollIntoView();
    }
  });
  poll.request();
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") poll.request();
  }, POLL_MS);
  await schemas.load();

  if (progress === undefined) return () => clearInterval(timer);
  const history = await getJson<{ points: ProgressPoint[] }>("/api/stream/progress/history");
  progress.load(history.points);
  const events = openLiveEvents(document.getElementById("connection"));
  events.on("progress", (data) => progress.add(data as StreamProgress));
  // Batches pushed while the stream was down are in the history.
  events.on("open", () => {
    getJson<{ points: ProgressPoint[] }>("/api/stream/progress/history").then(
      (again) => progress.load(again.points),
      () => undefined,
    );
  });
  return () => {
    events.close();
    clearInterval(timer);
  };
}
