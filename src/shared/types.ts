/**
 * Domain types shared by main, preload and renderer. Pure TypeScript: no electron, node or DOM.
 */

import type { ErrorCode } from './errors'
import type { RunConfig, RunSettings } from './run-config'

export type { RunConfig } from './run-config'
/** Settings types, all inferred from the field table in run-config.ts. */
export type SplitRatios = RunSettings['split']
export type FreezeConfig = RunSettings['freeze']
export type HeadConfig = RunSettings['head']
export type HyperParams = RunSettings['hyper']
export type Phase2Config = RunSettings['phase2']
export type AugmentConfig = RunSettings['augment']
export type OptimizerName = HyperParams['optimizer']
export type ScheduleKind = HyperParams['schedule']['kind']

export type TaskCategory = 'image-classification' | 'text' | 'audio' | 'tabular' | 'multimodal'
export type LicenseKind = 'permissive' | 'non-commercial' | 'unknown'
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' | 'unknown'

/** One entry of the model catalogue (data, not code). */
export interface ModelCard {
  id: string
  name: string
  task: TaskCategory
  /** False for task categories the engine does not handle yet; `unsupportedReason` says why. */
  supported: boolean
  unsupportedReason?: string
  /** Input height and width in pixels. */
  inputSize: [number, number]
  parameters: number
  license: string
  licenseKind: LicenseKind
  source: { kind: 'bundled' | 'online' | 'imported'; url?: string; description: string }
  card: {
    summary: string
    trainedOn: string
    input: string
    preprocessing: string
    limitations: string
    /** Parameters and bytes in words ("2.6 million parameters, about 3.5 MB"). Absent in cards saved before it. */
    size?: string
    /** What the license lets people do, in plain words. Absent in cards saved before it. */
    licenseInfo?: LicenseInfo
    /** Where the weights come from and who made them, with links. */
    origin?: string
    /** Card fields the files did not tell (imported models): shown as "unknown". */
    unknown?: ModelCardField[]
    /** Things to check before using the model (an unknown license, ...). */
    warnings?: string[]
  }
  /** Layer whose output feeds the new head. */
  featureLayer: string
  /** True when the weights are on this machine (bundled, imported or downloaded). */
  available: boolean
  /** Download size in bytes, for online models. */
  sizeBytes?: number
}

export interface LayerInfo {
  index: number
  name: string
  type: string
  outputShape: (number | null)[]
  params: number
  /** True for layers that own weights (where freezing means anything). */
  hasWeights: boolean
  /** Is this layer part of the base (below the feature layer, kept) or cut away. */
  inBase: boolean
  /** Name of the block this layer belongs to (e.g. `block_12`), for "top N blocks" presets. */
  block: string
  /** Shapes of the layer's weights, kernel first (sizes LoRA adapters); absent in layer lists cached before. */
  weightShapes?: number[][]
}

export interface UnreadableFile {
  file: string
  reason: string
  /** The `ProblemGroup.kind` it is counted under (absent in reports saved before groups existed). */
  kind?: string
}

/**
 * Files the scan skipped or noted, grouped by why: one row per reason (with a count) instead of one row
 * per file. Every entry of `DatasetReport.unreadable` belongs to exactly one group.
 */
export interface ProblemGroup {
  /** Stable key for code and tests (e.g. 'outside-link', 'damaged'); `reason` is the sentence for people. */
  kind: string
  reason: string
  count: number
  /** Up to 5 relative paths, first by name. */
  examples: string[]
  /** What the user can do about it, in one sentence. */
  action: string
}

/** Identical copies of one image filed under different classes: at most one label can be right. */
export interface LabelConflict {
  /** SHA-256 of the content, hex. */
  hash: string
  /** Sorted by file. */
  files: { file: string; label: string }[]
}

export interface ClassReport {
  name: string
  /** Images, or for sound the readable recordings. */
  count: number
  /** Small JPEG data URLs, at most 12 (for sound: PNG spectrograms of each recording's first clip). */
  thumbnails: { file: string; dataUrl: string }[]
  /** Sound only: clips the recordings give at the scan's clip settings. */
  windows?: number
  /** Sound only: seconds of sound. */
  seconds?: number
  /** For datasets with a given split: images per split. */
  given?: { train: number; val: number; test: number }
}

