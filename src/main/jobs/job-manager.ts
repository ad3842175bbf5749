/**
 * Runs training jobs one at a time, each in its own process. Main owns the database: it writes
 * status and metrics in transactions and forwards throttled progress to the windows.
 */
import type { ErrorInfo } from '../../shared/contract'
import type { FromJob, JobStart, JobTask } from '../../shared/job-messages'
import { AppError } from '../errors'
import type { MetricPoint, RunConfig, RunProgress, RunStatus } from '../../shared/types'
import type { RunStatusFields } from '../db/run-repository'
import type { EventHub } from '../ipc'
import type { JobLauncher, JobProcess } from './job-process'

/** The parts of the run repository the manager writes to. */
export interface RunStore {
  create(config: RunConfig, datasetPath?: string): number
  setStatus(id: number, status: RunStatus, fields?: RunStatusFields): void
  addMetrics(id: number, points: MetricPoint[]): void
  saveEvaluation(id: number, ev: Extract<FromJob, { type: 'evaluation' }>['evaluation']): void
  addArtifact(id: number, kind: string, path: string): void
}

/** What a job trains on: the dataset folder, the split assignment and the labels. */
export type JobInput = Omit<JobStart, 'type' | 'runId' | 'config' | 'dataDir' | 'backend'>

export interface JobManagerOptions {
  runs: RunStore
  hub: EventHub
  launcher: JobLauncher
  /** Path of the built job-worker script. */
  workerScript: string
  dataDir: string
  /** Forced backend for jobs (TUNEWISE_BACKEND). */
  backend?: string
  /** How long a cancelled job may take to stop on its own before it is killed. Default 10 s. */
  cancelGraceMs?: number
  /** Minimum milliseconds between forwarded progress events. Default 200. */
  progressIntervalMs?: number
  log?: (msg: string) => void
}

interface ActiveJob {
  runId: number
  proc: JobProcess
  startedAt: number
  cancelRequested: boolean
  finished: boolean
  progress: RunProgress | null
  lastProgressSent: number
  pendingProgress: ReturnType<typeof setTimeout> | null
  killTimer: ReturnType<typeof setTimeout> | null
  bestVal: number | null
}

