/**
 * Datasets as the app sees them: a scan's report in the database plus its file list (with content
 * hashes) on disk, the user's exclusions, and the split a run trains on.
 */
import { datasetDir, datasetFilesFile, sampleDataDir } from '../ml/layout'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import {
  dataKindOf,
  type DataKind,
  type DatasetReport,
  type RunConfig,
  type SoundFileInfo,
  type SplitRatios,
  type SplitSummary,
} from '../../shared/types'
import type { Repositories } from '../db/repositories'
import { AppError } from '../errors'
import { safePath } from '../safe-path'
import type { EventHub } from '../ipc'
import type { JobInput } from '../jobs/job-manager'
import {
  datasetBlockers,
  datasetId,
  makeSyntheticDataset,
  nearDuplicateGroups,
  splitDataset,
  type DatasetScan,
  thumbnailDataUrl,
} from '../ml/data'
import { audioDatasetBlockers, type AudioFileRef, type ClipSettings, splitAudioDataset } from '../ml/audio'
import { clipSettingsKey } from '../ml/audio/cache-key'
import { scanFolder } from '../ml/audio/folder'
import { encodeWav16, makeSampleSounds } from '../ml/audio/sample-sounds'
import { clipSettingsOf, spectrogramSettingsOf } from '../ml/audio/settings'
import { clipRef, clipSamples, clipThumbnail } from '../ml/audio/source'
import { melFilterbank, resolveSpectrogramSettings } from '../ml/audio/spectrogram'

export interface DatasetFile {
  file: string
  label: string
  hash: string
  width: number
  height: number
  givenSplit?: 'train' | 'val' | 'test'
  /** Perceptual (difference) hash, for near-copies; absent in file lists saved before it existed. */
  dhash?: string
  /** Sound datasets: the recording's rate, length and clips (width and height are then 0). */
  sound?: SoundFileInfo
}

export interface SplitResult extends SplitSummary {
  assignment: { file: string; label: string; split: 'train' | 'val' | 'test' }[]
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(value))
  renameSync(tmp, file)
}

/** `list` then the `items` it lacks, each name once. */
function withItems(list: readonly string[], items: readonly string[]): string[] {
  return [...new Set([...list, ...items])]
}

/** `list` without any of `items`; a Set, so restoring 100,000 names is not 100,000² compares. */
function withoutItems(list: readonly string[], items: readonly string[]): string[] {
  const drop = new Set(items)
  return list.filter((x) => !drop.has(x))
}

/**
 * Reads a folder of images or of sound recordings (`kind`; detected from the files when absent). The app runs
 * it as a `scan` task in a worker, tests may run it in-process.
 */
export type Scanner = (
  root: string,
  onProgress: (done: number, total: number) => void,
  kind?: DataKind,
) => Promise<DatasetScan>

const inProcess: Scanner = (root, onProgress, kind) => scanFolder(root, { onProgress, kind })

/** Longest stretch of a whole recording the page is sent to play, seconds. */
const PLAY_SECONDS = 30

/** What splitting needs of the recordings of a sound dataset's file list. */
function audioRefs(files: readonly DatasetFile[]): AudioFileRef[] {
  return files.map((f) => ({
    file: f.file,
    label: f.label,
    hash: f.hash,
    frames: f.sound?.frames ?? 0,
    sampleRate: f.sound?.sampleRate ?? 16000,
    ...(f.givenSplit ? { givenSplit: f.givenSplit } : {}),
  }))
}

/** The split's sentences count images; for sound they count clips. */
function clipWording(text: string): string {
  return text.replace(/\b(images?)\b/g, (w) => (w === 'image' ? 'clip' : 'clips'))
}

/** A thumbnail of a dataset file, or null when the file is gone or its path would lead outside the folder. */
export async function thumbnailIn(root: string, file: string): Promise<string | null> {
  let path: string
  try {
    path = safePath(root, file, { folder: 'the dataset folder' })
  } catch {
    return null
  }
  return thumbnailDataUrl(path, 128)
}

export class DatasetStore {
  constructor(
    private readonly dataDir: string,
    private readonly repos: Repositories,
    private readonly hub: EventHub,
    private readonly scanner: Scanner = inProcess,
  ) {}

  private filesPath(id: string): string {
    return datasetFilesFile(this.dataDir, id)
  }

