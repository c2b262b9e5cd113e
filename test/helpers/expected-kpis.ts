// The analytics marts' figures computed independently of SQL and of Pulse's code: awk over the REES46 CSVs, jq over the Wikimedia files.
import { execFileSync } from "node:child_process";
import { ACTIVITY_FIXTURES, WIKIMEDIA_FIXTURES } from "./raw-fixture-tables.ts";

/** A row of fct_daily_user_metrics; activity_date as YYYY-MM-DD. */
export interface DailyUserMetric {
  activity_date: string;
  event_type: string;
  event_count: number;
  unique_users: number;
}

/** The purchase figures of fct_daily_revenue, with revenue in whole cents. */
export interface DailyRevenue {
  activity_date: string;
  purchases: number;
  revenue_cents: number;
  buyers: number;
}

/** A row of fct_daily_wiki_metrics; activity_date as YYYY-MM-DD. */
export interface DailyWikiMetric {
  activity_date: string;
  wiki: string;
  edits: number;
  bot_edits: number;
  human_edits: number;
  new_pages: number;
  bytes_delta: number;
  unique_editors: number;
}

/*
 * The CSV side, in awk: REES46 rows (header found by name in each file, CR stripped, no quoted fields in
 * these files) with exact-duplicate rows counted once, as Pulse's event_id (a hash of the row's text) makes
 * them one event. The day is the date part of "YYYY-MM-DD hh:mm:ss UTC"; REES46's types map to the
 * contract's names. Prints "day<TAB>type<TAB>events<TAB>distinct users" per (day, type) and
 * "revenue<TAB>day<TAB>purchases<TAB>cents<TAB>buyers" per day, cents being each price rounded to the cent.
 */
const AWK_PROGRAM = String.raw`
BEGIN { FS = ","; OFS = "\t"
  name["view"] = "VIEW"; name["cart"] = "ADD_TO_CART"
  name["remove_from_cart"] = "REMOVE_FROM_CART"; name["purchase"] = "PURCHASE" }
{ sub(/\r$/, "") }
FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
$0 == "" || seen[$0]++ { next }
{
  day = substr($(col["event_time"]), 1, 10); type = name[$(col["event_type"])]; user = $(col["user_id"])
  if (type == "") { print "unknown event_type " $(col["event_type"]) > "/dev/stderr"; exit 1 }
  events[day OFS type]++
  if (!((day, type, user) in users)) { users[day, type, user] = 1; distinct[day OFS type]++ }
  days[day] = 1
  if (type == "PURCHASE") {
    purchases[day]++; cents[day] += int($(col["price"]) * 100 + 0.5)
    if (!((day, user) in buyer)) { buyer[day, user] = 1; buyers[day]++ }
  }
}
END {
  for (key in events) print key, events[key], distinct[key]
  for (day in days) print "revenue", day, purchases[day] + 0, cents[day] + 0, buyers[day] + 0
}`;

/*
 * The Wikimedia side, in jq, with the speed layer's definitions (src/stream/aggregates.ts): canary events
 * out, one event per meta.id, the day of meta.dt in UTC (fromdateiso8601 takes only "Z", so "+00:00" is
 * rewritten; any other offset fails the run), edits are types edit and new, bytes_delta adds
 * (length.new // 0) - (length.old // 0) over every change, editors are distinct non-null users over edits.
 */
const JQ_PROGRAM = String.raw`
def is_edit: .type == "edit" or .type == "new";
map(select(.meta.domain != "canary"))
| unique_by(.meta.id)
| map(. + {day: (.meta.dt | sub("\\+00:00$"; "Z") | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601 | strftime("%Y-%m-%d"))})
| group_by([.day, .wiki])[]
| [ .[0].day,
    .[0].wiki,
    (map(select(is_edit)) | length),
    (map(select(is_edit and .bot == true)) | length),
    (map(select(.type == "new")) | length),
    (map((.length.new // 0) - (.length.old // 0)) | add),
    (map(select(is_edit and .user != null) | .user) | unique | length) ]
| @tsv`;

function tsvRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"));
}

function byKey<T>(key: (row: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

function runAwk(files: readonly string[]): string[][] {
  return tsvRows(execFileSync("/usr/bin/awk", [AWK_PROGRAM, ...files], { encoding: "utf8" }));
}

/** fct_daily_user_metrics as awk counts it over the CSVs, sorted by day and event_type. */
export function expectedDailyUserMetrics(files: readonly string[] = ACTIVITY_FIXTURES): DailyUserMetric[] {
  return runAwk(files)
    .filter((row) => row[0] !== "revenue")
    .map(([activity_date, event_type, events, users]) => ({
      activity_date: activity_date!,
      event_type: event_type!,
      event_count: Number(events),
      unique_users: Number(users),
    }))
    .sort(byKey((row) => `${row.activity_date} ${row.event_type}`));
}

/** fct_daily_revenue's purchases, revenue (in cents) and buyers as awk counts them, sorted by day. */
export function expectedDailyRevenue(files: readonly string[] = ACTIVITY_FIXTURES): DailyRevenue[] {
  return runAwk(files)
    .filter((row) => row[0] === "revenue")
    .map(([, activity_date, purchases, cents, buyers]) => ({
      activity_date: activity_date!,
      purchases: Number(purchases),
      revenue_cents: Number(cents),
      buyers: Number(buyers),
    }))
    .sort(byKey((row) => row.activity_date));
}

/** fct_daily_wiki_metrics as jq computes it over the Wikimedia files, sorted by day and wiki. */
export function expectedDailyWikiMetrics(files: readonly string[] = WIKIMEDIA_FIXTURES): DailyWikiMetric[] {
  const text = execFileSync("/usr/bin/jq", ["-r", "-s", JQ_PROGRAM, ...files], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return tsvRows(text)
    .map(([activity_date, wiki, edits, botEdits, newPages, bytesDelta, editors]) => ({
      activity_date: activity_date!,
      wiki: wiki!,
      edits: Number(edits),
      bot_edits: Number(botEdits),
      human_edits: Number(edits) - Number(botEdits),
      new_pages: Number(newPages),
      bytes_delta: Number(bytesDelta),
      unique_editors: Number(editors),
    }))
    .sort(byKey((row) => `${row.activity_date} ${row.wiki}`));
}
