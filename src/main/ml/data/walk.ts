/**
 * The folder walk both dataset scans share (images in data/scan.ts, sound recordings in audio/scan.ts): which
 * classes a folder holds, which files each class has, and which paths were skipped and why. It reads folder
 * listings and link targets only; opening and checking the files is the scan's part.
 *
 * The walk never leaves the chosen folder. Every path it hands back is a real path (links resolved) inside the
 * root: a link that leads outside is reported and not followed (its target is never even stat'ed), each real
 * folder is read once however many links lead to it (so a link to its own parent cannot loop), folders are read
 * `MAX_DEPTH` deep at most, and a file reached twice counts once. Anything that is not a regular file or a
 * folder (a FIFO, a socket, a device) is reported and never handed back, whatever its name. Hidden files
 * (names starting with '.') and OS litter are skipped silently.
 */
import type { Dirent } from 'node:fs'
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import type { UnreadableFile } from '../../../shared/types'
import { AppError } from '../../errors'

export type SplitName = 'train' | 'val' | 'test'

/** Folder names at the top that mean "the split is given". Case-insensitive. */
const SPLIT_FOLDERS: Record<string, SplitName> = {
  train: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  test: 'test',
}
/**
 * Files and folders operating systems and archivers drop into folders; not worth a line in the report.
 * Names starting with '.' (.DS_Store, ._photo.jpg AppleDouble files, .git) are skipped as well.
 */
const SYSTEM_FILES = new Set([
  'thumbs.db',
  'ehthumbs.db',
  'desktop.ini',
  'icon\r',
  '__macosx',
  '$recycle.bin',
  'system volume information',
])
/** Class folders are read this deep at most. Loops are stopped by real path; this bounds a deep tree. */
const MAX_DEPTH = 8

/** The kinds of problem the walk itself reports (the scans add those of files that fail to read or decode). */
export type WalkProblemKind = 'outside-link' | 'not-regular' | 'folder' | 'link-loop' | 'link-repeat'

/** A path that was skipped or noted, and why; `kind` is its row in the scan's `problemGroups`. */
export interface WalkProblem<K extends string = string> extends UnreadableFile {
  kind: K
}

export const OUTSIDE_LINK =
  'It links to a place outside the chosen folder; links to outside the folder are not followed.'
export const NOT_REGULAR = 'Not a regular file (a pipe, socket or device); it was not opened.'
const LINK_LOOP =
  'It links to a folder that is already read (a loop, or a second way to the same folder); it was read once.'

/** What differs between a walk for images and one for recordings. `K`: the scan's own problem kinds. */
export interface WalkRules<K extends string> {
  /** Whether the scan reads a file of this name (by its extension). */
  isDataFile(name: string): boolean
  /** The problem a file of another kind is (judged by its name). */
  otherFile(name: string): { kind: K; reason: string }
  /** The problem a link to a data file is when it cannot be followed (broken, or a circle of links). */
  brokenLink(file: string, error: unknown): WalkProblem<K>
  /** Words for the messages. */
  words: {
    /** One data file: 'image', 'recording' (an 's' makes the plural). */
    one: string
    /** One with its article: 'an image'. */
    a: string
    /** What the folder should hold: 'images'. */
    many: string
    /** The class layout, for files not in class folders: '(for example cats/ and dogs/), each holding images'. */
    layout: string
  }
}

/** A data file the walk found: where to read it, its name in the dataset and its class. */
export interface WalkedFile<K extends string = string> {
  /** Real path (links resolved), always inside the root; the path to open (empty when `failure` is set). */
  abs: string
  /** Path relative to the root, with '/' separators (a link's own name, not its target's). */
  file: string
  label: string
  givenSplit?: SplitName
  /** Reached through a link: when two share a real path, one reached without a link wins. */
  viaLink: boolean
  /** Known to fail before any read (a broken link). */
  failure?: WalkProblem<K>
  /** Position within its class (by name); the scans give the first few thumbnails. */
  index: number
}

