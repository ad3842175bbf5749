/**
 * Reads an image folder into a dataset: which classes, which files, which files cannot be used and why,
 * and what could hurt training (one class, empty classes, imbalance, duplicates). A bad file never makes
 * the scan fail; only a missing root folder does.
 */
import { createHash } from 'node:crypto'
import type { Dirent } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { ClassReport, DatasetReport, UnreadableFile } from '../../../shared/types'
import { AppError } from '../../errors'
import { hashBuffer, ImageDecodeError, probeImageBuffer, readFailure } from './decode'
import { thumbnailFromBuffer } from './thumbnail'

export type SplitName = 'train' | 'val' | 'test'

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
}

export type ScanReport = Omit<DatasetReport, 'id' | 'createdAt' | 'excludedFiles' | 'excludedClasses'>

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
/** Folder names at the top that mean "the split is given". Case-insensitive. */
const SPLIT_FOLDERS: Record<string, SplitName> = {
  train: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  test: 'test',
}
/** Files operating systems drop into folders; not worth a line in the report. */
const SYSTEM_FILES = new Set(['thumbs.db', 'desktop.ini', 'icon\r'])
/** Class folders are read this deep at most, which also stops symlink loops. */
const MAX_DEPTH = 8
/** Files above this size are refused before being read into memory (bytes). */
const MAX_FILE_BYTES = 512 * 1024 * 1024
const THUMBNAIL_CAP = 12

interface Candidate {
  abs: string
  file: string
  label: string
  givenSplit?: SplitName
  /** Position within its class (by name); the first few get thumbnails. */
  index: number
}

interface Walk {
  candidates: Candidate[]
  /** Every class folder found, even empty ones. */
  classes: Set<string>
  unreadable: UnreadableFile[]
  warnings: string[]
  blockers: string[]
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot).toLowerCase() : ''
}

function isSkippedSilently(name: string): boolean {
  return name.startsWith('.') || SYSTEM_FILES.has(name.toLowerCase())
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Lists a folder sorted by name, with symlinks resolved to what they point at. */
async function list(dir: string): Promise<{ name: string; isDir: boolean; isFile: boolean }[]> {
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true })
  const out: { name: string; isDir: boolean; isFile: boolean }[] = []
  for (const e of entries) {
    if (e.isSymbolicLink()) {
      try {
        const s = await stat(join(dir, e.name))
        out.push({ name: e.name, isDir: s.isDirectory(), isFile: s.isFile() })
      } catch {
        out.push({ name: e.name, isDir: false, isFile: true }) // a broken link: reported when it fails to read
      }
    } else {
      out.push({ name: e.name, isDir: e.isDirectory(), isFile: e.isFile() })
    }
  }
  return out.sort((a, b) => byName(a.name, b.name))
}

function folderFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code
  if (code === 'EACCES' || code === 'EPERM') return 'The folder could not be opened: permission denied. It was skipped.'
  return `The folder could not be read (${code ?? 'unknown error'}). It was skipped.`
}

/** Collects the images of one class folder, including nested sub-folders. */
async function walkClass(
  abs: string,
  rel: string,
  label: string,
  givenSplit: SplitName | undefined,
  walk: Walk,
  depth = 0,
): Promise<void> {
  let entries: Awaited<ReturnType<typeof list>>
  try {
    entries = await list(abs)
  } catch (err) {
    walk.unreadable.push({ file: rel, reason: folderFailure(err) })
    return
  }
  for (const e of entries) {
    if (isSkippedSilently(e.name)) continue
    const childAbs = join(abs, e.name)
    const childRel = `${rel}/${e.name}`
    if (e.isDir) {
      if (depth + 1 < MAX_DEPTH) await walkClass(childAbs, childRel, label, givenSplit, walk, depth + 1)
    } else if (IMAGE_EXTENSIONS.has(extension(e.name))) {
      walk.candidates.push({ abs: childAbs, file: childRel, label, givenSplit, index: 0 })
    } else if (e.isFile) {
      walk.unreadable.push({ file: childRel, reason: `Not an image file (${e.name}); it was skipped.` })
    }
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** Finds classes (and a given split) under `root`, without reading any image yet. */
async function walkRoot(root: string): Promise<Walk & { givenSplit: boolean }> {
  const walk: Walk = { candidates: [], classes: new Set(), unreadable: [], warnings: [], blockers: [] }
  let top: Awaited<ReturnType<typeof list>>
  try {
    top = (await list(root)).filter((e) => !isSkippedSilently(e.name))
  } catch (err) {
    throw new AppError(
      'bad_data',
      `The folder ${root} could not be opened. ${folderFailure(err).replace(' It was skipped.', '')}`,
    )
  }
  const splitDirs = top.filter((e) => e.isDir && SPLIT_FOLDERS[e.name.toLowerCase()] !== undefined)
  const givenSplit = splitDirs.length > 0
  const looseFiles = top.filter((e) => !e.isDir)
  const looseImages = looseFiles.filter((e) => IMAGE_EXTENSIONS.has(extension(e.name)))

  if (givenSplit) {
    const others = top.filter((e) => e.isDir && !splitDirs.includes(e))
    if (others.length > 0) {
      walk.warnings.push(
        `${plural(others.length, 'folder')} next to the split folders ${others.length === 1 ? 'was' : 'were'} ignored ` +
          `(first: ${others[0].name}/). With train/, val/ and test/ at the top, only those are read.`,
      )
    }
    const seen = new Map<SplitName, string>()
    for (const dir of splitDirs) {
      const split = SPLIT_FOLDERS[dir.name.toLowerCase()]
      if (seen.has(split)) {
        walk.warnings.push(`Both ${seen.get(split)}/ and ${dir.name}/ were found; both are read as the ${split} split.`)
      }
      seen.set(split, dir.name)
      let inner: Awaited<ReturnType<typeof list>>
      try {
        inner = (await list(join(root, dir.name))).filter((e) => !isSkippedSilently(e.name))
      } catch (err) {
        walk.unreadable.push({ file: dir.name, reason: folderFailure(err) })
        continue
      }
      const stray = inner.filter((e) => !e.isDir && IMAGE_EXTENSIONS.has(extension(e.name)))
      if (stray.length > 0) {
        walk.warnings.push(
          `${plural(stray.length, 'image')} directly inside ${dir.name}/ ${stray.length === 1 ? 'was' : 'were'} ignored ` +
            `(first: ${stray[0].name}): they belong to no class. Move them into a class sub-folder of ${dir.name}/.`,
        )
      }
      for (const cls of inner.filter((e) => e.isDir)) {
        walk.classes.add(cls.name)
        await walkClass(join(root, dir.name, cls.name), `${dir.name}/${cls.name}`, cls.name, split, walk)
      }
    }
  } else {
    for (const cls of top.filter((e) => e.isDir)) {
      walk.classes.add(cls.name)
      await walkClass(join(root, cls.name), cls.name, cls.name, undefined, walk)
    }
  }

  if (looseImages.length > 0 && walk.classes.size === 0) {
    walk.blockers.push(
      `The images in ${root} are not in class sub-folders. Tunewise expects one sub-folder per class ` +
        '(for example cats/ and dogs/), each holding images.',
    )
  } else if (looseImages.length > 0) {
    walk.warnings.push(
      `${plural(looseImages.length, 'image')} at the top of the folder ${looseImages.length === 1 ? 'was' : 'were'} ` +
        `ignored (first: ${looseImages[0].name}): they belong to no class. Move them into a class sub-folder.`,
    )
  }

  // Thumbnails go to the first files of each class by name, so they are the same on every scan.
  const perClass = new Map<string, number>()
  walk.candidates.sort((a, b) => byName(a.file, b.file))
  for (const c of walk.candidates) {
    c.index = perClass.get(c.label) ?? 0
    perClass.set(c.label, c.index + 1)
  }
  return { ...walk, givenSplit }
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++])
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker))
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
 * class sub-folders. Every image is read once, hashed (SHA-256) and decoded small to prove it is usable;
 * pixels are not kept. Hidden files are skipped silently; other non-images in class folders are listed as
 * unreadable. Never throws for a bad file.
 * @throws AppError('bad_data') when `root` is missing or not a folder.
 */
