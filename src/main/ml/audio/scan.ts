/**
 * Reads a folder of sound recordings into a dataset: one sub-folder per class (or train/ val/ test/ at the top,
 * each holding class sub-folders), the same layout as for images. Reports clips per class, durations, sample
 * rates, silent and clipped files, files that cannot be used (grouped by reason, each group with what to do),
 * exact copies, and each file's content hash. A bad file never makes the scan fail; only a missing root does.
 *
 * The folder walk is the image scan's (`walkDataset`, src/main/ml/data/walk.ts), with its safety rules: every
 * path read is a real path inside the root (a link that leads outside is reported and not followed), each real
 * folder is read once however many links lead to it, a file reached twice counts once, hidden files and OS
 * litter are skipped, and anything that is not a regular file is reported, not opened. Files are then opened
 * with O_NONBLOCK and O_NOFOLLOW (`readSoundFile`), so a FIFO named `x.wav` cannot block the scan.
 */
import sharp from 'sharp'
import type { ProblemGroup, SplitRatios, UnreadableFile } from '../../../shared/types'
import { AppError } from '../../errors'
import { hashBuffer } from '../data/decode'
import { fingerprint } from '../data/scan'
import { NOT_REGULAR, type SplitName, walkDataset, type WalkRules } from '../data/walk'
import { type SplitInput, type SplitOptions, type SplitResult, splitDataset } from '../data/split'
import { type ClipSettings, DEFAULT_CLIP_SETTINGS, SILENT_PEAK, windowCount, windowIds } from './clips'
import {
  AUDIO_EXTENSIONS,
  AudioDecodeError,
  type AudioFormat,
  type DecodeOptions,
  type DecodedAudio,
  decodeAudio,
  NotRegularFileError,
  readSoundFile,
  SUPPORTED_AUDIO,
} from './decode'
import { resample } from './resample'
import {
  logMelSpectrogram,
  normalizeSpectrogram,
  resolveSpectrogramSettings,
  type SpectrogramSettings,
  spectrogramToImage,
} from './spectrogram'

export interface ScannedAudioFile {
  /** Path relative to the dataset root, with '/' separators. */
  file: string
  label: string
  /** SHA-256 of the bytes, hex. */
  hash: string
  format: AudioFormat
  /** The file's own rate, Hz (clips are resampled from it). */
  sampleRate: number
  channels: number
  /** Samples per channel at the file's rate. */
  frames: number
  /** Seconds. */
  duration: number
  /** Clips (windows) this file gives at the scan's clip settings; their ids come from `windowIds`. */
  windows: number
  /** Loudest sample, dBFS (0 is full scale). −Infinity for digital silence. */
  peakDb: number
  /** Average loudness of the mono mix, dBFS. */
  rmsDb: number
  /** Nothing above −60 dBFS. */
  silent: boolean
  /** More than 0.1 % of samples stuck at full scale: the recording was too loud and is distorted. */
  clipped: boolean
  /** Plain notes from decoding (cut short, damaged parts skipped). */
  notes?: string[]
  /** Set when the folder had train/ val/ test/ at the top. */
  givenSplit?: SplitName
}

/** What splitting and blocking need of a recording: what a dataset's stored file list keeps of each. */
export type AudioFileRef = Pick<ScannedAudioFile, 'file' | 'label' | 'hash' | 'frames' | 'sampleRate' | 'givenSplit'>

export interface AudioClassReport {
  name: string
  /** Readable sound files. */
  count: number
  /** Clips the files give at the scan's clip settings. */
  windows: number
  /** Seconds of sound. */
  seconds: number
  /** Spectrograms (PNG data URLs, grey, low pitch at the bottom) of the first clip of the first files by name. */
  thumbnails: { file: string; dataUrl: string }[]
  /** For datasets with a given split: files per split. */
  given?: { train: number; val: number; test: number }
}

