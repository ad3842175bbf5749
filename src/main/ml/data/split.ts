/**
 * Stratified train/validation/test split that never puts copies of one image on two sides. Files with the
 * same content (hash), or the same caller-given group id (near-duplicates), form one unit, and a unit goes
 * wholly to one split. Deterministic: the files are sorted by name before a seeded shuffle, so the same
 * files and seed give the same split whatever order the scan listed them in.
 */
import type { LabelConflict, SplitRatios, SplitSummary } from '../../../shared/types'
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
  /**
   * Test files whose content also appears in train (`other` is one such training file). Only a split given
   * by the folders can leak; a drawn split never does. `near` marks a copy found through `groups` only.
   */
  leakage: { file: string; other: string; near?: true }[]
  /** Identical copies filed under different classes, kept whole (in training, when the split is drawn). */
  labelConflicts: LabelConflict[]
}

export interface SplitOptions {
  /** Files (relative paths) and classes the user excluded; they get no split. */
  excluded?: { files: string[]; classes: string[] }
  /**
   * Extra groups to keep whole, as a group id per file (e.g. near-duplicates from a perceptual hash or
   * from feature similarity): files with the same id land in the same split, as exact copies do. Files not
   * listed belong to no extra group.
   */
  groups?: ReadonlyMap<string, string> | Readonly<Record<string, string>>
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

type Counts = Record<SplitName, number>

/** Files that must land in one split: copies of one image, or one caller-given group. Sorted by file. */
type Unit = SplitInput[]

const SPLITS: readonly SplitName[] = ['train', 'val', 'test']

/**
 * Places the units of one class (in a seeded random order, largest first) so that each split ends within
 * one unit, less one image, of its target count; exactly on target when no image has a copy.
 *
 * Each unit goes to a split with room for all of it, picked at random in proportion to the room left;
 * when no split has room, to the split with the most. A split overshoots only in that case, by less than
 * the unit's size, and every split is then short by less than that size and only fills further. The last
 * unit goes to training if training has nothing yet, so a class with two units or more always trains.
 */
function placeUnits(units: Unit[], target: Counts, placed: Counts, random: () => number): Map<Unit, SplitName> {
  const order = shuffle(units, random).sort((a, b) => b.length - a.length)
  const count = { ...placed }
  const out = new Map<Unit, SplitName>()
  order.forEach((unit, i) => {
    const room = (s: SplitName): number => target[s] - count[s]
    const fits = SPLITS.filter((s) => room(s) >= unit.length)
    let split: SplitName
    if (count.train === 0 && i === order.length - 1) {
      split = 'train'
    } else if (fits.length > 0) {
      let r = random() * fits.reduce((sum, s) => sum + room(s), 0)
      split = fits.find((s) => (r -= room(s)) < 0) ?? fits[fits.length - 1]
    } else {
      split = SPLITS.reduce((best, s) => (room(s) > room(best) ? s : best))
    }
    count[split] += unit.length
    out.set(unit, split)
  })
  return out
}

/** Joins files with the same hash or the same caller-given group into units (union-find). */
function unitsOf(files: readonly SplitInput[], groups: SplitOptions['groups']): Unit[] {
  const parent = files.map((_, i) => i)
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]]
    return i
  }
  const first = new Map<string, number>()
  const join = (key: string, i: number): void => {
    const j = first.get(key)
    if (j === undefined) first.set(key, i)
    else parent[find(i)] = find(j)
  }
  const groupOf = (file: string): string | undefined =>
    groups === undefined
      ? undefined
      : groups instanceof Map
        ? groups.get(file)
        : Object.hasOwn(groups, file)
          ? (groups as Readonly<Record<string, string>>)[file]
          : undefined
  files.forEach((f, i) => {
    join(`hash\u0000${f.hash}`, i)
    const g = groupOf(f.file)
    if (g !== undefined) join(`group\u0000${g}`, i)
  })
  const units = new Map<number, Unit>()
  files.forEach((f, i) => {
    const root = find(i)
    units.set(root, [...(units.get(root) ?? []), f])
  })
  // `files` is sorted by name, so each unit is too, and units come in the order of their first file.
  return [...units.values()]
}

