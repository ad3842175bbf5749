/** Every main -> renderer event: name -> payload type. Pure TypeScript. */
import type { MetricPoint, RunProgress, RunStatus } from './types'

export interface Events {
  'run:progress': RunProgress
  'run:status': { runId: number; status: RunStatus; error?: string | null }
  'run:log': { runId: number; message: string }
  /** The points of one finished epoch, as written to the database: live curves without polling. */
  'run:epoch': { runId: number; points: MetricPoint[] }
  'dataset:progress': { path: string; done: number; total: number }
  'model:download': { modelId: string; received: number; total: number | null }
}

export type EventName = keyof Events
