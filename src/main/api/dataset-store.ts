/**
 * Datasets as the app sees them: a scan's report in the database plus its file list (with content
 * hashes) on disk, the user's exclusions, and the split a run trains on.
 */
import { datasetDir, datasetFilesFile, sampleDataDir } from '../ml/layout'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { DatasetReport, RunConfig, SplitRatios, SplitSummary } from '../../shared/types'
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
  scanDataset,
  splitDataset,
  type DatasetScan,
  thumbnailDataUrl,
} from '../ml/data'

export interface DatasetFile {
  file: string
  label: string
  hash: string
  width: number
  height: number
  givenSplit?: 'train' | 'val' | 'test'
  /** Perceptual (difference) hash, for near-copies; absent in file lists saved before it existed. */
  dhash?: string
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

/** Reads a folder; the app runs it as a `scan` task in a worker, tests may run it in-process. */
export type Scanner = (root: string, onProgress: (done: number, total: number) => void) => Promise<DatasetScan>

const inProcess: Scanner = (root, onProgress) => scanDataset(root, { onProgress })

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

  /** Scans a folder (never throws on a bad file), stores the report and the file list. */
  async import(path: string): Promise<DatasetReport> {
    const root = resolve(path)
    const scan = await this.scanner(root, (done, total) =>
      this.hub.emit('dataset:progress', { path: root, done, total }),
    )
    const id = datasetId(root, scan.report.fingerprint)
    const previous = this.repos.datasets.get(id)
    const report: DatasetReport = {
      ...scan.report,
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

  /** Draws the synthetic shapes dataset into the data directory (once) and imports it. */
  async sample(): Promise<DatasetReport> {
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
   * place, restored ones just drop out, new ones follow in the order given, each once.
   */
  exclude(id: string, files: string[], classes: string[], restore: boolean): DatasetReport {
    const report = this.get(id)
    const edit = restore ? withoutItems : withItems
    const next: DatasetReport = {
      ...report,
      excludedFiles: edit(report.excludedFiles, files),
      excludedClasses: edit(report.excludedClasses, classes),
    }
    const updated = this.applyExclusions(next, this.files(id))
    this.repos.datasets.save(updated)
    return updated
  }

  /** Blockers recomputed with the user's exclusions (e.g. excluding a class can leave only one). */
  private applyExclusions(report: DatasetReport, files: DatasetFile[]): DatasetReport {
    const blockers = datasetBlockers({
      root: report.path,
      classNames: report.classes.map((c) => c.name),
      files,
      givenSplit: report.givenSplit,
      excluded: { files: report.excludedFiles, classes: report.excludedClasses },
    })
    return { ...report, blockers }
  }

  async thumbnails(id: string, files: string[]): Promise<{ file: string; dataUrl: string | null }[]> {
    const report = this.get(id)
    const known = new Set(this.files(id).map((f) => f.file))
    return Promise.all(
      files.map(async (file) => ({
        file,
        // Only files of this dataset: the renderer cannot read arbitrary paths through this.
        dataUrl: known.has(file) ? await thumbnailIn(report.path, file) : null,
      })),
    )
  }

  /** Images a run would use: the scan's readable files minus the user's exclusions. */
  usableCount(id: string): number {
    const report = this.get(id)
    const files = new Set(report.excludedFiles)
    const classes = new Set(report.excludedClasses)
    return this.files(id).filter((f) => !files.has(f.file) && !classes.has(f.label)).length
  }

  split(id: string, ratios: SplitRatios): SplitResult {
    const report = this.get(id)
    const files = this.files(id)
    const result = splitDataset(files, ratios, {
      excluded: { files: report.excludedFiles, classes: report.excludedClasses },
      // Near-copies (a small perceptual-hash distance) stay on one side too, like exact copies.
      groups: nearDuplicateGroups(files),
    })
    // v2: duplicate-aware (exact and near copies never straddle splits), so the same seed may differ from v1.
    const splitId =
      'sp_' +
      createHash('sha256')
        .update(JSON.stringify(['v2', report.fingerprint, ratios, report.excludedFiles, report.excludedClasses]))
        .digest('hex')
        .slice(0, 12)
    const warnings = [...result.warnings]
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

  /** What a training job needs, checked here so a bad config fails before a process starts. */
  prepareJob(config: RunConfig): JobInput {
    const report = this.get(config.datasetId)
    if (report.blockers.length > 0) throw new AppError('bad_data', report.blockers[0]!)
    const split = this.split(config.datasetId, config.split)
    const labels = [...new Set(split.assignment.map((a) => a.label))].sort()
    if (labels.length < 2) throw new AppError('bad_data', 'A classifier needs at least two classes with images.')
    if (!split.assignment.some((a) => a.split === 'train'))
      throw new AppError('bad_data', 'The training split is empty. Raise the training share on the Split step.')
    return { datasetPath: report.path, examples: split.assignment, labels, splitId: split.id }
  }
}
