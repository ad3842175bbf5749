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

/** A short timing probe: load the model and time a few forward passes, for the estimate. */
export interface JobProbe {
  type: 'probe'
  modelId: string
  dataDir: string
}

export type ToJob = JobStart | JobProbe | { type: 'cancel' }

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
  | { type: 'probe-result'; backend: string; secondsPerImage: number }
