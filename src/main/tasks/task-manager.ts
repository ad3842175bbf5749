/**
 * The parent side of every task: it starts one worker process per task, queues tasks beyond a
 * per-kind limit, forwards progress (at most 10 a second) and events, cancels cooperatively and
 * then by force, and records how each ended: done, failed with a code, cancelled, or interrupted
 * (the process died). Main uses it for every background job; a training worker uses it for its
 * extraction shards. No electron import: the launcher is passed in.
 *
 * Most workers run one task and exit (TensorFlow's memory is only truly returned when a process ends).
 * The `resident` kinds (in the app: "try your own image") are short and answer a person who
 * waits: their worker stays after the task, idle, and the next one runs in it without starting a process,
 * TensorFlow or the model again. One idle worker at most; it leaves after `idleMs` without work, on
 * `releaseIdle()` (a run was deleted) and on shutdown. A cancelled or crashed task never leaves its worker.
 */
import { randomUUID } from 'node:crypto'
import type { ErrorCode, ErrorInfo } from '../../shared/errors'
import {
  taskLabels,
  type FromWorker,
  type TaskEvent,
  type TaskInfo,
  type TaskInput,
  type TaskKind,
  type TaskOutput,
  type TaskProgress,
  type TaskStatus,
} from '../../shared/tasks'
import { AppError } from '../errors'
import type { WorkerLauncher, WorkerProcess } from './worker-process'

/** A task's failure, cancel or interruption, with its code. */
export class TaskError extends AppError {
  constructor(
    readonly status: Exclude<TaskStatus, 'queued' | 'running' | 'done'>,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message)
  }
}

export interface TaskOptions<K extends TaskKind> {
  /** What the task list shows; default the kind's label. */
  label?: string
  runId?: number
  onProgress?: (p: TaskProgress) => void
  onEvent?: (e: TaskEvent<K>) => void
  /** Kill the task after this long. Default none for training, 10 minutes for the rest. */
  timeoutMs?: number
}

export interface TaskHandle<K extends TaskKind> {
  id: string
  result: Promise<TaskOutput<K>>
  cancel(): void
}

/** Where task ends are recorded (the database in the app). */
export interface TaskRecorder {
  record(info: TaskInfo): void
}

export interface TaskManagerOptions {
  launcher: WorkerLauncher
  /** The worker script that serves a kind. */
  scriptFor: (kind: TaskKind) => string
  /** Extra environment for workers (e.g. a forced backend). */
  env?: Record<string, string>
  execArgv?: string[]
  /** Tasks of one kind that may run at once. Default 1 for train, download and probe; 2 otherwise. */
  limits?: Partial<Record<TaskKind, number>>
  /** How long a cancelled task may take to stop on its own before it is killed. Default 10 s. */
  cancelGraceMs?: number
  /** Minimum milliseconds between two progress reports of one task. Default 100. */
  progressIntervalMs?: number
  onUpdate?: (info: TaskInfo) => void
  recorder?: TaskRecorder
  log?: (msg: string) => void
  /** Kinds whose worker stays for the next task of one of them, and how long it waits idle (ms). Default none. */
  resident?: { kinds: readonly TaskKind[]; idleMs: number }
}

/** A worker process and the task it serves now (null while idle or once that task has ended). */
interface Slot {
  proc: WorkerProcess
  entry: Entry | null
}

/** Error codes after which a resident worker is not trusted with another task. */
const RETIRE_CODES: ReadonlySet<ErrorCode> = new Set(['internal', 'out_of_memory', 'timeout', 'interrupted'])

interface Entry {
  info: TaskInfo
  kind: TaskKind
  input: unknown
  opts: TaskOptions<TaskKind>
  proc: WorkerProcess | null
  slot: Slot | null
  cancelRequested: boolean
  ok: (v: unknown) => void
  fail: (e: TaskError) => void
  timers: ReturnType<typeof setTimeout>[]
  lastProgress: number
  /** The end the worker reported; recorded once its process has exited, so no process outlives its task. */
  pending: { status: TaskStatus; error: ErrorInfo | null; output?: unknown } | null
}

