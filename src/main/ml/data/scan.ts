/**
 * Reads an image folder into a dataset: which classes, which files, which files cannot be used and why,
 * and what could hurt training (one class, empty classes, imbalance, duplicates). A bad file never makes
 * the scan fail; only a missing root folder does.
 *
 * The scan never leaves the chosen folder: the folder walk (walk.ts, shared with the sound scan) hands it only
 * real paths inside the root, each file once, and reports links out of the folder, loops and anything that is
 * not a regular file. Files are then opened with O_NONBLOCK and O_NOFOLLOW and checked to be regular files, so
 * a FIFO or device named `x.png` cannot block the scan even if it appears between the walk and the read.
 */
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import type { ClassReport, DatasetReport, ProblemGroup, SoundFileInfo, UnreadableFile } from '../../../shared/types'
import { AppError } from '../../errors'
import { decodeImageBuffer, hashBuffer, ImageDecodeError, openImage, readFailure, TINY_IMAGE_SIDE } from './decode'
import { thumbnailFromBuffer } from './thumbnail'
import { NOT_REGULAR, type SplitName, walkDataset, type WalkRules } from './walk'

export type { SplitName } from './walk'
/** The folder walk itself, for a scan of another kind of file (the sound scan uses it). */
export { walkDataset, type DatasetWalk, type WalkRules } from './walk'

export interface ScannedFile {
  /** Path relative to the dataset root, with '/' separators. */
  file: string
  label: string
  /** SHA-256 of the bytes, hex. */
  hash: string
  /** Displayed size in pixels (after EXIF rotation). */
  width: number
  height: number
  /** Set when the folder had train/ val/ test/ at the top. */
  givenSplit?: SplitName
  /**
   * 64-bit difference hash of the picture (16 hex digits; see `differenceHash`), for finding near-copies
   * (resized, re-encoded). Absent for an image too flat to tell apart from other flat images.
   */
  dhash?: string
  /** Sound datasets: what the scan measured of the recording (width and height are then 0). */
  sound?: SoundFileInfo
}

export type ScanReport = Omit<DatasetReport, 'id' | 'createdAt' | 'excludedFiles' | 'excludedClasses'> & {
  problemGroups: ProblemGroup[]
}

export interface DatasetScan {
  report: ScanReport
  /** Readable images only, sorted by `file`. */
  files: ScannedFile[]
}

export interface ScanOptions {
  /** Called after each image is read: `done` of `total` images. */
  onProgress?: (done: number, total: number) => void
  /** Thumbnails per class. Default 8, at most 12. */
  thumbnails?: number
  /** Classes with fewer images are reported as tiny. Default 5. */
  minPerClass?: number
  /** Files read and decoded at once. Default 4. */
  concurrency?: number
  /** A file that takes longer than this to read is reported and skipped. Default 10 s. */
  fileTimeoutMs?: number
  /** Polled before each file; true stops the scan with AppError('cancelled'). */
  shouldStop?: () => boolean
}

const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.webp',
  '.gif',
  '.bmp',
  '.tif',
  '.tiff',
  '.avif',
])
/** Files above this size are refused before being read into memory (bytes). */
const MAX_FILE_BYTES = 512 * 1024 * 1024
const THUMBNAIL_CAP = 12
/** Examples listed per problem group. */
const GROUP_EXAMPLES = 5
/** Opening with O_NONBLOCK makes a FIFO open return at once instead of waiting for a writer (0 on Windows). */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0)

/** Why a path was skipped or noted; each kind is one row of `problemGroups`. */
type ProblemKind =
  | 'outside-link'
  | 'not-regular'
  | 'missing'
  | 'permission'
  | 'folder'
  | 'read-error'
  | 'empty'
  | 'too-large'
  | 'unsupported'
  | 'damaged'
  | 'not-image'
  | 'link-loop'
  | 'link-repeat'

