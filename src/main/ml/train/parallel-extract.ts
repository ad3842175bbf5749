/**
 * Feature extraction over several processes. TF.js WASM under Node runs on one thread (tfjs issue #3830), so
 * the only way to use a second core for the frozen base is a second process. The parent hashes the images
 * once, finds those the cache lacks, splits them into shards and forks one worker per shard but its own: each
 * loads the same weights and streams its vectors into the shared chunked cache. The parent fills its own
 * shard's rows as it computes them, then reads the workers' chunks straight into the caller's arrays.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LayersModel, io } from '@tensorflow/tfjs'
import type { ExtractInput } from '../../../shared/tasks'
import { AppError } from '../../errors'
import { TaskError, TaskManager } from '../../tasks/task-manager'
import { forkLauncher } from '../../tasks/worker-process'
import { getTf, inferenceBatch } from '../backend'
import {
  cancelledError,
  computeMissing,
  extractFeatureGroups,
  featureStats,
  fillFromCache,
  planFeatures,
  type FeatureItem,
  type FeatureOptions,
  type FeaturePlan,
  type FeatureSet,
} from './features'

export interface ParallelFeatureOptions extends FeatureOptions {
  /**
   * Processes sharing the work, this one included (it takes the first shard; the others are forked).
   * Default: the number of CPU cores (`os.availableParallelism()`). 1 runs everything in this process.
   */
  workers?: number
  /**
   * A shard smaller than this is not worth a process (each worker spends ~1-2 s starting TF.js and loading the
   * weights, about as long as 20 images take): fewer workers are used, and with one left the work runs in this process.
   * Default 32 images.
   */
  minImagesPerWorker?: number
  /** Extra images this process takes while the workers start. Default 32. */
  headStartImages?: number
  /** Backend the workers start (wasm, cpu, tensorflow…). Default: the backend this process runs on. */
  backend?: string
  /** Worker script. Default: `extract-worker.js` next to the bundle, else `extract-worker.ts` run through tsx. */
  workerScript?: string
}

/** What the last parallel call did, so tests can prove by counts (not clocks) that the work was sharded. */
export const parallelStats = {
  /** Images each worker was given in the last call (empty when it ran in-process or everything was cached). */
  shardSizes: [] as number[],
  /** Process ids of the last call's workers. */
  workerPids: [] as number[],
}

/** Parent → worker: one shard (the `extract` task's input, see src/shared/tasks.ts). */
export type ExtractWorkerStart = ExtractInput

const here = dirname(fileURLToPath(import.meta.url))

/** Built bundle: out/main/extract-worker.js (this code may sit in out/main or out/main/chunks). Source: tsx. */
function defaultWorker(): { script: string; execArgv: string[] } {
  for (const dir of [here, join(here, '..')]) {
    const js = join(dir, 'extract-worker.js')
    if (existsSync(js)) return { script: js, execArgv: [] }
  }
  const ts = join(here, 'extract-worker.ts')
  if (existsSync(ts)) return { script: ts, execArgv: ['--import', 'tsx'] }
  throw new AppError('internal', 'The feature extraction worker (extract-worker.js) is missing from this build.')
}

/** Writes the base's topology and float32 weights where workers can load them. */
async function saveForWorkers(base: LayersModel, dir: string): Promise<void> {
  const tf = getTf()
  let saved: io.ModelArtifacts | null = null
  await base.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    }),
  )
  const artifacts = saved as io.ModelArtifacts | null
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error('the base model could not be serialised')
  const parts = Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]
  await mkdir(dir, { recursive: true })
  await writeFile(
    join(dir, 'model.json'),
    JSON.stringify({
      format: 'layers-model',
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
    }),
  )
  await writeFile(join(dir, 'weights.bin'), Buffer.concat(parts.map((p) => Buffer.from(p))))
}

function splitEvenly<T>(items: T[], parts: number): T[][] {
  const out: T[][] = []
  let start = 0
  for (let i = 0; i < parts; i++) {
    const end = start + Math.floor(items.length / parts) + (i < items.length % parts ? 1 : 0)
    out.push(items.slice(start, end))
    start = end
  }
  return out
}