/** What a walk found. */
export interface DatasetWalk<K extends string = string> {
  /** The root as given, resolved (links not resolved): the dataset's path and the wording's. */
  root: string
  /** Data files, sorted by `file`, each real file once. */
  files: WalkedFile<K>[]
  /** Every class folder found, even empty ones. */
  classes: Set<string>
  /** Paths skipped or noted (unsorted). */
  problems: WalkProblem<K | WalkProblemKind>[]
  warnings: string[]
  blockers: string[]
  /** The folder had train/, val/ or test/ at the top. */
  givenSplit: boolean
}

/** A folder to read: its real path, and where and under which class it sits in the dataset. */
interface DirTask {
  real: string
  rel: string
  label: string
  givenSplit?: SplitName
  depth: number
}

interface Walk<K extends string> {
  rules: WalkRules<K>
  /** Real path of the root; nothing outside it is ever read. */
  rootReal: string
  /** The root as given (resolved, links not resolved), for wording only. */
  rootAbs: string
  candidates: WalkedFile<K>[]
  classes: Set<string>
  problems: WalkProblem<K | WalkProblemKind>[]
  warnings: string[]
  blockers: string[]
  /** Real paths of folders already read. */
  visited: Set<string>
  /** Folders reached through links, read after the plain tree so a folder's own place wins. */
  linked: DirTask[]
}

/** An entry that exists inside the root: `real` is its real path. */
interface Found {
  name: string
  kind: 'dir' | 'file' | 'other'
  real: string
  viaLink: boolean
}

/** What one directory entry is, with links resolved (and checked to stay inside the root). */
type Entry = Found | { name: string; kind: 'outside' } | { name: string; kind: 'broken'; error: unknown }

function isSkippedSilently(name: string): boolean {
  return name.startsWith('.') || SYSTEM_FILES.has(name.toLowerCase())
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Whether `path` (absolute, normalised) is `root` or below it. */
function isInside(path: string, root: string): boolean {
  if (path === root) return true
  return path.startsWith(root.endsWith(sep) ? root : root + sep)
}

function kindOf(d: { isDirectory(): boolean; isFile(): boolean }): 'dir' | 'file' | 'other' {
  return d.isDirectory() ? 'dir' : d.isFile() ? 'file' : 'other'
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/**
 * Where a link leads, without ever reading outside the root: its real path is computed (which opens
 * nothing) and checked against the root before the target is even stat'ed.
 */
async function resolveLink<K extends string>(path: string, name: string, walk: Walk<K>): Promise<Entry> {
  let real: string
  try {
    real = await realpath(path)
  } catch (error) {
    // Broken, or a circle of links. Word it by where it claims to lead, read from the link itself.
    try {
      const target = resolve(dirname(path), await readlink(path))
      if (!isInside(target, walk.rootReal) && !isInside(target, walk.rootAbs)) return { name, kind: 'outside' }
    } catch {
      // Not readable as a link either: reported as broken below.
    }
    return { name, kind: 'broken', error }
  }
  if (!isInside(real, walk.rootReal)) return { name, kind: 'outside' }
  try {
    // The real path has no links left in it: lstat sees the target itself.
    return { name, kind: kindOf(await lstat(real)), real, viaLink: true }
  } catch (error) {
    return { name, kind: 'broken', error }
  }
}

/** Lists a real folder sorted by name, hidden and system files left out, links resolved. */
async function list<K extends string>(dir: string, walk: Walk<K>): Promise<Entry[]> {
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true })
  const out: Entry[] = []
  for (const e of entries.sort((a, b) => byName(a.name, b.name))) {
    if (isSkippedSilently(e.name)) continue
    const path = join(dir, e.name)
    if (e.isSymbolicLink()) out.push(await resolveLink(path, e.name, walk))
    else out.push({ name: e.name, kind: kindOf(e), real: path, viaLink: false })
  }
  return out
}

function folderFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code
  if (code === 'EACCES' || code === 'EPERM') return 'The folder could not be opened: permission denied. It was skipped.'
  return `The folder could not be read (${code ?? 'unknown error'}). It was skipped.`
}

/**
 * Files an entry of a class folder, or reports why it was not. Folders are returned for the caller to
 * read; those reached through a link wait until the plain tree is read.
 */