/** One row per kind, in this order: the ones that need the user first, the harmless notes last. */
const PROBLEM_KINDS: Record<ProblemKind, { reason: string; action: string }> = {
  'outside-link': {
    reason: 'Links to outside the folder are not followed',
    action: 'Copy the linked images into the folder if they should be used.',
  },
  'not-regular': {
    reason: 'Not a regular file (a pipe, socket or device); it was not opened',
    action: 'Remove it from the folder: it cannot hold an image.',
  },
  missing: {
    reason: 'File not found (a broken link, or moved during the scan)',
    action: 'Fix or remove the link, then scan again.',
  },
  permission: {
    reason: 'Permission denied',
    action: "Check the files' sharing settings, then scan again.",
  },
  folder: {
    reason: 'Folder could not be read',
    action: "Check the folder's permissions, then scan again.",
  },
  'read-error': {
    reason: 'File could not be read',
    action: 'Check the disk or network drive, then scan again.',
  },
  empty: {
    reason: 'Empty file (0 bytes)',
    action: 'Copy the file again from where it came from, or exclude it.',
  },
  'too-large': {
    reason: 'Image too large (over 100 megapixels, or a file over 512 MB)',
    action: 'Save a smaller copy and use that instead.',
  },
  unsupported: {
    reason: 'Not a supported image (JPEG, PNG, WebP, GIF, BMP or TIFF)',
    action: 'Convert it to JPEG or PNG, or exclude it.',
  },
  damaged: {
    reason: 'Damaged or cut-short image',
    action: 'Open it in an image viewer; re-save or copy it again, or exclude it.',
  },
  'not-image': {
    reason: 'Not an image file (by its name); skipped',
    action: 'Nothing to do. Move such files out of the class folders to silence this.',
  },
  'link-loop': {
    reason: 'Link to a folder that is already read (a loop or a second way in); read once',
    action: 'Nothing to do: each folder counts once. Remove the link to silence this.',
  },
  'link-repeat': {
    reason: 'Link to an image that is already counted; counted once',
    action: 'Nothing to do: each image counts once. Remove the extra link to silence this.',
  },
}

interface Problem extends UnreadableFile {
  kind: ProblemKind
}

/** A file that was found but must not be opened, or was opened and turned out not to be a regular file. */
class SkippedFile extends Error {
  constructor(
    readonly reason: string,
    readonly kind: ProblemKind,
  ) {
    super(reason)
  }
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot).toLowerCase() : ''
}

/** Whether a file name has an image extension (the scan reads only these). */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extension(name))
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** The kind of a failure while opening, reading or decoding a file. */
function failureOf(file: string, err: unknown): Problem {
  if (err instanceof SkippedFile) return { file, reason: err.reason, kind: err.kind }
  if (err instanceof ImageDecodeError) {
    const r = err.reason
    const kind: ProblemKind = r.startsWith('The file is empty')
      ? 'empty'
      : /^The (image|file) is too large/.test(r)
        ? 'too-large'
        : /^Not (an|a supported) image/.test(r)
          ? 'unsupported'
          : 'damaged'
    return { file, reason: r, kind }
  }
  const code = (err as NodeJS.ErrnoException | null)?.code
  const kind: ProblemKind =
    code === 'ENOENT' || code === 'ELOOP'
      ? 'missing'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission'
        : 'read-error'
  // The name shown is the one in the dataset (a link's own name, not its target's).
  return { file, reason: readFailure(file, err).reason, kind }
}

/** The folder walk for images: which files are read, and the words for what it reports. */
const IMAGE_WALK: WalkRules<ProblemKind> = {
  isDataFile: isImageName,
  otherFile: (name) => ({ reason: `Not an image file (${name}); it was skipped.`, kind: 'not-image' }),
  brokenLink: failureOf,
  words: { one: 'image', a: 'an image', many: 'images', layout: '(for example cats/ and dogs/), each holding images' },
}

/**
 * Reads one file by its real path. Opened without following links and without blocking (a FIFO opens at
 * once), then checked to be a regular file of a sane size before a byte is read.
 */
async function readRegularFile(abs: string): Promise<Buffer> {
  const handle = await open(abs, OPEN_FLAGS)
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new SkippedFile(NOT_REGULAR, 'not-regular')
    if (info.size > MAX_FILE_BYTES) {
      throw new ImageDecodeError(
        `The file is too large (${Math.round(info.size / 1024 / 1024)} MB). Save a smaller copy and use that instead.`,
      )
    }
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

/** A read that hangs (a stalled network drive, a device) is reported as such instead of stalling the scan. */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(
      () =>
        fail(
          new ImageDecodeError(
            `Reading it took longer than ${Math.round(ms / 1000)} s (is it on a slow network drive?). Copy the folder to this computer and scan again.`,
          ),
        ),
      ms,
    )
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

/** One row per kind of problem, with a count and the first few files by name. */
function groupProblems(problems: readonly Problem[]): ProblemGroup[] {
  const groups: ProblemGroup[] = []
  for (const [kind, text] of Object.entries(PROBLEM_KINDS) as [ProblemKind, { reason: string; action: string }][]) {
    const files = problems
      .filter((p) => p.kind === kind)
      .map((p) => p.file)
      .sort(byName)
    if (files.length === 0) continue
    groups.push({
      kind,
      reason: text.reason,
      count: files.length,
      examples: files.slice(0, GROUP_EXAMPLES),
      action: text.action,
    })
  }
  return groups
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++])
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker))
}