  /**
   * Scans a folder (never throws on a bad file), stores the report and the file list. `kind` is what the user
   * confirmed the folder holds; without it the kind is detected from the files.
   */
  async import(path: string, kind?: DataKind): Promise<DatasetReport> {
    const root = resolve(path)
    const scan = await this.scanner(
      root,
      (done, total) => this.hub.emit('dataset:progress', { path: root, done, total }),
      kind,
    )
    const id = datasetId(root, scan.report.fingerprint)
    const previous = this.repos.datasets.get(id)
    const report: DatasetReport = {
      ...scan.report,
      kind: dataKindOf(scan.report),
      id,
      createdAt: previous?.createdAt ?? new Date().toISOString(),
      excludedFiles: previous?.excludedFiles ?? [],
      excludedClasses: previous?.excludedClasses ?? [],
    }
    mkdirSync(datasetDir(this.dataDir, id), { recursive: true })
    writeJsonAtomic(this.filesPath(id), scan.files satisfies DatasetFile[])
    const withExclusions = this.applyExclusions(report, scan.files)
    this.repos.datasets.save(withExclusions)
    return withExclusions
  }

  /**
   * Makes a sample dataset in the data directory (once) and imports it: drawn shapes, or for sound words
   * spoken by the eSpeak NG synthesizer (AppError('unavailable') when it is not installed).
   */
  async sample(kind: DataKind = 'image'): Promise<DatasetReport> {
    if (kind === 'audio') {
      const dir = sampleDataDir(this.dataDir, 'spoken-words')
      if (!existsSync(join(dir, '.complete'))) {
        await makeSampleSounds(dir, { seed: 7 })
        writeFileSync(join(dir, '.complete'), '')
      }
      return this.import(dir, 'audio')
    }
    const dir = sampleDataDir(this.dataDir, 'shapes')
    if (!existsSync(join(dir, '.complete'))) {
      await makeSyntheticDataset(dir, { seed: 7 })
      writeFileSync(join(dir, '.complete'), '')
    }
    return this.import(dir)
  }

  get(id: string): DatasetReport {
    const report = this.repos.datasets.get(id)
    if (!report)
      throw new AppError('not_found', 'That dataset is not known any more. Choose its folder again on the Data step.')
    return report
  }

  files(id: string): DatasetFile[] {
    const file = this.filesPath(id)
    if (!existsSync(file))
      throw new AppError('not_found', 'The file list of this dataset is missing. Import the folder again.')
    return JSON.parse(readFileSync(file, 'utf8')) as DatasetFile[]
  }

  /**
   * Excludes (or restores) files and classes; recomputes what blocks training. Linear in the sizes
   * of the lists (up to 100,000 names a call). Order is stable: names already excluded keep their
   * place, restored ones just drop out, new ones follow in the order given, each once. In a sound dataset a
   * clip (`rec.wav#t=1,2`, what the mislabel search and Results name) stands for its recording: a split never
   * separates a recording's clips, so a recording is excluded whole.
   */
  exclude(id: string, files: string[], classes: string[], restore: boolean): DatasetReport {
    const report = this.get(id)
    const edit = restore ? withoutItems : withItems
    const names = report.kind === 'audio' ? files.map((f) => clipRef(f).file) : files
    const next: DatasetReport = {
      ...report,
      excludedFiles: edit(report.excludedFiles, names),
      excludedClasses: edit(report.excludedClasses, classes),
    }
    const updated = this.applyExclusions(next, this.files(id))
    this.repos.datasets.save(updated)
    return updated
  }

  /** Blockers recomputed with the user's exclusions (e.g. excluding a class can leave only one). */
  private applyExclusions(report: DatasetReport, files: DatasetFile[]): DatasetReport {
    const args = {
      root: report.path,
      classNames: report.classes.map((c) => c.name),
      files,
      givenSplit: report.givenSplit,
      excluded: { files: report.excludedFiles, classes: report.excludedClasses },
    }
    const blockers = dataKindOf(report) === 'audio' ? audioDatasetBlockers(args) : datasetBlockers(args)
    return { ...report, blockers }
  }

  /**
   * Small pictures of dataset files: image thumbnails, or for sound the spectrogram of a clip (`files` may be
   * clip ids, `file#t=start,end`, as Results lists them; a plain file name shows its first clip).
   */
  async thumbnails(id: string, files: string[]): Promise<{ file: string; dataUrl: string | null }[]> {
    const report = this.get(id)
    const known = new Set(this.files(id).map((f) => f.file))
    if (dataKindOf(report) === 'audio') {
      const spec = { clip: clipSettingsOf({}), spectrogram: spectrogramSettingsOf({}) }
      const out: { file: string; dataUrl: string | null }[] = []
      // One at a time: clips of one recording share its decoding.
      for (const file of files)
        out.push({
          file,
          dataUrl: known.has(clipRef(file).file) ? await clipThumbnail(report.path, file, spec) : null,
        })
      return out
    }
    return Promise.all(
      files.map(async (file) => ({
        file,
        // Only files of this dataset: the renderer cannot read arbitrary paths through this.
        dataUrl: known.has(file) ? await thumbnailIn(report.path, file) : null,
      })),
    )
  }

