// Test helper: a strict parser of the Prometheus text exposition format 0.0.4, which throws at the first line that breaks it.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<MetricFamily["type"], readonly string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

/**
 * Parses the whole text by its grammar: `# HELP name text`, `# TYPE name type` before the family's samples,
 * then `name{label="value",…} value [timestamp]` lines, each family's samples together. Histograms are
 * checked too: cumulative buckets with `le`, the +Inf bucket equal to `_count`.
 */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const families = new Map<string, MetricFamily>();
  let current: MetricFamily | undefined;
  const lines = text.slice(0, -1).split("\n");
  for (const [index, line] of lines.entries()) {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line === "") continue;
    if (line.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (match === null) continue; // A plain comment.
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      let family = families.get(name);
      if (family === undefined) {
        family = { name, type: "untyped", help: "", samples: [] };
        families.set(name, family);
      } else if (family.samples.length > 0) {
        throw new Error(`${where}: ${keyword} after the family's samples`);
      }
      if (keyword === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        family.type = rest as MetricFamily["type"];
      } else {
        family.help = unescapeText(rest, false, where);
      }
      current = family;
      continue;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, current, families);
    if (family === undefined) throw new Error(`${where}: a sample outside its family`);
    family.samples.push(sample);
    current = family;
  }
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

function familyOf(
  name: string,
  current: MetricFamily | undefined,
  families: Map<string, MetricFamily>,
): MetricFamily | undefined {
  if (current !== undefined && SUFFIXES[current.type].some((s) => `${current.name}${s}` === name)) {
    return current;
  }
  // An untyped sample with no HELP or TYPE starts a family of its own; a known name here is out of place.
  if (families.has(name)) return undefined;
  const family: MetricFamily = { name, type: "untyped", help: "", samples: [] };
  families.set(name, family);
  return family;
}

function parseSample(line: string, where: string): Sample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) throw new Error(`${where}: no value`);
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
  const labels: Record<string, string> = {};
  let i = nameEnd;
  if (line[i] === "{") {
    i++;
    while (line[i] !== "}") {
      const eq = line.indexOf("=", i);
      if (eq < 0) throw new Error(`${where}: unterminated labels`);
      const label = line.slice(i, eq);
      if (!LABEL_NAME.test(label) || label in labels) throw new Error(`${where}: bad or repeated label`);
      if (line[eq + 1] !== '"') throw new Error(`${where}: label value must be quoted`);
      let j = eq + 2;
      let raw = "";
      while (line[j] !== '"') {
        if (j >= line.length) throw new Error(`${where}: unterminated label value`);
        if (line[j] === "\\") raw += line[j++];
        raw += line[j++];
      }
      labels[label] = unescapeText(raw, true, where);
      i = j + 1;
      if (line[i] === ",") i++;
      else if (line[i] !== "}") throw new Error(`${where}: expected , or } after a label`);
    }
    i++;
  }
  if (line[i] !== " ") throw new Error(`${where}: expected a space before the value`);
  const fields = line.slice(i + 1).split(" ");
  if (fields.length > 2) throw new Error(`${where}: too many fields`);
  const value = parseValue(fields[0]!, where);
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) throw new Error(`${where}: bad timestamp`);
  return { name, labels, value };
}

/** A value as Go's ParseFloat reads it (the format's rule): NaN and Inf in any case, as prom-client's "Nan". */
function parseValue(text: string, where: string): number {
  const word = text.toLowerCase();
  if (word === "+inf" || word === "inf" || word === "+infinity" || word === "infinity") {
    return Number.POSITIVE_INFINITY;
  }
  if (word === "-inf" || word === "-infinity") return Number.NEGATIVE_INFINITY;
  if (word === "nan") return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value "${text}"`);
  return Number(text);
}

function unescapeText(text: string, quoted: boolean, where: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && quoted) return '"';
    throw new Error(`${where}: bad escape \\${c}`);
  });
}

function checkHistogram(family: MetricFamily): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, family.name), sample.value]);
    } else if (sample.name.endsWith("_count")) entry.count = sample.value;
    else entry.sum = sample.value;
  }
  for (const [key, { buckets, count, sum }] of series) {
    if (count === undefined || sum === undefined) throw new Error(`${family.name}${key}: no _count or _sum`);
    for (let k = 1; k < buckets.length; k++) {
      if (!(buckets[k]![0] > buckets[k - 1]![0] && buckets[k]![1] >= buckets[k - 1]![1])) {
        throw new Error(`${family.name}${key}: buckets not cumulative in increasing le`);
      }
    }
    const last = buckets.at(-1);
    if (last?.[0] !== Number.POSITIVE_INFINITY || last[1] !== count) {
      throw new Error(`${family.name}${key}: the +Inf bucket must equal _count`);
    }
  }
}

/** The value of the one sample of `families` named `name` with exactly `labels`; undefined when absent. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === want) {
        return sample.value;
      }
    }
  }
  return undefined;
}
