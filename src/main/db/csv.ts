/** RFC 4180 CSV: fields with a comma, quote, CR or LF (or edge spaces) are quoted, quotes doubled. */

export type CsvCell = string | number | boolean | null | undefined

/** One field. null/undefined become an empty field; NaN is written as `NaN`. */
export function csvField(value: CsvCell): string {
  if (value === null || value === undefined) return ''
  const s = typeof value === 'string' ? value : String(value)
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** A whole document: header then rows, CRLF line ends (what spreadsheets expect), trailing CRLF. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n'
}