/** Adjacent grey values must differ by this much (0-255) to count as structure in `differenceHash`. */
const DHASH_EDGE = 4
/** Fewer clear differences than this (of 64) and the image is too flat to fingerprint. */
const DHASH_MIN_EDGES = 8

/**
 * The difference hash ("dHash") of an image decoded to 9×8 RGB (row-major, as `decodeImageBuffer(buf, 8,
 * 9)` gives): for each of the 8 rows, 8 bits saying whether each pixel is brighter than its right-hand
 * neighbour, as 16 hex digits. Resizing, re-encoding and small colour changes barely move it. Returns
 * undefined for a near-flat image (fewer than 8 clear steps): every plain swatch would hash alike.
 */
export function differenceHash(rgb: Uint8Array): string | undefined {
  if (rgb.length !== 9 * 8 * 3) throw new RangeError(`differenceHash: expected 9×8 RGB (216 values), got ${rgb.length}`)
  const grey = (i: number): number => 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2]
  let hex = ''
  let edges = 0
  for (let y = 0; y < 8; y++) {
    let byte = 0
    for (let x = 0; x < 8; x++) {
      const left = grey(y * 9 + x)
      const right = grey(y * 9 + x + 1)
      byte = (byte << 1) | (left > right ? 1 : 0)
      if (Math.abs(left - right) >= DHASH_EDGE) edges++
    }
    hex += byte.toString(16).padStart(2, '0')
  }
  return edges >= DHASH_MIN_EDGES ? hex : undefined
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

/** Number of differing bits between two 16-hex-digit hashes. */
export function hammingDistance(a: string, b: string): number {
  const half = (h: string, i: number): number => parseInt(h.slice(i * 8, i * 8 + 8), 16)
  return popcount32((half(a, 0) ^ half(b, 0)) >>> 0) + popcount32((half(a, 1) ^ half(b, 1)) >>> 0)
}

/**
 * Groups of near-copies within each class: files whose `dhash` differ in at most `maxDistance` bits
 * (default 4 of 64), joined transitively. Returns a group id (the group's first file by name) for each
 * file in a group of two or more; pass it to `splitDataset` as `groups` so near-copies stay on one side.
 *
 * Only files of the same class are grouped: a near-copy under another label cannot flatter the test score
 * (the model would be marked wrong on it), and a coarse 64-bit hash is best trusted where it matters.
 * Candidate pairs come from exact matches on one of `maxDistance + 1` slices of the hash (two hashes that
 * close must agree on at least one slice), so the work stays near-linear in the number of files.
 */
export function nearDuplicateGroups(
  files: readonly { file: string; label: string; dhash?: string }[],
  maxDistance = 4,
): Map<string, string> {
  const hashed = files.filter((f) => f.dhash !== undefined && /^[0-9a-f]{16}$/.test(f.dhash))
  hashed.sort((a, b) => byName(a.file, b.file))
  const parent = hashed.map((_, i) => i)
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]]
    return i
  }
  const slices = Math.min(16, Math.max(1, maxDistance + 1))
  const bounds = Array.from({ length: slices + 1 }, (_, k) => Math.round((k * 16) / slices))
  const buckets = new Map<string, number[]>()
  hashed.forEach((f, i) => {
    for (let k = 0; k < slices; k++) {
      const key = `${f.label}\u0000${k}\u0000${f.dhash!.slice(bounds[k], bounds[k + 1])}`
      const bucket = buckets.get(key)
      if (bucket) bucket.push(i)
      else buckets.set(key, [i])
    }
  })
  for (const bucket of buckets.values()) {
    for (let a = 0; a < bucket.length; a++) {
      for (let b = a + 1; b < bucket.length; b++) {
        const i = bucket[a]
        const j = bucket[b]
        if (find(i) === find(j)) continue
        if (hammingDistance(hashed[i].dhash!, hashed[j].dhash!) <= maxDistance) parent[find(j)] = find(i)
      }
    }
  }
  const members = new Map<number, string[]>()
  hashed.forEach((f, i) => members.set(find(i), [...(members.get(find(i)) ?? []), f.file]))
  const out = new Map<string, string>()
  for (const group of members.values()) {
    if (group.length < 2) continue
    for (const file of group) out.set(file, group[0])
  }
  return out
}

