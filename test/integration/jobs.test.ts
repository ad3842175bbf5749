/**
 * Training jobs in their own process, through the real services: cancel, kill -9, queueing,
 * crash recovery at start-up. A tiny imported model keeps it fast; the worker is the built one.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { SymbolicTensor } from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunEstimate } from '../../src/shared/estimate'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { DatasetReport, ModelCard, RunConfig, RunDetail } from '../../src/shared/types'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { saveModelFolder } from '../../src/main/ml/export/export'
import { forkLauncher } from '../../src/main/tasks/worker-process'
import { createServices, INTERRUPTED_AT_START, type Services } from '../../src/main/services'

const workerScript = resolve(__dirname, '../../out/main/job-worker.js')
const root = mkdtempSync(join(tmpdir(), 'tw-jobs-'))
const dataDir = join(root, 'home')
let svc: Services
let modelId: string
let datasetId: string

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const r = await svc.router.call(channel, payload)
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`)
  return r.value as T
}

function open(): Services {
  return createServices({ dataDir, mode: 'browser', launcher: forkLauncher, workerScript, log: () => {} })
}

/** Resolves at the first progress event of the given stage for a run. */
function waitForStage(runId: number, stage: string): Promise<void> {
  return new Promise((ok) => {
    const off = svc.hub.subscribe((event, payload) => {
      const p = payload as { runId: number; stage: string }
      if (event === 'run:progress' && p.runId === runId && p.stage === stage) {
        off()
        ok()
      }
    })
  })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function longConfig(name: string): RunConfig {
  const config = defaultRunConfig(modelId, datasetId, name)
  config.hyper.epochs = 1000
  config.hyper.batchSize = 8
  config.hyper.earlyStopping.enabled = false
  return config
}

beforeAll(async () => {
  if (!existsSync(workerScript)) throw new Error('Build first: npm run build (npm test does).')
  await initBackend('cpu')
  const tf = getTf()
  const input = tf.input({ shape: [32, 32, 3] })
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: 'conv' }).apply(input) as SymbolicTensor
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as SymbolicTensor
  x = tf.layers.dense({ units: 8, activation: 'relu', name: 'features' }).apply(x) as SymbolicTensor
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'old_head' }).apply(x) as SymbolicTensor
  const modelDir = join(root, 'tiny-model')
  await saveModelFolder(tf.model({ inputs: input, outputs: out }), modelDir)

  svc = open()
  modelId = (await call<ModelCard>('models:import', { path: modelDir })).id
  await makeSyntheticDataset(join(root, 'shapes'), { perClass: 8, size: 32, seed: 3, classes: ['circle', 'square'] })
  datasetId = (await call<DatasetReport>('datasets:import', { path: join(root, 'shapes') })).id
})

afterAll(() => {
  svc?.close()
  rmSync(root, { recursive: true, force: true })
})

