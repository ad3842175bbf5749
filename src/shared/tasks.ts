/**
 * Every piece of background work is a task: an id, a kind, typed input and output (`TaskMap`),
 * progress, cancel, and a recorded end. One message protocol serves every worker process (the
 * training job, the model tasks, the extraction shards). Pure TypeScript.
 */
import type { ErrorInfo } from './errors'
import type {
  DatasetReport,
  Evaluation,
  ExportFormat,
  LayerInfo,
  MetricPoint,
  ModelCard,
  RunCard,
  RunConfig,
  RunDetail,
  DataKind,
  RunProgress,
  SoundFileInfo,
} from './types'

/** What a training task trains on; main resolves it so the worker never opens the database. */
export interface TrainInput {
  runId: number
  config: RunConfig
  dataDir: string
  datasetPath: string
  /** Split assignment: relative file path -> label and split. */
  examples: { file: string; label: string; split: 'train' | 'val' | 'test' }[]
  labels: string[]
  backend?: string
}

/** What a training task streams while it runs, in the shape main stores and shows. */
export type TrainEvent =
  | { type: 'backend'; backend: string; reason: string }
  | { type: 'progress'; progress: RunProgress }
  /** The points of one finished epoch, exactly as stored (split and name already separate). */
  | { type: 'metrics'; points: MetricPoint[] }
  | { type: 'log'; message: string }
  | { type: 'evaluation'; evaluation: Evaluation }
  | { type: 'artifact'; kind: string; path: string }

export interface ExportOutput {
  /** The folder written, or the .zip file. */
  dir: string
  /** The files of the export (inside the .zip when `zip`). */
  files: string[]
  /** Files of an earlier export that were replaced (only after the user confirmed). */
  replaced: string[]
  maxDifference: number
  agreement: number
  format: ExportFormat
  zip: boolean
  /** The model card written as README.md, with the check's result. */
  card: RunCard
}

/** What the export worker needs: main resolves the run, its base model's card and its data. */
export interface ExportInput {
  modelDir: string
  outDir: string
  datasetPath: string
  evaluation: Evaluation | null
  format: ExportFormat
  zip: boolean
  overwrite: boolean
  /** The card's facts main knows (run, base model, split counts, data report, intended use). */
  card: ExportCardFacts
}

/** The run card's inputs that main gathers (see src/main/ml/export/model-card.ts `RunCardInput`). */
export interface ExportCardFacts {
  run: Pick<
    RunDetail,
    | 'id'
    | 'name'
    | 'config'
    | 'evaluations'
    | 'backend'
    | 'backendReason'
    | 'durationMs'
    | 'finishedAt'
    | 'testAccuracy'
  >
  base: Pick<ModelCard, 'id' | 'name' | 'license' | 'licenseKind' | 'card' | 'source'>
  datasetName: string
  /** Per class, how many images went where; `train` is null when the split could not be recovered. */
  splitCounts: { label: string; train: number | null; val: number; test: number }[] | null
  dataset: Pick<DatasetReport, 'warnings' | 'tinyClasses' | 'sizes' | 'duplicates'> | null
  /** What the person exporting says the model is for. */
  intendedUse?: string
}

/** What a scan returns: the report and the readable images (with content hashes). */
export interface ScanOutput {
  report: Omit<DatasetReport, 'id' | 'createdAt' | 'excludedFiles' | 'excludedClasses'> & {
    problemGroups: NonNullable<DatasetReport['problemGroups']>
  }
  files: {
    file: string
    label: string
    hash: string
    width: number
    height: number
    givenSplit?: 'train' | 'val' | 'test'
    dhash?: string
    sound?: SoundFileInfo
  }[]
}

/** What the diagnostics run on: the run's settings and the images with their labels. */
export interface DiagnosticsInput {
  config: RunConfig
  dataDir: string
  datasetPath: string
  examples: { file: string; label: string }[]
  labels: string[]
}

/** An image whose label looks wrong: a head that never saw it says `suggested`, by `margin`. */
export interface SuspectImage {
  file: string
  label: string
  suggested: string
  /** Probability of the suggested class minus that of the given label (0..1). */
  margin: number
}

/** One feature-extraction shard: a worker loads the saved base and fills the shared disk cache. */
export interface ExtractInput {
  modelDir: string
  backend: string
  files: string[]
  /** Each file's cache key, when the parent hashed the files already (the worker then reads each once). */
  keys?: string[]
  root: string
  inputSize: [number, number]
  preprocess: 'rgb/255' | 'rgb/127.5-1'
  batchSize: number
  cacheDir: string
  modelKey: string
  /** Sound data: `files` are clip ids, drawn as spectrograms with these settings (the engine's `AudioInputSpec`). */
  audio?: {
    clip: { sampleRate: number; clipSeconds: number; hopSeconds?: number }
    spectrogram: {
      sampleRate: number
      windowMs: number
      hopMs: number
      melBands: number
      fMin: number
      fMax?: number
      topDb: number
    }
  }
}

