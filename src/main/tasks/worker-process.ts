/**
 * One interface over the two ways a worker runs in its own process: Electron's utilityProcess in
 * the app (adapter in index.ts) and child_process.fork under plain Node (browser mode, CLI, tests,
 * and the extraction shards a training worker starts).
 */
import { fork } from 'node:child_process'
import type { FromWorker, ToWorker } from '../../shared/tasks'

export interface WorkerProcess {
  readonly pid: number | undefined
  send(msg: ToWorker): void
  onMessage(listener: (msg: FromWorker) => void): void
  onExit(listener: (code: number | null, signal: string | null) => void): void
  kill(): void
  /** Lets this process exit while the worker idles (optional: Electron's utility processes have no such handle). */
  unref?(): void
  /** Undoes `unref` when the worker gets work again. */
  ref?(): void
}

export type WorkerLauncher = (script: string, env: Record<string, string>, execArgv?: string[]) => WorkerProcess

export const forkLauncher: WorkerLauncher = (script, env, execArgv = []) => {
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // The heap for decoded images lives outside V8 (WASM), but leave room for big datasets.
    execArgv: ['--max-old-space-size=4096', ...execArgv],
  })
  // A send racing the child's exit must not throw in the parent (ERR_IPC_CHANNEL_CLOSED).
  child.on('error', () => undefined)
  return {
    get pid() {
      return child.pid
    },
    send: (msg) => {
      if (child.connected) child.send(msg, (err) => void err)
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as FromWorker)),
    onExit: (listener) => child.on('exit', (code, signal) => listener(code, signal)),
    kill: () => {
      child.kill('SIGKILL')
    },
    unref: () => {
      child.unref()
      child.channel?.unref()
    },
    ref: () => {
      child.ref()
      child.channel?.ref()
    },
  }
}