describe('training jobs', () => {
  it('runs one job at a time: a second run waits in the queue', async () => {
    const first = await call<{ runId: number }>('runs:start', { config: longConfig('first') })
    const second = await call<{ runId: number }>('runs:start', { config: longConfig('second') })
    const active = await call<{ runId: number; queued: number[] }>('runs:active', {})
    expect(active.runId).toBe(first.runId)
    expect(active.queued).toEqual([second.runId])
    expect((await call<RunDetail>('runs:get', { runId: second.runId })).status).toBe('queued')
    // Cancelling a queued run never starts it.
    await call('runs:cancel', { runId: second.runId })
    expect((await call<RunDetail>('runs:get', { runId: second.runId })).status).toBe('cancelled')
    await call('runs:cancel', { runId: first.runId })
    await svc.jobs.whenIdle()
  })

  it('cancel mid-training gives cancelled and the job process exits', async () => {
    const { runId } = await call<{ runId: number }>('runs:start', { config: longConfig('cancel me') })
    await waitForStage(runId, 'training')
    const pid = svc.tasks.pidOf(svc.jobs.status().taskId!)!
    expect(isAlive(pid)).toBe(true)
    expect(await call('runs:cancel', { runId })).toEqual({ cancelled: true })
    await svc.jobs.whenIdle()
    const run = await call<RunDetail>('runs:get', { runId })
    expect(run.status).toBe('cancelled')
    expect(run.errorCode).toBeNull()
    expect(run.finishedAt).not.toBeNull()
    expect(isAlive(pid)).toBe(false)
    expect(svc.db.pragma('integrity_check', { simple: true })).toBe('ok')
  })

  it('kill -9 of the job gives interrupted with a reason and touches no other run', async () => {
    const before = await call<Record<number, unknown[]>>('runs:metrics', { runIds: [1, 2, 3] })
    const { runId } = await call<{ runId: number }>('runs:start', { config: longConfig('kill me') })
    await waitForStage(runId, 'training')
    process.kill(svc.tasks.pidOf(svc.jobs.status().taskId!)!, 'SIGKILL')
    await svc.jobs.whenIdle()
    const run = await call<RunDetail>('runs:get', { runId })
    expect(run.status).toBe('interrupted')
    expect(run.error).toMatch(/killed \(SIGKILL\)/)
    expect(run.errorCode).toBe('interrupted')
    expect(await call('runs:metrics', { runIds: [1, 2, 3] })).toEqual(before)
    expect(svc.db.pragma('integrity_check', { simple: true })).toBe('ok')
  })

  it('a run left running by a crash is interrupted at the next start, with the reason', async () => {
    const runId = svc.repos.runs.create(longConfig('crashed'))
    svc.repos.runs.setStatus(runId, 'running', { startedAt: new Date().toISOString() })
    svc.close()
    svc = open()
    const run = await call<RunDetail>('runs:get', { runId })
    expect(run.status).toBe('interrupted')
    expect(run.error).toBe(INTERRUPTED_AT_START)
  })

  it('refuses to start on a dataset with a single class, before any process starts', async () => {
    await makeSyntheticDataset(join(root, 'one'), { perClass: 4, size: 32, seed: 1, classes: ['circle'] })
    const one = await call<DatasetReport>('datasets:import', { path: join(root, 'one') })
    expect(one.blockers.join(' ')).toMatch(/one class/i)
    const result = await svc.router.call('runs:start', { config: defaultRunConfig(modelId, one.id, 'x') })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.message).toMatch(/one class/i)
    expect(svc.jobs.status().runId).toBeNull()
  })

  it('estimates a run from a timing probe measured once in a child process', async () => {
    const config = defaultRunConfig(modelId, datasetId, 'estimate')
    const timings = join(dataDir, 'cache', 'timings.json')
    expect(existsSync(timings)).toBe(false)
    const first = await call<RunEstimate>('runs:estimate', { config })
    const measured = JSON.parse(readFileSync(timings, 'utf8')) as Record<string, number>
    const key = Object.keys(measured).find((k) => k.startsWith(`${modelId}@`))!
    expect(measured[key]).toBeGreaterThan(0)
    // 16 images, 1.2 x the measured forward time each.
    expect(first.extractionSeconds).toBeCloseTo(16 * measured[key]! * 1.2, 6)
    expect(first.totalSeconds).toBeGreaterThan(first.extractionSeconds)
    // The breakdown the wizard shows adds up to the total it shows.
    expect(first.parts.reduce((s, p) => s + p.seconds, 0)).toBeCloseTo(first.totalSeconds, 9)
    config.hyper.epochs *= 2
    const second = await call<{ totalSeconds: number; extractionSeconds: number }>('runs:estimate', { config })
    expect(second.extractionSeconds).toBe(first.extractionSeconds)
    expect(second.totalSeconds).toBeGreaterThan(first.totalSeconds)
    // The strategy counts: unfreezing layers with phase 2 on adds its epochs, through the whole base…
    config.phase2.enabled = true
    config.freeze.preset = 'full'
    const full = await call<{ totalSeconds: number }>('runs:estimate', { config })
    expect(full.totalSeconds).toBeGreaterThan(second.totalSeconds)
    // …LoRA's through the part above its lowest adapted layer (here the one convolution, as for "full").
    config.freeze.preset = 'lora'
    const lora = await call<{ totalSeconds: number }>('runs:estimate', { config })
    expect(lora.totalSeconds).toBeGreaterThan(second.totalSeconds)
    expect(lora.totalSeconds).toBeLessThanOrEqual(full.totalSeconds)
  })

  it('finishes a short run with metrics, evaluations and a model', async () => {
    const config = defaultRunConfig(modelId, datasetId, 'short')
    config.hyper.epochs = 3
    const pushed: unknown[] = []
    const off = svc.hub.subscribe((event, payload) => {
      if (event === 'run:epoch') pushed.push(...(payload as { points: unknown[] }).points)
    })
    const { runId } = await call<{ runId: number }>('runs:start', { config })
    await svc.jobs.whenIdle()
    off()
    const run = await call<RunDetail>('runs:get', { runId })
    expect(run.status).toBe('succeeded')
    // Every stored epoch point was also pushed live, as written.
    const stored = (await call<Record<number, unknown[]>>('runs:metrics', { runIds: [runId] }))[runId]!
    expect(pushed).toHaveLength(stored.length)
    expect(pushed).toEqual(expect.arrayContaining(stored))
    expect(run.backend).toBe('wasm')
    // Why this backend, and why not the faster ones.
    expect(run.backendReason).toMatch(/tfjs-node-gpu is not installed/)
    expect(run.evaluations.map((e) => e.split).sort()).toEqual(['test', 'val'])
    // The stored split it trained on is linked to the run.
    const splitId = svc.db.prepare('SELECT split_id FROM runs WHERE id = ?').pluck().get(runId) as string
    expect(svc.repos.splits.get(splitId)?.datasetId).toBe(datasetId)
    const metrics = (
      await call<Record<number, { name: string; split: string }[]>>('runs:metrics', { runIds: [runId] })
    )[runId]!
    expect(metrics.filter((m) => m.name === 'loss' && m.split === 'train')).toHaveLength(3)
    expect(run.artifacts.some((a) => a.kind === 'model' && existsSync(join(a.path, 'model.json')))).toBe(true)
  })
})

