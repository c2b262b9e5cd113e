// Top pages merged over partitions, as every LiveStore backend answers them (a series' rows: src/store/series.ts).
import type { TopPagesRow } from "./index.ts";
import { compareText } from "./validate.ts";

/** Top pages of one window merged over partitions: edits summed per page, most edited first, then by name. */
export function mergeTopPages(lists: Iterable<TopPagesRow["pages"]>, limit: number): TopPagesRow["pages"] {
  const edits = new Map<string, { wiki: string; title: string; edits: number }>();
  for (const pages of lists) {
    for (const page of pages) {
      const id = `${page.wiki}\u0000${page.title}`;
      const seen = edits.get(id);
      if (seen === undefined) edits.set(id, { wiki: page.wiki, title: page.title, edits: page.edits });
      else seen.edits += page.edits;
    }
  }
  return [...edits.values()]
    .sort((a, b) => b.edits - a.edits || compareText(a.wiki, b.wiki) || compareText(a.title, b.title))
    .slice(0, limit);
}
