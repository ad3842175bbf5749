/**
 * The epoch loop both phases share. Each epoch is one `model.fit` call over that epoch's inputs (cached
 * features, or fresh augmented ones), in an order drawn from the run's seeded generator; validation is a
 * `predict` on tensors already in memory. Everything else (schedule, early stopping, NaN, cancel, progress)
 * is a callback.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { getTf } from '../backend'
import { lossAndAccuracy } from '../eval/evaluate'
import { CallbackList, type Logs, type TrainingCallback } from './callbacks'
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

/** `val_loss` and `val_acc`, or nothing without a validation split. */
function validate(spec: FitSpec): Logs {
  if (!spec.val || spec.val.labels.length === 0) return {}
  const probs = predictProbs(spec.model, spec.val.xs, 32)
  const v = lossAndAccuracy(probs, spec.val.labels, spec.trainY.shape[1] ?? 0)
  return { val_loss: v.loss, val_acc: v.acc }
}

/** One shuffled pass over the epoch's inputs; returns its mean `loss` and `acc`. */
async function fitEpoch(spec: FitSpec, epoch: number, callbacks: CallbackList): Promise<Logs> {
  const tf = getTf()
  const { xs, owned } = await spec.train(epoch)
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
  try {
    await list.onTrainBegin()
    for (let epoch = 0; epoch < spec.epochs; epoch++) {
      await list.onEpochBegin(epoch)
      // `fit` clears the flag when it starts, so a stop asked for before the epoch is honoured here.
      if (spec.model.stopTraining) break
      const logs = await fitEpoch(spec, epoch, list)
      if (!spec.model.stopTraining) Object.assign(logs, validate(spec))
      await list.onEpochEnd(epoch, logs)
      if (spec.model.stopTraining) break
    }
    await list.onTrainEnd()
  } finally {
    list.dispose()
  }
}
