/**
 * The epoch loop both phases share. Each epoch is one pass over that epoch's inputs (cached features, or
 * fresh augmented ones), in an order drawn from the run's seeded generator: a `model.fit` call, or, for the
 * default linear head on cached features, the hand-written kernel of linear-head.ts (the same mini-batch
 * steps without TF.js' per-operation dispatch). Validation is a `predict` on tensors already in memory (with
 * the kernel, its own forward pass). Everything else (schedule, early stopping, NaN, cancel, progress) is a callback.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { getTf } from '../backend'
import { lossAndAccuracy } from '../eval/evaluate'
import { CallbackList, type Logs, type TrainingCallback } from './callbacks'
import { LinearHeadTrainer, type LinearHeadData } from './linear-head'
import { permutation, type Rng } from './random'

/**
 * One epoch's training inputs. `owned` inputs were made for this epoch (augmented) and are disposed after
 * it; cached ones are reused.
 */
export type TrainInputs = (epoch: number) => Promise<{ xs: Tensor[]; owned: boolean }>

/** What `fitLoop` trains and on what. */
export interface FitSpec {
  /** A compiled model. */
  model: LayersModel
  epochs: number
  batchSize: number
  train: TrainInputs
  /** One-hot labels [examples, classes], in the order of the inputs. */
  trainY: Tensor
  /** Validation inputs and their label indices; null (or no labels) means no `val_*` metrics. */
  val: { xs: Tensor[]; labels: number[] } | null
  /** Class index → loss weight; undefined weighs every class the same. */
  classWeight?: Record<number, number>
  /** Shuffles each epoch's example order. */
  rng: Rng
  /**
   * Trains the default linear head (`linearHeadShape`) on cached inputs with the hand-written kernel instead of
   * `model.fit`. Default true; false forces `model.fit` (tests and the bench compare the two).
   */
  headKernel?: boolean
}

/** The kernel's side of one `fitLoop`: the trainer (weights and optimizer moments) and the data it reads. */
interface KernelState {
  trainer: LinearHeadTrainer
  data: LinearHeadData
  /** The tensor `data.x` was read from: cached inputs are the same tensor every epoch and are read once. */
  source: Tensor
  /** The validation inputs, read once, with their tensor. */
  val?: { x: Float32Array; rows: Int32Array; source: Tensor }
}

/** Probabilities for `xs` (one [examples, features] tensor) from the kernel's current weights. */
function kernelPredict(state: KernelState, xs: Tensor[]): Float32Array {
  if (state.val?.source !== xs[0]) {
    const n = xs[0].shape[0]
    state.val = {
      x: xs[0].dataSync() as Float32Array,
      rows: Int32Array.from({ length: n }, (_, i) => i),
      source: xs[0],
    }
  }
  return state.trainer.predict(state.val.x, state.val.rows)
}

/** Row-major probabilities [examples, classes] for `xs` (empty for no examples). */
export function predictProbs(model: LayersModel, xs: Tensor[], batchSize: number): Float32Array {
  const tf = getTf()
  if (xs[0].shape[0] === 0) return new Float32Array(0)
  const y = model.predict(xs.length === 1 ? xs[0] : xs, { batchSize }) as Tensor
  const out = y.dataSync() as Float32Array
  tf.dispose(y)
  return out
}

/**
 * `val_loss` and `val_acc`, or nothing without a validation split. With the kernel, its own forward pass gives
 * the probabilities (the model's `predict` computes the same; on WASM each of its batch slices copies the whole
 * input out of the heap, which costs more than the kernel's epoch).
 */
function validate(spec: FitSpec, kernel: KernelState | null | undefined): Logs {
  if (!spec.val || spec.val.labels.length === 0) return {}
  const probs = kernel ? kernelPredict(kernel, spec.val.xs) : predictProbs(spec.model, spec.val.xs, 32)
  const v = lossAndAccuracy(probs, spec.val.labels, spec.trainY.shape[1] ?? 0)
  return { val_loss: v.loss, val_acc: v.acc }
}

/** Per-example loss weights as `fit` derives them from `classWeight`: the weight of each target's arg-max. */
function sampleWeights(y: Float32Array, classes: number, classWeight?: Record<number, number>): Float32Array | null {
  if (!classWeight) return null
  const n = classes ? y.length / classes : 0
  const out = new Float32Array(n)
  for (let r = 0; r < n; r++) {
    let best = 0
    for (let k = 1; k < classes; k++) if (y[r * classes + k]! > y[r * classes + best]!) best = k
    const w = classWeight[best]
    if (w === undefined) throw new Error(`classWeight has no weight for class ${best}, which is in the training data.`)
    out[r] = w
  }
  return out
}

/**
 * The kernel for this loop when it can train the model: an eligible linear head (see `linearHeadShape`) on one
 * cached (not per-epoch augmented) float input. Null: `model.fit` trains every epoch.
 */
