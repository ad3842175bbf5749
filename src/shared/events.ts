/** Every main -> renderer event: name -> payload type. Pure TypeScript. */
import type { ErrorCode } from './errors'
import type { TaskInfo } from './tasks'
import type { MetricPoint, RunProgress, RunStatus } from './types'

export interface Events {
  'run:progress': RunProgress
  'run:status': { runId: number; status: RunStatus; error?: string | null; errorCode?: ErrorCode | null }
  'run:log': { runId: number; message: string }
  /** The points of one finished epoch, as written to the database: live curves without polling. */
  'run:epoch': { runId: number; points: MetricPoint[] }
  'dataset:progress': { path: string; done: number; total: number }
  'model:download': { modelId: string; received: number; total: number | null }
  /** A background task started, progressed (at most 10 a second) or ended. */
  'task:update': TaskInfo
}

export type EventName = keyof Events
