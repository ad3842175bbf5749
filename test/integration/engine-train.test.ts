import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FromJob, JobStart } from '../../src/shared/job-messages'
import type { ModelCard, RunConfig } from '../../src/shared/types'
import { defaultRunConfig } from '../../src/shared/run-config'
import { tinyConvNet } from '../helpers/tiny-model'
import { getTf } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { splitDataset } from '../../src/main/ml/data/split'
import { prepareLoaded, type LoadedModel } from '../../src/main/ml/models/load'
import { featureStats } from '../../src/main/ml/train/features'
import { runDir as runDirOf } from '../../src/main/ml/layout'
import { runInProcess, smoothLabels } from '../../src/main/ml/train/run-job'
import type { RunPredictions } from '../../src/main/ml/train/finish'
import { loadExport, verifyExport } from '../../src/main/ml/export/export'
import { predictImage } from '../../src/main/ml/eval/predict'

const root = mkdtempSync(join(tmpdir(), 'tw-train-'))
const datasetPath = join(root, 'shapes')
const labels = ['circle', 'square', 'triangle']
let examples: JobStart['examples'] = []
afterAll(() => rmSync(root, { recursive: true, force: true }))

const tinyCard: ModelCard = {
  id: 'tiny-test',
  name: 'Tiny test CNN',
  task: 'image-classification',
  supported: true,
  inputSize: [32, 32],
  parameters: 0,
  license: 'MIT',
  licenseKind: 'permissive',
  source: { kind: 'bundled', description: 'test' },
  card: { summary: '', trainedOn: '', input: '', preprocessing: '', limitations: '' },
  featureLayer: 'block_2_relu',
  available: true,
}

/** The tiny base behind the test catalogue entry. */
async function tinyLoader(): Promise<LoadedModel> {
  return prepareLoaded(tinyCard, tinyConvNet(), 'rgb/255')
}

function job(runId: number, patch: (c: RunConfig) => void = () => undefined, backend?: string): JobStart {
  const config = defaultRunConfig('tiny-test', 'ds')
  config.hyper.epochs = 4
  config.hyper.batchSize = 8
  config.hyper.earlyStopping.enabled = false
  patch(config)
  return { type: 'start', runId, config, dataDir: join(root, 'data'), datasetPath, examples, labels, backend }
}

const ofType = <T extends FromJob['type']>(msgs: FromJob[], type: T) =>
  msgs.filter((m): m is Extract<FromJob, { type: T }> => m.type === type)

beforeAll(async () => {
  await makeSyntheticDataset(datasetPath, { perClass: 10, size: 32, seed: 3, classes: labels })
  const files = labels.flatMap((l) =>
    Array.from({ length: 10 }, (_, i) => ({
      file: `${l}/${l}-${String(i).padStart(3, '0')}.${i % 3 === 2 ? 'jpg' : 'png'}`,
      label: l,
      hash: `${l}${i}`,
    })),
  )
  const split = splitDataset(files, { train: 0.6, val: 0.2, test: 0.2, seed: 1 })
  examples = split.assignment.map((a) => ({ file: a.file, label: a.label, split: a.split }))
})

