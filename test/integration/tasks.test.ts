/**
 * Every kind of background task through the one task manager and the built worker scripts: a
 * cancel while it runs ends it `cancelled` and leaves no process behind; a killed worker ends it
 * `interrupted` with its code. Tiny models and a slow local server keep it fast and offline.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { SymbolicTensor } from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import { taskKinds, type TaskInfo, type TaskInput, type TaskKind } from '../../src/shared/tasks'
import type { DatasetReport, ModelCard, RunDetail } from '../../src/shared/types'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { saveModelFolder } from '../../src/main/ml/export/export'
import { createServices, type Services } from '../../src/main/services'
import { TaskError, TaskManager } from '../../src/main/tasks/task-manager'
import { forkLauncher } from '../../src/main/tasks/worker-process'

const out = resolve(__dirname, '../../out/main')
const workerScript = join(out, 'job-worker.js')
const extractScript = join(out, 'extract-worker.js')
const root = mkdtempSync(join(tmpdir(), 'tw-tasks-'))
const dataDir = join(root, 'home')
let svc: Services
let server: Server
let mirror = ''
const inputs = {} as { [K in TaskKind]: TaskInput<K> }

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const r = await svc.router.call(channel, payload)
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`)
  return r.value as T
}

/** Starts a task and resolves once its worker says the work has begun. */
function startAndWait<K extends TaskKind>(manager: TaskManager, updates: TaskInfo[], kind: K) {
  const handle = manager.start(kind, inputs[kind])
  const started = new Promise<number>((ok, fail) => {
    const timer = setInterval(() => {
      const seen = updates.find((u) => u.id === handle.id && u.progress?.stage === 'started')
      const ended = updates.find((u) => u.id === handle.id && u.finishedAt !== null)
      if (seen) {
        clearInterval(timer)
        ok(manager.pidOf(handle.id)!)
      } else if (ended) {
        clearInterval(timer)
        fail(new Error(`${kind} ended before it started: ${JSON.stringify(ended)}`))
      }
    }, 5)
  })
  return { handle, started }
}

function manager(updates: TaskInfo[], recorded: TaskInfo[]): TaskManager {
  return new TaskManager({
    launcher: forkLauncher,
    scriptFor: (kind) => (kind === 'extract' ? extractScript : workerScript),
    env: { TUNEWISE_BACKEND: 'wasm', TUNEWISE_MODEL_MIRROR: mirror },
    cancelGraceMs: 1500,
    progressIntervalMs: 0,
    onUpdate: (info) => updates.push(info),
    recorder: { record: (info) => recorded.push({ ...info }) },
  })
}

beforeAll(async () => {
  if (!existsSync(workerScript) || !existsSync(extractScript)) throw new Error('Build first: npm run build.')
  // A mirror that answers model.json and then never finishes the weights: a download stays mid-way.
  server = createServer((req, res) => {
    if (req.url?.endsWith('model.json')) {
      res.end(
        JSON.stringify({
          format: 'layers-model',
          modelTopology: {},
          weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [] }],
        }),
      )
    } else res.writeHead(200, { 'content-length': '100000000' }).write(Buffer.alloc(1000))
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  await initBackend('cpu')
  const tf = getTf()
  const input = tf.input({ shape: [32, 32, 3] })
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: 'conv' }).apply(input) as SymbolicTensor
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as SymbolicTensor
  x = tf.layers.dense({ units: 8, activation: 'relu', name: 'features' }).apply(x) as SymbolicTensor
  const outT = tf.layers.dense({ units: 2, activation: 'softmax', name: 'old_head' }).apply(x) as SymbolicTensor
  const modelDir = join(root, 'tiny-model')
  await saveModelFolder(tf.model({ inputs: input, outputs: outT }), modelDir)

  svc = createServices({ dataDir, mode: 'browser', launcher: forkLauncher, workerScript, log: () => {} })
  const modelId = (await call<ModelCard>('models:import', { path: modelDir })).id
  await makeSyntheticDataset(join(root, 'shapes'), { perClass: 8, size: 32, seed: 3, classes: ['circle', 'square'] })
  const report = await call<DatasetReport>('datasets:import', { path: join(root, 'shapes') })
  const short = defaultRunConfig(modelId, report.id, 'short')
  short.hyper.epochs = 2
  const { runId } = await call<{ runId: number }>('runs:start', { config: short })
  await svc.jobs.whenIdle()
  const run = await call<RunDetail>('runs:get', { runId })
  expect(run.status).toBe('succeeded')
  const runModel = run.artifacts.find((a) => a.kind === 'model')!.path

  const long = defaultRunConfig(modelId, report.id, 'long')
  long.hyper.epochs = 1000
  long.hyper.earlyStopping.enabled = false
  const job = svc.datasets.prepareJob(long)
  inputs.train = {
    runId: svc.repos.runs.create(long),
    config: long,
    dataDir,
    datasetPath: job.datasetPath,
    examples: job.examples,
    labels: job.labels,
  }
  // Enough files that a scan is still reading when the cancel arrives.
  await makeSyntheticDataset(join(root, 'many'), { perClass: 200, size: 48, seed: 5, classes: ['circle', 'square'] })
  inputs.scan = { root: join(root, 'many') }
  const diagnostics = {
    config: long,
    dataDir,
    datasetPath: job.datasetPath,
    examples: job.examples.map(({ file, label }) => ({ file, label })),
    labels: job.labels,
  }
  inputs['lr-find'] = diagnostics
  inputs.suspects = diagnostics
  inputs.probe = { modelId, dataDir }
  inputs.layers = { modelId, dataDir }
  inputs.import = { folder: modelDir, dataDir: join(root, 'other-home') }
  inputs.download = { modelId: 'mobilenet-v1-025-224', dataDir: join(root, 'dl-home') }
  inputs.export = {
    modelDir: runModel,
    outDir: join(root, 'export'),
    datasetPath: job.datasetPath,
    evaluation: run.evaluations.find((e) => e.split === 'test') ?? null,
    format: 'tfjs',
    zip: false,
    overwrite: false,
    card: {
      run,
      base: (await call<ModelCard[]>('models:list', {})).find((m) => m.id === modelId)!,
      datasetName: 'shapes',
      splitCounts: null,
      dataset: null,
    },
  }
  inputs.predict = { modelDir: runModel, file: join(job.datasetPath, job.examples[0]!.file) }
  inputs.extract = {
    modelDir: runModel,
    backend: 'wasm',
    files: job.examples.map((e) => e.file),
    root: job.datasetPath,
    inputSize: [32, 32],
    preprocess: 'rgb/255',
    batchSize: 4,
    cacheDir: join(root, 'extract-cache'),
    modelKey: 'test-extract',
  }
}, 120_000)