/**
 * SHA-256 (hex) over the sorted (file, hash, label) triples: the same content under the same names gives
 * the same fingerprint whatever order the files were scanned in.
 */
export function fingerprint(files: readonly { file: string; hash: string; label: string }[]): string {
  const lines = files.map((f) => `${f.file}\u0000${f.hash}\u0000${f.label}`).sort(byName)
  return createHash('sha256').update(lines.join('\n')).digest('hex')
}

/** Short stable id for a dataset: 'ds_' + 12 hex digits of sha256(root, fingerprint). */
export function datasetId(root: string, fp: string): string {
  return 'ds_' + createHash('sha256').update(`${root}\u0000${fp}`).digest('hex').slice(0, 12)
}

function median(values: number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2)
}

/**
 * Scans `root`: one sub-folder per class, or train/ val/ (validation/) test/ at the top each holding
 * class sub-folders. Every image is read once, hashed (SHA-256) and decoded small (9×8) to prove it is
 * usable and to take its difference hash (`dhash`); pixels are not kept. Hidden files and OS litter are
 * skipped silently; other non-images, links out of the folder and files that are not regular files are
 * listed as unreadable, and grouped by reason in `problemGroups`. Never throws for a bad file.
 * @throws AppError('bad_data') when `root` is missing or not a folder.
 */
export async function scanDataset(root: string, opts: ScanOptions = {}): Promise<DatasetScan> {
  const thumbsPerClass = Math.max(0, Math.min(THUMBNAIL_CAP, opts.thumbnails ?? 8))
  const minPerClass = opts.minPerClass ?? 5
  const concurrency = opts.concurrency ?? 4
  const walk = await walkDataset(root, IMAGE_WALK)
  const absRoot = walk.root
  const files: ScannedFile[] = []
  const thumbnails = new Map<string, { file: string; dataUrl: string; index: number }[]>()
  const tinyImages: string[] = []
  const problems: Problem[] = walk.problems
  const total = walk.files.length
  let done = 0
  opts.onProgress?.(0, total)

  const fileTimeoutMs = opts.fileTimeoutMs ?? 10_000
  await pool(walk.files, concurrency, async (c) => {
    if (opts.shouldStop?.()) throw new AppError('cancelled', 'The scan was cancelled.')
    try {
      if (c.failure) throw new SkippedFile(c.failure.reason, c.failure.kind)
      const buf = await withTimeout(readRegularFile(c.abs), fileTimeoutMs)
      // The header first (format, size, refusing a decompression bomb), then a 9×8 decode through the
      // same path training uses: proof the image is readable, and the pixels of its difference hash.
      const head = await openImage(buf)
      const small = await decodeImageBuffer(buf, 8, 9)
      const entry: ScannedFile = {
        file: c.file,
        label: c.label,
        hash: hashBuffer(buf),
        width: head.width,
        height: head.height,
      }
      if (c.givenSplit) entry.givenSplit = c.givenSplit
      const dhash = differenceHash(small)
      if (dhash) entry.dhash = dhash
      files.push(entry)
      if (head.width < TINY_IMAGE_SIDE || head.height < TINY_IMAGE_SIDE) tinyImages.push(c.file)
      if (c.index < thumbsPerClass) {
        const dataUrl = await thumbnailFromBuffer(buf)
        if (dataUrl) {
          const list = thumbnails.get(c.label) ?? []
          list.push({ file: c.file, dataUrl, index: c.index })
          thumbnails.set(c.label, list)
        }
      }
    } catch (err) {
      problems.push(failureOf(c.file, err))
    }
    done++
    opts.onProgress?.(done, total)
  })

  files.sort((a, b) => byName(a.file, b.file))
  problems.sort((a, b) => byName(a.file, b.file))
  const report = buildReport({
    root: absRoot,
    files,
    classNames: [...walk.classes],
    problems,
    thumbnails,
    givenSplit: walk.givenSplit,
    minPerClass,
    tinyImages: tinyImages.sort(byName),
    blockers: walk.blockers,
    warnings: walk.warnings,
  })
  return { report, files }
}

