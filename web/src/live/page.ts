// The Live page (/): the speed layer's windows, alerts and freshness, read from the live API and redrawn on each push of the event stream.

import {
  type ActivityWindow,
  type Alert,
  type ProgressPoint,
  getJson,
  type StreamJobAnswer,
  type StreamProgress,
  type TopicReport,
  type TopPages,
  type Windows,
  type WikiWindow,
  query,
} from "../api.ts";
import { h, replace } from "../dom.ts";
import { coalesced, openLiveEvents, showNoStream } from "../events.ts";
import { ActivityPanels } from "./activity.ts";
import { AlertsPanel } from "./alerts.ts";
import { FreshnessPanel } from "./freshness.ts";
import { WikimediaPanels } from "./wikimedia.ts";

/** Windows shown on the charts. */
const LAST = 30;
const ALERTS = 50;
/** The dead-letter topics' counts are polled: rejects at the collector push nothing. */
const TOPICS_EVERY_MS = 2_000;

/**
 * The pushed window rows are per source partition and absolute; a page that opened mid-window has not
 * seen every partition's row, so it cannot sum them itself. Each `windows` push therefore triggers one
 * read of the merged windows (coalesced: at most one read in flight, and one more after the last push),
 * which shows exactly what the live API says.
 */
export async function mount(main: HTMLElement): Promise<() => void> {
  const job = await getJson<StreamJobAnswer>("/api/stream/job");
  if (!job.running) showNoStream(document.getElementById("connection"));
  const grid = h("div", { class: "grid" });
  replace(
    main,
    h("h1", {}, "Live metrics"),
    job.running
      ? h(
          "p",
          { class: "lede" },
          `Tumbling ${job.window_ms / 1000} s windows of event time, pushed as the stream job commits them.`,
        )
      : h(
          "p",
          { class: "notice", role: "status" },
          "No stream job runs in this process, so there are no live windows: start the platform with `pulse up`.",
        ),
    grid,
  );
  const freshness = new FreshnessPanel(grid);
  const windowMs = job.running ? job.window_ms : 60_000;
  const activity = new ActivityPanels(grid, windowMs);
  const wiki = new WikimediaPanels(grid, windowMs);
  const alertsPanel = new AlertsPanel(grid);

  const topics = coalesced(async () => {
    freshness.renderDeadLetterTopics((await getJson<{ topics: TopicReport[] }>("/api/ops/topics")).topics);
  });
  topics.request();
  const topicsTimer = setInterval(() => {
    if (document.visibilityState === "visible") topics.request();
  }, TOPICS_EVERY_MS);
  if (!job.running) return () => clearInterval(topicsTimer);

  const windowParam = String(job.window_ms);
  // With `?latency`, each push's time until its windows are on screen (ms) collects in
  // window.__pulseDrawLatencies, for `npm run bench -- ui`.
  const latencies = new URLSearchParams(location.search).has("latency") ? ([] as number[]) : undefined;
  if (latencies !== undefined)
    (window as unknown as { __pulseDrawLatencies: number[] }).__pulseDrawLatencies = latencies;
  let pushedAt: number[] = [];
  const windows = coalesced(async () => {
    const covered = pushedAt;
    pushedAt = [];
    const [a, w, top] = await Promise.all([
      getJson<Windows<ActivityWindow>>(`/api/live/activity${query({ window: windowParam, last: LAST })}`),
      getJson<Windows<WikiWindow>>(`/api/live/wikimedia${query({ window: windowParam, last: LAST })}`),
      getJson<TopPages>(`/api/live/wikimedia/top-pages${query({ window: windowParam, limit: 10 })}`),
    ]);
    activity.render(a.windows);
    wiki.render(w.windows, top);
    if (latencies !== undefined && covered.length > 0) {
      // The frame after the render is the one that shows it.
      requestAnimationFrame(() => {
        const drawn = performance.now();
        for (const at of covered) latencies.push(drawn - at);
      });
    }
  });
  const alerts = coalesced(async () => {
    const list = (await getJson<{ alerts: Alert[] }>(`/api/live/alerts${query({ limit: ALERTS })}`)).alerts;
    alertsPanel.render(list);
    activity.setAlerts(list);
    wiki.setAlerts(list);
  });
  const events = openLiveEvents(document.getElementById("connection"));
  events.on("windows", () => {
    if (latencies !== undefined) pushedAt.push(performance.now());
    windows.request();
  });
  events.on("alerts", () => alerts.request());
  events.on("progress", (data) => freshness.render(data as StreamProgress));
  // Whatever was pushed before the stream (re)opened is read now.
  events.on("open", () => {
    windows.request();
    alerts.request();
  });
  windows.request();
  alerts.request();
  // The latest progress, once the job has one (before its first batch /api/stream/progress is a 503).
  getJson<{ points: ProgressPoint[] }>("/api/stream/progress/history?limit=1")
    .then((history) =>
      history.points.length > 0 ? getJson<StreamProgress>("/api/stream/progress") : undefined,
    )
    .then(
      (progress) => progress !== undefined && freshness.render(progress),
      () => undefined,
    );
  const clock = setInterval(() => freshness.tick(), 1_000);
  return () => {
    events.close();
    clearInterval(clock);
    clearInterval(topicsTimer);
  };
}
