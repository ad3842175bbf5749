/**
 * One interface over the two ways a training job runs in its own process: Electron's
 * utilityProcess in the app (adapter in index.ts) and child_process.fork under plain Node
 * (browser mode, CLI, tests).
 */
import { fork } from 'node:child_process'
import type { FromJob, ToJob } from '../../shared/job-messages'

export interface JobProcess {
  readonly pid: number | undefined
  send(msg: ToJob): void
  onMessage(listener: (msg: FromJob) => void): void
  onExit(listener: (code: number | null, signal: string | null) => void): void
  kill(): void
}

export type JobLauncher = (script: string, env: Record<string, string>) => JobProcess

export const forkLauncher: JobLauncher = (script, env) => {
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // The heap for decoded images lives outside V8 (WASM), but leave room for big datasets.
    execArgv: ['--max-old-space-size=4096'],
  })
  return {
    get pid() {
      return child.pid
    },
    send: (msg) => {
      if (child.connected) child.send(msg)
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as FromJob)),
    onExit: (listener) => child.on('exit', (code, signal) => listener(code, signal)),
    kill: () => {
      child.kill('SIGKILL')
    },
  }
}
