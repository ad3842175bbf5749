/**
 * Stratified train/validation/test split. Deterministic: the files are sorted by name before a seeded
 * shuffle, so the same files and seed give the same split whatever order the scan listed them in.
 */
import type { SplitRatios, SplitSummary } from '../../../shared/types'
import type { SplitName } from './scan'

export interface SplitInput {
  file: string
  label: string
  hash: string
  givenSplit?: SplitName
}

export interface SplitAssignment {
  file: string
  label: string
  split: SplitName
}

export interface SplitResult {
  /** Sorted by file. */
  assignment: SplitAssignment[]
  perClass: SplitSummary['perClass']
  warnings: string[]
  /** Test files whose exact content also appears in train (`other` is one such training file). */
  leakage: { file: string; other: string }[]
}

export interface SplitOptions {
  /** Files (relative paths) and classes the user excluded; they get no split. */
  excluded?: { files: string[]; classes: string[] }
}

/** mulberry32: a tiny, well-mixed 32-bit PRNG; enough for shuffles, and the same on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a of a string, to give each class its own stream from one seed. */
function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * How many of `n` images go to validation and test. Every split with a share > 0 gets at least one image
 * once a class has 3, and training always keeps at least one.
 */
export function splitCounts(n: number, val: number, test: number): { train: number; val: number; test: number } {
  if (n <= 0) return { train: 0, val: 0, test: 0 }
  if (n === 1) return { train: 1, val: 0, test: 0 }
  if (n === 2) {
    // One to learn from and one to check it with; validation first because training needs it.
    if (val > 0) return { train: 1, val: 1, test: 0 }
    if (test > 0) return { train: 1, val: 0, test: 1 }
    return { train: 2, val: 0, test: 0 }
  }
  let nVal = val > 0 ? Math.max(1, Math.round(n * val)) : 0
  let nTest = test > 0 ? Math.max(1, Math.round(n * test)) : 0
  while (n - nVal - nTest < 1) {
    if (nVal >= nTest && nVal > 1) nVal--
    else if (nTest > 1) nTest--
    else break
  }
  return { train: n - nVal - nTest, val: nVal, test: nTest }
}

/**
 * Splits one class at random into train/val/test. Identical files (same hash) stay together so the same
 * picture can never be both learnt from and tested on.
 */
function splitClass(
  files: SplitInput[],
  target: { val: number; test: number },
  random: () => number,
): Map<string, SplitName> {
  const groups = new Map<string, SplitInput[]>()
  for (const f of [...files].sort((a, b) => byName(a.file, b.file))) {
    groups.set(f.hash, [...(groups.get(f.hash) ?? []), f])
  }
  const order = shuffle([...groups.values()], random)
  const out = new Map<string, SplitName>()
  let val = 0
  let test = 0
  const assigned: { split: SplitName; group: SplitInput[] }[] = []
  for (const group of order) {
    let split: SplitName = 'train'
    if (val < target.val) {
      split = 'val'
      val += group.length
    } else if (test < target.test) {
      split = 'test'
      test += group.length
    }
    assigned.push({ split, group })
  }
  // A large duplicate group can swallow the whole class; give training one group back if so.
  if (!assigned.some((a) => a.split === 'train') && assigned.length > 1) {
    const donor = [...assigned].reverse().find((a) => a.split === (test > 0 ? 'test' : 'val'))
    if (donor) donor.split = 'train'
  }
  for (const { split, group } of assigned) for (const f of group) out.set(f.file, split)
  return out
}

/**
 * Assigns every file to train, val or test, stratified per class, with the seeded shuffle described
 * above. A split given by the folder (`givenSplit`) is kept as-is; if the folder gave no val/ (or no
 * test/) while the ratio asks for one, that split is drawn from the given training images of each class.
 * Excluded files and classes are left out.
 */
