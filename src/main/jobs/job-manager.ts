/**
 * Training runs, one at a time, each as a `train` task of the task manager. Main owns the
 * database: this writes a run's status, metrics, evaluations and artifacts as its task reports
 * them, with the error's code, and forwards throttled progress to the windows.
 */
import { readdirSync, rmSync, statfsSync } from 'node:fs'
import { join } from 'node:path'
import type { ErrorCode } from '../../shared/errors'
import type { TrainEvent, TrainInput } from '../../shared/tasks'
import type { MetricPoint, RunConfig, RunProgress, RunStatus } from '../../shared/types'
import type { RunStatusFields } from '../db/run-repository'
import type { EventHub } from '../ipc'
import { runDir } from '../ml/layout'
import { TaskError, type TaskHandle, type TaskManager } from '../tasks/task-manager'

/** The parts of the run repository the manager writes to. */
export interface RunStore {
  create(config: RunConfig, datasetPath?: string, splitId?: string): number
  setStatus(id: number, status: RunStatus, fields?: RunStatusFields): void
  addMetrics(id: number, points: MetricPoint[]): void
  saveEvaluation(id: number, ev: Extract<TrainEvent, { type: 'evaluation' }>['evaluation']): void
  addArtifact(id: number, kind: string, path: string): void
}

/** What a job trains on: the dataset folder, the split assignment, the labels, and the stored split. */
export type JobInput = Omit<TrainInput, 'runId' | 'config' | 'dataDir' | 'backend'> & { splitId?: string }

export interface JobManagerOptions {
  runs: RunStore
  hub: EventHub
  tasks: TaskManager
  dataDir: string
  /** Forced backend for jobs (TUNEWISE_BACKEND). */
  backend?: string
  /** Minimum milliseconds between forwarded progress events. Default 200. */
  progressIntervalMs?: number
  log?: (msg: string) => void
}

interface ActiveJob {
  runId: number
  task: TaskHandle<'train'>
  startedAt: number
  progress: RunProgress | null
  lastProgressSent: number
  pendingProgress: ReturnType<typeof setTimeout> | null
}

export class JobManager {
  private queue: { runId: number; config: RunConfig; input: JobInput }[] = []
  private active: ActiveJob | null = null
  private idleWaiters: (() => void)[] = []
  private lastBackend: string | null = null

  constructor(private readonly opts: JobManagerOptions) {}

  /**
   * Creates a queued run and starts it when nothing else is training. `input` is what the job trains
   * on, resolved (and checked) by the caller before the run exists.
   */
  start(config: RunConfig, input: JobInput): number {
    const runId = this.opts.runs.create(config, input.datasetPath, input.splitId)
    this.queue.push({ runId, config, input })
    this.opts.hub.emit('run:status', { runId, status: 'queued' })
    this.pump()
    return runId
  }

  /** Cooperative cancel, then a kill after the grace period. Queued runs are simply dropped. */
  cancel(runId: number): boolean {
    const queued = this.queue.findIndex((q) => q.runId === runId)
    if (queued >= 0) {
      this.queue.splice(queued, 1)
      this.finish(runId, 'cancelled', { error: null, errorCode: null })
      this.pump()
      return true
    }
    if (!this.active || this.active.runId !== runId) return false
    this.active.task.cancel()
    return true
  }

  status(): { runId: number | null; progress: RunProgress | null; queued: number[]; taskId: string | null } {
    return {
      runId: this.active?.runId ?? null,
      progress: this.active?.progress ?? null,
      queued: this.queue.map((q) => q.runId),
      taskId: this.active?.task.id ?? null,
    }
  }

  /** The backend the last job reported, for the status line. */
  backend(): string | null {
    return this.lastBackend
  }

  /** Resolves when no job runs and none is queued. */
  whenIdle(): Promise<void> {
    if (!this.active && this.queue.length === 0) return Promise.resolve()
    return new Promise((ok) => this.idleWaiters.push(ok))
  }

  /** Ends queued runs as interrupted (app quit); the task manager kills the running one. */
  shutdown(): void {
    for (const q of this.queue.splice(0))
      this.safe(() =>
        this.finish(q.runId, 'interrupted', {
          error: 'Tunewise was closed before this run started.',
          errorCode: 'interrupted',
        }),
      )
  }