/**
 * Runs the shards as `extract` tasks, one worker process each, through the same task manager and
 * port protocol as every other task; rejects on the first failure or on `shouldStop`, and only once
 * every worker is gone, so a cancelled run leaves no process behind.
 */
function runWorkers(
  shards: { file: string; key: string }[][],
  start: Omit<ExtractWorkerStart, 'files' | 'keys'>,
  worker: { script: string; execArgv: string[] },
  shouldStop: () => boolean,
  onDone: (done: number) => void,
): Promise<void> {
  const tasks = new TaskManager({
    launcher: forkLauncher,
    scriptFor: () => worker.script,
    // Inside Electron, process.execPath is the app itself: run it as plain Node.
    env: { ELECTRON_RUN_AS_NODE: '1' },
    execArgv: worker.execArgv,
    limits: { extract: shards.length },
    cancelGraceMs: 0,
  })
  const done = shards.map(() => 0)
  const handles = shards.map((shard, w) =>
    tasks.start(
      'extract',
      { ...start, files: shard.map((s) => s.file), keys: shard.map((s) => s.key) },
      {
        onProgress: (p) => {
          done[w] = p.done ?? 0
          onDone(done.reduce((a, b) => a + b, 0))
        },
      },
    ),
  )
  for (const h of handles) {
    const pid = tasks.pidOf(h.id)
    if (pid !== undefined) parallelStats.workerPids.push(pid)
  }
  const stopPoll = setInterval(() => {
    if (shouldStop()) for (const h of handles) h.cancel()
  }, 100)
  const gone = (): Promise<void> =>
    new Promise((ok) => {
      const check = setInterval(() => {
        if (tasks.running() === 0) {
          clearInterval(check)
          ok()
        }
      }, 20)
    })
  return Promise.all(
    handles.map((h, w) =>
      h.result.then(
        (out) => {
          featureStats.baseForwardImages += out.baseForwardImages
        },
        (err: unknown) => {
          for (const other of handles) other.cancel()
          if (err instanceof TaskError && err.status === 'cancelled') throw cancelledError()
          // A bad image keeps its own code and message (it says which file); anything else names the worker.
          const e = err as TaskError
          throw new AppError(
            e.code ?? 'internal',
            e.code === 'internal' || e.code === 'interrupted'
              ? `Feature extraction failed in worker ${w + 1}: ${e.message}`
              : e.message,
          )
        },
      ),
    ),
  ).then(
    async () => {
      clearInterval(stopPoll)
    },
    async (err: unknown) => {
      clearInterval(stopPoll)
      for (const h of handles) h.cancel()
      await gone()
      throw shouldStop() ? cancelledError() : err
    },
  )
}

/**
 * `n` shards of `todo`. This process has the model loaded already, so it takes the first shard itself, made
 * larger by what it gets through while the workers start (~3 s each): no core waits on a start-up.
 */
function planShards<T>(todo: T[], n: number, headStartImages: number): T[][] {
  const headStart = Math.min(Math.floor(todo.length / n), Math.max(0, headStartImages))
  const own = Math.ceil((todo.length + headStart * (n - 1)) / n)
  return [todo.slice(0, own), ...splitEvenly(todo.slice(own), n - 1)]
}

/** The worker script and the Node flags to run it with. */
function workerCommand(opts: ParallelFeatureOptions): { script: string; execArgv: string[] } {
  if (!opts.workerScript) return defaultWorker()
  return { script: opts.workerScript, execArgv: opts.workerScript.endsWith('.ts') ? ['--import', 'tsx'] : [] }
}

/**
 * Computes `shards[0]` here (into the caller's rows and the cache) and the others in workers (into the cache).
 * Whichever side fails first stops the other, and both are awaited before this returns or throws.
 */