function take<K extends string>(e: Entry, task: DirTask, walk: Walk<K>): DirTask | null {
  const file = `${task.rel}/${e.name}`
  const { label, givenSplit } = task
  const { rules } = walk
  if (e.kind === 'outside') {
    walk.problems.push({ file, reason: OUTSIDE_LINK, kind: 'outside-link' })
  } else if (e.kind === 'broken') {
    if (rules.isDataFile(e.name)) {
      const failure = rules.brokenLink(file, e.error)
      walk.candidates.push({ abs: '', file, label, givenSplit, viaLink: true, failure, index: 0 })
    } else {
      walk.problems.push({ file, ...rules.otherFile(e.name) })
    }
  } else if (e.kind === 'dir') {
    if (task.depth + 1 >= MAX_DEPTH) return null
    const child: DirTask = { real: e.real, rel: file, label, givenSplit, depth: task.depth + 1 }
    if (!e.viaLink) return child
    walk.linked.push(child)
  } else if (e.kind === 'other') {
    walk.problems.push({ file, reason: NOT_REGULAR, kind: 'not-regular' })
  } else if (rules.isDataFile(e.name)) {
    walk.candidates.push({ abs: e.real, file, label, givenSplit, viaLink: e.viaLink, index: 0 })
  } else {
    walk.problems.push({ file, ...rules.otherFile(e.name) })
  }
  return null
}

/** Collects the data files of one class folder, including nested sub-folders, each real folder once. */
async function walkClass<K extends string>(task: DirTask, walk: Walk<K>): Promise<void> {
  if (walk.visited.has(task.real)) {
    walk.problems.push({ file: task.rel, reason: LINK_LOOP, kind: 'link-loop' })
    return
  }
  walk.visited.add(task.real)
  let entries: Entry[]
  try {
    entries = await list(task.real, walk)
  } catch (err) {
    walk.problems.push({ file: task.rel, reason: folderFailure(err), kind: 'folder' })
    return
  }
  for (const e of entries) {
    const child = take(e, task, walk)
    if (child) await walkClass(child, walk)
  }
}

/** Reads the folders reached through links, after the plain tree; each may lead to further links. */
async function walkLinked<K extends string>(walk: Walk<K>): Promise<void> {
  for (let i = 0; i < walk.linked.length; i++) await walkClass(walk.linked[i], walk)
}

/**
 * Keeps one candidate per real file: the one reached without a link if there is one, else the first by
 * name. The others are noted, so a link to a file (or a folder of files) never counts it twice.
 */
function dropRepeats<K extends string>(walk: Walk<K>): void {
  const byReal = new Map<string, WalkedFile<K>[]>()
  const kept: WalkedFile<K>[] = []
  for (const c of walk.candidates) {
    if (c.failure) kept.push(c)
    else byReal.set(c.abs, [...(byReal.get(c.abs) ?? []), c])
  }
  for (const group of byReal.values()) {
    group.sort((a, b) => Number(a.viaLink) - Number(b.viaLink) || byName(a.file, b.file))
    kept.push(group[0])
    for (const c of group.slice(1)) {
      walk.problems.push({
        file: c.file,
        reason: `It links to ${walk.rules.words.a} that is already counted (${group[0].file}); it was counted once.`,
        kind: 'link-repeat',
      })
    }
  }
  walk.candidates = kept
}

/**
 * Walks a dataset folder: one sub-folder per class, or train/ val/ (valid/, validation/) test/ at the top each
 * holding class sub-folders; nested folders inside a class belong to it. Reads no file's content. Files at the
 * top (or directly in a split folder) belong to no class: a warning, or a blocker when there are no classes.
 * @throws AppError('bad_data') when `root` is missing, not a folder, or cannot be listed.
 */