/** What a dataset holds: pictures, or sound recordings (trained on as spectrogram pictures). */
export type DataKind = 'image' | 'audio'

/** The kind of a report; reports saved before sound existed have none and are images. */
export function dataKindOf(report: { kind?: DataKind } | null | undefined): DataKind {
  return report?.kind === 'audio' ? 'audio' : 'image'
}

/** What a scan of sound recordings measures besides what every dataset has. */
export interface SoundSummary {
  /** Clips over all recordings at `clip`'s settings. */
  windows: number
  /** Seconds per recording: shortest, longest, median, and all together. */
  durations: { min: number; max: number; median: number; total: number }
  /** Recordings per sample rate (Hz), lowest first. */
  sampleRates: { rate: number; count: number }[]
  /** Recordings per format ('wav', 'flac', 'mp3', 'ogg'). */
  formats: { format: string; count: number }[]
  /** Recordings with nothing above −60 dBFS. */
  silent: string[]
  /** Recordings distorted by clipping. */
  clipped: string[]
  /** The clip settings the clip counts were made with. */
  clip: { sampleRate: number; clipSeconds: number; hopSeconds: number }
}

/** What the scan measured of one sound recording (kept in the dataset's file list, not in the report). */
export interface SoundFileInfo {
  format: string
  /** The file's own rate, Hz. */
  sampleRate: number
  /** Samples per channel at the file's rate. */
  frames: number
  /** Seconds. */
  duration: number
  /** Clips at the scan's clip settings. */
  windows: number
  silent: boolean
  clipped: boolean
}

export interface DatasetReport {
  id: string
  /** Absent in reports saved before sound existed: images (`dataKindOf`). */
  kind?: DataKind
  /** Sound datasets only: durations, rates, formats, silent and clipped recordings. */
  sound?: SoundSummary
  /**
   * File names of each kind in the folder (from the first few thousand entries, whichever kind was read): the
   * Data step offers to read the folder as the other kind only when it has some. Absent in older reports.
   */
  kindCounts?: { image: number; audio: number }
  path: string
  fingerprint: string
  createdAt: string
  total: number
  classes: ClassReport[]
  unreadable: UnreadableFile[]
  /** `unreadable` grouped by reason, for one row per reason. Absent in reports saved before it existed. */
  problemGroups?: ProblemGroup[]
  /**
   * Groups of files with identical content (relative paths). crossSplit: with a given split, the copies
   * sit in different splits (e.g. train/ and test/).
   */
  duplicates: { hash: string; files: string[]; crossClass: boolean; crossSplit?: boolean }[]
  /** Classes with fewer images than `minPerClass`. */
  tinyClasses: string[]
  minPerClass: number
  /** Image sizes in pixels (all 0 for sound). */
  sizes: {
    minWidth: number
    maxWidth: number
    minHeight: number
    maxHeight: number
    medianWidth: number
    medianHeight: number
  }
  /** True when the folder had train/ val/ test/ at the top: that split is respected. */
  givenSplit: boolean
  /** Files and classes the user excluded; not part of any split or run. */
  excludedFiles: string[]
  excludedClasses: string[]
  /** Plain-language problems that block training (e.g. a single class). Empty when fine. */
  blockers: string[]
  /** Plain-language warnings that do not block training. */
  warnings: string[]
}

