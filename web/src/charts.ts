// Time-series charts on uPlot: colours from the page's CSS (light and dark), width that follows the layout, and alert bands.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom.ts";

export interface SeriesSpec {
  label: string;
  /** Which y scale: "y" (left axis, the default) or "y2" (right axis). */
  scale?: "y" | "y2";
  /** Draw as bars instead of a line. */
  bars?: boolean;
  /** A palette index; by default the series' position. */
  color?: number;
  /** Formats a value in the legend. */
  format?: (value: number) => string;
}

/** A shaded span of the x axis (seconds), for an alert on the window it concerns. */
export interface Band {
  fromSec: number;
  toSec: number;
  kind: "spike" | "drop";
  label: string;
}

export interface ChartOptions {
  /** What the chart shows, read by screen readers (the numbers themselves are in the tables beside it). */
  label: string;
  series: SeriesSpec[];
  height?: number;
  yLabel?: string;
  y2Label?: string;
  /** Formats the y axis ticks. */
  yFormat?: (value: number) => string;
  y2Format?: (value: number) => string;
  /** With a single x value the axis spans this much either side of it (seconds; default 60). */
  xPadSec?: number;
  /** x values are UTC days (their midnights): ticks fall on whole days, labelled YYYY-MM-DD. */
  xDays?: boolean;
}

/** x values in seconds since the epoch, then one array per series (null: no value there). */
export type ChartData = [number[], ...(number | null)[][]];

const PALETTE_SIZE = 10;
const DAY_SEC = 86_400;
/** Tick steps of a day axis: whole days, so each tick is a UTC midnight. */
const DAY_INCREMENTS = [1, 2, 7, 14, 30, 91, 365].map((days) => days * DAY_SEC);
const charts = new Set<Chart>();

// The charts follow the system's light or dark scheme as it changes.
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  for (const chart of charts) chart.rebuild();
});

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** The palette colour of index `i`, as the CSS variables --c0 … --c9 set it for the current scheme. */
export function paletteColor(i: number): string {
  return cssVar(`--c${((i % PALETTE_SIZE) + PALETTE_SIZE) % PALETTE_SIZE}`);
}

/** A uPlot chart in `container`: setData replaces its data, setBands its alert bands. */
export class Chart {
  readonly element: HTMLElement;
  #plot: uPlot | undefined;
  #options: ChartOptions;
  #data: ChartData;
  #bands: Band[] = [];
  readonly #resize: ResizeObserver;

  constructor(container: HTMLElement, options: ChartOptions) {
    this.#options = options;
    this.#data = [[], ...options.series.map(() => [])];
    this.element = h("div", { class: "chart", role: "img", "aria-label": options.label });
    container.appendChild(this.element);
    this.#resize = new ResizeObserver(() => this.#fit());
    this.#resize.observe(this.element);
    charts.add(this);
    this.rebuild();
  }

  /** Series may change with the data (a new event type, another top-10 wiki): give them again with it. */
  setData(data: ChartData, series?: SeriesSpec[]): void {
    this.#data = data;
    if (series !== undefined && !sameSeries(series, this.#options.series)) {
      this.#options = { ...this.#options, series };
      this.rebuild();
      return;
    }
    this.#plot?.setData(data as uPlot.AlignedData);
  }

  setBands(bands: Band[]): void {
    this.#bands = bands;
    this.#plot?.redraw(false, false);
  }

  /** Makes the uPlot again, with the colours of the current scheme. */
  rebuild(): void {
    this.#plot?.destroy();
    const width = Math.max(this.element.clientWidth, 240);
    this.#plot = new uPlot(this.#uplotOptions(width), this.#data as uPlot.AlignedData, this.element);
  }

  destroy(): void {
    this.#resize.disconnect();
    charts.delete(this);
    this.#plot?.destroy();
  }

  #fit(): void {
    const width = Math.max(this.element.clientWidth, 240);
    if (this.#plot !== undefined && Math.abs(this.#plot.width - width) > 1) {
      this.#plot.setSize({ width, height: this.#options.height ?? 220 });
    }
  }