const ERROR_CODES: ErrorInfo['code'][] = [
  'invalid_input',
  'not_found',
  'conflict',
  'bad_data',
  'internal',
  'unavailable',
  'cancelled',
]
function isErrorCode(code: string): code is ErrorInfo['code'] {
  return (ERROR_CODES as string[]).includes(code)
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
    const runId = this.opts.runs.create(config, input.datasetPath)
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
      this.finish(runId, 'cancelled', { error: null })
      return true
    }
    const job = this.active
    if (!job || job.runId !== runId || job.finished) return false
    job.cancelRequested = true
    job.proc.send({ type: 'cancel' })
    job.killTimer = setTimeout(() => job.proc.kill(), this.opts.cancelGraceMs ?? 10_000)
    return true
  }

  status(): { runId: number | null; progress: RunProgress | null; queued: number[]; pid: number | null } {
    return {
      runId: this.active?.runId ?? null,
      progress: this.active?.progress ?? null,
      queued: this.queue.map((q) => q.runId),
      pid: this.active?.proc.pid ?? null,
    }
  }

  /**
   * Runs model work other than training (timing probe, layer list, import, download, export check,
   * prediction) in its own process, so TensorFlow never runs on the main process. Errors keep
   * their code; a task that runs longer than `timeoutMs` is killed.
   */
  runTask<T>(
    task: JobTask,
    opts: { timeoutMs?: number; onProgress?: (received: number, total: number | null) => void } = {},
  ): Promise<T> {
    return new Promise((ok, fail) => {
      const proc = this.launch()
      let settled = false
      const done = (err: Error | null, value?: unknown): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err) fail(err)
        else ok(value as T)
      }
      const timer = setTimeout(
        () => {
          proc.kill()
          done(new AppError('internal', 'That took too long and was stopped. Try again, or with fewer images.'))
        },
        opts.timeoutMs ?? 10 * 60_000,
      )
      proc.onMessage((msg) => {
        if (msg.type === 'ready') proc.send({ type: 'task', task })
        else if (msg.type === 'task-progress') opts.onProgress?.(msg.received, msg.total)
        else if (msg.type === 'task-result') done(null, msg.value)
        else if (msg.type === 'error') done(new AppError(isErrorCode(msg.code) ? msg.code : 'internal', msg.message))
      })
      proc.onExit((code, signal) =>
        done(new AppError('internal', `The worker process stopped unexpectedly (${signal ?? `exit ${code}`}).`)),
      )
    })
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

  /** Kills the running job (app quit). Its run is marked interrupted. */
  shutdown(): void {
    for (const q of this.queue.splice(0))
      this.finish(q.runId, 'interrupted', { error: 'Tunewise was closed before this run started.' })
    if (this.active && !this.active.finished) this.active.proc.kill()
  }

  /** A worker process on the forced backend, if any. */
  private launch(): JobProcess {
    return this.opts.launcher(this.opts.workerScript, this.opts.backend ? { TUNEWISE_BACKEND: this.opts.backend } : {})
  }

  private pump(): void {
    if (this.active || this.queue.length === 0) {
      if (!this.active && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w()
      return
    }
    const next = this.queue.shift()!
    const start: JobStart = {
      type: 'start',
      runId: next.runId,
      config: next.config,
      dataDir: this.opts.dataDir,
      backend: this.opts.backend,
      ...next.input,
    }
    const proc = this.launch()
    const job: ActiveJob = {
      runId: next.runId,
      proc,
      startedAt: Date.now(),
      cancelRequested: false,
      finished: false,
      progress: null,
      lastProgressSent: 0,
      pendingProgress: null,
      killTimer: null,
      bestVal: null,
    }
    this.active = job
    this.opts.runs.setStatus(job.runId, 'running', { startedAt: new Date(job.startedAt).toISOString() })
    this.opts.hub.emit('run:status', { runId: job.runId, status: 'running' })
    proc.onMessage((msg) => this.onMessage(job, msg, start))
    proc.onExit((code, signal) => this.onExit(job, code, signal))
  }

  private onMessage(job: ActiveJob, msg: FromJob, start: JobStart): void {
    if (job.finished) return
    const runs = this.opts.runs
    switch (msg.type) {
      case 'ready':
        job.proc.send(start)
        break
      case 'backend':
        this.lastBackend = msg.backend
        runs.setStatus(job.runId, 'running', { backend: msg.backend, backendReason: msg.reason })
        this.opts.hub.emit('run:log', { runId: job.runId, message: `Training on ${msg.backend}: ${msg.reason}` })
        break
      case 'progress':
        job.progress = msg.progress
        this.forwardProgress(job)
        break
      case 'epoch': {
        const { phase, epoch, t, values } = msg.metrics
        const points: MetricPoint[] = []
        for (const [key, value] of Object.entries(values)) {
          if (!Number.isFinite(value)) continue
          const isVal = key.startsWith('val_')
          points.push({
            phase,
            epoch,
            step: null,
            split: isVal ? 'val' : 'train',
            name: isVal ? key.slice(4) : key,
            value,
            t,
          })
          if (key === 'val_acc' && (job.bestVal === null || value > job.bestVal)) job.bestVal = value
        }
        runs.addMetrics(job.runId, points)
        this.opts.hub.emit('run:epoch', { runId: job.runId, points })
        break
      }
      case 'log':
        this.opts.hub.emit('run:log', { runId: job.runId, message: msg.message })
        break
      case 'evaluation':
        runs.saveEvaluation(job.runId, msg.evaluation)
        break
      case 'artifact':
        runs.addArtifact(job.runId, msg.kind, msg.path)
        break
      case 'done':
        this.finish(job.runId, msg.status, {
          error: null,
          bestValAccuracy: msg.bestValAccuracy ?? job.bestVal,
          testAccuracy: msg.testAccuracy,
          durationMs: Date.now() - job.startedAt,
        })
        job.finished = true
        break
      case 'error':
        this.finish(job.runId, job.cancelRequested ? 'cancelled' : 'failed', {
          error: msg.message,
          bestValAccuracy: job.bestVal,
          durationMs: Date.now() - job.startedAt,
        })
        job.finished = true
        break
    }
  }

  private forwardProgress(job: ActiveJob): void {
    const interval = this.opts.progressIntervalMs ?? 200
    const now = Date.now()
    const send = (): void => {
      job.pendingProgress = null
      job.lastProgressSent = Date.now()
      if (job.progress) this.opts.hub.emit('run:progress', job.progress)
    }
    if (now - job.lastProgressSent >= interval) send()
    else if (!job.pendingProgress) job.pendingProgress = setTimeout(send, interval - (now - job.lastProgressSent))
  }

  private onExit(job: ActiveJob, code: number | null, signal: string | null): void {
    if (job.killTimer) clearTimeout(job.killTimer)
    if (job.pendingProgress) clearTimeout(job.pendingProgress)
    if (!job.finished) {
      job.finished = true
      if (job.cancelRequested) {
        this.finish(job.runId, 'cancelled', { error: null, durationMs: Date.now() - job.startedAt })
      } else {
        const how = signal ? `was killed (${signal})` : `exited with code ${code}`
        this.finish(job.runId, 'interrupted', {
          error: `The training process ${how} before the run finished. Nothing else was affected; start the run again.`,
          bestValAccuracy: job.bestVal,
          durationMs: Date.now() - job.startedAt,
        })
      }
    }
    if (this.active === job) this.active = null
    this.pump()
  }

  private finish(
    runId: number,
    status: RunStatus,
    fields: {
      error?: string | null
      bestValAccuracy?: number | null
      testAccuracy?: number | null
      durationMs?: number
    },
  ): void {
    this.opts.runs.setStatus(runId, status, { ...fields, finishedAt: new Date().toISOString() })
    this.opts.hub.emit('run:status', { runId, status, error: fields.error ?? null })
  }
}