const DEFAULT_LIMITS: Partial<Record<TaskKind, number>> = { train: 1, download: 1, probe: 1 }
const KEEP_FINISHED = 20

export class TaskManager {
  private readonly entries = new Map<string, Entry>()
  private readonly finished: TaskInfo[] = []
  private idle: { slot: Slot; timer: ReturnType<typeof setTimeout> } | null = null

  constructor(private readonly opts: TaskManagerOptions) {}

  /** Starts (or queues) a task. Its result rejects with a TaskError when it does not end `done`. */
  start<K extends TaskKind>(kind: K, input: TaskInput<K>, opts: TaskOptions<K> = {}): TaskHandle<K> {
    const id = randomUUID()
    let ok!: (v: unknown) => void
    let fail!: (e: TaskError) => void
    const result = new Promise<TaskOutput<K>>((resolve, reject) => {
      ok = resolve as (v: unknown) => void
      fail = reject
    })
    // A caller that only cancels must not see an unhandled rejection.
    result.catch(() => undefined)
    const entry: Entry = {
      info: {
        id,
        kind,
        label: opts.label ?? taskLabels[kind],
        status: 'queued',
        progress: null,
        startedAt: new Date().toISOString(),
        finishedAt: null,
        error: null,
        runId: opts.runId ?? null,
      },
      kind,
      input,
      opts: opts as TaskOptions<TaskKind>,
      proc: null,
      slot: null,
      cancelRequested: false,
      ok,
      fail,
      timers: [],
      lastProgress: 0,
      pending: null,
    }
    this.entries.set(id, entry)
    this.update(entry)
    this.pump()
    return { id, result, cancel: () => void this.cancel(id) }
  }

  /** Runs a task and waits for its output. */
  run<K extends TaskKind>(kind: K, input: TaskInput<K>, opts: TaskOptions<K> = {}): Promise<TaskOutput<K>> {
    return this.start(kind, input, opts).result
  }

  /** Cooperative cancel, then a kill after the grace period. A queued task simply ends. */
  cancel(id: string): boolean {
    const e = this.entries.get(id)
    if (!e) return false
    if (!e.proc) {
      this.end(e, 'cancelled', { code: 'cancelled', message: 'Cancelled before it started.' })
      return true
    }
    if (e.cancelRequested) return true
    e.cancelRequested = true
    e.proc.send({ type: 'cancel', id })
    e.timers.push(setTimeout(() => e.proc?.kill(), this.opts.cancelGraceMs ?? 10_000))
    return true
  }

  /** Running and queued tasks, then the most recent finished ones. */
  list(): TaskInfo[] {
    return [...[...this.entries.values()].map((e) => e.info), ...this.finished]
  }

  /** The process id of a running task (tests check that none is left behind). */
  pidOf(id: string): number | undefined {
    return this.entries.get(id)?.proc?.pid
  }

  running(kind?: TaskKind): number {
    return [...this.entries.values()].filter((e) => e.proc && (!kind || e.kind === kind)).length
  }

  /** The process id of the idle resident worker, if one waits (tests check reuse and release). */
  idlePid(): number | undefined {
    return this.idle?.slot.proc.pid
  }

  /** Lets the idle resident worker go (and the models it holds), e.g. when a run is deleted. */
  releaseIdle(): void {
    if (this.idle) this.retire(this.idle.slot)
  }

  /** Ends every task: queued ones as cancelled, running ones killed and recorded interrupted. */
  shutdown(reason = 'Tunewise was closed.'): void {
    if (this.idle) {
      const { slot, timer } = this.idle
      clearTimeout(timer)
      this.idle = null
      slot.proc.kill()
    }
    for (const e of [...this.entries.values()]) {
      if (!e.proc) this.end(e, 'cancelled', { code: 'cancelled', message: reason })
      else {
        const proc = e.proc
        this.end(e, 'interrupted', { code: 'interrupted', message: reason })
        proc.kill()
      }
    }
  }