  #uplotOptions(width: number): uPlot.Options {
    const fg = cssVar("--fg-muted");
    const grid = cssVar("--grid");
    const options = this.#options;
    const hasY2 = options.series.some((s) => s.scale === "y2");
    const axis = (
      scale: string,
      label: string | undefined,
      format: ((v: number) => string) | undefined,
      side: number,
    ): uPlot.Axis =>
      defined({
        scale,
        side,
        stroke: fg,
        label,
        labelSize: label === undefined ? 0 : 18,
        grid: { stroke: grid, width: 1, show: scale === "y" },
        ticks: { stroke: grid, width: 1 },
        size: 60,
        values:
          format === undefined
            ? undefined
            : (_u: uPlot, values: number[]) => values.map((v) => (v === null ? "" : format(v))),
      });
    return {
      width,
      height: options.height ?? 220,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: {
          time: true,
          // From the data itself: uPlot pads a single point to a day, and an empty chart to nothing.
          range: (u) => xRange(u.data[0] as ArrayLike<number>, options.xPadSec ?? 60),
        },
        y: { range: (_u, min, max) => rangeFrom(min, max) },
        y2: { range: (_u, min, max) => rangeFrom(min, max) },
      },
      axes: [
        defined({
          stroke: fg,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          incrs: options.xDays ? DAY_INCREMENTS : undefined,
          values: options.xDays ? (_u: uPlot, values: number[]) => values.map(utcDay) : undefined,
        }),
        axis("y", options.yLabel, options.yFormat, 3),
        ...(hasY2 ? [axis("y2", options.y2Label, options.y2Format, 1)] : []),
      ],
      series: [
        options.xDays
          ? { label: "day", value: (_u: uPlot, v: number | null) => (v === null ? "–" : utcDay(v)) }
          : {},
        ...options.series.map((spec, i) => {
          const color = paletteColor(spec.color ?? i);
          return defined({
            label: spec.label,
            scale: spec.scale ?? "y",
            stroke: color,
            width: 2,
            fill: spec.bars ? `${color}88` : undefined,
            paths: spec.bars ? uPlot.paths.bars?.({ size: [0.6, 48] }) : undefined,
            points: { show: !spec.bars, size: 4 },
            value:
              spec.format === undefined
                ? undefined
                : (_u: uPlot, v: number | null) => (v === null ? "–" : spec.format!(v)),
          }) as uPlot.Series;
        }),
      ],
      hooks: { draw: [(u) => this.#drawBands(u)] },
    };
  }

  /** Alert bands behind nothing but over the plot: a translucent span per alert window, labelled at the top. */
  #drawBands(u: uPlot): void {
    // The bands in view, as drawn: what the page's tests (and a curious reader of the DOM) can check.
    const [minSec, maxSec] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
    const shown = this.#bands.filter((band) => band.toSec > minSec && band.fromSec < maxSec);
    this.element.dataset.bands = shown.map((band) => `${band.kind}@${band.fromSec}`).join(" ");
    if (this.#bands.length === 0) return;
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const band of this.#bands) {
      const from = u.valToPos(band.fromSec, "x", true);
      const to = u.valToPos(band.toSec, "x", true);
      const color = cssVar(band.kind === "spike" ? "--alert-spike" : "--alert-drop");
      ctx.fillStyle = `${color}33`;
      ctx.fillRect(from, top, Math.max(to - from, 3), height);
      ctx.fillStyle = color;
      ctx.fillRect(from, top, 2, height);
      ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
      ctx.fillText(band.label, from + 4, top + 12 * devicePixelRatio);
    }
    ctx.restore();
  }
}

/** YYYY-MM-DD of seconds since the epoch, in UTC. */
function utcDay(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 10);
}

/** The object without its undefined keys: uPlot takes a key given as undefined for a setting, not for its default. */
function defined<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}

/** The first to the last x; a single x gets `padSec` either side, and no data the last ten pads up to now. */
function xRange(xs: ArrayLike<number>, padSec: number): [number, number] {
  if (xs.length === 0) {
    const now = Date.now() / 1000;
    return [now - 10 * padSec, now];
  }
  const first = xs[0]!;
  const last = xs[xs.length - 1]!;
  return first === last ? [first - padSec, last + padSec] : [first, last];
}

function rangeFrom(min: number | null, max: number | null): [number, number] {
  const low = Math.min(0, min ?? 0);
  const high = Math.max(max ?? 1, low + 1);
  return [low, high * 1.08];
}

function sameSeries(a: readonly SeriesSpec[], b: readonly SeriesSpec[]): boolean {
  return a.length === b.length && a.every((s, i) => s.label === b[i]!.label && s.color === b[i]!.color);
}