export interface SplitSummary {
  id: string
  datasetId: string
  ratios: SplitRatios
  perClass: { label: string; train: number; val: number; test: number }[]
  warnings: string[]
  /** Copies filed under different classes; each group is kept whole in training and never tested on. */
  labelConflicts?: LabelConflict[]
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted'

export interface PerClassMetrics {
  label: string
  precision: number
  recall: number
  f1: number
  support: number
}

export interface Misclassified {
  file: string
  trueLabel: string
  predicted: string
  confidence: number
}

export interface Evaluation {
  split: 'val' | 'test'
  accuracy: number
  loss: number
  labels: string[]
  perClass: PerClassMetrics[]
  /** confusion[true][predicted] counts. */
  confusion: number[][]
  misclassified: Misclassified[]
  /** Every example's prediction, for per-example diffs between runs. */
  predictions: { file: string; trueLabel: string; predicted: string; confidence: number }[]
}

export interface RunSummary {
  id: number
  name: string
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  modelId: string
  datasetId: string
  datasetPath: string
  status: RunStatus
  backend: string | null
  /** Why this backend ran and faster ones did not (e.g. "wasm … (skipped tensorflow-gpu: not installed)"). */
  backendReason: string | null
  bestValAccuracy: number | null
  testAccuracy: number | null
  durationMs: number | null
  error: string | null
  /** The error's code; `adviceFor(errorCode)` says what to do. */
  errorCode: ErrorCode | null
  tags: string[]
  notes: string
  starred: boolean
  /** What trained, in one line (`describeStrategy` of the stored config); null when the config is damaged. */
  strategy: string | null
  /** Most numbers any phase trained (the engine's `trainable_params` metric); null before the first epoch. */
  trainableParams: number | null
  /** What the run trained on (images for runs stored before sound existed). */
  dataKind?: DataKind
}

export interface RunDetail extends RunSummary {
  config: RunConfig
  evaluations: Evaluation[]
  artifacts: { kind: string; path: string }[]
  exportDiff?: string | null
}

export interface MetricPoint {
  phase: number
  epoch: number
  step: number | null
  split: 'train' | 'val' | 'test'
  name: string
  value: number
  /** Milliseconds since the run started. */
  t: number
}

export interface RunProgress {
  runId: number
  phase: 1 | 2
  epoch: number
  epochs: number
  batch: number
  batches: number
  /** Latest metrics, e.g. { loss, acc, val_loss, val_acc }. */
  metrics: Record<string, number>
  etaSeconds: number | null
  stage: 'loading' | 'extracting' | 'training' | 'evaluating' | 'exporting'
  message?: string
}

export interface AppInfo {
  version: string
  backend: BackendName
  backendReason: string
  dataDir: string
  schemaVersion: number
  mode: 'electron' | 'browser'
  /** True when another app owns this data folder: this one only shows History and Compare. */
  readOnly: boolean
  lockHolder: { pid: number; host: string; startedAt: string } | null
}

/** The fields of a model card a reader sees, in order. */
export type ModelCardField =
  'summary' | 'trainedOn' | 'input' | 'preprocessing' | 'size' | 'license' | 'limitations' | 'origin'

/** A license in plain words: may I sell an app with it, must I credit? */
export interface LicenseInfo {
  /** SPDX id ("MIT", "Apache-2.0") or "unknown". */
  spdx: string
  /** The license text. */
  url?: string
  /** One or two plain sentences. */
  summary: string
  /** May an app or model made from it be sold? */
  commercialUse: 'yes' | 'no' | 'unknown'
  /** Must the authors be credited (their notice kept)? */
  attribution: 'yes' | 'no' | 'unknown'
}

/** One block of an exported model's card: the README and the in-app viewer are drawn from the same blocks. */
export type CardBlock =
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; header: string[]; rows: string[][]; numeric?: boolean[] }
  | { kind: 'image'; file: string; alt: string }
  | { kind: 'code'; language: string; title: string; code: string }

export interface CardSection {
  /** Stable key for tests and anchors ("what-it-does", "results", ...). */
  id: string
  title: string
  blocks: CardBlock[]
}

/** The model card of a trained run: written as README.md on every export and shown in the app. */
export interface RunCard {
  title: string
  /** Hugging Face model-card metadata (the README's YAML front matter). */
  frontMatter: Record<string, unknown>
  sections: CardSection[]
  /** README.md as written. */
  markdown: string
  /** The confusion matrix as an SVG image (the export writes it as confusion-matrix.png). */
  confusionSvg: string | null
}

/** How an export is packaged. */
export type ExportFormat = 'tfjs' | 'teachable-machine'
