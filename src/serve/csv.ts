// RFC 4180 CSV text of a table: a header record, then one record per row, CRLF after each.

/** A cell as read from the warehouse. */
export type CsvCell = string | number | boolean | Date | null | undefined;

/**
 * Grammar (RFC 4180): file = header CRLF *(record CRLF); record = field *("," field). A field holding a
 * comma, a double quote, CR or LF is enclosed in double quotes, with each double quote doubled; others
 * are written as they are. null is the empty field, a Date its ISO 8601 instant.
 */
export function toCsv(
  columns: readonly string[],
  rows: readonly Readonly<Record<string, CsvCell>>[],
): string {
  const lines = [columns.map(field).join(",")];
  for (const row of rows) lines.push(columns.map((column) => field(row[column])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function field(value: CsvCell): string {
  if (value === null || value === undefined) return "";
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