export async function walkDataset<K extends string>(root: string, rules: WalkRules<K>): Promise<DatasetWalk<K>> {
  const rootAbs = resolve(root)
  let rootStat
  let rootReal: string
  try {
    rootStat = await stat(rootAbs)
    rootReal = await realpath(rootAbs)
  } catch {
    throw new AppError(
      'bad_data',
      `The folder ${rootAbs} does not exist. Choose the folder that holds your ${rules.words.many}.`,
    )
  }
  if (!rootStat.isDirectory()) {
    throw new AppError(
      'bad_data',
      `${rootAbs} is a file, not a folder. Choose the folder that holds your class sub-folders.`,
    )
  }

  const walk: Walk<K> = {
    rules,
    rootReal,
    rootAbs,
    candidates: [],
    classes: new Set(),
    problems: [],
    warnings: [],
    blockers: [],
    visited: new Set([rootReal]),
    linked: [],
  }
  const { words } = rules
  let top: Entry[]
  try {
    top = await list(rootReal, walk)
  } catch (err) {
    throw new AppError(
      'bad_data',
      `The folder ${rootAbs} could not be opened. ${folderFailure(err).replace(' It was skipped.', '')}`,
    )
  }
  const dirs = top.filter((e): e is Found => e.kind === 'dir')
  for (const e of top) {
    if (e.kind === 'outside') walk.problems.push({ file: e.name, reason: OUTSIDE_LINK, kind: 'outside-link' })
  }
  const splitDirs = dirs.filter((e) => SPLIT_FOLDERS[e.name.toLowerCase()] !== undefined)
  const givenSplit = splitDirs.length > 0
  // A broken link at the top counts as a loose file, as it would have been one.
  const loose = top.filter((e) => (e.kind === 'file' || e.kind === 'broken') && rules.isDataFile(e.name))
  const atTop = (e: Found, label: string, split?: SplitName): DirTask => ({
    real: e.real,
    rel: e.name,
    label,
    givenSplit: split,
    depth: 0,
  })

  if (givenSplit) {
    const others = dirs.filter((e) => !splitDirs.includes(e))
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
      if (walk.visited.has(dir.real)) {
        walk.problems.push({ file: dir.name, reason: LINK_LOOP, kind: 'link-loop' })
        continue
      }
      walk.visited.add(dir.real)
      let inner: Entry[]
      try {
        inner = await list(dir.real, walk)
      } catch (err) {
        walk.problems.push({ file: dir.name, reason: folderFailure(err), kind: 'folder' })
        continue
      }
      for (const e of inner) {
        if (e.kind === 'outside') {
          walk.problems.push({ file: `${dir.name}/${e.name}`, reason: OUTSIDE_LINK, kind: 'outside-link' })
        }
      }
      const stray = inner.filter((e) => e.kind !== 'dir' && e.kind !== 'outside' && rules.isDataFile(e.name))
      if (stray.length > 0) {
        walk.warnings.push(
          `${plural(stray.length, words.one)} directly inside ${dir.name}/ ${stray.length === 1 ? 'was' : 'were'} ignored ` +
            `(first: ${stray[0].name}): they belong to no class. Move them into a class sub-folder of ${dir.name}/.`,
        )
      }
      for (const cls of inner) {
        if (cls.kind !== 'dir') continue
        walk.classes.add(cls.name)
        const task = { ...atTop(cls, cls.name, split), rel: `${dir.name}/${cls.name}` }
        if (cls.viaLink) walk.linked.push(task)
        else await walkClass(task, walk)
      }
    }
  } else {
    for (const cls of dirs) {
      walk.classes.add(cls.name)
      if (cls.viaLink) walk.linked.push(atTop(cls, cls.name))
      else await walkClass(atTop(cls, cls.name), walk)
    }
  }
  await walkLinked(walk)
  dropRepeats(walk)

  if (loose.length > 0 && walk.classes.size === 0) {
    walk.blockers.push(
      `The ${words.many} in ${rootAbs} are not in class sub-folders. Tunewise expects one sub-folder per class ` +
        `${words.layout}.`,
    )
  } else if (loose.length > 0) {
    walk.warnings.push(
      `${plural(loose.length, words.one)} at the top of the folder ${loose.length === 1 ? 'was' : 'were'} ` +
        `ignored (first: ${loose[0].name}): they belong to no class. Move them into a class sub-folder.`,
    )
  }

  // Thumbnails go to the first files of each class by name, so they are the same on every scan.
  const perClass = new Map<string, number>()
  walk.candidates.sort((a, b) => byName(a.file, b.file))
  for (const c of walk.candidates) {
    c.index = perClass.get(c.label) ?? 0
    perClass.set(c.label, c.index + 1)
  }
  return {
    root: rootAbs,
    files: walk.candidates,
    classes: walk.classes,
    problems: walk.problems,
    warnings: walk.warnings,
    blockers: walk.blockers,
    givenSplit,
  }
}
