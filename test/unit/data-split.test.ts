import { describe, expect, it } from 'vitest'
import { mulberry32, splitCounts, splitDataset, type SplitInput } from '../../src/main/ml/data'
import type { SplitRatios } from '../../src/shared/types'

const ratios: SplitRatios = { train: 0.7, val: 0.15, test: 0.15, seed: 42 }

/** `n` files of class `label` with distinct content. */
function cls(label: string, n: number): SplitInput[] {
  return Array.from({ length: n }, (_, i) => ({
    file: `${label}/${label}-${String(i).padStart(3, '0')}.png`,
    label,
    hash: `${label}#${i}`,
  }))
}

const dataset = [...cls('apple', 20), ...cls('pear', 10), ...cls('plum', 3)]

function splitOf(result: ReturnType<typeof splitDataset>): Map<string, string> {
  return new Map(result.assignment.map((a) => [a.file, a.split]))
}

describe('splitDataset', () => {
  it('is deterministic for a seed and independent of input order', () => {
    const a = splitDataset(dataset, ratios)
    const b = splitDataset([...dataset].reverse(), ratios)
    const c = splitDataset([...dataset.slice(15), ...dataset.slice(0, 15)], ratios)
    expect(b).toEqual(a)
    expect(c).toEqual(a)
  })

  it('gives a different split for another seed', () => {
    const a = splitOf(splitDataset(dataset, ratios))
    const b = splitOf(splitDataset(dataset, { ...ratios, seed: 7 }))
    expect([...a].filter(([file, split]) => b.get(file) !== split).length).toBeGreaterThan(0)
  })

  it('puts every file in exactly one split', () => {
    const { assignment } = splitDataset(dataset, ratios)
    expect(assignment).toHaveLength(dataset.length)
    expect(new Set(assignment.map((a) => a.file)).size).toBe(dataset.length)
    expect(assignment.every((a) => ['train', 'val', 'test'].includes(a.split))).toBe(true)
    const labels = new Map(dataset.map((f) => [f.file, f.label]))
    expect(assignment.every((a) => labels.get(a.file) === a.label)).toBe(true)
  })

  it('stratifies per class: round(n * ratio), at least one each from 3 images up', () => {
    const { perClass, assignment } = splitDataset(dataset, ratios)
    expect(perClass).toEqual([
      { label: 'apple', train: 14, val: 3, test: 3 },
      { label: 'pear', train: 6, val: 2, test: 2 },
      { label: 'plum', train: 1, val: 1, test: 1 },
    ])
    // perClass agrees with the assignment itself.
    for (const row of perClass) {
      for (const split of ['train', 'val', 'test'] as const) {
        expect(assignment.filter((a) => a.label === row.label && a.split === split)).toHaveLength(row[split])
      }
    }
  })

  it('splitCounts keeps training non-empty and handles 1 and 2 images', () => {
    expect(splitCounts(1, 0.15, 0.15)).toEqual({ train: 1, val: 0, test: 0 })
    expect(splitCounts(2, 0.15, 0.15)).toEqual({ train: 1, val: 1, test: 0 })
    expect(splitCounts(3, 0.45, 0.45)).toEqual({ train: 1, val: 1, test: 1 })
    expect(splitCounts(10, 0.5, 0.5)).toMatchObject({ train: 1 })
    expect(splitCounts(10, 0, 0.2)).toEqual({ train: 8, val: 0, test: 2 })
  })

  it('warns about classes with fewer than 2 validation images', () => {
    const { warnings } = splitDataset(dataset, ratios)
    expect(warnings).toContain(
      "Class 'plum' gets only 1 validation image; results for it will be noisy. Add images or raise the validation share.",
    )
    expect(warnings.some((w) => w.includes("'apple'"))).toBe(false)
    const single = splitDataset([...cls('apple', 5), ...cls('kiwi', 1)], ratios)
    expect(single.perClass.find((r) => r.label === 'kiwi')).toEqual({ label: 'kiwi', train: 1, val: 0, test: 0 })
    expect(single.warnings.some((w) => w.startsWith("Class 'kiwi' has only 1 image"))).toBe(true)
  })

  it('gives no validation images when the share is 0', () => {
    const { perClass } = splitDataset(dataset, { train: 0.8, val: 0, test: 0.2, seed: 1 })
    expect(perClass.every((r) => r.val === 0)).toBe(true)
    expect(perClass.find((r) => r.label === 'apple')).toEqual({ label: 'apple', train: 16, val: 0, test: 4 })
  })

  it('leaves excluded files and classes out', () => {
    const { assignment, perClass } = splitDataset(dataset, ratios, {
      excluded: { files: ['apple/apple-000.png', 'apple/apple-001.png'], classes: ['plum'] },
    })
    expect(assignment).toHaveLength(28)
    expect(assignment.some((a) => a.label === 'plum' || a.file === 'apple/apple-000.png')).toBe(false)
    expect(perClass.map((r) => r.label)).toEqual(['apple', 'pear'])
  })

  it('keeps identical files of a class in the same split, so a random split never leaks', () => {
    const files = cls('apple', 20).map((f, i) => (i < 6 ? { ...f, hash: 'same' } : f))
    for (const seed of [1, 2, 3, 4, 5]) {
      const result = splitDataset([...files, ...cls('pear', 10)], { ...ratios, seed })
      const splits = new Set(result.assignment.filter((a) => a.file < 'apple/apple-006.png').map((a) => a.split))
      expect(splits.size).toBe(1)
      expect(result.leakage).toEqual([])
    }
  })
})