export interface AudioScanReport {
  kind: 'audio'
  path: string
  /** Over the sorted (file, hash, label) triples, as for images. */
  fingerprint: string
  /** Readable sound files. */
  total: number
  /** Clips over all files. */
  windows: number
  classes: AudioClassReport[]
  unreadable: UnreadableFile[]
  problemGroups: ProblemGroup[]
  /** Files with identical content. crossSplit: with a given split, the copies sit in different splits. */
  duplicates: { hash: string; files: string[]; crossClass: boolean; crossSplit?: boolean }[]
  /** Classes with fewer files than `minPerClass`. */
  tinyClasses: string[]
  minPerClass: number
  /** Seconds per file: shortest, longest, median, and all files together. */
  durations: { min: number; max: number; median: number; total: number }
  /** Files per sample rate (Hz), lowest rate first. */
  sampleRates: { rate: number; count: number }[]
  /** Files per format. */
  formats: { format: AudioFormat; count: number }[]
  /** Files with nothing above −60 dBFS, by name. */
  silent: string[]
  /** Files distorted by clipping, by name. */
  clipped: string[]
  /** The clip settings the window counts were made with. */
  clip: { sampleRate: number; clipSeconds: number; hopSeconds: number }
  givenSplit: boolean
  blockers: string[]
  warnings: string[]
}

export interface AudioDatasetScan {
  report: AudioScanReport
  /** Readable sound files only, sorted by `file`. */
  files: ScannedAudioFile[]
}

export interface AudioScanOptions {
  /** Called after each file is read: `done` of `total` files. */
  onProgress?: (done: number, total: number) => void
  /** Spectrogram thumbnails per class. Default 8, at most 12. */
  thumbnails?: number
  /** Classes with fewer files are reported as tiny. Default 5. */
  minPerClass?: number
  /** Files read and decoded at once. Default 4. */
  concurrency?: number
  /** A file that takes longer than this to read (not decode) is reported and skipped. Default 10 s. */
  fileTimeoutMs?: number
  /** Polled before each file; true stops the scan with AppError('cancelled'). */
  shouldStop?: () => boolean
  /** How files are cut into clips (for the window counts and thumbnails). Default 16 kHz, 1 s, no overlap. */
  clip?: Partial<ClipSettings>
  /** Longest file accepted, seconds. Default 600. */
  maxSeconds?: number
  /** Spectrogram settings for the thumbnails. Defaults as `DEFAULT_SPECTROGRAM`. */
  spectrogram?: Partial<SpectrogramSettings>
}

const THUMBNAIL_CAP = 12
const THUMBNAIL_SIZE = [64, 96] as const
const GROUP_EXAMPLES = 5
/** Share of samples in full-scale runs above which a file is reported as clipped. */
const CLIPPED_SHARE = 0.001

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
  | 'not-audio'
  | 'link-loop'
  | 'link-repeat'

/** One row per kind, in this order: the ones that need the user first, the harmless notes last. */
const PROBLEM_KINDS: Record<ProblemKind, { reason: string; action: string }> = {
  'outside-link': {
    reason: 'Links to outside the folder are not followed',
    action: 'Copy the linked recordings into the folder if they should be used.',
  },
  'not-regular': {
    reason: 'Not a regular file (a pipe, socket or device); it was not opened',
    action: 'Remove it from the folder: it cannot hold a recording.',
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
    reason: 'Empty file, or a file that holds no sound',
    action: 'Copy the file again from where it came from, or exclude it.',
  },
  'too-large': {
    reason: 'Recording too long (over the length limit) or file over 512 MB',
    action: 'Cut it into shorter files and use those instead.',
  },
  unsupported: {
    reason: `Not a supported sound file (${SUPPORTED_AUDIO})`,
    action: 'Convert it to WAV or FLAC, or exclude it.',
  },
  damaged: {
    reason: 'Damaged sound file',
    action: 'Play it in a media player; save or copy it again, or exclude it.',
  },
  'not-audio': {
    reason: 'Not a sound file (by its name); skipped',
    action: 'Nothing to do. Move such files out of the class folders to silence this.',
  },
  'link-loop': {
    reason: 'Link to a folder that is already read (a loop or a second way in); read once',
    action: 'Nothing to do: each folder counts once. Remove the link to silence this.',
  },
  'link-repeat': {
    reason: 'Link to a recording that is already counted; counted once',
    action: 'Nothing to do: each recording counts once. Remove the extra link to silence this.',
  },
}

interface Problem extends UnreadableFile {
  kind: ProblemKind
}

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