async function runShards(
  plan: FeaturePlan,
  shards: FeatureItem[][],
  modelDir: string,
  cacheDir: string,
  opts: ParallelFeatureOptions,
): Promise<void> {
  let workersDone = 0
  const report = (): void => plan.report(plan.filled + workersDone)
  // A failure here (cancel, an unreadable image) stops the workers too.
  let ownFailed = false
  const workers = runWorkers(
    shards.slice(1).map((items) => items.map((i) => ({ file: i.file, key: i.key }))),
    {
      modelDir,
      backend: opts.backend ?? getTf().getBackend(),
      root: opts.root,
      inputSize: opts.inputSize,
      preprocess: opts.preprocess,
      batchSize: opts.batchSize ?? inferenceBatch(),
      cacheDir,
      modelKey: opts.modelKey,
      ...(opts.audio ? { audio: opts.audio } : {}),
    },
    workerCommand(opts),
    () => ownFailed || (opts.shouldStop?.() ?? false),
    (done) => {
      workersDone = done
      report()
    },
  )
  workers.catch(() => {})
  try {
    await computeMissing(plan, shards[0], report)
  } catch (err) {
    ownFailed = true
    await workers.catch(() => {})
    throw err
  }
  await workers
}

/**
 * `extractFeatureGroups` sharded over `workers` processes (default: one per core). Same arguments and same
 * result (bit for bit on the same backend); images already in the cache are not sent to any worker. When
 * `opts.cacheDir` is null a temporary cache carries the vectors from the workers and is deleted afterwards.
 * Small jobs (see `minImagesPerWorker`), `workers: 1` and `base` null run in this process.
 * `featureStats.baseForwardImages` includes the workers' images; reading them back counts as cache hits.
 * @throws AppError('cancelled') when `shouldStop` returns true (workers are killed), AppError('internal')
 *         when a worker fails, AppError('bad_data') for an unreadable image.
 */
export async function extractFeatureGroupsParallel(
  base: LayersModel | null,
  groups: string[][],
  opts: ParallelFeatureOptions,
): Promise<FeatureSet[]> {
  parallelStats.shardSizes = []
  parallelStats.workerPids = []
  const wanted = Math.max(1, Math.floor(opts.workers ?? availableParallelism()))
  const total = groups.reduce((n, g) => n + g.length, 0)
  if (!base || wanted === 1 || total === 0) return extractFeatureGroups(base, groups, opts)

  const tempRoot = opts.cacheDir ? null : await mkdtemp(join(tmpdir(), 'tw-extract-'))
  const cacheDir = opts.cacheDir ?? join(tempRoot!, 'cache')
  try {
    const plan = await planFeatures(base, groups, { ...opts, cacheDir })
    await fillFromCache(plan)
    plan.report()
    const todo = plan.missing()
    const n = Math.min(wanted, Math.floor(todo.length / Math.max(1, opts.minImagesPerWorker ?? 32)))
    if (n < 2) {
      await computeMissing(plan, todo)
      return plan.sets
    }
    const modelDir = join(tempRoot ?? (await mkdtemp(join(tmpdir(), 'tw-extract-'))), 'model')
    try {
      await saveForWorkers(base, modelDir)
      const shards = planShards(todo, n, opts.headStartImages ?? 32)
      parallelStats.shardSizes = shards.map((s) => s.length)
      plan.startClock()
      await runShards(plan, shards, modelDir, cacheDir, opts)
    } finally {
      if (!tempRoot) await rm(dirname(modelDir), { recursive: true, force: true })
    }
    // The workers' vectors are on disk now: read them into the rows (anything a worker missed is computed here).
    await plan.space!.refresh()
    await fillFromCache(plan)
    await computeMissing(plan)
    return plan.sets
  } finally {
    if (tempRoot) await rm(tempRoot, { recursive: true, force: true })
  }
}

/** `extractFeatureGroupsParallel` for one list of files. */
export async function extractFeaturesParallel(
  base: LayersModel | null,
  files: string[],
  opts: ParallelFeatureOptions,
): Promise<FeatureSet> {
  return (await extractFeatureGroupsParallel(base, [files], opts))[0]!
}
