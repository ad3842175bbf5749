/**
 * The training callbacks and the epoch loop, on a tiny dense model (tfjs-examples style: fit 1-3 epochs,
 * assert the hooks, the history and the weights, never the clock).
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import type { EpochMetrics } from '../../src/shared/job-messages'
import type { RunProgress } from '../../src/shared/types'
import { AppError } from '../../src/main/errors'
import { getTf, initBackend } from '../../src/main/ml/backend'
import {
  CancelOnRequest,
  EarlyStopping,
  KeepBest,
  type KeepBestOutcome,
  NanLossError,
  NanStop,
  ProgressReporter,
  ScheduleCallback,
  TrainingCallback,
  type Logs,
} from '../../src/main/ml/train/callbacks'
import { fitLoop, type FitSpec } from '../../src/main/ml/train/fit-loop'
import { makeRng } from '../../src/main/ml/train/random'
import { LrSchedule } from '../../src/main/ml/train/schedule'

beforeAll(async () => {
  await initBackend('cpu')
})

/** 4 → 3 softmax, compiled with SGD. */
function tinyModel(lr = 0.1): LayersModel {
  const tf = getTf()
  const m = tf.sequential()
  m.add(tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax', kernelInitializer: 'zeros' }))
  m.compile({ optimizer: tf.train.sgd(lr), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  return m
}

/** 10 examples in 3 classes, batches of 4 (3 batches per epoch), 3 validation examples. */
function spec(model: LayersModel, epochs: number): FitSpec & { tensors: Tensor[] } {
  const tf = getTf()
  const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
  const x = tf.tensor2d(
    labels.flatMap((y, i) => [y, 1 - y, i / 10, 1]),
    [10, 4],
  )
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3)
  const vx = tf.tensor2d([0, 1, 0, 1, 1, 0, 0, 1, 2, -1, 0, 1], [3, 4])
  return {
    model,
    epochs,
    batchSize: 4,
    train: async () => ({ xs: [x], owned: false }),
    trainY: y,
    val: { xs: [vx], labels: [0, 1, 2] },
    rng: makeRng(1),
    tensors: [x, y, vx],
  }
}

/** Records every hook it sees, as `name:arg`. */
class Recorder extends TrainingCallback {
  readonly calls: string[] = []
  readonly epochLogs: Logs[] = []
  override async onTrainBegin() {
    this.calls.push(`trainBegin:${this.params.batches}`)
  }
  override async onEpochBegin(epoch: number) {
    this.calls.push(`epochBegin:${epoch}`)
  }
  override async onBatchEnd(batch: number) {
    this.calls.push(`batchEnd:${batch}`)
  }
  override async onEpochEnd(epoch: number, logs?: Logs) {
    this.calls.push(`epochEnd:${epoch}`)
    this.epochLogs.push({ ...logs })
  }
  override async onTrainEnd() {
    this.calls.push('trainEnd')
  }
}

/** Stops training at the end of epoch `at` (as early stopping does). */
class StopAt extends TrainingCallback {
  constructor(private readonly at: number) {
    super()
  }
  override async onEpochEnd(epoch: number) {
    if (epoch === this.at) this.model.stopTraining = true
  }
}

const weightsOf = (m: LayersModel): number[][] => m.getWeights().map((w) => Array.from(w.dataSync()))

describe('fitLoop', () => {
  it('runs the hooks in tfjs-layers order with loss, acc and validation metrics per epoch', async () => {
    const model = tinyModel()
    const s = spec(model, 2)
    const rec = new Recorder()
    const before = weightsOf(model)
    await fitLoop(s, [rec])
    const epoch = (e: number) => [`epochBegin:${e}`, 'batchEnd:0', 'batchEnd:1', 'batchEnd:2', `epochEnd:${e}`]
    expect(rec.calls).toEqual(['trainBegin:3', ...epoch(0), ...epoch(1), 'trainEnd'])
    expect(rec.epochLogs).toHaveLength(2)
    expect(Object.keys(rec.epochLogs[0]).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss'])
    expect(rec.epochLogs.every((l) => Number.isFinite(l.loss) && Number.isFinite(l.val_loss))).toBe(true)
    expect(weightsOf(model)).not.toEqual(before)
    getTf().dispose(s.tensors)
  })

  it('ends after the epoch in which a callback set stopTraining', async () => {
    const s = spec(tinyModel(), 5)
    const rec = new Recorder()
    await fitLoop(s, [new StopAt(1), rec])
    expect(rec.epochLogs).toHaveLength(2)
    expect(rec.calls.at(-1)).toBe('trainEnd')
    getTf().dispose(s.tensors)
  })

  it('without a validation split the logs have no val_* metrics', async () => {
    const s = { ...spec(tinyModel(), 1), val: null }
    const rec = new Recorder()
    await fitLoop(s, [rec])
    expect(Object.keys(rec.epochLogs[0]).sort()).toEqual(['acc', 'loss'])
    getTf().dispose(s.tensors)
  })
})

describe('CancelOnRequest', () => {
  it('reads a cancel that arrives as a macrotask during fit, stops the model and ends with cancelled', async () => {
    const model = tinyModel()
    const s = spec(model, 50)
    let stop = false
    setImmediate(() => (stop = true))
    const rec = new Recorder()
    const err = await fitLoop(s, [new CancelOnRequest(() => stop, 0), rec]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('cancelled')
    // Stopped inside the first epoch: no epoch finished, the later callbacks never saw its end.
    expect(rec.epochLogs).toHaveLength(0)
    expect(model.stopTraining).toBe(true)
    getTf().dispose(s.tensors)
  })

  it('refuses to start an epoch once cancelled', async () => {
    const cancel = new CancelOnRequest(() => true)
    await expect(cancel.onEpochBegin()).rejects.toMatchObject({ code: 'cancelled' })
  })
})

describe('NanStop', () => {
  it('stops on a NaN batch loss and says which epoch and which learning rate to try', async () => {
    const nan = new NanStop(1, 1e6)
    nan.setModel(tinyModel())
    await nan.onEpochBegin()
    await nan.onBatchEnd(0, { loss: NaN })
    expect(nan.model.stopTraining).toBe(true)
    const err = await nan.onEpochEnd(2, { loss: 3 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NanLossError)
    expect((err as NanLossError).code).toBe('nan_loss')
    expect((err as Error).message).toBe(
      'Training stopped: the loss became NaN at epoch 3. The learning rate (1000000) is probably too high; try 0.001.',
    )
  })

  it('names phase 2 and an infinite epoch loss; a finite epoch passes', async () => {
    const nan = new NanStop(2, 1e-4)
    nan.setModel(tinyModel())
    await expect(nan.onEpochEnd(0, { loss: 0.5 })).resolves.toBeUndefined()
    await expect(nan.onEpochEnd(0, { loss: Infinity })).rejects.toThrow(
      'Training stopped: the loss became infinite at epoch 1 of phase 2. The learning rate (0.0001) is probably too high; try 0.00001.',
    )
  })
})

describe('EarlyStopping', () => {
  it('stops after `patience` epochs without a lower val_loss and restores the best weights', async () => {
    const model = tinyModel()
    const tf = getTf()
    const stoppedAt: number[] = []
    const es = new EarlyStopping(2, true, (e) => stoppedAt.push(e))
    es.setModel(model)
    const setKernel = (v: number) => tf.tidy(() => model.layers[0].setWeights([tf.fill([4, 3], v), tf.zeros([3])]))
    const tensorsBefore = tf.memory().numTensors
    for (const [epoch, valLoss] of [0.9, 0.5, 0.7, 0.8].entries()) {
      setKernel(epoch + 1)
      await es.onEpochEnd(epoch, { loss: 1, val_loss: valLoss })
      if (epoch < 3) expect(model.stopTraining).toBeFalsy()
    }
    expect(model.stopTraining).toBe(true)
    expect(stoppedAt).toEqual([3])
    await es.onTrainEnd()
    // Epoch 1 (val_loss 0.5) was best: its kernel was all 2s.
    expect(new Set(model.getWeights()[0].dataSync())).toEqual(new Set([2]))
    es.dispose()
    expect(tf.memory().numTensors).toBe(tensorsBefore)
  })

  it('restores the best weights at a natural end too, and watches the training loss without validation', async () => {
    const model = tinyModel()
    const tf = getTf()
    const es = new EarlyStopping(10, true)
    es.setModel(model)
    for (const [epoch, loss] of [0.4, 0.3, 0.6].entries()) {
      model.layers[0].setWeights([tf.fill([4, 3], epoch), tf.zeros([3])])
      await es.onEpochEnd(epoch, { loss })
    }
    expect(model.stopTraining).toBeFalsy()
    await es.onTrainEnd()
    expect(new Set(model.getWeights()[0].dataSync())).toEqual(new Set([1]))
    es.dispose()
  })
})

describe('KeepBest', () => {
  it('starts from the previous phase: a phase that never beats its baseline ends with the weights it started with', async () => {
    const model = tinyModel()
    const tf = getTf()
    const outcomes: KeepBestOutcome[] = []
    const keep = new KeepBest(
      () => 0.5,
      (o) => outcomes.push(o),
    )
    keep.setModel(model)
    tf.tidy(() => model.layers[0].setWeights([tf.fill([4, 3], 7), tf.zeros([3])]))
    const tensorsBefore = tf.memory().numTensors
    await keep.onTrainBegin()
    for (const [epoch, valLoss] of [0.6, 0.9, 0.55].entries()) {
      tf.tidy(() => model.layers[0].setWeights([tf.fill([4, 3], epoch), tf.zeros([3])]))
      await keep.onEpochEnd(epoch, { loss: 0.1, val_loss: valLoss })
    }
    await keep.onTrainEnd()
    expect(new Set(model.getWeights()[0].dataSync())).toEqual(new Set([7]))
    expect(outcomes).toEqual([{ baseline: 0.5, best: 0.5, bestEpoch: null }])
    keep.dispose()
    expect(tf.memory().numTensors).toBe(tensorsBefore)
  })

  it('keeps the epoch with the lowest validation loss below the baseline, ignoring epochs without one', async () => {
    const model = tinyModel()
    const tf = getTf()
    const outcomes: KeepBestOutcome[] = []
    const keep = new KeepBest(
      () => 0.8,
      (o) => outcomes.push(o),
    )
    keep.setModel(model)
    await keep.onTrainBegin()
    const epochs: Logs[] = [{ val_loss: 0.7 }, { val_loss: 0.4 }, { loss: NaN }, { val_loss: 0.6 }]
    for (const [epoch, logs] of epochs.entries()) {
      model.layers[0].setWeights([tf.fill([4, 3], epoch + 1), tf.zeros([3])])
      await keep.onEpochEnd(epoch, logs)
    }
    await keep.onTrainEnd()
    expect(new Set(model.getWeights()[0].dataSync())).toEqual(new Set([2]))
    expect(outcomes).toEqual([{ baseline: 0.8, best: 0.4, bestEpoch: 1 }])
    keep.dispose()
  })

  it('with a recovering NanStop, a diverging phase ends on the best weights instead of failing', async () => {
    const tf = getTf()
    const model = tinyModel()
    const s = spec(model, 5)
    // Training inputs that send the loss (and every weight) to NaN in the first batch.
    const bad = tf.fill([10, 4], NaN)
    s.train = async () => ({ xs: [bad], owned: false })
    const before = weightsOf(model)
    const messages: string[] = []
    const outcomes: KeepBestOutcome[] = []
    await fitLoop(s, [
      new NanStop(2, 0.1, (m) => messages.push(m)),
      new KeepBest(
        () => 1.1,
        (o) => outcomes.push(o),
      ),
    ])
    expect(messages).toHaveLength(1)
    expect(messages[0]).toMatch(/^Training stopped: the loss became NaN at epoch 1 of phase 2\./)
    expect(outcomes[0]!.bestEpoch).toBeNull()
    expect(weightsOf(model)).toEqual(before)
    tf.dispose([...s.tensors, bad])
  })
})

describe('ScheduleCallback', () => {
  it("sets the optimizer's rate each epoch and records it as lr", async () => {
    const tf = getTf()
    const optimizer = tf.train.adam(0.1)
    const schedule = new LrSchedule({ kind: 'step', stepEvery: 2, gamma: 0.5, patience: 1 }, 0.1, 6, optimizer)
    const cb = new ScheduleCallback(schedule)
    const lrs: number[] = []
    for (let epoch = 0; epoch < 5; epoch++) {
      await cb.onEpochBegin(epoch)
      const logs: Logs = { loss: 1 }
      await cb.onEpochEnd(epoch, logs)
      lrs.push(logs.lr)
    }
    expect(lrs).toEqual([0.1, 0.1, 0.05, 0.05, 0.025])
    expect((optimizer as unknown as { learningRate: number }).learningRate).toBe(0.025)
  })
})

describe('ProgressReporter', () => {
  it('reports at most once per interval with an ETA from the average batch, and each epoch as a copy', async () => {
    let now = 1000
    const progress: Omit<RunProgress, 'runId'>[] = []
    const epochs: EpochMetrics[] = []
    const reporter = new ProgressReporter(
      2,
      { progress: (p) => progress.push(p), epoch: (m) => epochs.push(m), elapsed: () => 42 },
      5000,
      () => now,
    )
    reporter.setParams({ epochs: 2, samples: 40, batchSize: 10, batches: 4 })
    await reporter.onTrainBegin()
    await reporter.onEpochBegin(0)
    for (const [batch, t] of [2000, 4000, 8000, 10000].entries()) {
      now = t
      await reporter.onBatchEnd(batch, { loss: 0.5, acc: 0.75 })
    }
    // 2000 reported, 4000 too soon, 8000 reported, 10000 too soon (2 s after 8000; the interval is 5 s).
    expect(progress.map((p) => p.batch)).toEqual([1, 3])
    // 3 of 8 batches took 7 s: 5 batches × 7/3 s left ≈ 11.7 s.
    expect(progress[1]).toMatchObject({ phase: 2, epoch: 1, epochs: 2, batches: 4, etaSeconds: 12, stage: 'training' })
    expect(progress[1].metrics).toEqual({ loss: 0.5, acc: 0.75 })
    const logs: Logs = { loss: 0.4, acc: 0.8, val_loss: 0.6 }
    await reporter.onEpochEnd(0, logs)
    logs.lr = 1
    expect(epochs).toEqual([{ phase: 2, epoch: 1, t: 42, values: { loss: 0.4, acc: 0.8, val_loss: 0.6 } }])
    now = 20000
    await reporter.onEpochBegin(1)
    await reporter.onBatchEnd(0, { loss: 0.3, acc: 0.9 })
    // The last epoch's other metrics ride along with the batch's own loss and accuracy.
    expect(progress.at(-1)?.metrics).toEqual({ loss: 0.3, acc: 0.9, val_loss: 0.6 })
    expect(progress.at(-1)?.epoch).toBe(2)
  })
})