describe('trainRun on a tiny base', () => {
  it('posts backend, one epoch per epoch, evaluations, the model artifact and done; tensors stay flat', async () => {
    const before = featureStats.baseForwardImages
    const counts: number[] = []
    const { messages, final } = await runInProcess(job(1), {
      loadModel: tinyLoader,
      onMessage: (m) => {
        if (m.type === 'epoch') counts.push(getTf().memory().numTensors)
      },
    })
    expect(final).toMatchObject({ type: 'done', status: 'succeeded' })
    expect(messages[0]).toMatchObject({ type: 'backend', backend: 'wasm' })
    const epochs = ofType(messages, 'epoch')
    expect(epochs.map((e) => e.metrics.epoch)).toEqual([1, 2, 3, 4])
    expect(Object.keys(epochs[0].metrics.values).sort()).toEqual([
      'acc',
      'loss',
      'lr',
      'trainable_params',
      'val_acc',
      'val_loss',
    ])
    // Head only: a dense layer from the tiny base's 8 features to 3 classes.
    expect(epochs[0].metrics.values.trainable_params).toBe(8 * 3 + 3)
    expect(new Set(counts).size).toBe(1)
    const evals = ofType(messages, 'evaluation').map((m) => m.evaluation)
    expect(evals.map((e) => e.split)).toEqual(['val', 'test'])
    const test = evals[1]
    expect(test.predictions).toHaveLength(examples.filter((e) => e.split === 'test').length)
    expect(test.confusion.flat().reduce((a, b) => a + b, 0)).toBe(test.predictions.length)
    expect(final?.type === 'done' && final.testAccuracy).toBe(test.accuracy)
    expect(ofType(messages, 'artifact')[0].path).toBe(join(runDirOf(join(root, 'data'), 1), 'model'))
    // Every image went through the base exactly once.
    expect(featureStats.baseForwardImages - before).toBe(examples.length)
    const progress = ofType(messages, 'progress').map((m) => m.progress.stage)
    expect(progress).toContain('extracting')
    expect(progress).toContain('training')

    // The export loads with plain tfjs and agrees with the run's own probabilities.
    const preds = JSON.parse(
      readFileSync(join(runDirOf(join(root, 'data'), 1), 'predictions.json'), 'utf8'),
    ) as RunPredictions
    const check = await verifyExport(runDirOf(join(root, 'data'), 1), datasetPath, preds.test)
    expect(check.agreement).toBe(1)
    expect(check.maxDifference).toBeLessThan(1e-5)
    const { meta } = await loadExport(join(runDirOf(join(root, 'data'), 1), 'model'))
    expect(meta).toMatchObject({ packageName: 'tunewise', labels, imageSize: 32, preprocessing: 'rgb/255', runId: 1 })
    const tried = await predictImage(runDirOf(join(root, 'data'), 1), join(datasetPath, test.predictions[0].file))
    expect(tried.map((t) => t.label).sort()).toEqual([...labels].sort())
    expect(tried[0].label).toBe(test.predictions[0].predicted)
    expect(tried[0].confidence).toBeCloseTo(test.predictions[0].confidence, 5)
  })

  it('a second run on the same images reads the feature cache and never runs the base', async () => {
    const before = featureStats.baseForwardImages
    const hits = featureStats.cacheHits
    const tensors = getTf().memory().numTensors
    const { final } = await runInProcess(
      job(2, (c) => (c.hyper.optimizer = 'momentum')),
      { loadModel: tinyLoader },
    )
    expect(final).toMatchObject({ type: 'done', status: 'succeeded' })
    expect(featureStats.baseForwardImages - before).toBe(0)
    expect(featureStats.cacheHits - hits).toBe(examples.length)
    // Everything the run created (model, head, optimizer state, feature tensors) was disposed.
    expect(getTf().memory().numTensors).toBe(tensors)
  })

  it('the same seed gives the same run, a different seed a different one', async () => {
    const values = async (runId: number, seed: number) =>
      ofType(
        (
          await runInProcess(
            job(runId, (c) => (c.hyper.seed = seed)),
            { loadModel: tinyLoader },
          )
        ).messages,
        'epoch',
      ).map((m) => m.metrics.values.loss)
    const a = await values(20, 5)
    expect(await values(21, 5)).toEqual(a)
    expect(await values(22, 6)).not.toEqual(a)
  })

  it('early stopping ends before the epoch budget', async () => {
    const { messages, final } = await runInProcess(
      job(3, (c) => {
        c.hyper.epochs = 60
        c.hyper.learningRate = 0.05
        c.hyper.earlyStopping = { enabled: true, patience: 2, restoreBest: true }
      }),
      { loadModel: tinyLoader },
    )
    expect(final).toMatchObject({ type: 'done', status: 'succeeded' })
    const epochs = ofType(messages, 'epoch')
    expect(epochs.length).toBeLessThan(60)
    expect(ofType(messages, 'log').some((m) => /stopped early/.test(m.message))).toBe(true)
  })

  it('cancelling mid-run ends with done/cancelled and no more epochs', async () => {
    const { messages, final } = await runInProcess(
      job(4, (c) => (c.hyper.epochs = 50)),
      {
        loadModel: tinyLoader,
        onMessage: (m) => m.type === 'epoch' && m.metrics.epoch === 2,
      },
    )
    expect(final).toEqual({ type: 'done', status: 'cancelled', bestValAccuracy: null, testAccuracy: null })
    expect(ofType(messages, 'epoch').length).toBeLessThanOrEqual(3)
    expect(ofType(messages, 'evaluation')).toHaveLength(0)
  })

  it('cancelling during feature extraction stops between batches', async () => {
    const before = featureStats.baseForwardImages
    const { final } = await runInProcess(job(5), {
      loadModel: tinyLoader,
      cacheDir: join(root, 'other-cache'),
      onMessage: (m) => m.type === 'progress' && m.progress.stage === 'extracting',
    })
    expect(final).toMatchObject({ type: 'done', status: 'cancelled' })
    // The stop was requested at the first progress report, before the first batch.
    expect(featureStats.baseForwardImages - before).toBe(0)
  })

  it('a learning rate of 1e6 stops with nan_loss and says what to do', async () => {
    const { final } = await runInProcess(
      job(6, (c) => {
        c.hyper.optimizer = 'sgd'
        c.hyper.learningRate = 1e6
        c.hyper.epochs = 20
      }),
      { loadModel: tinyLoader },
    )
    expect(final?.type).toBe('error')
    if (final?.type !== 'error') return
    expect(final.code).toBe('nan_loss')
    expect(final.message).toMatch(
      /^Training stopped: the loss became NaN at epoch \d+\. The learning rate \(1000000\) is probably too high; try 0\.001\.$/,
    )
  })

  it('label smoothing softens the training targets as Keras defines it, and the run trains on them', async () => {
    const tf = getTf()
    const smoothed = smoothLabels(tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3), 0.3)
    expect(Array.from(smoothed.dataSync()).map((v) => Number(v.toFixed(6)))).toEqual([0.8, 0.1, 0.1, 0.1, 0.1, 0.8])
    const losses = async (id: number, smoothing: number) => {
      const { messages, final } = await runInProcess(
        job(id, (c) => {
          c.hyper.epochs = 3
          c.hyper.labelSmoothing = smoothing
        }),
        { loadModel: tinyLoader },
      )
      expect(final).toMatchObject({ type: 'done', status: 'succeeded' })
      return ofType(messages, 'epoch').map((m) => m.metrics.values.loss!)
    }
    // Same seed, same data: only the targets differ, so the training loss does.
    const plain = await losses(20, 0)
    const soft = await losses(21, 0.3)
    expect(soft).toHaveLength(plain.length)
    expect(soft.some((v, i) => Math.abs(v - plain[i]!) > 1e-6)).toBe(true)
  })

  it('augmentation runs the base on fresh variants every epoch', async () => {
    const before = featureStats.baseForwardImages
    const train = examples.filter((e) => e.split === 'train').length
    const { final } = await runInProcess(
      job(7, (c) => {
        c.hyper.epochs = 2
        c.augment = { enabled: true, flip: true, crop: true, rotate: true, brightness: true }
      }),
      { loadModel: tinyLoader },
    )
    expect(final).toMatchObject({ type: 'done', status: 'succeeded' })
    // val/test come from the cache (filled by the first run); train runs twice.
    expect(featureStats.baseForwardImages - before).toBe(2 * train)
  })

  it('phase 2 trains the top block on cached boundary activations; the frozen block stays bit-for-bit', async () => {
    const before = featureStats.baseForwardImages
    const { messages, final } = await runInProcess(
      job(8, (c) => {
        c.hyper.epochs = 2
        c.freeze = { ...c.freeze, preset: 'top-blocks', topBlocks: 1 }
        c.phase2 = { enabled: true, lrFactor: 0.5, epochs: 3 }
      }),
      { loadModel: tinyLoader },
    )
    expect(final).toMatchObject({ type: 'done', status: 'succeeded' })
    const epochs = ofType(messages, 'epoch').map((m) => [m.metrics.phase, m.metrics.epoch])
    expect(epochs).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
      [2, 3],
    ])
    expect(ofType(messages, 'epoch').find((m) => m.metrics.phase === 2)?.metrics.values.lr).toBeCloseTo(5e-4, 10)
    expect(
      ofType(messages, 'log').some((m) => /batches of 8/.test(m.message) || /Phase 2 trains/.test(m.message)),
    ).toBe(true)
    // Features were cached; the frozen part (block 1) ran once per image for the boundary cache.
    expect(featureStats.baseForwardImages - before).toBe(examples.length)
    const fresh = await tinyLoader()
    const { model } = await loadExport(join(runDirOf(join(root, 'data'), 8), 'model'))
    const same = (name: string) =>
      model
        .getLayer(name)
        .getWeights()
        .every((w, i) => {
          const a = w.dataSync()
          const b = fresh.model.getLayer(name).getWeights()[i].dataSync()
          return a.every((v, j) => v === b[j])
        })
    expect(same('block_1_conv')).toBe(true)
    expect(same('block_1_bn')).toBe(true)
    expect(same('block_2_conv')).toBe(false)
    expect(same('block_2_bn')).toBe(false)
    // Phase 2 trained the unfrozen BatchNorm's scale and shift; its moving statistics stayed bit for bit.
    const bnStats = (m: typeof model) =>
      m
        .getLayer('block_2_bn')
        .getWeights()
        .slice(2)
        .map((w) => Buffer.from((w.dataSync() as Float32Array).slice().buffer))
    bnStats(model).forEach((b, i) => expect(b.equals(bnStats(fresh.model)[i]!)).toBe(true))
    const preds = JSON.parse(
      readFileSync(join(runDirOf(join(root, 'data'), 8), 'predictions.json'), 'utf8'),
    ) as RunPredictions
    const check = await verifyExport(runDirOf(join(root, 'data'), 8), datasetPath, preds.test)
    expect(check.agreement).toBe(1)
    expect(check.maxDifference).toBeLessThan(1e-4)

    // A second phase-2 run reads both caches.
    const again = featureStats.baseForwardImages
    const rerun = await runInProcess(
      job(9, (c) => {
        c.hyper.epochs = 1
        c.freeze = { ...c.freeze, preset: 'top-blocks', topBlocks: 1 }
        c.phase2 = { enabled: true, lrFactor: 0.5, epochs: 1 }
      }),
      { loadModel: tinyLoader },
    )
    expect(rerun.final).toMatchObject({ type: 'done', status: 'succeeded' })
    expect(featureStats.baseForwardImages - again).toBe(0)
    model.dispose()
    fresh.model.dispose()
  })
})
