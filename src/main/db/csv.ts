/**
 * RFC 4180 CSV: fields with a comma, quote, CR or LF (or edge spaces) are quoted, quotes doubled.
 *
 * Text that a spreadsheet would run as a formula is neutralised (OWASP "CSV injection"): a string
 * starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` and is quoted, so a
 * run named `=HYPERLINK("http://evil")` shows as text. Numbers are never touched: -0.5 stays a
 * number, because only a string can carry a formula.
 */

export type CsvCell = string | number | boolean | null | undefined

/** First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/

/** One field. null/undefined become an empty field; NaN is written as `NaN`. */
export function csvField(value: CsvCell): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string' && FORMULA_START.test(value)) return quote(`'${value}`)
  const s = String(value)
  return /[",\r\n]|^\s|\s$/.test(s) ? quote(s) : s
}

/** A whole document: header then rows, CRLF line ends (what spreadsheets expect), trailing CRLF. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n'
}

function quote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`
}
