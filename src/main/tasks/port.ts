/**
 * The child side of every worker process: it receives `run` and `cancel` messages, calls the
 * handler for the task's kind, and reports progress, events and one end (done, failed with a
 * code, or cancelled). Electron's utilityProcess gives `process.parentPort`; child_process.fork
 * gives `process.send`. A worker whose parent goes away exits at once instead of computing on.
 */
import { isErrorCode } from '../../shared/errors'
import type { FromWorker, TaskEvent, TaskInput, TaskKind, TaskOutput, TaskProgress, ToWorker } from '../../shared/tasks'

/** What a task handler gets besides its input. */
export interface TaskContext<K extends TaskKind> {
  id: string
  /** True once the parent asked to cancel; handlers poll it between units of work. */
  shouldStop(): boolean
  progress(p: TaskProgress): void
  emit(event: TaskEvent<K>): void
}

export type TaskHandlers = {
  [K in TaskKind]?: (input: TaskInput<K>, ctx: TaskContext<K>) => Promise<TaskOutput<K>>
}

interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): void
  postMessage(msg: unknown): void
}

const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort

function post(msg: FromWorker): void {
  try {
    if (parentPort) parentPort.postMessage(msg)
    else if (process.connected) process.send?.(msg)
  } catch {
    // The parent is gone; the disconnect handler ends this process.
  }
}

/** An error as a code and a sentence; anything unexpected becomes `internal`. */
function toErrorInfo(err: unknown): { code: import('../../shared/errors').ErrorCode; message: string } {
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  if (err instanceof Error && err.name === 'AppError' && isErrorCode(code)) return { code, message }
  if (/ENOSPC|SQLITE_FULL|no space left/i.test(message)) return { code: 'disk_full', message }
  if (/out of memory|memory access out of bounds|allocation failed/i.test(message))
    return { code: 'out_of_memory', message }
  return { code: 'internal', message: `Something went wrong: ${message}` }
}

/**
 * Serves tasks in this process until it exits. A worker process runs one task and then exits
 * (TensorFlow's memory is only truly returned when the process ends), unless the task came with
 * `stay` (a resident kind): then it waits for the next task, with whatever it loaded still in
 * memory, until the parent says `exit` or goes away.
 */
export function serveTasks(handlers: TaskHandlers): void {
  const cancelled = new Set<string>()
  let busy = false
  const onMessage = (msg: ToWorker): void => {
    if (!msg || typeof msg !== 'object') return
    if (msg.type === 'cancel') {
      cancelled.add(msg.id)
      return
    }
    if (msg.type === 'exit') process.exit(0)
    if (msg.type !== 'run' || busy) return
    busy = true
    const { id, kind } = msg
    // After the end is posted: wait for the next task, or let the last messages flush and exit.
    const next = (): void => {
      if (msg.stay) busy = false
      else setTimeout(() => process.exit(0), 50)
    }
    if (cancelled.has(id)) {
      post({ type: 'cancelled', id })
      next()
      return
    }
    // The first progress says the work has begun (the task list shows it as started).
    post({ type: 'progress', id, progress: { fraction: 0, stage: 'started' } })
    const handler = handlers[kind] as ((input: unknown, ctx: TaskContext<TaskKind>) => Promise<unknown>) | undefined
    const ctx: TaskContext<TaskKind> = {
      id,
      shouldStop: () => cancelled.has(id),
      progress: (progress) => post({ type: 'progress', id, progress }),
      emit: (event) => post({ type: 'event', id, event }),
    }
    const run = handler
      ? handler(msg.input, ctx)
      : Promise.reject(
          Object.assign(new Error(`This worker cannot run '${kind}' tasks.`), { name: 'AppError', code: 'internal' }),
        )
    run
      .then((output) => post(cancelled.has(id) ? { type: 'cancelled', id } : { type: 'done', id, output }))
      .catch((err: unknown) => {
        const info = toErrorInfo(err)
        post(
          info.code === 'cancelled' || cancelled.has(id)
            ? { type: 'cancelled', id }
            : { type: 'failed', id, error: info },
        )
      })
      .finally(next)
  }
  if (parentPort) parentPort.on('message', (e) => onMessage(e.data as ToWorker))
  else {
    process.on('message', (m) => onMessage(m as ToWorker))
    // The parent died or closed the channel: nothing will read our results.
    process.on('disconnect', () => process.exit(0))
  }
  post({ type: 'ready', pid: process.pid })
}