function kernelFor(spec: FitSpec, xs: Tensor[], owned: boolean): KernelState | null {
  if (spec.headKernel === false || owned || xs.length !== 1 || xs[0].dtype !== 'float32') return null
  const trainer = LinearHeadTrainer.forModel(spec.model)
  if (!trainer || xs[0].shape.length !== 2 || xs[0].shape[1] !== trainer.shape.inputDim) return null
  const y = spec.trainY.dataSync() as Float32Array
  const data = {
    x: xs[0].dataSync() as Float32Array,
    y,
    sampleWeight: sampleWeights(y, trainer.shape.numClasses, spec.classWeight),
  }
  return { trainer, data, source: xs[0] }
}

/**
 * One epoch of the kernel over `order`: the model's weights are read at its start (a callback may have put
 * others back) and written at its end, also when a callback stops it early or throws. `onBatchEnd` sees each
 * batch's `loss` and `acc` as from `fit`; the weights reach the model only at the epoch's end.
 */
async function kernelEpoch(
  spec: FitSpec,
  state: KernelState,
  xs: Tensor[],
  order: Int32Array,
  callbacks: CallbackList,
): Promise<Logs> {
  const { trainer } = state
  if (xs[0] !== state.source) {
    state.data.x = xs[0].dataSync() as Float32Array
    state.source = xs[0]
  }
  const n = order.length
  let loss = 0
  let acc = 0
  let seen = 0
  trainer.readFrom(spec.model)
  try {
    for (let batch = 0, start = 0; start < n; batch++, start += spec.batchSize) {
      const size = Math.min(spec.batchSize, n - start)
      const out = trainer.trainBatch(state.data, order, start, start + size)
      loss += out.loss * size
      acc += out.acc * size
      seen += size
      await callbacks.onBatchEnd(batch, { batch, size, loss: out.loss, acc: out.acc })
      if (spec.model.stopTraining) break
    }
  } finally {
    trainer.writeTo(spec.model)
  }
  return { loss: loss / seen, acc: acc / seen }
}

/** One shuffled pass over the epoch's inputs; returns its mean `loss` and `acc`. */
async function fitEpoch(
  spec: FitSpec,
  epoch: number,
  callbacks: CallbackList,
  kernel: { state?: KernelState | null },
): Promise<Logs> {
  const tf = getTf()
  const { xs, owned } = await spec.train(epoch)
  // Decided on the first epoch and kept: the kernel's optimizer moments are not TF.js'.
  if (kernel.state === undefined) kernel.state = kernelFor(spec, xs, owned)
  if (kernel.state) {
    try {
      const order = Int32Array.from(permutation(spec.trainY.shape[0], spec.rng))
      return await kernelEpoch(spec, kernel.state, xs, order, callbacks)
    } finally {
      if (owned) tf.dispose(xs)
    }
  }
  const idx = tf.tensor1d(permutation(spec.trainY.shape[0], spec.rng), 'int32')
  const xsP = xs.map((x) => tf.gather(x, idx))
  const yP = tf.gather(spec.trainY, idx)
  try {
    const history = await spec.model.fit(xsP.length === 1 ? xsP[0] : xsP, yP, {
      epochs: 1,
      batchSize: spec.batchSize,
      shuffle: false,
      verbose: 0,
      classWeight: spec.classWeight,
      callbacks: { onBatchEnd: (batch, logs) => callbacks.onBatchEnd(batch, logs) },
    })
    return { loss: history.history.loss?.[0] as number, acc: history.history.acc?.[0] as number }
  } finally {
    tf.dispose([idx, yP, ...xsP])
    if (owned) tf.dispose(xs)
  }
}

/**
 * Trains `spec.model` for up to `spec.epochs` epochs, calling `callbacks` in order: `onTrainBegin`, then per
 * epoch `onEpochBegin`, `onBatchEnd` after every batch, `onEpochEnd` with `{loss, acc, val_loss, val_acc}`,
 * and `onTrainEnd`. A callback ends training early by setting `model.stopTraining`; an epoch cut short that
 * way is not validated. Errors thrown by callbacks propagate; every callback is disposed either way.
 */
export async function fitLoop(spec: FitSpec, callbacks: TrainingCallback[]): Promise<void> {
  const list = new CallbackList(callbacks)
  const samples = spec.trainY.shape[0]
  list.setModel(spec.model)
  list.setParams({
    epochs: spec.epochs,
    samples,
    batchSize: spec.batchSize,
    batches: Math.ceil(samples / spec.batchSize),
  })
  spec.model.stopTraining = false
  const kernel: { state?: KernelState | null } = {}
  try {
    await list.onTrainBegin()
    for (let epoch = 0; epoch < spec.epochs; epoch++) {
      await list.onEpochBegin(epoch)
      // `fit` clears the flag when it starts, so a stop asked for before the epoch is honoured here.
      if (spec.model.stopTraining) break
      const logs = await fitEpoch(spec, epoch, list, kernel)
      if (!spec.model.stopTraining) Object.assign(logs, validate(spec, kernel.state))
      await list.onEpochEnd(epoch, logs)
      if (spec.model.stopTraining) break
    }
    await list.onTrainEnd()
  } finally {
    list.dispose()
  }
}
