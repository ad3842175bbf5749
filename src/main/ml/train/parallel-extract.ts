/**
 * Feature extraction over several processes. TF.js WASM under Node runs on one thread (tfjs issue #3830), so
 * the only way to use a second core for the frozen base is a second process. The parent splits the images
 * that are not cached yet into shards, forks one worker per shard (each loads the same weights and runs
 * `extractFeatures` on its shard, writing the shared disk cache), then reads every vector back from the cache.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LayersModel, io } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { getTf } from '../backend'
import { hashFile } from '../data/decode'
import {
  cancelledError,
  extractFeatures,
  featureStats,
  outputShapes,
  type FeatureOptions,
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

/** Parent → worker. */
export interface ExtractWorkerStart {
  type: 'start'
  /** Folder with model.json + weights.bin of the base, written by the parent. */
  modelDir: string
  backend: string
  files: string[]
  root: string
  inputSize: [number, number]
  preprocess: FeatureOptions['preprocess']
  batchSize: number
  cacheDir: string
  modelKey: string
}

/** Worker → parent. */
export type ExtractWorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; done: number }
  | { type: 'done'; baseForwardImages: number }
  | { type: 'error'; code: AppError['code']; message: string }

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

/** Same key as features.ts: sha256(modelKey, preprocessing, input size, image content hash). */
async function cachePath(opts: FeatureOptions, cacheDir: string, file: string): Promise<string> {
  const contentHash = await hashFile(join(opts.root, file))
  const key = createHash('sha256')
    .update(`${opts.modelKey}\n${opts.preprocess}\n${opts.inputSize.join('x')}\n${contentHash}`)
    .digest('hex')
  return join(cacheDir, key.slice(0, 2), `${key}.f32`)
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

/** Runs the shards, one process each; rejects on the first failure or on `shouldStop`, killing the rest. */
function runWorkers(
  shards: string[][],
  base: Omit<ExtractWorkerStart, 'files'>,
  worker: { script: string; execArgv: string[] },
  opts: ParallelFeatureOptions,
  onDone: (done: number) => void,
): Promise<void> {
  const children: ChildProcess[] = []
  const done = shards.map(() => 0)
  let finished = 0
  let settled = false
  return new Promise<void>((resolve, reject) => {
    const stopPoll = setInterval(() => {
      if (opts.shouldStop?.()) fail(cancelledError())
    }, 100)
    const end = (): void => {
      settled = true
      clearInterval(stopPoll)
    }
    function fail(err: Error): void {
      if (settled) return
      end()
      // Reject only once every worker is gone, so a cancelled run leaves no process behind.
      const alive = children.filter((c) => c.exitCode === null && c.signalCode === null)
      let left = alive.length
      if (left === 0) reject(err)
      for (const c of alive) {
        c.once('exit', () => {
          if (--left === 0) reject(err)
        })
        c.kill('SIGKILL')
      }
    }
    shards.forEach((files, w) => {
      const child = fork(worker.script, [], {
        // Inside Electron, process.execPath is the app itself: run it as plain Node.
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: [...worker.execArgv, '--max-old-space-size=4096'],
      })
      children.push(child)
      if (child.pid !== undefined) parallelStats.workerPids.push(child.pid)
      let complete = false
      child.on('message', (raw) => {
        const msg = raw as ExtractWorkerMessage
        if (msg.type === 'ready') {
          const start: ExtractWorkerStart = { ...base, files }
          child.send(start)
        } else if (msg.type === 'progress') {
          done[w] = msg.done
          onDone(done.reduce((a, b) => a + b, 0))
        } else if (msg.type === 'done') {
          complete = true
          featureStats.baseForwardImages += msg.baseForwardImages
          if (++finished === shards.length && !settled) {
            end()
            resolve()
          }
        } else if (msg.type === 'error') {
          // A bad image keeps its own code and message (it says which file); anything else is internal.
          const message =
            msg.code === 'internal' ? `Feature extraction failed in worker ${w + 1}: ${msg.message}` : msg.message
          fail(new AppError(msg.code, message))
        }
      })
      child.on('error', (err) => fail(new AppError('internal', `Could not start an extraction worker: ${err.message}`)))
      child.on('exit', (code, signal) => {
        if (!complete) {
          fail(new AppError('internal', `Extraction worker ${w + 1} stopped (${signal ?? `exit code ${code}`}).`))
        }
      })
    })
  })
}

/**
 * `extractFeatures` sharded over `workers` processes (default: one per core). Same arguments and same
 * result (bit for bit on the same backend); images already in the cache are not sent to any worker. When
 * `opts.cacheDir` is null a temporary cache carries the vectors from the workers and is deleted afterwards.
 * Small jobs (see `minImagesPerWorker`), `workers: 1` and `base` null run in this process.
 * `featureStats.baseForwardImages` includes the workers' images; reading them back counts as cache hits.
 * @throws AppError('cancelled') when `shouldStop` returns true (workers are killed), AppError('internal')
 *         when a worker fails, AppError('bad_data') for an unreadable image.
 */
export async function extractFeaturesParallel(
  base: LayersModel | null,
  files: string[],
  opts: ParallelFeatureOptions,
): Promise<FeatureSet> {
  parallelStats.shardSizes = []
  parallelStats.workerPids = []
  const wanted = Math.max(1, Math.floor(opts.workers ?? availableParallelism()))
  if (!base || wanted === 1 || files.length === 0) return extractFeatures(base, files, opts)

  const tempRoot = await mkdtemp(join(tmpdir(), 'tw-extract-'))
  const cacheDir = opts.cacheDir ?? join(tempRoot, 'cache')
  try {
    const perImage = outputShapes(base, opts.inputSize).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0) * 4
    const todo: string[] = []
    for (const f of new Set(files)) {
      const p = await cachePath(opts, cacheDir, f)
      if (!existsSync(p) || statSync(p).size !== perImage) todo.push(f)
    }
    const minPer = Math.max(1, opts.minImagesPerWorker ?? 32)
    const n = Math.min(wanted, Math.floor(todo.length / minPer))
    if (n < 2) return await extractFeatures(base, files, opts)
    const cached = files.length - todo.length
    opts.onProgress?.(cached, files.length)
    const modelDir = join(tempRoot, 'model')
    await saveForWorkers(base, modelDir)
    // This process has the model loaded already, so it takes the first shard itself, made larger by
    // what it gets through while the workers start (~3 s each): no core waits on a start-up.
    const headStart = Math.min(Math.floor(todo.length / n), Math.max(0, opts.headStartImages ?? 32))
    const own = Math.ceil((todo.length + headStart * (n - 1)) / n)
    const shards = [todo.slice(0, own), ...splitEvenly(todo.slice(own), n - 1)]
    parallelStats.shardSizes = shards.map((s) => s.length)
    let ownDone = 0
    let workersDone = 0
    const report = (): void => opts.onProgress?.(cached + ownDone + workersDone, files.length)
    // A failure here (cancel, an unreadable image) stops the workers too.
    let ownFailed = false
    const workerOpts = { ...opts, shouldStop: () => ownFailed || (opts.shouldStop?.() ?? false) }
    const workers = runWorkers(
      shards.slice(1),
      {
        type: 'start',
        modelDir,
        backend: opts.backend ?? getTf().getBackend(),
        root: opts.root,
        inputSize: opts.inputSize,
        preprocess: opts.preprocess,
        batchSize: opts.batchSize ?? 16,
        cacheDir,
        modelKey: opts.modelKey,
      },
      opts.workerScript
        ? { script: opts.workerScript, execArgv: opts.workerScript.endsWith('.ts') ? ['--import', 'tsx'] : [] }
        : defaultWorker(),
      workerOpts,
      (done) => {
        workersDone = done
        report()
      },
    )
    // Whichever fails first, the other side is stopped and awaited before the temp folder goes.
    workers.catch(() => {})
    try {
      await extractFeatures(base, shards[0]!, {
        ...opts,
        cacheDir,
        onProgress: (done) => {
          ownDone = done
          report()
        },
      })
    } catch (err) {
      ownFailed = true
      await workers.catch(() => {})
      throw err
    }
    await workers
    // Every vector is on disk now; anything a worker missed is computed here.
    return await extractFeatures(base, files, { ...opts, cacheDir })
  } finally {
    await rm(tempRoot, { recursive: true, force: true })
  }
}