/**
 * The problems that stop training, from the class folders and readable files. Call it again after the
 * user excludes files or classes (`excluded`): an excluded empty class, for one, no longer blocks.
 */
export function datasetBlockers(args: {
  root: string
  classNames: readonly string[]
  files: readonly ScannedFile[]
  givenSplit: boolean
  excluded?: { files: readonly string[]; classes: readonly string[] }
}): string[] {
  const excludedFiles = new Set(args.excluded?.files ?? [])
  const excludedClasses = new Set(args.excluded?.classes ?? [])
  const files = args.files.filter((f) => !excludedFiles.has(f.file) && !excludedClasses.has(f.label))
  const names = [...new Set([...args.classNames, ...files.map((f) => f.label)])]
    .filter((n) => !excludedClasses.has(n))
    .sort(byName)
  const count = new Map(names.map((n) => [n, { all: 0, train: 0 }]))
  for (const f of files) {
    const c = count.get(f.label)!
    c.all++
    if (f.givenSplit === 'train') c.train++
  }
  const blockers: string[] = []
  if (files.length === 0) {
    blockers.push(
      args.classNames.length === 0
        ? `No images found in ${args.root}. Tunewise expects one sub-folder per class, each holding images.`
        : `No readable images found in ${args.root}. Tunewise expects one sub-folder per class, each holding ` +
            'JPEG, PNG, WebP, GIF, BMP or TIFF images.',
    )
    return blockers
  }
  const populated = names.filter((n) => count.get(n)!.all > 0)
  for (const n of names) {
    if (count.get(n)!.all === 0) {
      blockers.push(`Class '${n}' has no readable images. Add images to its folder, or remove or exclude the class.`)
    }
  }
  if (populated.length === 1) {
    blockers.push(`Only one class ('${populated[0]}') was found. Add a second sub-folder with images of another class.`)
  }
  if (args.givenSplit) {
    for (const n of populated) {
      if (count.get(n)!.train === 0) {
        blockers.push(
          `Class '${n}' has no images in train/, so the model cannot learn it. Add some to train/${n}/, or exclude the class.`,
        )
      }
    }
  }
  return blockers
}

interface ReportInput {
  root: string
  files: ScannedFile[]
  classNames: string[]
  problems: Problem[]
  thumbnails: Map<string, { file: string; dataUrl: string; index: number }[]>
  givenSplit: boolean
  minPerClass: number
  tinyImages: string[]
  blockers: string[]
  warnings: string[]
}