  private limit(kind: TaskKind): number {
    return this.opts.limits?.[kind] ?? DEFAULT_LIMITS[kind] ?? 2
  }

  private pump(): void {
    for (const e of this.entries.values()) {
      if (e.proc || e.info.status !== 'queued') continue
      if (this.running(e.kind) >= this.limit(e.kind)) continue
      this.launch(e)
    }
  }

  private isResident(kind: TaskKind): boolean {
    return this.opts.resident?.kinds.includes(kind) ?? false
  }

  private launch(e: Entry): void {
    if (this.isResident(e.kind) && this.idle) {
      // A warm worker: no start-up, no 'ready'; the task runs at once.
      const { slot, timer } = this.idle
      clearTimeout(timer)
      this.idle = null
      slot.proc.ref?.()
      this.bind(e, slot)
      slot.proc.send({ type: 'run', id: e.info.id, kind: e.kind, input: e.input, stay: true })
      return
    }
    const slot: Slot = {
      proc: this.opts.launcher(this.opts.scriptFor(e.kind), this.opts.env ?? {}, this.opts.execArgv),
      entry: null,
    }
    slot.proc.onMessage((msg) => {
      if (slot.entry) this.onMessage(slot.entry, msg)
    })
    slot.proc.onExit((code, signal) => {
      if (this.idle?.slot === slot) {
        clearTimeout(this.idle.timer)
        this.idle = null
      }
      const entry = slot.entry
      slot.entry = null
      if (entry) this.onExit(entry, code, signal)
    })
    this.bind(e, slot)
  }

  /** Gives `slot`'s process to task `e`: running from now, with its timeout. */
  private bind(e: Entry, slot: Slot): void {
    slot.entry = e
    e.slot = slot
    e.proc = slot.proc
    e.info.status = 'running'
    e.info.startedAt = new Date().toISOString()
    this.update(e)
    const timeoutMs = e.opts.timeoutMs ?? (e.kind === 'train' || e.kind === 'extract' ? undefined : 10 * 60_000)
    if (timeoutMs !== undefined)
      e.timers.push(
        setTimeout(() => {
          if (e.info.status !== 'running') return
          const proc = e.proc
          this.end(e, 'failed', { code: 'timeout', message: 'That took too long and was stopped.' })
          proc?.kill()
        }, timeoutMs),
      )
  }

  /** Keeps a resident worker whose task ended cleanly as the idle one (or lets it go if one waits already). */
  private park(slot: Slot): void {
    slot.entry = null
    if (this.idle) {
      this.retire(slot)
      return
    }
    const timer = setTimeout(() => this.retire(slot), this.opts.resident?.idleMs ?? 0)
    timer.unref?.()
    this.idle = { slot, timer }
    // An idle worker must not keep this process alive (a CLI that is done simply exits).
    slot.proc.unref?.()
  }

  /** Asks a worker to exit, and kills it if it has not after 2 s. */
  private retire(slot: Slot): void {
    if (this.idle?.slot === slot) {
      clearTimeout(this.idle.timer)
      this.idle = null
    }
    slot.proc.send({ type: 'exit' })
    const timer = setTimeout(() => slot.proc.kill(), 2_000)
    timer.unref?.()
  }

