/** Where an export may write: absolute, outside Tunewise's own data, and never over files silently. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkExportTarget } from '../../src/main/api/handlers'

const root = mkdtempSync(join(tmpdir(), 'tw-export-target-'))
const dataDir = join(root, 'home')
mkdirSync(join(dataDir, 'runs', '1'), { recursive: true })
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('checkExportTarget', () => {
  it('refuses a relative path instead of resolving it against the working directory', () => {
    for (const rel of ['out', './out', '../x', 'a/b'])
      expect(() => checkExportTarget(rel, dataDir, false)).toThrow(/full path/)
  })

  it("refuses Tunewise's own data folder except its exports folder", () => {
    expect(() => checkExportTarget(join(dataDir, 'runs', '1'), dataDir, true)).toThrow(/own data folder/)
    expect(() => checkExportTarget(dataDir, dataDir, true)).toThrow(/own data folder/)
    expect(() => checkExportTarget(join(dataDir, 'exports', '..', 'runs'), dataDir, true)).toThrow(/own data folder/)
    expect(checkExportTarget(join(dataDir, 'exports', 'cats'), dataDir, false)).toBe(join(dataDir, 'exports', 'cats'))
  })

  it('refuses a folder that holds files unless replacing them was confirmed, and a file outright', () => {
    const full = join(root, 'full')
    mkdirSync(full)
    writeFileSync(join(full, 'model.json'), '{}')
    expect(() => checkExportTarget(full, dataDir, false)).toThrow(/already holds 1 file\b/)
    expect(checkExportTarget(full, dataDir, true)).toBe(full)
    expect(() => checkExportTarget(join(full, 'model.json'), dataDir, true)).toThrow(/is a file/)
    const empty = join(root, 'empty')
    mkdirSync(empty)
    expect(checkExportTarget(empty, dataDir, false)).toBe(empty)
    expect(checkExportTarget(join(root, 'new', 'deeper'), dataDir, false)).toBe(join(root, 'new', 'deeper'))
  })
})
