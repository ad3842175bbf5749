/**
 * The fine-tuning strategies end to end on the synthetic shapes with a miniature MobileNetV2, on WASM:
 * phase 2 never ends worse on validation than the head alone and leaves BatchNorm statistics alone; LoRA and
 * LoReFT train only their own numbers, and their merged export computes what the adapter model computed and
 * loads with plain @tensorflow/tfjs in another process. Runs are seeded, so each number here repeats.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import type { FromJob, JobStart } from '../../src/shared/job-messages'
import type { RunConfig } from '../../src/shared/types'
import { defaultRunConfig } from '../../src/shared/run-config'
import { getTf } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { splitDataset } from '../../src/main/ml/data/split'
import { decodeForTraining, pixelsToTensor } from '../../src/main/ml/data/pixels'
import { prepareLoaded, type LoadedModel } from '../../src/main/ml/models/load'
import { runAdapterDir, runDir as runDirOf } from '../../src/main/ml/layout'
import { runInProcess } from '../../src/main/ml/train/run-job'
import type { RunPredictions } from '../../src/main/ml/train/finish'
import { loadExport, verifyExport } from '../../src/main/ml/export/export'
import { FOLDED_REFT_PREFIX, mergeAdapters } from '../../src/main/ml/export/merge'
import { ADAPTER_BIN, ADAPTER_JSON, loadAdapter } from '../../src/main/ml/adapters/adapters'
import { orthonormalityError } from '../../src/main/ml/adapters/loreft'
import { tinyMobileNet, tinyMobileNetCard } from '../helpers/tiny-mobilenet'

const root = mkdtempSync(join(tmpdir(), 'tw-strategies-'))
const datasetPath = join(root, 'shapes')
const dataDir = join(root, 'data')
const labels = ['circle', 'square', 'triangle']
let examples: JobStart['examples'] = []
afterAll(() => rmSync(root, { recursive: true, force: true }))

async function loader(): Promise<LoadedModel> {
  return prepareLoaded(tinyMobileNetCard, tinyMobileNet(), 'rgb/255')
}

/** The defaults (early stopping on), a rate and epochs that suit the miniature base. */
function job(runId: number, patch: (c: RunConfig) => void = () => undefined): JobStart {
  const config = defaultRunConfig(tinyMobileNetCard.id, 'ds')
  config.hyper.learningRate = 0.01
  config.hyper.batchSize = 8
  patch(config)
  return { type: 'start', runId, config, dataDir, datasetPath, examples, labels }
}

const ofType = <T extends FromJob['type']>(msgs: FromJob[], type: T) =>
  msgs.filter((m): m is Extract<FromJob, { type: T }> => m.type === type)

interface Finished {
  messages: FromJob[]
  valLoss: number
  testAccuracy: number
  /** Validation loss of the weights phase 1 ended with (early stopping restored its best epoch). */
  phase1ValLoss: number
  /** Trainable parameters per phase, as the epochs report them. */
  trainable: Record<1 | 2, number | undefined>
}

async function train(runId: number, patch: (c: RunConfig) => void): Promise<Finished> {
  const { messages, final } = await runInProcess(job(runId, patch), { loadModel: loader })
  expect(final, JSON.stringify(ofType(messages, 'log'))).toMatchObject({ type: 'done', status: 'succeeded' })
  const evals = ofType(messages, 'evaluation').map((m) => m.evaluation)
  const epochs = ofType(messages, 'epoch').map((m) => m.metrics)
  const phase1 = epochs.filter((e) => e.phase === 1)
  return {
    messages,
    valLoss: evals.find((e) => e.split === 'val')!.loss,
    testAccuracy: evals.find((e) => e.split === 'test')!.accuracy,
    phase1ValLoss: Math.min(...phase1.map((e) => e.values.val_loss!)),
    trainable: {
      1: phase1[0]?.values.trainable_params,
      2: epochs.find((e) => e.phase === 2)?.values.trainable_params,
    },
  }
}