function buildReport(input: ReportInput): ScanReport {
  const { root, files, givenSplit, minPerClass } = input
  const blockers = [...input.blockers]
  const warnings = [...input.warnings]

  const counts = new Map<string, { count: number; given: { train: number; val: number; test: number } }>()
  for (const name of input.classNames) counts.set(name, { count: 0, given: { train: 0, val: 0, test: 0 } })
  for (const f of files) {
    const c = counts.get(f.label) ?? { count: 0, given: { train: 0, val: 0, test: 0 } }
    c.count++
    if (f.givenSplit) c.given[f.givenSplit]++
    counts.set(f.label, c)
  }
  const names = [...counts.keys()].sort(byName)
  const classes: ClassReport[] = names.map((name) => {
    const c = counts.get(name)!
    const thumbs = (input.thumbnails.get(name) ?? []).sort((a, b) => a.index - b.index)
    const report: ClassReport = {
      name,
      count: c.count,
      thumbnails: thumbs.map(({ file, dataUrl }) => ({ file, dataUrl })),
    }
    if (givenSplit) report.given = c.given
    return report
  })

  // Duplicates: identical bytes, whatever the name.
  const byHash = new Map<string, ScannedFile[]>()
  for (const f of files) byHash.set(f.hash, [...(byHash.get(f.hash) ?? []), f])
  const duplicates: ScanReport['duplicates'] = []
  for (const [hash, group] of byHash) {
    if (group.length < 2) continue
    const entry: ScanReport['duplicates'][number] = {
      hash,
      files: group.map((f) => f.file).sort(byName),
      crossClass: new Set(group.map((f) => f.label)).size > 1,
    }
    if (givenSplit) entry.crossSplit = new Set(group.map((f) => f.givenSplit)).size > 1
    duplicates.push(entry)
  }
  duplicates.sort((a, b) => byName(a.files[0], b.files[0]))

  const populated = classes.filter((c) => c.count > 0)
  const tinyClasses = classes.filter((c) => c.count < minPerClass).map((c) => c.name)

  // The walk's own blocker (images not in class folders) already explains an empty result.
  const found = datasetBlockers({ root, classNames: names, files, givenSplit })
  blockers.push(...(blockers.length > 0 && files.length === 0 ? [] : found))

  // Warnings: training can run, but the user should know.
  const smallButPresent = populated.filter((c) => c.count < minPerClass)
  if (smallButPresent.length > 0) {
    const few = smallButPresent
      .map((c) => `'${c.name}' (${c.count})`)
      .slice(0, 5)
      .join(', ')
    warnings.push(
      `${smallButPresent.length === 1 ? 'Class' : 'Classes'} ${few} ${smallButPresent.length === 1 ? 'has' : 'have'} ` +
        `fewer than ${minPerClass} images. Add more: with so few, validation and test results are guesswork.`,
    )
  }
  if (populated.length >= 2) {
    const largest = populated.reduce((a, b) => (b.count > a.count ? b : a))
    const smallest = populated.reduce((a, b) => (b.count < a.count ? b : a))
    const ratio = largest.count / smallest.count
    if (ratio > 5) {
      warnings.push(
        `The classes are unbalanced: '${largest.name}' has ${largest.count} images but '${smallest.name}' only ` +
          `${smallest.count} (${ratio.toFixed(1)}×). The model will favour the larger class; add images to the ` +
          `smaller one or keep class weights on 'auto'.`,
      )
    }
  }
  if (duplicates.length > 0) {
    const extra = duplicates.reduce((n, d) => n + d.files.length - 1, 0)
    const first = duplicates[0].files
    warnings.push(
      `${plural(extra, 'image is an exact copy', 'images are exact copies')} of another (first: ${first[0]} = ${first[1]}). ` +
        'Tunewise keeps each set of copies on one side of the split, so they cannot inflate the test score, but they count more than once in training; consider excluding them.',
    )
    const cross = duplicates.filter((d) => d.crossClass)
    if (cross.length > 0) {
      warnings.push(
        `${plural(cross.length, 'image appears', 'images appear')} in more than one class (first: ` +
          `${cross[0].files.join(' = ')}). At most one of the labels can be right; move or exclude the wrong copy.`,
      )
    }
    const crossSplit = duplicates.filter((d) => d.crossSplit)
    if (crossSplit.length > 0) {
      warnings.push(
        `${plural(crossSplit.length, 'image appears', 'images appear')} in more than one of train/, val/ and test/ ` +
          `(first: ${crossSplit[0].files.join(' = ')}). Test results will look better than they are; exclude one copy.`,
      )
    }
  }
  if (input.tinyImages.length > 0) {
    warnings.push(
      `${plural(input.tinyImages.length, 'tiny image')} (under 16 pixels on a side) will be stretched to the model's ` +
        `size and carry little detail (first: ${input.tinyImages[0]}).`,
    )
  }
  if (input.problems.length > 0) {
    const first = input.problems[0]
    warnings.push(
      `${plural(input.problems.length, 'file')} could not be used and ${input.problems.length === 1 ? 'was' : 'were'} ` +
        `skipped (first: ${first.file}: ${first.reason})`,
    )
  }

  const widths = files.map((f) => f.width)
  const heights = files.map((f) => f.height)
  // reduce, not Math.min(...xs): spreading 100k+ values overflows the call stack.
  const min = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => Math.min(a, b)) : 0)
  const max = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => Math.max(a, b)) : 0)
  return {
    path: root,
    fingerprint: fingerprint(files),
    total: files.length,
    classes,
    unreadable: input.problems.map(({ file, reason, kind }) => ({ file, reason, kind })),
    problemGroups: groupProblems(input.problems),
    duplicates,
    tinyClasses,
    minPerClass,
    sizes: {
      minWidth: min(widths),
      maxWidth: max(widths),
      minHeight: min(heights),
      maxHeight: max(heights),
      medianWidth: median(widths),
      medianHeight: median(heights),
    },
    givenSplit,
    blockers,
    warnings,
  }
}
