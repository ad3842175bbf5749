import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DatasetReport } from '../../src/shared/types'
import { DatasetStore, type DatasetFile } from '../../src/main/api/dataset-store'
import { openDatabase, type TunewiseDb } from '../../src/main/db/database'
import { createRepositories } from '../../src/main/db/repositories'
import { EventHub } from '../../src/main/ipc'
import { datasetDir, datasetFilesFile } from '../../src/main/ml/layout'

const ID = 'ds_exclude'
/** The size the `datasets:exclude` schema allows in one call. */
const MANY = 100_000

let dataDir: string
let db: TunewiseDb
let store: DatasetStore

/** A stored dataset of `count` files, alternately in 'cat' and 'dog', with `excludedFiles` already set. */
function seed(count: number, excludedFiles: string[] = []): DatasetFile[] {
  const files: DatasetFile[] = Array.from({ length: count }, (_, i) => {
    const label = i % 2 === 0 ? 'cat' : 'dog'
    return { file: `${label}/${String(i).padStart(6, '0')}.png`, label, hash: `h${i}`, width: 8, height: 8 }
  })
  mkdirSync(datasetDir(dataDir, ID), { recursive: true })
  writeFileSync(datasetFilesFile(dataDir, ID), JSON.stringify(files))
  const report: DatasetReport = {
    id: ID,
    path: '/data/pets',
    fingerprint: 'fp',
    createdAt: '2024-04-01T00:00:00.000Z',
    total: count,
    classes: ['cat', 'dog'].map((name) => ({ name, count: count / 2, thumbnails: [] })),
    unreadable: [],
    duplicates: [],
    tinyClasses: [],
    minPerClass: 1,
    sizes: { minWidth: 8, maxWidth: 8, minHeight: 8, maxHeight: 8, medianWidth: 8, medianHeight: 8 },
    givenSplit: false,
    excludedFiles,
    excludedClasses: [],
    blockers: [],
    warnings: [],
  }
  createRepositories(db).datasets.save(report)
  return files
}

/** What exclude did before it used Sets (array includes): the behaviour to keep, for small inputs. */
function reference(list: string[], items: string[], restore: boolean): string[] {
  return restore ? list.filter((x) => !items.includes(x)) : [...new Set([...list, ...items])]
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunewise-exclude-'))
  db = openDatabase(':memory:')
  store = new DatasetStore(dataDir, createRepositories(db), new EventHub())
})
afterEach(() => {
  db.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('DatasetStore.exclude', () => {
  it('excludes and restores 100,000 names, keeping the order and the blockers right', () => {
    // The folder holds 2,000 of the names; the rest are files a rescan no longer finds, which an
    // exclusion list keeps (import() carries it over). A small folder keeps the test fast.
    const inFolder = seed(2_000, ['dog/000001.png']).map((f) => f.file)
    const gone = Array.from({ length: MANY - inFolder.length }, (_, i) => `gone/${String(i).padStart(6, '0')}.png`)
    // In reverse, and naming the one already excluded: it keeps its place and is not added twice.
    const asked = [...inFolder, ...gone].reverse()
    const expected = ['dog/000001.png', ...asked.filter((n) => n !== 'dog/000001.png')]
    const excluded = store.exclude(ID, asked, [], false)
    expect(excluded.excludedFiles).toHaveLength(MANY)
    expect(excluded.excludedFiles).toEqual(expected)
    expect(excluded.blockers).toEqual([expect.stringMatching(/^No readable images found in \/data\/pets\./)])
    expect(store.get(ID).excludedFiles).toEqual(expected)

    // Restore all but every tenth name, in another order: the rest keep their relative order.
    const keep = new Set(expected.filter((_, i) => i % 10 === 0))
    const partly = store.exclude(ID, expected.filter((n) => !keep.has(n)).reverse(), [], true)
    expect(partly.excludedFiles).toHaveLength(MANY / 10)
    expect(partly.excludedFiles).toEqual([...keep])
    expect(partly.blockers).toEqual([])
    expect(store.usableCount(ID)).toBe(inFolder.length - inFolder.filter((n) => keep.has(n)).length)

    const none = store.exclude(ID, [...gone, ...inFolder], [], true)
    expect(none.excludedFiles).toEqual([])
    expect(store.get(ID).excludedFiles).toEqual([])
    expect(store.usableCount(ID)).toBe(inFolder.length)
  })

  it('excludes and restores classes, and recomputes what blocks training', () => {
    seed(10)
    const oneLeft = store.exclude(ID, [], ['dog', 'dog'], false)
    expect(oneLeft.excludedClasses).toEqual(['dog'])
    expect(oneLeft.blockers).toEqual([
      "Only one class ('cat') was found. Add a second sub-folder with images of another class.",
    ])
    expect(store.usableCount(ID)).toBe(5)
    const back = store.exclude(ID, [], ['dog'], true)
    expect(back.excludedClasses).toEqual([])
    expect(back.blockers).toEqual([])
  })

  it('gives the same lists as the old array-based edit on small mixed inputs', () => {
    const names = seed(20).map((f) => f.file)
    // A fixed walk of excludes and restores with repeats, unknown names and overlaps.
    const steps: [number[], boolean][] = [
      [[3, 1, 4, 1, 5, 9, 2, 6], false],
      [[5, 3, 5, 99], true],
      [[8, 9, 7, 9, 3, 2, 3, 8], false],
      [[4, 6, 2, 6, 4, 3], true],
      [[1, 1, 1], true],
      [[0, 19, 18, 0], false],
    ]
    let expected: string[] = []
    for (const [indices, restore] of steps) {
      const items = indices.map((i) => names[i] ?? `unknown/${i}.png`)
      expected = reference(expected, items, restore)
      expect(store.exclude(ID, items, [], restore).excludedFiles).toEqual(expected)
    }
    expect(expected.length).toBeGreaterThan(0)
  })
})