describe('splitDataset with copies', () => {
  /** A messy class: 10 distinct images, each saved 4 times under different names. */
  function messy(label: string): SplitInput[] {
    return Array.from({ length: 40 }, (_, i) => ({
      file: `${label}/${label}-${String(i).padStart(3, '0')}.png`,
      label,
      hash: `${label}#${i % 10}`,
    }))
  }

  it('never tests on a copy of a training image, even when most images are copies', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const result = splitDataset([...messy('apple'), ...messy('pear')], { ...ratios, seed })
      expect(result.leakage).toEqual([])
      const byHash = new Map<string, Set<string>>()
      const hash = new Map([...messy('apple'), ...messy('pear')].map((f) => [f.file, f.hash]))
      for (const a of result.assignment) {
        byHash.set(hash.get(a.file)!, (byHash.get(hash.get(a.file)!) ?? new Set()).add(a.split))
      }
      expect([...byHash.values()].every((splits) => splits.size === 1)).toBe(true)
      // 40 images in 10 groups of 4: 0.15 × 40 = 6 wanted, so whole groups of 4 or 8 go to validation.
      for (const row of result.perClass) expect(Math.abs(row.val - 6)).toBeLessThanOrEqual(3)
    }
  })

  it('reports copies filed under two classes as label conflicts and keeps them in training', () => {
    const files = [
      ...cls('apple', 10),
      ...cls('pear', 10),
      { file: 'pear/looks-like-apple.png', label: 'pear', hash: 'apple#3' },
    ]
    const result = splitDataset(files, ratios)
    expect(result.labelConflicts).toEqual([
      {
        hash: 'apple#3',
        files: [
          { file: 'apple/apple-003.png', label: 'apple' },
          { file: 'pear/looks-like-apple.png', label: 'pear' },
        ],
      },
    ])
    const split = new Map(result.assignment.map((a) => [a.file, a.split]))
    expect(split.get('apple/apple-003.png')).toBe('train')
    expect(split.get('pear/looks-like-apple.png')).toBe('train')
    expect(result.warnings).toContain(
      "1 image is filed under more than one class (first: apple/apple-003.png as 'apple' = pear/looks-like-apple.png " +
        "as 'pear'). At most one label can be right; exclude the wrong copy. Until then each is kept in training, " +
        'never used to measure accuracy.',
    )
    // Excluding the wrong copy ends the conflict.
    const fixed = splitDataset(files, ratios, { excluded: { files: ['pear/looks-like-apple.png'], classes: [] } })
    expect(fixed.labelConflicts).toEqual([])
    expect(fixed.warnings.some((w) => w.includes('more than one class'))).toBe(false)
  })

  it('keeps caller-given groups (near-duplicates) together, as a Map or a plain object', () => {
    const files = cls('apple', 20)
    const near = Object.fromEntries(files.slice(0, 5).map((f) => [f.file, 'burst-1']))
    for (const groups of [near, new Map(Object.entries(near))]) {
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const result = splitDataset([...files, ...cls('pear', 10)], { ...ratios, seed }, { groups })
        const splits = new Set(result.assignment.filter((a) => a.file in near).map((a) => a.split))
        expect(splits.size).toBe(1)
      }
    }
  })

  it('is unchanged by `groups` that group nothing', () => {
    expect(splitDataset(dataset, ratios, { groups: {} })).toEqual(splitDataset(dataset, ratios))
  })
})

