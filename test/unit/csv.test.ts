import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import { csvField, toCsv } from '../../src/main/db/csv'
import { openDatabase, type TunewiseDb } from '../../src/main/db/database'
import { createRepositories, type Repositories } from '../../src/main/db/repositories'

/**
 * A strict RFC 4180 reader: CRLF between records and after the last, quotes only around a whole
 * field, `""` for a quote inside one. Anything else throws, so a malformed export fails the test.
 */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  let closed = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c !== '"') field += c
      else if (text[i + 1] === '"') field += text[i++]
      else [quoted, closed] = [false, true]
    } else if (c === ',' || (c === '\r' && text[i + 1] === '\n')) {
      row.push(field)
      ;[field, closed] = ['', false]
      if (c === '\r') {
        rows.push(row)
        row = []
        i++
      }
    } else if (closed) {
      throw new Error(`Text after a closing quote at ${i}`)
    } else if (c === '"') {
      if (field !== '') throw new Error(`Quote inside an unquoted field at ${i}`)
      quoted = true
    } else if (c === '\r' || c === '\n') {
      throw new Error(`Line break outside quotes at ${i}`)
    } else {
      field += c
    }
  }
  if (quoted || field !== '' || row.length > 0) throw new Error('The document does not end with CRLF')
  return rows
}

const HOSTILE = [
  '=HYPERLINK("http://x")',
  '@SUM(1)',
  '+1+1',
  '-2+3',
  '\t=1',
  '\r=1',
  "=cmd|' /C calc'!A0",
  '=1, "two"\r\n=3',
]
const NORMAL = ['plain', 'a, b', 'say "hi"', 'mid=dle', 'x-1', 'line one\nline two', ' padded ', '']

/** A cell a spreadsheet would evaluate: a formula lead-in that is not simply a number. */
function looksLikeFormula(cell: string): boolean {
  return /^[=+\-@\t\r]/.test(cell) && !/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(cell)
}

describe('csvField', () => {
  it('prefixes a quote and quotes every string that starts like a formula', () => {
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`)
    expect(csvField('@SUM(1)')).toBe(`"'@SUM(1)"`)
    expect(csvField('+1+1')).toBe(`"'+1+1"`)
    expect(csvField('-2+3')).toBe(`"'-2+3"`)
    expect(csvField('\t=1')).toBe(`"'\t=1"`)
    expect(csvField('\r=1')).toBe(`"'\r=1"`)
    // A string is text even when it reads as a number: only a number cell is known to be one.
    expect(csvField('-0.5')).toBe(`"'-0.5"`)
  })

  it('keeps numbers numeric, negative ones included, and leaves ordinary text as before', () => {
    expect(csvField(-0.5)).toBe('-0.5')
    expect(csvField(-3)).toBe('-3')
    expect(csvField(1e-7)).toBe('1e-7')
    expect(csvField(NaN)).toBe('NaN')
    expect(csvField(false)).toBe('false')
    expect(csvField('mid=dle')).toBe('mid=dle')
    expect(csvField('x-1')).toBe('x-1')
    expect(csvField(' padded ')).toBe('" padded "')
    expect(csvField('')).toBe('')
  })

  it('round-trips through an RFC 4180 reader: hostile text comes back behind a quote, the rest unchanged', () => {
    const cells = [...HOSTILE, ...NORMAL]
    const doc = toCsv(
      cells.map((_, i) => `c${i}`),
      [cells, [-0.5, -2, 0, 3.25, null, NaN, 1, '']],
    )
    const [header, values, numbers] = parseCsv(doc)
    expect(header).toEqual(cells.map((_, i) => `c${i}`))
    expect(values).toEqual([...HOSTILE.map((h) => `'${h}`), ...NORMAL])
    expect(numbers).toEqual(['-0.5', '-2', '0', '3.25', '', 'NaN', '1', ''])
    expect(values.some(looksLikeFormula)).toBe(false)
  })
})

describe('CSV exports', () => {
  let db: TunewiseDb
  let repos: Repositories
  beforeEach(() => {
    db = openDatabase(':memory:')
    repos = createRepositories(db)
  })
  afterEach(() => db.close())

  it('the runs export neutralises hostile names, notes and tags and keeps numbers numeric', () => {
    const ids = HOSTILE.map((name, i) => {
      const id = repos.runs.create(defaultRunConfig('mobilenet-v2', 'ds-1', name))
      repos.runs.update(id, { notes: HOSTILE[(i + 1) % HOSTILE.length], tags: [HOSTILE[(i + 2) % HOSTILE.length]] })
      repos.runs.setStatus(id, 'succeeded', { bestValAccuracy: 0.5, testAccuracy: 0.25, durationMs: 1200 })
      return id
    })
    const plain = repos.runs.create(defaultRunConfig('mobilenet-v2', 'ds-1', 'say "hi", plainly'))
    repos.runs.update(plain, { notes: 'line one\nline two', tags: ['b', 'a'] })

    const [header, ...rows] = parseCsv(repos.runs.exportRunsCsv())
    const col = (name: string) => header.indexOf(name)
    expect(rows).toHaveLength(HOSTILE.length + 1)
    HOSTILE.forEach((name, i) => {
      const row = rows[i]
      expect(row[col('id')]).toBe(String(ids[i]))
      expect(row[col('name')]).toBe(`'${name}`)
      expect(row[col('notes')]).toBe(`'${HOSTILE[(i + 1) % HOSTILE.length]}`)
      // Tags are stored trimmed: '\t=1' becomes '=1', still a formula.
      expect(row[col('tags')]).toBe(`'${HOSTILE[(i + 2) % HOSTILE.length].trim()}`)
      expect(row[col('best_val_accuracy')]).toBe('0.5')
      expect(row[col('duration_ms')]).toBe('1200')
    })
    expect(rows[HOSTILE.length][col('name')]).toBe('say "hi", plainly')
    expect(rows[HOSTILE.length][col('notes')]).toBe('line one\nline two')
    expect(rows[HOSTILE.length][col('tags')]).toBe('a;b')
    expect(rows.flat().some(looksLikeFormula)).toBe(false)
  })

  it('the metrics export neutralises a hostile run name and keeps negative values numbers', () => {
    const id = repos.runs.create(defaultRunConfig('mobilenet-v2', 'ds-1', '-2+3'))
    repos.runs.addMetrics(id, [
      { phase: 1, epoch: 1, step: null, split: 'train', name: 'loss', value: -0.5, t: 10 },
      { phase: 1, epoch: 2, step: 3, split: 'val', name: '=1+1', value: NaN, t: 20 },
    ])
    expect(parseCsv(repos.runs.exportMetricsCsv())).toEqual([
      ['run_id', 'run_name', 'phase', 'epoch', 'step', 'split', 'name', 'value', 't_ms'],
      [String(id), "'-2+3", '1', '1', '', 'train', 'loss', '-0.5', '10'],
      [String(id), "'-2+3", '1', '2', '3', 'val', "'=1+1", 'NaN', '20'],
    ])
  })
})
