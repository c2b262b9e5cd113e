// A line diff (longest common subsequence) for comparing two schema versions side by side in one column.

export interface DiffLine {
  kind: "same" | "added" | "removed";
  text: string;
}

/**
 * The lines of `before` and `after` in order, each kept, removed or added, with as many kept as possible
 * (a longest common subsequence, O(n·m): schemas are a few hundred lines). Removals come before the
 * additions that replace them.
 */
export function diffLines(before: readonly string[], after: readonly string[]): DiffLine[] {
  const n = before.length;
  const m = after.length;
  // lcs[i][j]: the longest common subsequence of before[i..] and after[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] =
        before[i] === after[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) {
      out.push({ kind: "same", text: before[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
      out.push({ kind: "removed", text: before[i++]! });
    } else {
      out.push({ kind: "added", text: after[j++]! });
    }
  }
  while (i < n) out.push({ kind: "removed", text: before[i++]! });
  while (j < m) out.push({ kind: "added", text: after[j++]! });
  return out;
}

/** A schema as the lines the diff compares: pretty JSON, two spaces. */
export function schemaLines(schema: unknown): string[] {
  return JSON.stringify(schema, null, 2).split("\n");
}