describe('splitDataset with a split given by the folders', () => {
  const given: SplitInput[] = [
    ...cls('ant', 6).map((f, i) => ({
      ...f,
      givenSplit: i < 4 ? ('train' as const) : i < 5 ? ('val' as const) : ('test' as const),
    })),
    ...cls('bee', 6).map((f, i) => ({
      ...f,
      givenSplit: i < 3 ? ('train' as const) : i < 5 ? ('val' as const) : ('test' as const),
    })),
  ]

  it('respects the given split as-is, whatever the ratios and seed', () => {
    for (const seed of [1, 99]) {
      const { assignment } = splitDataset(given, { train: 0.34, val: 0.33, test: 0.33, seed })
      const want = new Map(given.map((f) => [f.file, f.givenSplit]))
      expect(assignment.every((a) => a.split === want.get(a.file))).toBe(true)
    }
  })

  it('reports test files whose content also sits in train as leakage, with a warning', () => {
    const leaky = given.map((f) => (f.file === 'bee/bee-005.png' ? { ...f, hash: 'bee#0' } : f))
    const { leakage, warnings } = splitDataset(leaky, ratios)
    expect(leakage).toEqual([{ file: 'bee/bee-005.png', other: 'bee/bee-000.png' }])
    expect(warnings.some((w) => w.startsWith('1 test image is an exact copy of a training image'))).toBe(true)
    expect(splitDataset(given, ratios).leakage).toEqual([])
  })

  it('reports near-copies (given as groups) across train/ and test/ as leakage, and copies in val/', () => {
    const groups = { 'ant/ant-000.png': 'g', 'ant/ant-005.png': 'g' }
    const near = splitDataset(given, ratios, { groups })
    expect(near.leakage).toEqual([{ file: 'ant/ant-005.png', other: 'ant/ant-000.png', near: true }])
    expect(near.warnings.some((w) => w.startsWith('1 test image is a near-copy of a training image'))).toBe(true)
    const inVal = given.map((f) => (f.file === 'bee/bee-003.png' ? { ...f, hash: 'bee#0' } : f))
    const val = splitDataset(inVal, ratios)
    expect(val.leakage).toEqual([])
    expect(val.warnings.some((w) => w.startsWith('1 validation image is a copy of a training image'))).toBe(true)
    // The given split is still respected as-is.
    const want = new Map(given.map((f) => [f.file, f.givenSplit]))
    expect(val.assignment.every((a) => a.split === want.get(a.file))).toBe(true)
  })

  it('when drawing val/ from train/, keeps copies together and leaves a copy of a test/ image in train/', () => {
    const files = cls('ant', 12).map((f, i) => ({
      ...f,
      hash: i < 4 ? 'ant#copies' : f.hash,
      givenSplit: i < 10 ? ('train' as const) : ('test' as const),
    }))
    // ant-010 (test/) has the content of ant-005 (train/): the folder's own leak, reported. Drawing ant-005
    // into val would only move it (val against test), so it stays in train.
    files[10] = { ...files[10], hash: 'ant#5' }
    files[5] = { ...files[5], hash: 'ant#5' }
    for (const seed of [1, 2, 3, 4, 5]) {
      const result = splitDataset([...files, ...cls('bee', 12)], { ...ratios, seed })
      const split = new Map(result.assignment.map((a) => [a.file, a.split]))
      const copies = new Set(files.slice(0, 4).map((f) => split.get(f.file)))
      expect(copies.size).toBe(1)
      expect(split.get('ant/ant-005.png')).toBe('train')
      expect(result.leakage).toEqual([{ file: 'ant/ant-010.png', other: 'ant/ant-005.png' }])
    }
  })

  it('draws validation from train/ when the folder has no val/, and leaves test/ alone', () => {
    const noVal = cls('ant', 12).map((f, i) => ({ ...f, givenSplit: i < 10 ? ('train' as const) : ('test' as const) }))
    const two = [
      ...noVal,
      ...cls('bee', 12).map((f, i) => ({ ...f, givenSplit: i < 10 ? ('train' as const) : ('test' as const) })),
    ]
    const { assignment, perClass, warnings } = splitDataset(two, ratios)
    // val share of train+val: 0.15 / 0.85 of 10 given training images rounds to 2.
    expect(perClass).toEqual([
      { label: 'ant', train: 8, val: 2, test: 2 },
      { label: 'bee', train: 8, val: 2, test: 2 },
    ])
    const given = new Map(two.map((f) => [f.file, f.givenSplit]))
    expect(assignment.filter((a) => a.split === 'test').every((a) => given.get(a.file) === 'test')).toBe(true)
    expect(assignment.filter((a) => a.split === 'val').every((a) => given.get(a.file) === 'train')).toBe(true)
    expect(warnings.some((w) => w.startsWith('The folder has no val/'))).toBe(true)
  })
})

describe('mulberry32', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = mulberry32(5)
    const b = mulberry32(5)
    const c = mulberry32(6)
    const xs = Array.from({ length: 5 }, () => a())
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs)
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
  })
})