/** Every task kind: its input, its output, and what it streams besides progress. */
export interface TaskMap {
  train: {
    input: TrainInput
    output: { bestValAccuracy: number | null; testAccuracy: number | null }
    event: TrainEvent
  }
  extract: { input: ExtractInput; output: { baseForwardImages: number }; event: never }
  /** Load the model and time a few forward passes, for the estimate. */
  probe: {
    input: { modelId: string; dataDir: string }
    output: { backend: string; secondsPerImage: number }
    event: never
  }
  layers: { input: { modelId: string; dataDir: string }; output: LayerInfo[]; event: never }
  import: { input: { folder: string; dataDir: string }; output: ModelCard; event: never }
  download: { input: { modelId: string; dataDir: string }; output: ModelCard; event: never }
  /** Write a run's model to `outDir` in a format with its model card, load it back and re-check the test split. */
  export: {
    input: ExportInput
    output: ExportOutput
    event: never
  }
  /** The learning-rate range test on the base's cached features (seconds). */
  'lr-find': {
    input: DiagnosticsInput
    output: { points: { lr: number; loss: number }[]; suggestion: number }
    event: never
  }
  /** Out-of-fold predictions of k heads: images whose label a head that never saw them contradicts. */
  suspects: { input: DiagnosticsInput; output: SuspectImage[]; event: never }
  /** Read a dataset folder: every file checked, hashed and decoded, outside the main process. */
  /** `kind`: images or sound recordings; detected from the files when absent. */
  scan: { input: { root: string; kind?: DataKind }; output: ScanOutput; event: never }
  /**
   * Classify one image with a run's model. The event says whether the model was loaded for it (and how long
   * that took) or was already in the worker's memory.
   */
  predict: {
    input: { modelDir: string; file?: string; base64?: string }
    output: { label: string; confidence: number }[]
    event: { type: 'model'; loaded: boolean; seconds: number }
  }
}

export type TaskKind = keyof TaskMap
export type TaskInput<K extends TaskKind> = TaskMap[K]['input']
export type TaskOutput<K extends TaskKind> = TaskMap[K]['output']
export type TaskEvent<K extends TaskKind> = TaskMap[K]['event']

export const taskKinds: readonly TaskKind[] = [
  'scan',
  'lr-find',
  'suspects',
  'train',
  'extract',
  'probe',
  'layers',
  'import',
  'download',
  'export',
  'predict',
]

/** What the user reads for a task in the task list. */
export const taskLabels: Record<TaskKind, string> = {
  scan: 'Reading a folder',
  'lr-find': 'Looking for a good learning rate',
  suspects: 'Looking for mislabelled examples',
  train: 'Training',
  extract: 'Reading images',
  probe: 'Measuring this machine’s speed',
  layers: 'Reading the model’s layers',
  import: 'Importing a model',
  download: 'Downloading a model',
  export: 'Exporting a model',
  predict: 'Trying the model on your file',
}

/** How far a task is: a fraction when it can be known, and counts for a bar. */
export interface TaskProgress {
  /** 0..1, or null when the total is unknown. */
  fraction: number | null
  done?: number
  total?: number | null
  /** A short word for what it is doing now ("loading", "training"). */
  stage?: string
}

export type TaskStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted'

/** A task as main records it and the UI shows it. */
export interface TaskInfo {
  id: string
  kind: TaskKind
  label: string
  status: TaskStatus
  progress: TaskProgress | null
  startedAt: string
  finishedAt: string | null
  error: ErrorInfo | null
  /** The run a training task belongs to. */
  runId: number | null
}

// ---------------------------------------------------------------- the wire protocol

/**
 * Parent → worker. `stay`: a resident kind; the worker waits for the next task instead of exiting, until it
 * is told to `exit`.
 */
export type ToWorker =
  | { type: 'run'; id: string; kind: TaskKind; input: unknown; stay?: boolean }
  | { type: 'cancel'; id: string }
  | { type: 'exit' }

/** Worker → parent. */
export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'progress'; id: string; progress: TaskProgress }
  | { type: 'event'; id: string; event: unknown }
  | { type: 'done'; id: string; output: unknown }
  | { type: 'failed'; id: string; error: ErrorInfo }
  | { type: 'cancelled'; id: string }
