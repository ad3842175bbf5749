/** Every main -> renderer event: name -> payload type. Pure TypeScript. */
import type { RunProgress, RunStatus } from './types'

export interface Events {
  'run:progress': RunProgress
  'run:status': { runId: number; status: RunStatus; error?: string | null }
  'run:log': { runId: number; message: string }
  'dataset:progress': { path: string; done: number; total: number }
  'model:download': { modelId: string; received: number; total: number | null }
}

export type EventName = keyof Events
