/**
 * Composition root: builds each service once, in order, and the router that serves them to both
 * transports. No electron import: index.ts passes in what only Electron can do (the folder dialog,
 * utilityProcess).
 */
import { databaseFile } from './ml/layout'
import { mkdirSync } from 'node:fs'
import type { AppInfo } from '../shared/types'
import { createHandlers } from './api/handlers'
import { openDatabase, schemaVersion, type TunewiseDb } from './db/database'
import { createRepositories, type Repositories } from './db/repositories'
import { createRouter, EventHub, type Router } from './ipc'
import { JobManager } from './jobs/job-manager'
import type { WorkerLauncher } from './tasks/worker-process'
import { TaskManager } from './tasks/task-manager'
import { DatasetStore } from './api/dataset-store'
import { detectBackend } from './ml/backend-detect'
import { appVersion } from './paths'

export interface ServicesOptions {
  dataDir: string
  mode: AppInfo['mode']
  launcher: WorkerLauncher
  workerScript: string
  /** Native folder dialog (Electron only); browser mode answers null and the UI shows a path field. */
  pickFolder?: (title?: string) => Promise<string | null>
  hub?: EventHub
  /** How long a cancelled task may take to stop before it is killed. Default 10 s. */
  cancelGraceMs?: number
  log?: (msg: string) => void
}

export interface Services {
  dataDir: string
  db: TunewiseDb
  repos: Repositories
  hub: EventHub
  jobs: JobManager
  tasks: TaskManager
  datasets: DatasetStore
  router: Router
  info(): AppInfo
  close(): void
}

export const INTERRUPTED_AT_START =
  'Tunewise closed or crashed while this run was training. Its metrics up to then are kept; start it again to finish.'

export function createServices(opts: ServicesOptions): Services {
  const log = opts.log ?? ((msg: string) => console.error(msg))
  mkdirSync(opts.dataDir, { recursive: true })
  const db = openDatabase(databaseFile(opts.dataDir))
  const repos = createRepositories(db)
  repos.runs.markInterrupted(INTERRUPTED_AT_START)
  const hub = opts.hub ?? new EventHub()
  const datasets = new DatasetStore(opts.dataDir, repos, hub)
  repos.tasks.markInterrupted()
  const forcedBackend = process.env.TUNEWISE_BACKEND || undefined
  const tasks = new TaskManager({
    launcher: opts.launcher,
    scriptFor: () => opts.workerScript,
    env: forcedBackend ? { TUNEWISE_BACKEND: forcedBackend } : {},
    recorder: repos.tasks,
    onUpdate: (info) => hub.emit('task:update', info),
    cancelGraceMs: opts.cancelGraceMs,
    log,
  })
  const jobs = new JobManager({
    runs: repos.runs,
    hub,
    tasks,
    dataDir: opts.dataDir,
    backend: forcedBackend,
    log,
  })
  const detected = detectBackend(forcedBackend)
  const info = (): AppInfo => ({
    version: appVersion(),
    backend: (jobs.backend() as AppInfo['backend'] | null) ?? detected.backend,
    backendReason: detected.reason,
    dataDir: opts.dataDir,
    schemaVersion: schemaVersion(db),
    mode: opts.mode,
  })
  const handlers = createHandlers({
    dataDir: opts.dataDir,
    repos,
    hub,
    jobs,
    tasks,
    datasets,
    info,
    pickFolder: opts.pickFolder,
  })
  const router = createRouter(handlers, log)
  let closed = false
  return {
    dataDir: opts.dataDir,
    db,
    repos,
    hub,
    jobs,
    tasks,
    datasets,
    router,
    info,
    close() {
      if (closed) return
      closed = true
      jobs.shutdown()
      tasks.shutdown()
      db.close()
    },
  }
}