export function splitDataset(files: readonly SplitInput[], ratios: SplitRatios, opts: SplitOptions = {}): SplitResult {
  const excludedFiles = new Set(opts.excluded?.files ?? [])
  const excludedClasses = new Set(opts.excluded?.classes ?? [])
  const kept = files.filter((f) => !excludedFiles.has(f.file) && !excludedClasses.has(f.label))
  const warnings: string[] = []

  const given = kept.some((f) => f.givenSplit !== undefined)
  const givenSplits = new Set(kept.map((f) => f.givenSplit).filter((s): s is SplitName => s !== undefined))
  // With a given split, missing val/test are drawn from train/ at their share of train+val(+test).
  const carveVal = given && !givenSplits.has('val') && ratios.val > 0
  const carveTest = given && !givenSplits.has('test') && ratios.test > 0
  if (carveVal || carveTest) {
    const missing = [carveVal ? 'val/' : '', carveTest ? 'test/' : ''].filter(Boolean).join(' and ')
    warnings.push(`The folder has no ${missing}: those images were set aside from train/ at the chosen shares.`)
  } else if (given && !givenSplits.has('val')) {
    warnings.push('The folder has no val/ and the validation share is 0: there is nothing to stop training early on.')
  }

  const byClass = new Map<string, SplitInput[]>()
  for (const f of kept) byClass.set(f.label, [...(byClass.get(f.label) ?? []), f])
  const labels = [...byClass.keys()].sort(byName)

  const splitOf = new Map<string, SplitName>()
  for (const label of labels) {
    const members = byClass.get(label)!
    const random = mulberry32((ratios.seed ^ hashString(label)) >>> 0)
    const pool: SplitInput[] = []
    for (const f of members) {
      if (f.givenSplit === undefined || (f.givenSplit === 'train' && (carveVal || carveTest))) pool.push(f)
      else splitOf.set(f.file, f.givenSplit)
    }
    if (pool.length === 0) continue
    const valShare = given ? (carveVal ? ratios.val : 0) : ratios.val
    const testShare = given ? (carveTest ? ratios.test : 0) : ratios.test
    // Shares of the pool: when carving from train/ the pool is the train+carved part of the ratios.
    const whole = given ? ratios.train + valShare + testShare : 1
    const counts = splitCounts(pool.length, whole > 0 ? valShare / whole : 0, whole > 0 ? testShare / whole : 0)
    for (const [file, split] of splitClass(pool, counts, random)) splitOf.set(file, split)
  }

  const assignment: SplitAssignment[] = kept
    .map((f) => ({ file: f.file, label: f.label, split: splitOf.get(f.file)! }))
    .sort((a, b) => byName(a.file, b.file))

  const perClass = labels.map((label) => {
    const row = { label, train: 0, val: 0, test: 0 }
    for (const a of assignment) if (a.label === label) row[a.split]++
    return row
  })

  const valExpected = ratios.val > 0 || givenSplits.has('val')
  for (const row of perClass) {
    const n = row.train + row.val + row.test
    if (n === 1) {
      warnings.push(`Class '${row.label}' has only 1 image: it is used for training and cannot be checked. Add images.`)
    } else if (valExpected && row.val === 1) {
      warnings.push(
        `Class '${row.label}' gets only 1 validation image; results for it will be noisy. Add images or raise the validation share.`,
      )
    } else if (valExpected && row.val === 0) {
      warnings.push(
        `Class '${row.label}' gets no validation images, so its accuracy cannot be measured. Add images or raise the validation share.`,
      )
    }
    if (row.train === 0) warnings.push(`Class '${row.label}' has no training images, so the model cannot learn it.`)
  }

  const trainByHash = new Map<string, string>()
  for (const f of kept) if (splitOf.get(f.file) === 'train' && !trainByHash.has(f.hash)) trainByHash.set(f.hash, f.file)
  const leakage = kept
    .filter((f) => splitOf.get(f.file) === 'test' && trainByHash.has(f.hash))
    .map((f) => ({ file: f.file, other: trainByHash.get(f.hash)! }))
    .sort((a, b) => byName(a.file, b.file))
  if (leakage.length > 0) {
    warnings.push(
      `${leakage.length === 1 ? '1 test image is an exact copy' : `${leakage.length} test images are exact copies`} of ` +
        `a training image (first: ${leakage[0].file} = ${leakage[0].other}). Test accuracy will look better than it ` +
        'is; exclude one copy of each.',
    )
  }
  return { assignment, perClass, warnings, leakage }
}
