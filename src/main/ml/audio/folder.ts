/**
 * A dataset folder of either kind: tells pictures from recordings by the files' names, then reads the folder
 * with the image scan or the sound scan and gives one report shape (`DatasetReport` with `kind`), so the app
 * stores, excludes, splits and shows both the same way.
 */
import type { Dirent } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { DataKind } from '../../../shared/types'
import { type DatasetScan, isImageName, scanDataset, type ScannedFile, type ScanOptions } from '../data/scan'
import type { ClipSettings } from './clips'
import { type AudioDatasetScan, isAudioName, scanAudioDataset } from './scan'

/** How many entries the kind check looks at, at most: enough to tell, never a full walk of a huge folder. */
const DETECT_ENTRIES = 5000
/** Class folders sit one level down, or two under train/ val/ test/; a little deeper covers nested classes. */
const DETECT_DEPTH = 4

export interface DetectedKind {
  kind: DataKind
  /** File names with an image extension seen. */
  images: number
  /** File names with a sound extension seen. */
  sounds: number
}

/**
 * Which kind of data a folder holds, from its files' names (nothing is opened): sound when it has more
 * recordings than pictures, else images (an empty folder is an image folder, whose scan says what is missing).
 * Looks at the first few thousand entries, hidden ones and links skipped.
 */
export async function detectDataKind(root: string): Promise<DetectedKind> {
  let images = 0
  let sounds = 0
  let seen = 0
  const queue: { dir: string; depth: number }[] = [{ dir: resolve(root), depth: 0 }]
  while (queue.length > 0 && seen < DETECT_ENTRIES) {
    const { dir, depth } = queue.shift()!
    let entries: Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch {
      continue
    }
    for (const e of entries) {
      if (++seen > DETECT_ENTRIES) break
      if (e.name.startsWith('.')) continue
      if (e.isDirectory() && depth + 1 < DETECT_DEPTH) queue.push({ dir: join(dir, e.name), depth: depth + 1 })
      else if (e.isFile() && isImageName(e.name)) images++
      else if (e.isFile() && isAudioName(e.name)) sounds++
    }
  }
  return { kind: sounds > images ? 'audio' : 'image', images, sounds }
}

/** A sound scan in the shape every dataset has: a `DatasetReport` of kind 'audio', files with their `sound` facts. */
export function audioScanAsDataset(scan: AudioDatasetScan): DatasetScan {
  const r = scan.report
  const report: DatasetScan['report'] = {
    kind: 'audio',
    path: r.path,
    fingerprint: r.fingerprint,
    total: r.total,
    classes: r.classes.map((c) => ({
      name: c.name,
      count: c.count,
      windows: c.windows,
      seconds: c.seconds,
      thumbnails: c.thumbnails,
      ...(c.given ? { given: c.given } : {}),
    })),
    unreadable: r.unreadable,
    problemGroups: r.problemGroups,
    duplicates: r.duplicates,
    tinyClasses: r.tinyClasses,
    minPerClass: r.minPerClass,
    sizes: { minWidth: 0, maxWidth: 0, minHeight: 0, maxHeight: 0, medianWidth: 0, medianHeight: 0 },
    givenSplit: r.givenSplit,
    blockers: r.blockers,
    warnings: r.warnings,
    sound: {
      windows: r.windows,
      durations: r.durations,
      sampleRates: r.sampleRates,
      formats: r.formats,
      silent: r.silent,
      clipped: r.clipped,
      clip: r.clip,
    },
  }
  const files: ScannedFile[] = scan.files.map((f) => ({
    file: f.file,
    label: f.label,
    hash: f.hash,
    width: 0,
    height: 0,
    ...(f.givenSplit ? { givenSplit: f.givenSplit } : {}),
    sound: {
      format: f.format,
      sampleRate: f.sampleRate,
      frames: f.frames,
      duration: f.duration,
      windows: f.windows,
      silent: f.silent,
      clipped: f.clipped,
    },
  }))
  return { report, files }
}

export interface FolderScanOptions extends ScanOptions {
  /** The kind the user confirmed; detected from the files when absent. */
  kind?: DataKind
  /** Sound only: how recordings are cut into clips (for the clip counts). Default 16 kHz, 1 s. */
  clip?: Partial<ClipSettings>
}

/**
 * Reads a dataset folder of either kind (see `detectDataKind`). The report's `kind` says which scan read it, its
 * `kindCounts` how many names of each kind the detection saw (whichever kind was read).
 * @throws as `scanDataset` / `scanAudioDataset`: AppError('bad_data') for a missing root, ('cancelled') when stopped.
 */
export async function scanFolder(root: string, opts: FolderScanOptions = {}): Promise<DatasetScan> {
  // Counted even when the user said which kind: the Data step offers the other kind only if the folder has any.
  const detected = await detectDataKind(root)
  const kind = opts.kind ?? detected.kind
  const kindCounts = { image: detected.images, audio: detected.sounds }
  if (kind === 'audio') {
    const scan = audioScanAsDataset(await scanAudioDataset(root, opts))
    return { ...scan, report: { ...scan.report, kindCounts } }
  }
  const scan = await scanDataset(root, opts)
  return { ...scan, report: { ...scan.report, kind: 'image', kindCounts } }
}
