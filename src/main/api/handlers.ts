/**
 * The handlers behind every channel of the contract. Inputs arrive already parsed by the router.
 */
import { runsDir } from '../ml/layout'
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { defaultRunConfig, mergeSettings, runConfigSchema } from '../../shared/run-config'
import type { AppInfo } from '../../shared/types'
import { dataKindConflict } from '../db/compare'
import type { Repositories } from '../db/repositories'
import { AppError } from '../errors'
import { ensureInside, isInside, PathRefusedError, safeJoin } from '../safe-path'
import type { EventHub, Handlers } from '../ipc'
import type { JobManager } from '../jobs/job-manager'
import type { TaskManager } from '../tasks/task-manager'
import type { DatasetStore } from './dataset-store'
import { diagnosticsInput } from './diagnostics-input'
import { checkFolder, RecentFolders } from './folders'
import { ModelService, runDataFacts } from './model-service'

export interface HandlerDeps {
  dataDir: string
  repos: Repositories
  hub: EventHub
  jobs: JobManager
  tasks: TaskManager
  datasets: DatasetStore
  info(): AppInfo
  pickFolder?: (title?: string) => Promise<string | null>
}

const DRAFT_KEY = 'wizard'

export function createHandlers(deps: HandlerDeps): Handlers {
  const { repos, jobs, datasets } = deps
  const models = new ModelService(deps.dataDir, deps.hub, repos, deps.tasks, () => jobs.status().runId !== null)

  const recent = new RecentFolders(repos.drafts)
  // Browser mode offers only the folders it may browse; Electron's system dialog reaches any folder,
  // so a typed or dropped path there may be any folder too.
  const folderRoots = (): string[] | null => (deps.pickFolder ? null : browseRoots(deps.dataDir))

  const runOrThrow = (runId: number) => {
    const run = repos.runs.get(runId)
    if (!run) throw new AppError('not_found', `Run ${runId} does not exist (it may have been deleted).`)
    return run
  }

  return {
    'app:info': () => deps.info(),
    'app:pick-folder': async ({ title }) => ({ path: deps.pickFolder ? await deps.pickFolder(title) : null }),
    'fs:list': ({ path }) => listFolder(path, browseRoots(deps.dataDir)),
    'fs:check-folder': ({ path }) => ({ path: checkFolder(path, folderRoots()) }),
    'fs:recent': () => recent.list((p) => checkFolder(p, folderRoots())),

    'models:list': () => models.list(),
    'models:layers': ({ modelId }) => models.layers(modelId),
    'models:import': ({ path }) => models.import(path),
    'models:download': ({ modelId }) => models.download(modelId),

    'datasets:import': async ({ path, kind }) => {
      const report = await datasets.import(path, kind)
      recent.add(report.path)
      return report
    },
    'datasets:sample': ({ kind }) => datasets.sample(kind),
    'datasets:get': ({ datasetId }) => datasets.get(datasetId),
    'datasets:exclude': ({ datasetId, files, classes, restore }) =>
      datasets.exclude(datasetId, files, classes, restore),
    'datasets:thumbnails': ({ datasetId, files }) => datasets.thumbnails(datasetId, files),
    'datasets:clip': async ({ datasetId, file }) => ({ file, dataUrl: await datasets.clipAudio(datasetId, file) }),

    'splits:preview': ({ datasetId, ratios }) => {
      const { assignment: _assignment, ...summary } = datasets.split(datasetId, ratios)
      return summary
    },

    'runs:start': async ({ config: given }) => {
      await models.requireAvailable(given.modelId)
      // The run trains on what the dataset holds, and says so in its stored config (History, Compare).
      const config = datasets.withDataKind(given)
      // Checked and split here, so a bad config fails before a run or a process exists.
      return { runId: jobs.start(config, datasets.prepareJob(config)) }
    },
    'runs:estimate': ({ config }) =>
      models.estimate(datasets.withDataKind(config), datasets.usableCount(config.datasetId)),
    'runs:cancel': ({ runId }) => ({ cancelled: jobs.cancel(runId) }),
    'runs:active': () => {
      const s = jobs.status()
      return { runId: s.runId, progress: s.progress, queued: s.queued }
    },
    'runs:list': (query) => repos.runs.list(query),
    'runs:get': ({ runId }) => runOrThrow(runId),
    'runs:metrics': ({ runIds }) => repos.runs.metrics(runIds),
    'runs:update': ({ runId, ...edit }) => {
      runOrThrow(runId)
      return repos.runs.update(runId, edit)
    },
    'runs:delete': ({ runId, keepArtifacts }) => {
      const status = jobs.status()
      if (status.runId === runId || status.queued.includes(runId))
        throw new AppError('conflict', 'This run is still training. Cancel it first, then delete it.')
      runOrThrow(runId)
      // The warm prediction worker may hold this run's model: let it go with the run.
      deps.tasks.releaseIdle()
      const { artifacts } = repos.runs.delete(runId)
      if (!keepArtifacts) {
        const runDir = safeJoin(runsDir(deps.dataDir), [String(runId)])
        for (const p of [...artifacts, runDir]) {
          // Only ever delete inside this run's own folder (`runs/1` never reaches `runs/10`).
          try {
            rmSync(ensureInside(runDir, p), { recursive: true, force: true })
          } catch (err) {
            if (!(err instanceof PathRefusedError)) throw err
          }
        }
      }
      return { deleted: true }
    },
    'runs:compare': ({ runIds }) => {
      const conflict = dataKindConflict(runIds.map((id) => ({ id, config: runOrThrow(id).config })))
      if (conflict) throw new AppError('invalid_input', conflict)
      return repos.runs.compare(runIds)
    },
    'runs:export': async ({ runId, dir, overwrite, format, zip, intendedUse }) => {
      const run = runOrThrow(runId)
      if (run.status !== 'succeeded') throw new AppError('conflict', 'Only a finished run can be exported.')
      const target = checkExportTarget(dir, deps.dataDir, overwrite, zip)
      return models.exportRun(run, target, { format, zip, overwrite, intendedUse }, runDataFacts(datasets, run))
    },
    'runs:card': async ({ runId, format, intendedUse }) => {
      const run = runOrThrow(runId)
      if (run.status !== 'succeeded') throw new AppError('conflict', 'Only a finished run has a model card.')
      return models.runCard(run, { format, intendedUse }, runDataFacts(datasets, run))
    },
    'runs:predict': async ({ runId, file, dataUrl }) => {
      const run = runOrThrow(runId)
      if (run.status !== 'succeeded') throw new AppError('conflict', 'Only a finished run can make predictions.')
      return models.predict(run, file, dataUrl)
    },
    'runs:evaluation': ({ runId, split }) => runOrThrow(runId).evaluations.find((e) => e.split === split) ?? null,
    'runs:export-history': ({ format, runId }) => {
      if (format === 'runs-csv') return { filename: 'tunewise-runs.csv', content: repos.runs.exportRunsCsv() }
      if (format === 'metrics-csv')
        return { filename: 'tunewise-metrics.csv', content: repos.runs.exportMetricsCsv(runId ? [runId] : undefined) }
      if (!runId) throw new AppError('invalid_input', 'Choose a run to export its settings.')
      const run = runOrThrow(runId)
      return { filename: `tunewise-run-${runId}.json`, content: JSON.stringify(run.config, null, 2) }
    },
    'runs:import-settings': ({ json }) => {
      let value: unknown
      try {
        value = JSON.parse(json)
      } catch {
        throw new AppError('bad_data', 'That file is not JSON. Choose a settings file exported from Tunewise.')
      }
      // A file from an older Tunewise lacks settings added since: they keep their defaults.
      const isObject = typeof value === 'object' && value !== null && !Array.isArray(value)
      const base = defaultRunConfig('', '') as unknown as Record<string, unknown>
      const parsed = runConfigSchema.safeParse(isObject ? mergeSettings(base, value as Record<string, unknown>) : value)
      if (!parsed.success) {
        const first = parsed.error.issues[0]
        throw new AppError(
          'bad_data',
          `Those settings are not valid: ${first?.message ?? 'unknown problem'}${first?.path.length ? ` (${first.path.join('.')})` : ''}.`,
        )
      }
      return parsed.data
    },

    // Images or sound clips, as training would see them (the dataset's kind, the run's clip settings).
    'runs:lr-find': async ({ config }) => {
      await models.requireAvailable(config.modelId)
      return deps.tasks.run('lr-find', diagnosticsInput(datasets, config, deps.dataDir, 'train'))
    },
    'datasets:suspects': async ({ config }) => {
      await models.requireAvailable(config.modelId)
      return deps.tasks.run('suspects', diagnosticsInput(datasets, config, deps.dataDir, 'all'))
    },
    'tasks:list': () => deps.tasks.list(),
    'tasks:cancel': ({ taskId }) => {
      const run = jobs.status()
      // Cancelling a training task cancels its run, so the run's record says so.
      if (run.taskId === taskId && run.runId !== null) return { cancelled: jobs.cancel(run.runId) }
      return { cancelled: deps.tasks.cancel(taskId) }
    },

    'drafts:get': () => ({ draft: repos.drafts.get(DRAFT_KEY) }),
    'drafts:save': ({ draft }) => {
      repos.drafts.save(DRAFT_KEY, draft ?? null)
      return { saved: true }
    },
  }
}

