/**
 * Composition root: builds each service once, in order, and the router that serves them to both
 * transports. No electron import: index.ts passes in what only Electron can do (the folder dialog,
 * utilityProcess).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { AppInfo } from '../shared/types'
import { createHandlers } from './api/handlers'
import { openDatabase, schemaVersion, type TunewiseDb } from './db/database'
import { createRepositories, type Repositories } from './db/repositories'
import { createRouter, EventHub, type Router } from './ipc'
import { JobManager } from './jobs/job-manager'
import type { JobLauncher } from './jobs/job-process'
import { DatasetStore } from './api/dataset-store'
import { detectBackend } from './ml/backend-detect'
import { appVersion } from './paths'

export interface ServicesOptions {
  dataDir: string
  mode: AppInfo['mode']
  launcher: JobLauncher
  workerScript: string
  /** Native folder dialog (Electron only); browser mode answers null and the UI shows a path field. */
  pickFolder?: (title?: string) => Promise<string | null>
  hub?: EventHub
  log?: (msg: string) => void
}

export interface Services {
  dataDir: string
  db: TunewiseDb
  repos: Repositories
  hub: EventHub
  jobs: JobManager
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
  const db = openDatabase(join(opts.dataDir, 'tunewise.db'))
  const repos = createRepositories(db)
  repos.runs.markInterrupted(INTERRUPTED_AT_START)
  const hub = opts.hub ?? new EventHub()
  const datasets = new DatasetStore(opts.dataDir, repos, hub)
  const forcedBackend = process.env.TUNEWISE_BACKEND || undefined
  const jobs = new JobManager({
    runs: repos.runs,
    hub,
    launcher: opts.launcher,
    workerScript: opts.workerScript,
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
    datasets,
    router,
    info,
    close() {
      if (closed) return
      closed = true
      jobs.shutdown()
      db.close()
    },
  }
}
