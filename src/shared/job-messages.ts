/** Messages between main and a training job process. Pure TypeScript. */
import type { Evaluation, RunConfig, RunProgress } from './types'

export interface JobStart {
  type: 'start'
  runId: number
  config: RunConfig
  /** Absolute paths the job needs; main resolves them so the job never opens the database. */
  dataDir: string
  datasetPath: string
  /** Split assignment: relative file path -> label and split. */
  examples: { file: string; label: string; split: 'train' | 'val' | 'test' }[]
  labels: string[]
  backend?: string
}

/**
 * Model work that is not training but still runs TensorFlow: it runs in a child process too, so
 * the main process (and with it the window) never stalls on it.
 */
export type JobTask =
  /** Load the model and time a few forward passes, for the estimate. */
  | { kind: 'probe'; modelId: string; dataDir: string }
  | { kind: 'layers'; modelId: string; dataDir: string }
  | { kind: 'import'; folder: string; dataDir: string }
  | { kind: 'download'; modelId: string; dataDir: string }
  /** Copy a run's model to `outDir`, load it back and re-evaluate the test split. */
  | { kind: 'export'; modelDir: string; outDir: string; datasetPath: string; evaluation: Evaluation | null }
  | { kind: 'predict'; modelDir: string; file?: string; base64?: string }

export type ToJob = JobStart | { type: 'task'; task: JobTask } | { type: 'cancel' }

export interface EpochMetrics {
  phase: 1 | 2
  epoch: number
  /** Milliseconds since the run started. */
  t: number
  values: Record<string, number>
}

export type FromJob =
  | { type: 'ready'; pid: number }
  | { type: 'backend'; backend: string; reason: string }
  | { type: 'progress'; progress: RunProgress }
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'log'; message: string }
  | { type: 'evaluation'; evaluation: Evaluation }
  | { type: 'artifact'; kind: string; path: string }
  | { type: 'done'; status: 'succeeded' | 'cancelled'; bestValAccuracy: number | null; testAccuracy: number | null }
  | { type: 'error'; message: string; code: string }
  | { type: 'task-result'; value: unknown }
  | { type: 'task-progress'; received: number; total: number | null }
