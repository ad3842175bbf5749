/**
 * Property test of the duplicate-aware split: random small datasets (seeded) with planted groups of exact
 * copies, near-copies given through `groups`, and copies filed under two classes.
 */
import { describe, expect, it } from 'vitest'
import { mulberry32, splitCounts, splitDataset, type SplitInput } from '../../src/main/ml/data'
import type { SplitRatios } from '../../src/shared/types'

interface Planted {
  files: (SplitInput & { unit: string })[]
  groups: Record<string, string>
  /** Units whose copies sit in two classes. */
  conflicts: Set<string>
}

const SHARES = [0, 0.1, 0.15, 0.2, 0.3]

function pick<T>(random: () => number, xs: readonly T[]): T {
  return xs[Math.floor(random() * xs.length)]
}

/** A random dataset: singletons, groups of exact copies, near-copy groups, optionally cross-class copies. */
function plant(random: () => number, opts: { copies: boolean; near: boolean; conflicts: boolean }): Planted {
  const files: Planted['files'] = []
  const groups: Record<string, string> = {}
  const conflicts = new Set<string>()
  const labels = Array.from({ length: 2 + Math.floor(random() * 3) }, (_, i) => `class${i}`)
  let next = 0
  const add = (label: string, unit: string, hash: string): void => {
    files.push({ file: `${label}/img-${String(next++).padStart(4, '0')}.png`, label, hash, unit })
  }
  for (const label of labels) {
    const singles = 1 + Math.floor(random() * 20)
    for (let i = 0; i < singles; i++) {
      const id = `u${next}`
      add(label, id, `h-${id}`)
    }
    if (opts.copies) {
      for (let g = Math.floor(random() * 4); g > 0; g--) {
        const id = `u${next}`
        for (let k = 2 + Math.floor(random() * 4); k > 0; k--) add(label, id, `h-${id}`)
      }
    }
    if (opts.near) {
      for (let g = Math.floor(random() * 3); g > 0; g--) {
        const id = `u${next}`
        for (let k = 2 + Math.floor(random() * 3); k > 0; k--) {
          add(label, id, `h-${id}-${k}`)
          groups[files[files.length - 1].file] = `near-${id}`
        }
      }
    }
  }
  if (opts.conflicts) {
    for (let c = 1 + Math.floor(random() * 2); c > 0; c--) {
      const id = `u${next}`
      const a = pick(random, labels)
      const b = pick(
        random,
        labels.filter((l) => l !== a),
      )
      add(a, id, `h-${id}`)
      add(b, id, `h-${id}`)
      conflicts.add(id)
    }
  }
  // Hand them over in a random order: the split must not depend on it.
  for (let i = files.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[files[i], files[j]] = [files[j], files[i]]
  }
  return { files, groups, conflicts }
}

describe('splitDataset property: copies never straddle splits', () => {
  it('holds on 200 random datasets', () => {
    let checkedBounds = 0
    for (let iter = 0; iter < 200; iter++) {
      const random = mulberry32(9000 + iter)
      const copies = iter % 4 !== 0 // a quarter with no copies at all: exact counts expected there
      const { files, groups, conflicts } = plant(random, {
        copies,
        near: copies && iter % 3 === 0,
        conflicts: copies && iter % 5 === 1,
      })
      const val = pick(random, SHARES)
      const test = pick(random, SHARES)
      const ratios: SplitRatios = { train: 1 - val - test, val, test, seed: Math.floor(random() * 1e6) }
      const result = splitDataset(files, ratios, { groups })
      const where = `iteration ${iter}`

      // Every file in exactly one split, and every unit wholly in one.
      expect(result.assignment, where).toHaveLength(files.length)
      const split = new Map(result.assignment.map((a) => [a.file, a.split]))
      const unitSplits = new Map<string, Set<string>>()
      for (const f of files) unitSplits.set(f.unit, (unitSplits.get(f.unit) ?? new Set()).add(split.get(f.file)!))
      for (const [unit, splits] of unitSplits) expect(splits.size, `${where}, unit ${unit}`).toBe(1)
      expect(result.leakage, where).toEqual([])

      // Copies under two classes are reported, and kept out of validation and test.
      expect(result.labelConflicts.map((c) => c.hash).sort(), where).toEqual([...conflicts].map((u) => `h-${u}`).sort())
      for (const u of conflicts) expect([...unitSplits.get(u)!], where).toEqual(['train'])

      // Per class, each split is within one unit (less one image) of splitCounts' target; exact without copies.
      for (const row of result.perClass) {
        const members = files.filter((f) => f.label === row.label)
        if (members.some((f) => conflicts.has(f.unit))) continue
        const sizes = new Map<string, number>()
        for (const f of members) sizes.set(f.unit, (sizes.get(f.unit) ?? 0) + 1)
        const largest = Math.max(...sizes.values())
        const target = splitCounts(members.length, ratios.val, ratios.test)
        for (const s of ['train', 'val', 'test'] as const) {
          expect(Math.abs(row[s] - target[s]), `${where}, ${row.label} ${s}`).toBeLessThanOrEqual(largest - 1)
        }
        if (!copies) expect(row, where).toEqual({ label: row.label, ...target })
        expect(row.train, where).toBeGreaterThan(0)
        checkedBounds++
      }

      // Same files in another order, same split.
      expect(splitDataset([...files].reverse(), ratios, { groups }), where).toEqual(result)
    }
    expect(checkedBounds).toBeGreaterThan(400)
  })
})