  private pump(): void {
    if (this.active) return
    const next = this.queue.shift()
    if (!next) {
      for (const w of this.idleWaiters.splice(0)) w()
      return
    }
    const { splitId: _splitId, ...data } = next.input
    const input: TrainInput = {
      runId: next.runId,
      config: next.config,
      dataDir: this.opts.dataDir,
      backend: this.opts.backend,
      ...data,
    }
    const startedAt = Date.now()
    try {
      this.opts.runs.setStatus(next.runId, 'running', { startedAt: new Date(startedAt).toISOString() })
    } catch (err) {
      this.opts.log?.(`run ${next.runId}: could not mark it running: ${String(err)}`)
      this.pump()
      return
    }
    this.opts.hub.emit('run:status', { runId: next.runId, status: 'running' })
    const job: ActiveJob = {
      runId: next.runId,
      startedAt,
      progress: null,
      lastProgressSent: 0,
      pendingProgress: null,
      task: null as unknown as TaskHandle<'train'>,
    }
    this.active = job
    job.task = this.opts.tasks.start('train', input, {
      runId: job.runId,
      label: `Training “${next.config.name}”`,
      onEvent: (event) => this.onEvent(job, event),
    })
    job.task.result.then(
      (out) =>
        this.end(job, 'succeeded', {
          error: null,
          errorCode: null,
          // One definition (src/shared/scores.ts): the kept weights' validation accuracy, never a curve's maximum.
          bestValAccuracy: out.bestValAccuracy,
          testAccuracy: out.testAccuracy,
        }),
      (err: unknown) => {
        const status: RunStatus =
          err instanceof TaskError ? (err.status === 'cancelled' ? 'cancelled' : err.status) : 'failed'
        const code: ErrorCode = err instanceof TaskError ? err.code : 'internal'
        this.end(job, status, {
          error: status === 'cancelled' ? null : err instanceof Error ? err.message : String(err),
          errorCode: status === 'cancelled' ? null : code,
          bestValAccuracy: null,
        })
      },
    )
  }

  /** Writes what the task reports. A database error here fails the task (the task manager stops it). */
  private onEvent(job: ActiveJob, event: TrainEvent): void {
    const runs = this.opts.runs
    switch (event.type) {
      case 'backend':
        this.lastBackend = event.backend
        runs.setStatus(job.runId, 'running', { backend: event.backend, backendReason: event.reason })
        this.opts.hub.emit('run:log', { runId: job.runId, message: `Training on ${event.backend}: ${event.reason}` })
        break
      case 'progress':
        job.progress = event.progress
        this.forwardProgress(job)
        break
      case 'metrics': {
        const points = event.points.filter((p) => Number.isFinite(p.value))
        runs.addMetrics(job.runId, points)
        this.opts.hub.emit('run:epoch', { runId: job.runId, points })
        break
      }
      case 'log':
        this.opts.hub.emit('run:log', { runId: job.runId, message: event.message })
        break
      case 'evaluation':
        runs.saveEvaluation(job.runId, event.evaluation)
        break
      case 'artifact':
        runs.addArtifact(job.runId, event.kind, event.path)
        break
    }
  }

  private forwardProgress(job: ActiveJob): void {
    const interval = this.opts.progressIntervalMs ?? 200
    const now = Date.now()
    const send = (): void => {
      job.pendingProgress = null
      job.lastProgressSent = Date.now()
      if (job.progress && this.active === job) this.opts.hub.emit('run:progress', job.progress)
    }
    if (now - job.lastProgressSent >= interval) send()
    else if (!job.pendingProgress) job.pendingProgress = setTimeout(send, interval - (now - job.lastProgressSent))
  }

  private end(job: ActiveJob, status: RunStatus, fields: RunStatusFields): void {
    if (job.pendingProgress) clearTimeout(job.pendingProgress)
    if (status !== 'succeeded') removeTemporaryFiles(this.opts.dataDir, job.runId)
    if (fields.errorCode === 'disk_full')
      fields = { ...fields, error: `${fields.error ?? ''} ${diskSpace(this.opts.dataDir)}`.trim() }
    this.safe(() => this.finish(job.runId, status, { ...fields, durationMs: Date.now() - job.startedAt }))
    if (this.active === job) this.active = null
    this.pump()
  }

  /** A database that cannot be written (a full disk) must not take the app down with it. */
  private safe(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.opts.log?.(`could not record a run's end: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  private finish(runId: number, status: RunStatus, fields: RunStatusFields): void {
    this.opts.hub.emit('run:status', {
      runId,
      status,
      error: fields.error ?? null,
      errorCode: fields.errorCode ?? null,
    })
    this.opts.runs.setStatus(runId, status, { ...fields, finishedAt: new Date().toISOString() })
  }
}

/** Removes half-written files (`model.tmp-*`) a run left behind when its worker died. */
export function removeTemporaryFiles(dataDir: string, runId: number): void {
  try {
    const dir = runDir(dataDir, runId)
    for (const name of readdirSync(dir))
      if (/\.tmp-/.test(name)) rmSync(join(dir, name), { recursive: true, force: true })
  } catch {
    // No folder: nothing was written.
  }
}

/** "12 MB free on the disk that holds the data folder; a run needs about 100 MB." */
export function diskSpace(dataDir: string): string {
  try {
    const s = statfsSync(dataDir)
    const free = Math.floor((s.bavail * s.bsize) / 1e6)
    return `${free} MB are free on the disk that holds the data folder (${dataDir}); a run needs about 100 MB for its model and history.`
  } catch {
    return `Free at least 100 MB on the disk that holds the data folder (${dataDir}).`
  }
}