/**
 * Where an export may go: an absolute folder the user chose (never resolved against the server's
 * working directory), not a file, outside Tunewise's own data (its `exports` folder excepted), and
 * empty unless the user confirmed replacing what is there. With `zip` the target is a file: `dir` plus
 * `.zip` unless it already ends so, refused when it exists unless confirmed.
 * @returns the resolved target (folder, or .zip file).
 */
export function checkExportTarget(dir: string, dataDir: string, overwrite: boolean, zip = false): string {
  if (!isAbsolute(dir) || dir.includes('\0'))
    throw new AppError(
      'invalid_input',
      `Give the full path of the folder to export to (for example ${join(homedir(), 'models', 'my-classifier')}), not '${dir}'.`,
    )
  const resolved = resolve(dir)
  const target = zip && !/\.zip$/i.test(resolved) ? `${resolved}.zip` : resolved
  if (isInside(dataDir, target) && !isInside(join(dataDir, 'exports'), target))
    throw new AppError(
      'invalid_input',
      `'${target}' is inside Tunewise's own data folder. Choose a folder of your own (or one under ${join(dataDir, 'exports')}).`,
    )
  if (zip) {
    if (existsSync(target)) {
      if (statSync(target).isDirectory())
        throw new AppError('conflict', `'${target}' is a folder. Choose a file name for the .zip.`)
      if (!overwrite)
        throw new AppError(
          'conflict',
          `The file '${target}' already exists. Choose another name, or confirm that it may be replaced.`,
        )
    }
    return target
  }
  if (existsSync(target)) {
    if (!statSync(target).isDirectory())
      throw new AppError('conflict', `'${target}' is a file, not a folder. Choose a folder to export to.`)
    const present = readdirSync(target)
    if (present.length > 0 && !overwrite) {
      const ours = new Set(['model.json', 'weights.bin', 'metadata.json', 'README.md', 'confusion-matrix.png'])
      const clash = present.filter((f) => ours.has(f)).sort()
      const kept = present.length - clash.length
      throw new AppError(
        'conflict',
        `The folder '${target}' already holds ${present.length} file${present.length === 1 ? '' : 's'}. Export to an empty folder, or confirm that the model files may be replaced` +
          (clash.length ? ` (${clash.join(', ')} would be replaced` : ' (none has the name of an export file') +
          (kept ? `; the other ${kept} stay)` : ')') +
          '.',
      )
    }
  }
  return target
}