export function isAudioName(name: string): boolean {
  return AUDIO_EXTENSIONS.has(extension(name))
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

function failureOf(file: string, err: unknown): Problem {
  if (err instanceof SkippedFile) return { file, reason: err.reason, kind: err.kind }
  if (err instanceof NotRegularFileError) return { file, reason: NOT_REGULAR, kind: 'not-regular' }
  if (err instanceof AudioDecodeError) return { file, reason: err.message, kind: err.kind }
  const code = (err as NodeJS.ErrnoException | null)?.code
  const name = file.split('/').pop() ?? file
  if (code === 'ENOENT' || code === 'ELOOP') {
    return { file, reason: `The file ${name} could not be found; it may have been moved or deleted.`, kind: 'missing' }
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return {
      file,
      reason: `The file ${name} could not be opened: permission denied. Check its sharing settings.`,
      kind: 'permission',
    }
  }
  return { file, reason: `The file ${name} could not be read (${code ?? 'unknown error'}).`, kind: 'read-error' }
}

/** The folder walk for recordings: which files are read, and the words for what it reports. */
const SOUND_WALK: WalkRules<ProblemKind> = {
  isDataFile: isAudioName,
  otherFile: (name) => ({ reason: `Not a sound file (${name}); it was skipped.`, kind: 'not-audio' }),
  brokenLink: failureOf,
  words: {
    one: 'recording',
    a: 'a recording',
    many: 'recordings',
    layout: '(for example yes/ and no/), each holding sound files',
  },
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(
      () =>
        fail(
          new SkippedFile(
            `Reading it took longer than ${Math.round(ms / 1000)} s (is it on a slow network drive?). Copy the folder to this computer and scan again.`,
            'read-error',
          ),
        ),
      ms,
    )
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

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

const toDb = (x: number): number => (x > 0 ? 20 * Math.log10(x) : -Infinity)

/**
 * A grey PNG data URL of the spectrogram of the first clip of `audio`, as the model sees it, or null if it
 * cannot be made. Only the first clip is resampled.
 */
export async function spectrogramThumbnail(
  audio: Pick<DecodedAudio, 'samples' | 'sampleRate'>,
  clip: Partial<ClipSettings> = {},
  settings: Partial<SpectrogramSettings> = {},
  size: readonly [number, number] = THUMBNAIL_SIZE,
): Promise<string | null> {
  try {
    const rate = clip.sampleRate ?? DEFAULT_CLIP_SETTINGS.sampleRate
    const seconds = clip.clipSeconds ?? DEFAULT_CLIP_SETTINGS.clipSeconds
    // A little past the clip, so the resampling filter has real sound to its right at the clip's end.
    const head = audio.samples.subarray(0, Math.ceil((seconds + 0.05) * audio.sampleRate))
    const mono = resample(head, audio.sampleRate, rate).subarray(0, Math.round(seconds * rate))
    const padded = new Float32Array(Math.round(seconds * rate))
    padded.set(mono)
    const s = resolveSpectrogramSettings({ ...settings, sampleRate: rate })
    const rgb = spectrogramToImage(normalizeSpectrogram(logMelSpectrogram(padded, s), s.topDb), size)
    const [height, width] = size
    const grey = Buffer.alloc(height * width)
    for (let i = 0; i < grey.length; i++) grey[i] = rgb[i * 3]
    const png = await sharp(grey, { raw: { width, height, channels: 1 } })
      .png()
      .toBuffer()
    return `data:image/png;base64,${png.toString('base64')}`
  } catch {
    return null
  }
}

/**
 * Scans `root` for sound files: one sub-folder per class, or train/ val/ (validation/) test/ at the top each
 * holding class sub-folders. Every file is read once, hashed (SHA-256) and decoded in full to prove it is
 * usable and to measure it; samples are not kept. Never throws for a bad file.
 * @throws AppError('bad_data') when `root` is missing or not a folder; AppError('cancelled') when stopped.
 */
export async function scanAudioDataset(root: string, opts: AudioScanOptions = {}): Promise<AudioDatasetScan> {
  const thumbsPerClass = Math.max(0, Math.min(THUMBNAIL_CAP, opts.thumbnails ?? 8))
  const minPerClass = opts.minPerClass ?? 5
  const concurrency = opts.concurrency ?? 4
  const clip = { ...DEFAULT_CLIP_SETTINGS, ...opts.clip }
  const decodeOptions: DecodeOptions = { maxSeconds: opts.maxSeconds }
  const walk = await walkDataset(root, SOUND_WALK)
  const absRoot = walk.root
  const problems: Problem[] = walk.problems
  const files: ScannedAudioFile[] = []
  const thumbnails = new Map<string, { file: string; dataUrl: string; index: number }[]>()
  const total = walk.files.length
  let done = 0
  opts.onProgress?.(0, total)
  const fileTimeoutMs = opts.fileTimeoutMs ?? 10_000

  await pool(walk.files, concurrency, async (c) => {
    if (opts.shouldStop?.()) throw new AppError('cancelled', 'The scan was cancelled.')
    try {
      if (c.failure) throw new SkippedFile(c.failure.reason, c.failure.kind)
      const buf = await withTimeout(readSoundFile(c.abs), fileTimeoutMs)
      const audio = await decodeAudio(buf, decodeOptions)
      const frames = audio.samples.length
      const entry: ScannedAudioFile = {
        file: c.file,
        label: c.label,
        hash: hashBuffer(buf),
        format: audio.format,
        sampleRate: audio.sampleRate,
        channels: audio.channels,
        frames,
        duration: audio.duration,
        windows: windowCount(frames, audio.sampleRate, clip),
        peakDb: toDb(audio.levels.peak),
        rmsDb: toDb(audio.levels.rms),
        silent: audio.levels.peak < SILENT_PEAK,
        clipped: audio.levels.clippedFraction > CLIPPED_SHARE,
      }
      if (audio.notes.length > 0) entry.notes = audio.notes
      if (c.givenSplit) entry.givenSplit = c.givenSplit
      files.push(entry)
      if (c.index < thumbsPerClass) {
        const dataUrl = await spectrogramThumbnail(audio, clip, opts.spectrogram)
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
    blockers: walk.blockers,
    warnings: walk.warnings,
    clip: {
      sampleRate: clip.sampleRate,
      clipSeconds: clip.clipSeconds,
      hopSeconds: clip.hopSeconds ?? clip.clipSeconds,
    },
  })
  return { report, files }
}

/**
 * The problems that stop training, from the class folders and readable files. Call it again after the user
 * excludes files or classes.
 */
export function audioDatasetBlockers(args: {
  root: string
  classNames: readonly string[]
  files: readonly Pick<AudioFileRef, 'file' | 'label' | 'givenSplit'>[]
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
        ? `No recordings found in ${args.root}. Tunewise expects one sub-folder per class, each holding sound files.`
        : `No readable recordings found in ${args.root}. Tunewise expects one sub-folder per class, each holding ` +
            `${SUPPORTED_AUDIO} files.`,
    )
    return blockers
  }
  const populated = names.filter((n) => count.get(n)!.all > 0)
  for (const n of names) {
    if (count.get(n)!.all === 0) {
      blockers.push(
        `Class '${n}' has no readable recordings. Add sound files to its folder, or remove or exclude the class.`,
      )
    }
  }
  if (populated.length === 1) {
    blockers.push(
      `Only one class ('${populated[0]}') was found. Add a second sub-folder with recordings of another class.`,
    )
  }
  if (args.givenSplit) {
    for (const n of populated) {
      if (count.get(n)!.train === 0) {
        blockers.push(
          `Class '${n}' has no recordings in train/, so the model cannot learn it. Add some to train/${n}/, or exclude the class.`,
        )
      }
    }
  }
  return blockers
}

interface ReportInput {
  root: string
  files: ScannedAudioFile[]
  classNames: string[]
  problems: Problem[]
  thumbnails: Map<string, { file: string; dataUrl: string; index: number }[]>
  givenSplit: boolean
  minPerClass: number
  blockers: string[]
  warnings: string[]
  clip: AudioScanReport['clip']
}

function median(values: number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function tally<K>(items: readonly K[]): Map<K, number> {
  const out = new Map<K, number>()
  for (const k of items) out.set(k, (out.get(k) ?? 0) + 1)
  return out
}

function buildReport(input: ReportInput): AudioScanReport {
  const { root, files, givenSplit, minPerClass } = input
  const blockers = [...input.blockers]
  const warnings = [...input.warnings]

  const empty = (): { count: number; windows: number; seconds: number; given: Record<SplitName, number> } => ({
    count: 0,
    windows: 0,
    seconds: 0,
    given: { train: 0, val: 0, test: 0 },
  })
  const counts = new Map(input.classNames.map((name) => [name, empty()]))
  for (const f of files) {
    const c = counts.get(f.label) ?? empty()
    c.count++
    c.windows += f.windows
    c.seconds += f.duration
    if (f.givenSplit) c.given[f.givenSplit]++
    counts.set(f.label, c)
  }
  const names = [...counts.keys()].sort(byName)
  const classes: AudioClassReport[] = names.map((name) => {
    const c = counts.get(name)!
    const thumbs = (input.thumbnails.get(name) ?? []).sort((a, b) => a.index - b.index)
    const report: AudioClassReport = {
      name,
      count: c.count,
      windows: c.windows,
      seconds: Math.round(c.seconds * 1000) / 1000,
      thumbnails: thumbs.map(({ file, dataUrl }) => ({ file, dataUrl })),
    }
    if (givenSplit) report.given = c.given
    return report
  })

  const byHash = new Map<string, ScannedAudioFile[]>()
  for (const f of files) byHash.set(f.hash, [...(byHash.get(f.hash) ?? []), f])
  const duplicates: AudioScanReport['duplicates'] = []
  for (const [hash, group] of byHash) {
    if (group.length < 2) continue
    const entry: AudioScanReport['duplicates'][number] = {
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
  const found = audioDatasetBlockers({ root, classNames: names, files, givenSplit })
  blockers.push(...(blockers.length > 0 && files.length === 0 ? [] : found))

  const smallButPresent = populated.filter((c) => c.count < minPerClass)
  if (smallButPresent.length > 0) {
    const few = smallButPresent
      .map((c) => `'${c.name}' (${c.count})`)
      .slice(0, 5)
      .join(', ')
    warnings.push(
      `${smallButPresent.length === 1 ? 'Class' : 'Classes'} ${few} ${smallButPresent.length === 1 ? 'has' : 'have'} ` +
        `fewer than ${minPerClass} recordings. Add more: with so few, validation and test results are guesswork.`,
    )
  }
  if (populated.length >= 2) {
    const largest = populated.reduce((a, b) => (b.windows > a.windows ? b : a))
    const smallest = populated.reduce((a, b) => (b.windows < a.windows ? b : a))
    const ratio = largest.windows / Math.max(1, smallest.windows)
    if (ratio > 5) {
      warnings.push(
        `The classes are unbalanced: '${largest.name}' gives ${largest.windows} clips but '${smallest.name}' only ` +
          `${smallest.windows} (${ratio.toFixed(1)}×). The model will favour the larger class; add recordings to the ` +
          `smaller one or keep class weights on 'auto'.`,
      )
    }
  }
  if (duplicates.length > 0) {
    const extra = duplicates.reduce((n, d) => n + d.files.length - 1, 0)
    const first = duplicates[0].files
    warnings.push(
      `${plural(extra, 'recording is an exact copy', 'recordings are exact copies')} of another (first: ${first[0]} = ${first[1]}). ` +
        'Tunewise keeps each set of copies on one side of the split, but they count more than once in training; consider excluding them.',
    )
    const cross = duplicates.filter((d) => d.crossClass)
    if (cross.length > 0) {
      warnings.push(
        `${plural(cross.length, 'recording appears', 'recordings appear')} in more than one class (first: ` +
          `${cross[0].files.join(' = ')}). At most one of the labels can be right; move or exclude the wrong copy.`,
      )
    }
    const crossSplit = duplicates.filter((d) => d.crossSplit)
    if (crossSplit.length > 0) {
      warnings.push(
        `${plural(crossSplit.length, 'recording appears', 'recordings appear')} in more than one of train/, val/ and test/ ` +
          `(first: ${crossSplit[0].files.join(' = ')}). Test results will look better than they are; exclude one copy.`,
      )
    }
  }
  const silent = files.filter((f) => f.silent).map((f) => f.file)
  if (silent.length > 0) {
    warnings.push(
      `${plural(silent.length, 'recording is', 'recordings are')} silent (nothing above −60 dB; first: ${silent[0]}). ` +
        'Listen to them: a silent clip teaches the model nothing about its class. Exclude them or record again.',
    )
  }
  const clipped = files.filter((f) => f.clipped).map((f) => f.file)
  if (clipped.length > 0) {
    warnings.push(
      `${plural(clipped.length, 'recording is', 'recordings are')} distorted by clipping (recorded too loud; first: ` +
        `${clipped[0]}). The model may learn the distortion; record again at a lower level if you can.`,
    )
  }
  const rates = tally(files.map((f) => f.sampleRate))
  if (rates.size > 1) {
    warnings.push(
      `The recordings use ${rates.size} different sample rates (${[...rates.keys()]
        .sort((a, b) => a - b)
        .map((r) => `${r} Hz`)
        .join(', ')}). All are converted to ${input.clip.sampleRate} Hz; if one class was recorded differently ` +
        'from the others, the model may learn the recording rather than the sound.',
    )
  }
  const lowRate = files.filter((f) => f.sampleRate < input.clip.sampleRate)
  if (lowRate.length > 0) {
    warnings.push(
      `${plural(lowRate.length, 'recording has', 'recordings have')} a sample rate below ${input.clip.sampleRate} Hz ` +
        `(first: ${lowRate[0].file}, ${lowRate[0].sampleRate} Hz): their high frequencies are missing, which the ` +
        'model may notice.',
    )
  }
  if (input.problems.length > 0) {
    const first = input.problems[0]
    warnings.push(
      `${plural(input.problems.length, 'file')} could not be used and ${input.problems.length === 1 ? 'was' : 'were'} ` +
        `skipped (first: ${first.file}: ${first.reason})`,
    )
  }

  const durations = files.map((f) => f.duration)
  const min = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => Math.min(a, b)) : 0)
  const max = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => Math.max(a, b)) : 0)
  return {
    kind: 'audio',
    path: root,
    fingerprint: fingerprint(files),
    total: files.length,
    windows: files.reduce((n, f) => n + f.windows, 0),
    classes,
    unreadable: input.problems.map(({ file, reason, kind }) => ({ file, reason, kind })),
    problemGroups: groupProblems(input.problems),
    duplicates,
    tinyClasses,
    minPerClass,
    durations: {
      min: min(durations),
      max: max(durations),
      median: median(durations),
      total: durations.reduce((a, b) => a + b, 0),
    },
    sampleRates: [...rates].map(([rate, count]) => ({ rate, count })).sort((a, b) => a.rate - b.rate),
    formats: [...tally(files.map((f) => f.format))]
      .map(([format, count]) => ({ format, count }))
      .sort((a, b) => byName(a.format, b.format)),
    silent,
    clipped,
    clip: input.clip,
    givenSplit,
    blockers,
    warnings,
  }
}

/**
 * One split entry per clip (window), and the group that ties the clips of one file together: pass both to
 * `splitDataset` and no file's clips straddle two splits. A window's hash is its file's hash plus its span, so
 * identical files still travel together (their windows match) while different windows of one file are not
 * mistaken for copies of each other.
 */
export function audioSplitInputs(
  files: readonly AudioFileRef[],
  clip: Partial<ClipSettings> = {},
): { inputs: SplitInput[]; groups: Map<string, string> } {
  const inputs: SplitInput[] = []
  const groups = new Map<string, string>()
  for (const f of files) {
    for (const id of windowIds(f.file, f.frames, f.sampleRate, clip)) {
      const input: SplitInput = { file: id, label: f.label, hash: `${f.hash}${id.slice(id.lastIndexOf('#t='))}` }
      if (f.givenSplit) input.givenSplit = f.givenSplit
      inputs.push(input)
      groups.set(id, f.file)
    }
  }
  return { inputs, groups }
}

/**
 * Splits the clips of an audio dataset with `splitDataset`, keeping each file's clips on one side. Exclusions
 * name files (all their clips are left out); extra `groups` name files too (e.g. two takes of one session) and
 * join every clip of the files they group.
 */
export function splitAudioDataset(
  files: readonly AudioFileRef[],
  ratios: SplitRatios,
  opts: SplitOptions & { clip?: Partial<ClipSettings> } = {},
): SplitResult {
  const { inputs, groups } = audioSplitInputs(files, opts.clip)
  const extra = opts.groups
  const groupOf = (file: string): string | undefined =>
    extra === undefined
      ? undefined
      : extra instanceof Map
        ? extra.get(file)
        : Object.hasOwn(extra, file)
          ? (extra as Readonly<Record<string, string>>)[file]
          : undefined
  const merged = new Map<string, string>()
  for (const [id, file] of groups) {
    const g = groupOf(file)
    merged.set(id, g === undefined ? `file\u0000${file}` : `group\u0000${g}`)
  }
  const excludedFiles = new Set(opts.excluded?.files ?? [])
  const excluded = opts.excluded && {
    classes: opts.excluded.classes,
    files: inputs.filter((i) => excludedFiles.has(groups.get(i.file)!)).map((i) => i.file),
  }
  return splitDataset(inputs, ratios, { groups: merged, excluded })
}