describe('deleting a run', () => {
  it("removes its metrics and files and nothing of another run's", async () => {
    const config = defaultRunConfig(modelId, datasetId, 'keep')
    config.hyper.epochs = 2
    const keep = (await call<{ runId: number }>('runs:start', { config })).runId
    const drop = (await call<{ runId: number }>('runs:start', { config: { ...config, name: 'drop' } })).runId
    await svc.jobs.whenIdle()
    const dirOf = (id: number) => join(dataDir, 'runs', String(id))
    expect(existsSync(dirOf(keep)) && existsSync(dirOf(drop))).toBe(true)
    const keptBefore = await call<Record<number, unknown[]>>('runs:metrics', { runIds: [keep] })
    const keptRun = await call<RunDetail>('runs:get', { runId: keep })

    expect(await call('runs:delete', { runId: drop })).toEqual({ deleted: true })
    expect(existsSync(dirOf(drop))).toBe(false)
    expect((await svc.router.call('runs:get', { runId: drop })).ok).toBe(false)
    expect(await call<Record<number, unknown[]>>('runs:metrics', { runIds: [drop] })).toEqual({ [drop]: [] })

    expect(existsSync(dirOf(keep))).toBe(true)
    expect(await call('runs:metrics', { runIds: [keep] })).toEqual(keptBefore)
    expect(await call<RunDetail>('runs:get', { runId: keep })).toEqual(keptRun)
    expect(svc.db.pragma('integrity_check', { simple: true })).toBe('ok')
  })

  it("never removes another run's folder that merely starts with the same digits (runs/1 vs runs/10)", async () => {
    const config = defaultRunConfig(modelId, datasetId, 'prefix')
    config.hyper.epochs = 1
    const a = (await call<{ runId: number }>('runs:start', { config })).runId
    await svc.jobs.whenIdle()
    // A sibling folder named like run a with a digit more, holding a file of its own.
    const sibling = join(dataDir, 'runs', `${a}0`)
    mkdirSync(sibling, { recursive: true })
    writeFileSync(join(sibling, 'keep.txt'), 'keep')
    // A recorded artifact path that points into the sibling must not be followed by delete.
    svc.repos.runs.addArtifact(a, 'export', sibling)
    expect(await call('runs:delete', { runId: a })).toEqual({ deleted: true })
    expect(existsSync(join(dataDir, 'runs', String(a)))).toBe(false)
    expect(readFileSync(join(sibling, 'keep.txt'), 'utf8')).toBe('keep')
  })
})