afterAll(async () => {
  svc?.close()
  await new Promise((ok) => server?.close(ok))
  rmSync(root, { recursive: true, force: true })
})

// Every kind there is: a new kind without a worker handler fails here.
const kinds = taskKinds

describe.each(kinds)('a %s task', (kind) => {
  it('cancelled while it runs ends cancelled, recorded, with no process left', async () => {
    const updates: TaskInfo[] = []
    const recorded: TaskInfo[] = []
    const tasks = manager(updates, recorded)
    const { handle, started } = startAndWait(tasks, updates, kind)
    const pid = await started
    expect(isAlive(pid)).toBe(true)
    handle.cancel()
    const err = await handle.result.then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(TaskError)
    expect((err as TaskError).status).toBe('cancelled')
    expect(recorded.map((r) => [r.kind, r.status])).toEqual([[kind, 'cancelled']])
    await expect.poll(() => isAlive(pid), { timeout: 5000 }).toBe(false)
    expect(tasks.list().filter((t) => t.status === 'running')).toEqual([])
  }, 30_000)

  it('whose worker is killed ends interrupted with its code', async () => {
    const updates: TaskInfo[] = []
    const recorded: TaskInfo[] = []
    const tasks = manager(updates, recorded)
    const { handle, started } = startAndWait(tasks, updates, kind)
    process.kill(await started, 'SIGKILL')
    const err = (await handle.result.then(
      () => null,
      (e: unknown) => e,
    )) as TaskError
    expect(err.status).toBe('interrupted')
    expect(err.code).toBe('interrupted')
    expect(err.message).toMatch(/killed \(SIGKILL\)/)
    expect(recorded[0]).toMatchObject({ kind, status: 'interrupted', error: { code: 'interrupted' } })
  }, 30_000)
})

describe('the task manager', () => {
  it('queues tasks beyond the per-kind limit and records every end in the database', async () => {
    const updates: TaskInfo[] = []
    const tasks = new TaskManager({
      launcher: forkLauncher,
      scriptFor: () => workerScript,
      env: { TUNEWISE_BACKEND: 'wasm' },
      limits: { layers: 1 },
      onUpdate: (i) => updates.push(i),
      recorder: svc.repos.tasks,
    })
    const a = tasks.start('layers', inputs.layers)
    const b = tasks.start('layers', inputs.layers)
    expect(tasks.list().map((t) => t.status)).toEqual(['running', 'queued'])
    const [la, lb] = await Promise.all([a.result, b.result])
    expect(la.length).toBeGreaterThan(0)
    expect(lb).toEqual(la)
    const rows = svc.repos.tasks.recent(5).filter((r) => r.id === a.id || r.id === b.id)
    expect(rows.map((r) => r.status)).toEqual(['done', 'done'])
  }, 60_000)

  it('the learning-rate finder and the mislabel search answer through the router', async () => {
    const config = inputs['lr-find'].config
    const lr = await call<{ points: { lr: number }[]; suggestion: number }>('runs:lr-find', { config })
    expect(lr.points.length).toBeGreaterThan(10)
    expect(lr.suggestion).toBeGreaterThan(0)
    expect(lr.suggestion).toBeLessThanOrEqual(1)
    const suspects = await call<{ file: string; label: string; suggested: string }[]>('datasets:suspects', { config })
    for (const s of suspects) expect(s.suggested).not.toBe(s.label)
  }, 120_000)

  it('a failed task keeps its code end to end', async () => {
    const tasks = new TaskManager({ launcher: forkLauncher, scriptFor: () => workerScript })
    const err = (await tasks.run('layers', { modelId: 'no-such-model', dataDir }).then(
      () => null,
      (e: unknown) => e,
    )) as TaskError
    expect(err.status).toBe('failed')
    expect(err.code).toBe('not_found')
  }, 30_000)
})