  /**
   * A clip of a sound dataset as a 16 kHz WAV data URL, for the page's audio element: `file` as a clip id plays
   * that clip, a recording's name plays it from the start (30 s at most). Null for anything that is not a
   * recording of this dataset, or that cannot be read.
   */
  async clipAudio(id: string, file: string): Promise<string | null> {
    const report = this.get(id)
    if (dataKindOf(report) !== 'audio') return null
    const ref = clipRef(file)
    const entry = this.files(id).find((f) => f.file === ref.file)
    if (!entry) return null
    const whole = ref.file === file
    const seconds = whole ? Math.min(PLAY_SECONDS, Math.max(0.1, entry.sound?.duration ?? 1)) : ref.end - ref.start
    try {
      const samples = await clipSamples(report.path, file, { clipSeconds: seconds })
      return `data:audio/wav;base64,${encodeWav16(samples, 16000).toString('base64')}`
    } catch {
      return null
    }
  }

  /** Images a run would use (for sound, clips at the scan's clip length): the scan's files minus exclusions. */
  usableCount(id: string): number {
    const report = this.get(id)
    const files = new Set(report.excludedFiles)
    const classes = new Set(report.excludedClasses)
    const usable = this.files(id).filter((f) => !files.has(f.file) && !classes.has(f.label))
    return dataKindOf(report) === 'audio' ? usable.reduce((n, f) => n + (f.sound?.windows ?? 1), 0) : usable.length
  }

  /**
   * Splits a dataset's images, or a sound dataset's clips (cut with `clip`, default 1 s; the clips of one
   * recording always land in one split).
   */
  split(id: string, ratios: SplitRatios, clip?: ClipSettings): SplitResult {
    const report = this.get(id)
    const files = this.files(id)
    const audio = dataKindOf(report) === 'audio'
    const excluded = { files: report.excludedFiles, classes: report.excludedClasses }
    const result = audio
      ? splitAudioDataset(audioRefs(files), ratios, { excluded, clip })
      : splitDataset(files, ratios, {
          excluded,
          // Near-copies (a small perceptual-hash distance) stay on one side too, like exact copies.
          groups: nearDuplicateGroups(files),
        })
    // v2: duplicate-aware (exact and near copies never straddle splits), so the same seed may differ from v1.
    // Sound splits also depend on how recordings are cut into clips.
    const key = ['v2', report.fingerprint, ratios, report.excludedFiles, report.excludedClasses]
    if (audio) key.push(clipSettingsKey(clip) + `;hop=${clip?.hopSeconds ?? clip?.clipSeconds ?? 1}`)
    const splitId = 'sp_' + createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 12)
    const warnings = audio ? result.warnings.map(clipWording) : [...result.warnings]
    const summary: SplitResult = {
      id: splitId,
      datasetId: id,
      ratios,
      perClass: result.perClass,
      warnings,
      labelConflicts: result.labelConflicts,
      assignment: result.assignment,
    }
    this.repos.splits.save({ id: splitId, datasetId: id, ratios, assignment: result.assignment })
    return summary
  }

  /**
   * A run config for this dataset: its `dataKind` is the dataset's (confirmed when the folder was read), so a
   * config built before, or by a caller that did not set it, trains on what the folder holds.
   */
  withDataKind(config: RunConfig): RunConfig {
    const kind = dataKindOf(this.get(config.datasetId))
    return config.dataKind === kind ? config : { ...config, dataKind: kind }
  }

  /** What a training job needs, checked here so a bad config fails before a process starts. */
  prepareJob(config: RunConfig): JobInput {
    const report = this.get(config.datasetId)
    if (report.blockers.length > 0) throw new AppError('bad_data', report.blockers[0]!)
    const audio = dataKindOf(report) === 'audio'
    // Spectrogram settings the filterbank cannot draw (too many bands for the window) fail here, in words.
    if (audio) {
      const s = resolveSpectrogramSettings(spectrogramSettingsOf(config))
      melFilterbank(s.sampleRate, s.nFft, s.melBands, s.fMin, s.fMax)
    }
    const split = this.split(config.datasetId, config.split, audio ? clipSettingsOf(config) : undefined)
    const labels = [...new Set(split.assignment.map((a) => a.label))].sort()
    if (labels.length < 2)
      throw new AppError('bad_data', `A classifier needs at least two classes with ${audio ? 'recordings' : 'images'}.`)
    if (!split.assignment.some((a) => a.split === 'train'))
      throw new AppError('bad_data', 'The training split is empty. Raise the training share on the Split step.')
    return { datasetPath: report.path, examples: split.assignment, labels, splitId: split.id }
  }
}