/** Copies (same hash) filed under more than one class. */
function findLabelConflicts(files: readonly SplitInput[]): LabelConflict[] {
  const byHash = new Map<string, SplitInput[]>()
  for (const f of files) byHash.set(f.hash, [...(byHash.get(f.hash) ?? []), f])
  const out: LabelConflict[] = []
  for (const [hash, copies] of byHash) {
    if (new Set(copies.map((f) => f.label)).size < 2) continue
    out.push({ hash, files: copies.map((f) => ({ file: f.file, label: f.label })) })
  }
  return out.sort((a, b) => byName(a.files[0].file, b.files[0].file))
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/**
 * Assigns every file to train, val or test, stratified per class, with the seeded shuffle described
 * above. Copies of one image (same hash), and files that share an id in `opts.groups`, always land in the
 * same split; copies filed under different classes are reported in `labelConflicts` and kept in training,
 * so no validation or test score depends on a label that is wrong for one of them.
 *
 * A split given by the folder (`givenSplit`) is kept as-is, and copies across its splits are reported as
 * `leakage`. If the folder gave no val/ (or no test/) while the ratio asks for one, that split is drawn
 * from the given training images of each class, keeping copies together. Excluded files and classes are
 * left out.
 */
export function splitDataset(files: readonly SplitInput[], ratios: SplitRatios, opts: SplitOptions = {}): SplitResult {
  const excludedFiles = new Set(opts.excluded?.files ?? [])
  const excludedClasses = new Set(opts.excluded?.classes ?? [])
  const kept = files
    .filter((f) => !excludedFiles.has(f.file) && !excludedClasses.has(f.label))
    .sort((a, b) => byName(a.file, b.file))
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
  /** Files whose split is drawn here; the others keep the one the folder gave. */
  const drawn = (f: SplitInput): boolean =>
    f.givenSplit === undefined || (f.givenSplit === 'train' && (carveVal || carveTest))

  const splitOf = new Map<string, SplitName>()
  for (const f of kept) if (!drawn(f)) splitOf.set(f.file, f.givenSplit!)

  // Units that cannot be drawn freely are settled first: one with a member fixed by the folder keeps its
  // drawn members in train/ (where the folder put them), and one spanning classes goes to training whole.
  const units = unitsOf(kept, opts.groups)
  const free = new Map<string, Unit[]>()
  const placed = new Map<string, Counts>()
  const poolSize = new Map<string, number>()
  for (const unit of units) {
    const pool = unit.filter(drawn)
    if (pool.length === 0) continue
    for (const f of pool) poolSize.set(f.label, (poolSize.get(f.label) ?? 0) + 1)
    if (pool.length < unit.length || new Set(pool.map((f) => f.label)).size > 1) {
      for (const f of pool) {
        splitOf.set(f.file, 'train')
        const c = placed.get(f.label) ?? { train: 0, val: 0, test: 0 }
        c.train++
        placed.set(f.label, c)
      }
    } else {
      free.set(pool[0].label, [...(free.get(pool[0].label) ?? []), pool])
    }
  }

  const labels = [...new Set(kept.map((f) => f.label))].sort(byName)
  for (const label of labels) {
    const n = poolSize.get(label) ?? 0
    if (n === 0) continue
    const random = mulberry32((ratios.seed ^ hashString(label)) >>> 0)
    const valShare = given ? (carveVal ? ratios.val : 0) : ratios.val
    const testShare = given ? (carveTest ? ratios.test : 0) : ratios.test
    // Shares of the pool: when carving from train/ the pool is the train+carved part of the ratios.
    const whole = given ? ratios.train + valShare + testShare : 1
    const target = splitCounts(n, whole > 0 ? valShare / whole : 0, whole > 0 ? testShare / whole : 0)
    const start = placed.get(label) ?? { train: 0, val: 0, test: 0 }
    for (const [unit, split] of placeUnits(free.get(label) ?? [], target, start, random)) {
      for (const f of unit) splitOf.set(f.file, split)
    }
  }

  const assignment: SplitAssignment[] = kept.map((f) => ({ file: f.file, label: f.label, split: splitOf.get(f.file)! }))

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

  // Copies on two sides can only come from a split given by the folders: a drawn unit never spans two.
  const leakage: SplitResult['leakage'] = []
  let valCopies = 0
  for (const unit of units) {
    const train = unit.filter((f) => splitOf.get(f.file) === 'train')
    if (train.length === 0) continue
    for (const f of unit) {
      const split = splitOf.get(f.file)
      if (split === 'val') valCopies++
      if (split !== 'test') continue
      const exact = train.find((t) => t.hash === f.hash)
      leakage.push(exact ? { file: f.file, other: exact.file } : { file: f.file, other: train[0].file, near: true })
    }
  }
  leakage.sort((a, b) => byName(a.file, b.file))
  const exactLeaks = leakage.filter((l) => !l.near)
  const nearLeaks = leakage.filter((l) => l.near)
  if (exactLeaks.length > 0) {
    const n = exactLeaks.length
    warnings.push(
      `${n === 1 ? '1 test image is an exact copy' : `${n} test images are exact copies`} of a training image ` +
        `(first: ${exactLeaks[0].file} = ${exactLeaks[0].other}). Test accuracy will look better than it is; ` +
        'exclude one copy of each.',
    )
  }
  if (nearLeaks.length > 0) {
    warnings.push(
      `${plural(nearLeaks.length, 'test image is a near-copy', 'test images are near-copies')} of a training image ` +
        `(first: ${nearLeaks[0].file} ≈ ${nearLeaks[0].other}). Test accuracy will look better than it is; ` +
        'exclude one of each pair.',
    )
  }
  if (valCopies > 0) {
    warnings.push(
      `${plural(valCopies, 'validation image is a copy', 'validation images are copies')} of a training image: ` +
        'validation accuracy (and early stopping) will trust the model too much; exclude one copy of each.',
    )
  }

  const labelConflicts = findLabelConflicts(kept)
  if (labelConflicts.length > 0) {
    const first = labelConflicts[0].files
    warnings.push(
      `${plural(labelConflicts.length, 'image is', 'images are')} filed under more than one class (first: ` +
        `${first.map((f) => `${f.file} as '${f.label}'`).join(' = ')}). At most one label can be right; exclude ` +
        `the wrong ${labelConflicts.length === 1 ? 'copy' : 'copies'}.` +
        (given ? '' : ' Until then each is kept in training, never used to measure accuracy.'),
    )
  }
  return { assignment, perClass, warnings, leakage, labelConflicts }
}