export async function scanDataset(root: string, opts: ScanOptions = {}): Promise<DatasetScan> {
  const thumbsPerClass = Math.max(0, Math.min(THUMBNAIL_CAP, opts.thumbnails ?? 8))
  const minPerClass = opts.minPerClass ?? 5
  const concurrency = opts.concurrency ?? 4
  const absRoot = resolve(root)
  let rootStat
  try {
    rootStat = await stat(absRoot)
  } catch {
    throw new AppError('bad_data', `The folder ${absRoot} does not exist. Choose the folder that holds your images.`)
  }
  if (!rootStat.isDirectory()) {
    throw new AppError(
      'bad_data',
      `${absRoot} is a file, not a folder. Choose the folder that holds your class sub-folders.`,
    )
  }

  const walk = await walkRoot(absRoot)
  const files: ScannedFile[] = []
  const thumbnails = new Map<string, { file: string; dataUrl: string; index: number }[]>()
  const tinyImages: string[] = []
  const total = walk.candidates.length
  let done = 0
  opts.onProgress?.(0, total)

  await pool(walk.candidates, concurrency, async (c) => {
    try {
      const info = await stat(c.abs)
      if (info.size > MAX_FILE_BYTES) {
        throw new ImageDecodeError(
          `The file is too large (${Math.round(info.size / 1024 / 1024)} MB). Save a smaller copy and use that instead.`,
        )
      }
      const buf = await readFile(c.abs)
      const probe = await probeImageBuffer(buf)
      const entry: ScannedFile = {
        file: c.file,
        label: c.label,
        hash: hashBuffer(buf),
        width: probe.width,
        height: probe.height,
      }
      if (c.givenSplit) entry.givenSplit = c.givenSplit
      files.push(entry)
      if (probe.warnings.length > 0) tinyImages.push(c.file)
      if (c.index < thumbsPerClass) {
        const dataUrl = await thumbnailFromBuffer(buf)
        if (dataUrl) {
          const list = thumbnails.get(c.label) ?? []
          list.push({ file: c.file, dataUrl, index: c.index })
          thumbnails.set(c.label, list)
        }
      }
    } catch (err) {
      const reason = err instanceof ImageDecodeError ? err.reason : readFailure(c.abs, err).reason
      walk.unreadable.push({ file: c.file, reason })
    }
    done++
    opts.onProgress?.(done, total)
  })

  files.sort((a, b) => byName(a.file, b.file))
  walk.unreadable.sort((a, b) => byName(a.file, b.file))
  const report = buildReport({
    root: absRoot,
    files,
    classNames: [...walk.classes],
    unreadable: walk.unreadable,
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
  unreadable: UnreadableFile[]
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
        'Copies make accuracy look better than it is; consider excluding them.',
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
  if (input.unreadable.length > 0) {
    const first = input.unreadable[0]
    warnings.push(
      `${plural(input.unreadable.length, 'file')} could not be used and ${input.unreadable.length === 1 ? 'was' : 'were'} ` +
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
    unreadable: input.unreadable,
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