const logs = (r: Finished): string[] => ofType(r.messages, 'log').map((m) => m.message)

const weightBytes = (m: LayersModel, name: string): Buffer[] =>
  m
    .getLayer(name)
    .getWeights()
    .map((w) => Buffer.from((w.dataSync() as Float32Array).slice().buffer))

const sameWeights = (a: LayersModel, b: LayersModel, name: string): boolean => {
  const x = weightBytes(a, name)
  const y = weightBytes(b, name)
  return x.length === y.length && x.every((buf, i) => buf.equals(y[i]!))
}

/** The test images as the model's input batch, in predictions.json order. */
async function testBatch(files: string[]): Promise<Tensor> {
  const pixels = await Promise.all(files.map((f) => decodeForTraining(datasetPath, f, [32, 32])))
  return pixelsToTensor(pixels, [32, 32], 'rgb/255')
}

/** Loads an export with plain @tensorflow/tfjs in a fresh Node process and predicts `x`: row-major probabilities. */
function predictInOtherProcess(modelDir: string, x: Tensor, tag: string): Float32Array {
  const input = join(root, `input-${tag}.bin`)
  const output = join(root, `output-${tag}.json`)
  const data = x.dataSync() as Float32Array
  writeFileSync(input, Buffer.from(data.buffer, data.byteOffset, data.byteLength))
  const script = `
    const fs = require('node:fs'), path = require('node:path')
    const [root, dir, input, shape, output] = process.argv.slice(1)
    const tf = require(require.resolve('@tensorflow/tfjs', { paths: [root] }))
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'))
    const bin = fs.readFileSync(path.join(dir, 'weights.bin'))
    const raw = fs.readFileSync(input)
    const buffer = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)
    tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: buffer(bin),
    })).then((model) => {
      const y = model.predict(tf.tensor(new Float32Array(buffer(raw)), JSON.parse(shape)))
      fs.writeFileSync(output, JSON.stringify({ backend: tf.getBackend(), y: Array.from(y.dataSync()) }))
    })
  `
  const repo = resolve(__dirname, '..', '..')
  execFileSync(process.execPath, ['-e', script, repo, modelDir, input, JSON.stringify(x.shape), output], {
    stdio: 'pipe',
  })
  const result = JSON.parse(readFileSync(output, 'utf8')) as { backend: string; y: number[] }
  // Plain @tensorflow/tfjs under Node: its JavaScript backend, no tfjs-node, no custom layer registered.
  expect(result.backend).toBe('cpu')
  return Float32Array.from(result.y)
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/** What every adapter run must show about its export: it is the adapter model, merged, in a plain file. */
async function checkMergedExport(runId: number, extraLayers: number): Promise<LayersModel> {
  const runDir = runDirOf(dataDir, runId)
  const modelDir = join(runDir, 'model')
  const preds = JSON.parse(readFileSync(join(runDir, 'predictions.json'), 'utf8')) as RunPredictions
  // predictions.json holds what the adapter model computed during the run; the export is the merged one.
  const check = await verifyExport(runDir, datasetPath, preds.test)
  expect(check.count).toBe(preds.test.length)
  expect(check.agreement).toBe(1)
  expect(check.maxDifference).toBeLessThan(1e-5)
  const json = readFileSync(join(modelDir, 'model.json'), 'utf8')
  expect(json).not.toMatch(/Tunewise(LoRA|LoReFT)/)
  const x = await testBatch(preds.test.map((p) => p.file))
  const elsewhere = predictInOtherProcess(modelDir, x, String(runId))
  expect(
    maxDiff(
      elsewhere,
      preds.test.flatMap((p) => p.probabilities),
    ),
  ).toBeLessThan(1e-5)
  x.dispose()
  const { model } = await loadExport(modelDir)
  const fresh = await loader()
  // The base's architecture (plus a folded convolution per LoReFT site), the head on top.
  expect(model.layers.length).toBe(fresh.base.layers.length - 1 + extraLayers + 3)
  fresh.model.dispose()
  return model
}

let headOnly: Finished
let topBlocks: Finished

beforeAll(async () => {
  await makeSyntheticDataset(datasetPath, { perClass: 40, size: 32, seed: 5, classes: labels })
  const files = labels.flatMap((label) =>
    readdirSync(join(datasetPath, label)).map((f) => ({ file: `${label}/${f}`, label, hash: f })),
  )
  const split = splitDataset(files, { train: 0.5, val: 0.25, test: 0.25, seed: 2 })
  examples = split.assignment.map((a) => ({ file: a.file, label: a.label, split: a.split }))
  headOnly = await train(1, () => undefined)
  topBlocks = await train(2, (c) => {
    c.freeze = { ...c.freeze, preset: 'top-blocks', topBlocks: 2 }
    c.phase2 = { enabled: true, lrFactor: 1, epochs: 6 }
  })
}, 300_000)

describe('top blocks + phase 2', () => {
  it('ends no worse on validation than the head alone, and keeps BatchNorm statistics bit for bit', async () => {
    // Phase 1 is the head-only run (same seed, same data); the final model is at least as good on validation.
    expect(topBlocks.phase1ValLoss).toBeCloseTo(headOnly.valLoss, 6)
    expect(topBlocks.valLoss).toBeLessThanOrEqual(topBlocks.phase1ValLoss + 1e-6)
    expect(logs(topBlocks).some((m) => /^Phase 2 (kept its epoch|did not improve)/.test(m))).toBe(true)
    // Top 2 blocks = block_3 and Conv_1: their BatchNorm layers train γ and β only.
    const { model } = await loadExport(join(runDirOf(dataDir, 2), 'model'))
    const fresh = await loader()
    for (const bn of ['block_3_expand_BN', 'block_3_depthwise_BN', 'block_3_project_BN', 'Conv_1_bn']) {
      const now = weightBytes(model, bn)
      const was = weightBytes(fresh.model, bn)
      expect(now[2]!.equals(was[2]!), `${bn} moving mean`).toBe(true)
      expect(now[3]!.equals(was[3]!), `${bn} moving variance`).toBe(true)
    }
    // Below the top blocks nothing moved.
    for (const name of ['Conv1', 'bn_Conv1', 'block_2_expand', 'block_2_project_BN'])
      expect(sameWeights(model, fresh.model, name), name).toBe(true)
    expect(topBlocks.trainable[1]).toBe(headOnly.trainable[1])
    expect(topBlocks.trainable[2]!).toBeGreaterThan(topBlocks.trainable[1]!)
    model.dispose()
    fresh.model.dispose()
  })
})

describe('LoRA', () => {
  let lora: Finished
  beforeAll(async () => {
    lora = await train(10, (c) => {
      c.freeze = { ...c.freeze, preset: 'lora' }
      c.phase2 = { enabled: true, lrFactor: 1, epochs: 6 }
    })
  }, 300_000)

  it('at r = 8 reaches at least head-only accuracy with fewer trainable parameters than top blocks', () => {
    expect(lora.trainable[2]!).toBeLessThan(topBlocks.trainable[2]!)
    // Rank 8 on block_3_expand (24→72), block_3_project (72→24) and Conv_1 (24→96), plus the head.
    expect(lora.trainable[2]! - lora.trainable[1]!).toBe(8 * (24 + 72) + 8 * (72 + 24) + 8 * (24 + 96))
    expect(lora.testAccuracy).toBeGreaterThanOrEqual(headOnly.testAccuracy)
    expect(lora.valLoss).toBeLessThanOrEqual(headOnly.valLoss + 1e-6)
    expect(
      logs(lora).some((m) => /^Phase 2 trains LoRA adapters on 3 layers \(rank 8, α 16; 2,496 adapter/.test(m)),
    ).toBe(true)
  })

  it('trains only the adapters: every frozen layer of the export is bit for bit the base', async () => {
    const model = await checkMergedExport(10, 0)
    const fresh = await loader()
    const targets = ['block_3_expand', 'block_3_project', 'Conv_1']
    for (const l of fresh.base.layers) {
      if (l.weights.length === 0) continue
      expect(sameWeights(model, fresh.model, l.name), l.name).toBe(!targets.includes(l.name))
    }
    model.dispose()
    fresh.model.dispose()
  })

  it('saves the adapter on its own; applied again to a fresh base it gives the exported model', async () => {
    const tf = getTf()
    const dir = runAdapterDir(dataDir, 10)
    expect(ofType(lora.messages, 'artifact').map((a) => [a.kind, a.path])).toContainEqual(['adapter', dir])
    expect(existsSync(join(dir, ADAPTER_JSON)) && existsSync(join(dir, ADAPTER_BIN))).toBe(true)
    const { modelId, weights } = await loadAdapter(dir)
    expect(modelId).toBe(tinyMobileNetCard.id)
    expect(weights.lora.map((l) => [l.layer, l.rank, l.alpha])).toEqual([
      ['block_3_expand', 8, 16],
      ['block_3_project', 8, 16],
      ['Conv_1', 8, 16],
    ])
    expect(weights.lora.some((l) => l.b.some((v) => v !== 0))).toBe(true)
    const fresh = await loader()
    const merged = mergeAdapters(fresh.base, weights)
    const { model } = await loadExport(join(runDirOf(dataDir, 10), 'model'))
    const features = tf.model({ inputs: model.inputs, outputs: model.getLayer('flatten_1').output })
    const preds = JSON.parse(readFileSync(join(runDirOf(dataDir, 10), 'predictions.json'), 'utf8')) as RunPredictions
    const x = await testBatch(preds.test.map((p) => p.file))
    expect(maxDiff((merged.predict(x) as Tensor).dataSync(), (features.predict(x) as Tensor).dataSync())).toBeLessThan(
      1e-5,
    )
    x.dispose()
    model.dispose()
    fresh.model.dispose()
  })
})

describe('LoReFT', () => {
  let reft: Finished
  beforeAll(async () => {
    reft = await train(11, (c) => {
      c.freeze = { ...c.freeze, preset: 'loreft' }
      c.phase2 = { enabled: true, lrFactor: 1, epochs: 10 }
    })
  }, 300_000)

  it('nudges one block output with few numbers and never ends worse on validation', () => {
    // The default site: the third block from the top's output (block_1 here, block_14_add on MobileNetV2).
    expect(logs(reft).some((m) => m.startsWith('Phase 2 trains LoReFT at block_1_project_BN (rank 4; 196 '))).toBe(true)
    expect(reft.trainable[2]! - reft.trainable[1]!).toBe(2 * 4 * 24 + 4)
    expect(reft.valLoss).toBeLessThanOrEqual(reft.phase1ValLoss + 1e-6)
  })

  it('keeps R orthonormal after training and folds into one 1×1 convolution the plain export loads', async () => {
    const { weights } = await loadAdapter(runAdapterDir(dataDir, 11))
    const [r] = weights.reft
    expect(r).toMatchObject({ layer: 'block_1_project_BN', rank: 4, dim: 24 })
    expect(orthonormalityError(r!.r, 4, 24)).toBeLessThan(1e-4)
    // It trained: W moved away from R (where it started).
    expect(maxDiff(r!.w, r!.r)).toBeGreaterThan(1e-4)
    const model = await checkMergedExport(11, 1)
    const folded = model.getLayer(`${FOLDED_REFT_PREFIX}block_1_project_BN`)
    expect(folded.getClassName()).toBe('Conv2D')
    expect(folded.weights.map((w) => w.shape)).toEqual([[1, 1, 24, 24], [24]])
    model.dispose()
  })
})