/**
 * The folders the folder browser may show: the user's home, Tunewise's data folder, and any listed
 * in TUNEWISE_BROWSE_ROOTS (separated like PATH), e.g. a mounted data disk on a headless GPU box.
 */
export function browseRoots(dataDir: string): string[] {
  const extra = (process.env.TUNEWISE_BROWSE_ROOTS ?? '').split(delimiter).filter((p) => isAbsolute(p))
  return [homedir(), dataDir, ...extra]
}

/** One folder's entries, only inside `roots` (real paths, so a link cannot lead out). */
export function listFolder(path: string | undefined, roots: readonly string[]) {
  const wanted = path ?? roots[0]!
  let dir: string | null = null
  for (const root of roots) {
    try {
      dir = ensureInside(root, isAbsolute(wanted) ? wanted : resolve(root, wanted), {
        folder: 'the folders Tunewise may browse',
      })
      break
    } catch {
      // Try the next root.
    }
  }
  if (dir === null)
    throw new AppError(
      'invalid_input',
      `Tunewise only browses inside ${roots.map((r) => `'${r}'`).join(' or ')}, and '${wanted}' is not. Move the images into one of those, or start Tunewise with that folder listed in TUNEWISE_BROWSE_ROOTS.`,
    )
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new AppError('not_found', `'${dir}' is not a folder on this machine.`)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    throw new AppError('bad_data', `Tunewise may not read '${dir}'. Choose another folder.`)
  }
  const entries = names
    .filter((n) => !n.startsWith('.'))
    .map((name) => {
      let isDir = false
      try {
        isDir = statSync(join(dir, name)).isDirectory()
      } catch {
        // Broken links and unreadable entries show as files.
      }
      return { name, isDir }
    })
    .sort((a, b) => Number(b.isDir) - Number(a.isDir) || a.name.localeCompare(b.name))
  const parent = dirname(dir)
  const parentAllowed = parent !== dir && roots.some((r) => isInside(r, parent))
  return { path: dir, parent: parentAllowed ? parent : null, entries }
}