  private onMessage(e: Entry, msg: FromWorker): void {
    if (e.info.status !== 'running' || !msg || typeof msg !== 'object') return
    try {
      switch (msg.type) {
        case 'ready':
          e.proc?.send({
            type: 'run',
            id: e.info.id,
            kind: e.kind,
            input: e.input,
            ...(this.isResident(e.kind) ? { stay: true } : {}),
          })
          if (e.cancelRequested) e.proc?.send({ type: 'cancel', id: e.info.id })
          break
        case 'progress':
          e.info.progress = msg.progress
          e.opts.onProgress?.(msg.progress)
          this.update(e, true)
          break
        case 'event':
          e.opts.onEvent?.(msg.event as never)
          break
        case 'done':
          this.settle(e, { status: 'done', error: null, output: msg.output })
          break
        case 'failed':
          this.settle(e, { status: e.cancelRequested ? 'cancelled' : 'failed', error: msg.error })
          break
        case 'cancelled':
          this.settle(e, { status: 'cancelled', error: { code: 'cancelled', message: 'Cancelled.' } })
          break
      }
    } catch (err) {
      // A listener failed (e.g. the database is full): the task cannot be recorded as it runs, so stop it.
      const message = err instanceof Error ? err.message : String(err)
      const code: ErrorCode = /SQLITE_FULL|ENOSPC|disk is full/i.test(message) ? 'disk_full' : 'internal'
      this.opts.log?.(`task ${e.info.id} (${e.kind}): ${message}`)
      const proc = e.proc
      this.end(e, 'failed', { code, message: `Tunewise could not record this ${e.kind} task: ${message}` })
      proc?.kill()
    }
  }

  /**
   * Keeps the worker's reported end until its process exits; a worker that lingers is killed. A resident
   * worker whose task ended cleanly (done, or failed on its input) is kept instead, and the end recorded now.
   */
  private settle(e: Entry, end: NonNullable<Entry['pending']>): void {
    if (e.pending) return
    const slot = e.slot
    if (slot && this.isResident(e.kind)) {
      const clean =
        end.status === 'done' || (end.status === 'failed' && !RETIRE_CODES.has(end.error?.code ?? 'internal'))
      if (clean && !e.cancelRequested) {
        e.proc = null
        e.slot = null
        // Parked before the end is recorded, so a queued task of a resident kind can take the worker at once.
        this.park(slot)
        this.end(e, end.status, end.error, end.output)
        return
      }
      slot.proc.send({ type: 'exit' })
    }
    e.pending = end
    const proc = e.proc
    e.timers.push(setTimeout(() => proc?.kill(), 2_000))
  }

  private onExit(e: Entry, code: number | null, signal: string | null): void {
    e.proc = null
    if (e.pending && e.info.status === 'running') this.end(e, e.pending.status, e.pending.error, e.pending.output)
    else if (e.info.status === 'running') {
      if (e.cancelRequested) this.end(e, 'cancelled', { code: 'cancelled', message: 'Cancelled.' })
      else {
        const how = signal ? `was killed (${signal})` : `exited with code ${code}`
        this.end(e, 'interrupted', {
          code: 'interrupted',
          message: `The ${e.kind === 'train' ? 'training' : 'worker'} process ${how} before it finished. Nothing else was affected; start it again.`,
        })
      }
    }
    this.pump()
  }

  private end(e: Entry, status: TaskStatus, error: ErrorInfo | null, output?: unknown): void {
    if (e.info.status !== 'running' && e.info.status !== 'queued') return
    for (const t of e.timers) clearTimeout(t)
    e.timers = []
    e.info.status = status
    e.info.error = error
    e.info.finishedAt = new Date().toISOString()
    this.entries.delete(e.info.id)
    this.finished.unshift(e.info)
    this.finished.splice(KEEP_FINISHED)
    try {
      this.opts.recorder?.record(e.info)
    } catch (err) {
      this.opts.log?.(`could not record task ${e.info.id}: ${err instanceof Error ? err.message : String(err)}`)
    }
    this.update(e)
    if (status === 'done') e.ok(output)
    else e.fail(new TaskError(status as 'failed', error?.code ?? 'internal', error?.message ?? status))
    this.pump()
  }

  private update(e: Entry, isProgress = false): void {
    if (!this.opts.onUpdate) return
    const now = Date.now()
    if (isProgress && now - e.lastProgress < (this.opts.progressIntervalMs ?? 100)) return
    if (isProgress) e.lastProgress = now
    try {
      this.opts.onUpdate({ ...e.info })
    } catch (err) {
      this.opts.log?.(`task update listener: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
}
