/**
 * Composition root: builds each service once, in order, and the router that serves them to both
 * transports. No electron import: index.ts passes in what only Electron can do (the folder dialog,
 * utilityProcess).
 */
import { databaseFile } from './ml/layout'
import { mkdirSync } from 'node:fs'
import { hostname } from 'node:os'
import type { Channel } from '../shared/contract'
import { acquireDataLock, type LockHolder } from './data-lock'
import { AppError } from './errors'
import type { AppInfo } from '../shared/types'
import { createHandlers } from './api/handlers'
import { openDatabase, schemaVersion, type TunewiseDb } from './db/database'
import { createRepositories, type Repositories } from './db/repositories'
import { createRouter, EventHub, type Handlers, type Router } from './ipc'
import { JobManager, removeTemporaryFiles } from './jobs/job-manager'
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
  /**
   * 'owner' (default) takes the data folder's lock, or opens read-only when another app holds it;
   * 'reader' (CLI read commands) never takes it and never recovers runs.
   */
  role?: 'owner' | 'reader'
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
  /** True when another app owns the data folder: nothing trains or writes here. */
  readOnly: boolean
  close(): void
}

/** How long the warm prediction worker waits for another image before it exits. Five minutes. */
export const RESIDENT_IDLE_MS = 5 * 60_000

export const INTERRUPTED_AT_START =
  'Tunewise closed or crashed while this run was training. Its metrics up to then are kept; start it again to finish.'

/** Channels that change the data folder: a read-only app refuses them with one sentence. */
const WRITE_CHANNELS: readonly Channel[] = [
  'models:import',
  'models:download',
  'datasets:import',
  'datasets:sample',
  'datasets:exclude',
  'splits:preview',
  'runs:start',
  'runs:cancel',
  'runs:update',
  'runs:delete',
  'runs:export',
  'runs:predict',
  'tasks:cancel',
  'runs:lr-find',
  'datasets:suspects',
]

function readOnlyHandlers(handlers: Handlers, holder: LockHolder | null): Handlers {
  const who = holder
    ? `Another Tunewise (process ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ''})`
    : 'Another Tunewise'
  const refuse = (): never => {
    throw new AppError(
      'conflict',
      `${who} is using this data folder, so this window is read-only: you can look at History and Compare. Close the other one to train here.`,
    )
  }
  const out = { ...handlers } as Record<Channel, unknown>
  for (const c of WRITE_CHANNELS) out[c] = refuse
  // The wizard saves its draft as you go; a read-only window simply does not.
  out['drafts:save'] = () => ({ saved: false })
  return out as Handlers
}

export function createServices(opts: ServicesOptions): Services {
  const log = opts.log ?? ((msg: string) => console.error(msg))
  mkdirSync(opts.dataDir, { recursive: true })
  // Only the app that owns the data folder recovers crashed runs, trains and writes.
  const lock = acquireDataLock(opts.dataDir, opts.role ?? 'owner')
  const readOnly = !lock.owner
  const db = openDatabase(databaseFile(opts.dataDir))
  const repos = createRepositories(db)
  if (!readOnly) {
    for (const id of repos.runs.markInterrupted(INTERRUPTED_AT_START)) removeTemporaryFiles(opts.dataDir, id)
    repos.tasks.markInterrupted()
  }
  const hub = opts.hub ?? new EventHub()
  const forcedBackend = process.env.TUNEWISE_BACKEND || undefined
  const tasks = new TaskManager({
    launcher: opts.launcher,
    scriptFor: () => opts.workerScript,
    env: forcedBackend ? { TUNEWISE_BACKEND: forcedBackend } : {},
    recorder: repos.tasks,
    onUpdate: (info) => hub.emit('task:update', info),
    cancelGraceMs: opts.cancelGraceMs,
    // "Try your own image" answers a person who waits: its worker stays warm, with the last models loaded,
    // for a few idle minutes (~180 MB with MobileNetV2). Export is not kept: its check runs the whole model
    // over the test split, which grows a worker to ~700 MB that WASM never gives back.
    resident: { kinds: ['predict'], idleMs: RESIDENT_IDLE_MS },
    log,
  })
  // The scan reads every file of a folder the user chose: in a worker, so a hostile folder cannot stall main.
  const datasets = new DatasetStore(opts.dataDir, repos, hub, (root, onProgress, kind) =>
    tasks.run(
      'scan',
      { root, ...(kind ? { kind } : {}) },
      {
        label:
          kind === 'audio'
            ? 'Reading a folder of recordings'
            : kind === 'image'
              ? 'Reading a folder of images'
              : undefined,
        onProgress: (p) => onProgress(p.done ?? 0, p.total ?? 0),
      },
    ),
  )
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
    readOnly,
    lockHolder: lock.holder ? { pid: lock.holder.pid, host: lock.holder.host, startedAt: lock.holder.startedAt } : null,
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
  const router = createRouter(readOnly ? readOnlyHandlers(handlers, lock.holder) : handlers, log)
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
    readOnly,
    close() {
      if (closed) return
      closed = true
      jobs.shutdown()
      tasks.shutdown()
      db.close()
      lock.release()
    },
  }
}
