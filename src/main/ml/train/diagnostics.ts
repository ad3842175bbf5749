/**
 * Two diagnostics that run on the frozen base's cached features, in seconds: a learning-rate range
 * test (train the head briefly while the rate grows exponentially, watch the loss) and a search for
 * possibly mislabelled examples (out-of-fold predictions of k heads: an example whose own label gets a
 * low probability from a head that never saw it is suspect — the self-confidence ranking of
 * confident learning). Pure Node; runs as tasks in a worker.
 *
 * Images and sound clips alike: the features come from the same extraction as training (`inputBatch`,
 * `FeatureOptions.audio` from `audioInputSpec`), with the same cache keys, so a run that already extracted
 * them costs the diagnostics no forward pass. Sound augmentation does not apply here: the diagnostics read the
 * plain clips, as a run with augmentation off would.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import type { RunConfig } from '../../../shared/run-config'
import { AppError } from '../../errors'
import { getTf, inferenceBatch } from '../backend'
import { baseFeaturesKey } from '../data/cache-key'
import { cacheDir as cacheDirOf, featureCacheDir } from '../layout'
import { loadBaseModel, type LoadedModel } from '../models/load'
import { audioInputSpec } from './audio-inputs'
import { extractFeatures } from './features'
import { buildHead, compileHead, disposeOptimizer, setLearningRate } from './head'
import { LinearHeadTrainer, type LinearHeadData } from './linear-head'
import { makeRng, permutation } from './random'

export interface DiagnosticsInput {
  /** The run's settings; `dataKind` 'audio' makes the examples clips, drawn with its sound settings. */
  config: RunConfig
  dataDir: string
  datasetPath: string
  /**
   * The examples to use and their labels (the run's training split for the LR test; all for suspects): image
   * files, or for sound the clip ids the run's split gives (`file#t=a,b`).
   */
  examples: { file: string; label: string }[]
  labels: string[]
}

export interface DiagnosticsIo {
  shouldStop(): boolean
  onProgress?(done: number, total: number): void
  /** Tests inject tiny models. Default `loadBaseModel`. */
  loadModel?: (modelId: string, dataDir: string) => Promise<LoadedModel>
}

/**
 * The base's feature vectors for the examples (from the shared disk cache when present): the same options as a
 * run's phase-1 extraction (`extractionOptions` in phase.ts), so the cache keys match.
 */
export async function cachedFeatures(
  input: DiagnosticsInput,
  io: DiagnosticsIo,
): Promise<{ x: Float32Array; dim: number; y: number[] }> {
  const loaded = await (io.loadModel ?? loadBaseModel)(input.config.modelId, input.dataDir)
  try {
    const index = new Map(input.labels.map((l, i) => [l, i]))
    const y = input.examples.map((e) => {
      const k = index.get(e.label)
      if (k === undefined) throw new AppError('invalid_input', `'${e.file}' has a label that is not a class.`)
      return k
    })
    const set = await extractFeatures(
      loaded.base,
      input.examples.map((e) => e.file),
      {
        root: input.datasetPath,
        inputSize: loaded.inputSize,
        preprocess: loaded.preprocess,
        // 4 on WASM and plain JS: bigger batches only cost memory there (backend.ts).
        batchSize: inferenceBatch(),
        cacheDir: featureCacheDir(cacheDirOf(input.dataDir)),
        modelKey: baseFeaturesKey(loaded.base, loaded.card.id),
        // Sound: the examples are clips, drawn as spectrograms with the run's settings (absent for images).
        audio: audioInputSpec(input.config),
        shouldStop: () => io.shouldStop(),
        onProgress: io.onProgress,
      },
    )
    return { x: set.data[0]!, dim: set.shapes[0]!.reduce((a, b) => a * b, 1), y }
  } finally {
    loaded.model.dispose()
  }
}

export interface LrRangeResult {
  /** The rate at each step and the smoothed training loss there. */
  points: { lr: number; loss: number }[]
  /**
   * The suggested rate: a tenth of the rate where the smoothed loss was lowest (the usual rule of the
   * range test: the minimum is already at the edge of instability).
   */
  suggestion: number
}

/**
 * The features as the linear-head kernel reads them, with one-hot targets. Both diagnostics train many short
 * heads on the same cached features: with the default (linear) head the kernel trains them without a tensor
 * per batch or TF.js' per-operation dispatch; a head with hidden layers goes through TF.js.
 */
function kernelData(feats: { x: Float32Array; y: number[] }, numClasses: number): LinearHeadData {
  const y = new Float32Array(feats.y.length * numClasses)
  feats.y.forEach((k, i) => (y[i * numClasses + k] = 1))
  return { x: feats.x, y, sampleWeight: null }
}

/** Lets a cancel message in (a macrotask turn) and honours it. */
async function checkCancel(shouldStop?: () => boolean): Promise<void> {
  await new Promise<void>((ok) => setImmediate(ok))
  if (shouldStop?.()) throw new AppError('cancelled', 'Cancelled.')
}

function rows(x: Float32Array, dim: number, idx: number[]): Float32Array {
  const out = new Float32Array(idx.length * dim)
  idx.forEach((i, j) => out.set(x.subarray(i * dim, (i + 1) * dim), j * dim))
  return out
}

/**
 * The learning-rate range test: `steps` batches while the rate grows exponentially from `minLr` to
 * `maxLr`; stops early once the loss has clearly diverged.
 */
export async function lrRangeTest(
  feats: { x: Float32Array; dim: number; y: number[] },
  numClasses: number,
  config: RunConfig,
  opts: { steps?: number; minLr?: number; maxLr?: number; shouldStop?: () => boolean } = {},
): Promise<LrRangeResult> {
  const tf = getTf()
  const steps = opts.steps ?? 200
  const minLr = opts.minLr ?? 1e-6
  const maxLr = opts.maxLr ?? 1
  const n = feats.y.length
  if (n === 0) throw new AppError('invalid_input', 'The training split is empty: there is nothing to test rates on.')
  const batch = Math.min(config.hyper.batchSize, n)
  const rng = makeRng(config.hyper.seed)
  const head = buildHead(feats.dim, numClasses, config.head, config.hyper.seed)
  const optimizer = compileHead(head, config.hyper, minLr)
  const trainer = LinearHeadTrainer.forModel(head)
  trainer?.readFrom(head)
  const data = trainer ? kernelData(feats, numClasses) : null
  /** One step of TF.js' own training on the examples `idx` (heads the kernel does not train). */
  const trainOnBatch = async (idx: number[]): Promise<number> => {
    const [xb, yb] = tf.tidy(() => [
      tf.tensor2d(rows(feats.x, feats.dim, idx), [idx.length, feats.dim]),
      tf.oneHot(
        tf.tensor1d(
          idx.map((k) => feats.y[k]!),
          'int32',
        ),
        numClasses,
      ),
    ])
    const out = (await head.trainOnBatch(xb, yb)) as number | number[]
    tf.dispose([xb, yb])
    return Array.isArray(out) ? out[0]! : out
  }
  const points: { lr: number; loss: number }[] = []
  let order = permutation(n, rng)
  let order32 = Int32Array.from(order)
  let at = 0
  let avg = 0
  let best = Infinity
  try {
    for (let i = 0; i < steps; i++) {
      if (opts.shouldStop?.()) throw new AppError('cancelled', 'Cancelled.')
      const lr = minLr * (maxLr / minLr) ** (i / (steps - 1))
      setLearningRate(optimizer, lr)
      if (at + batch > n) {
        order = permutation(n, rng)
        order32 = Int32Array.from(order)
        at = 0
      }
      const raw = trainer
        ? trainer.trainBatch(data!, order32, at, at + batch).loss
        : await trainOnBatch(order.slice(at, at + batch))
      at += batch
      // Exponentially smoothed and bias-corrected, as the range test is usually read.
      avg = 0.9 * avg + 0.1 * raw
      const loss = avg / (1 - 0.9 ** (i + 1))
      if (!Number.isFinite(loss)) break
      points.push({ lr, loss })
      best = Math.min(best, loss)
      if (i > 10 && loss > 4 * best) break
    }
  } finally {
    disposeOptimizer(optimizer)
    head.dispose()
  }
  const min = points.reduce((a, b) => (b.loss < a.loss ? b : a), points[0] ?? { lr: 1e-3, loss: 0 })
  const suggestion = Number(Math.max(1e-6, Math.min(1, min.lr / 10)).toPrecision(2))
  return { points, suggestion }
}

/**
 * One fold's held-out probabilities from the kernel: `epochs` shuffled passes (seeded) over the fold's training
 * examples, then the held-out ones. Cancel is honoured between epochs.
 */
async function kernelFold(
  trainer: LinearHeadTrainer,
  head: LayersModel,
  feats: { x: Float32Array; y: number[] },
  numClasses: number,
  train: number[],
  held: number[],
  opts: { epochs: number; batchSize: number; rng: () => number; shouldStop?: () => boolean },
): Promise<Float32Array> {
  trainer.readFrom(head)
  const data = kernelData(feats, numClasses)
  const order = new Int32Array(train.length)
  for (let e = 0; e < opts.epochs; e++) {
    await checkCancel(opts.shouldStop)
    permutation(train.length, opts.rng).forEach((p, i) => (order[i] = train[p]!))
    for (let s = 0; s < order.length; s += opts.batchSize)
      trainer.trainBatch(data, order, s, Math.min(order.length, s + opts.batchSize))
  }
  return trainer.predict(feats.x, Int32Array.from(held))
}

/** The same with TF.js' `fit` (heads with hidden layers). */
async function tfjsFold(
  head: LayersModel,
  feats: { x: Float32Array; dim: number; y: number[] },
  numClasses: number,
  train: number[],
  held: number[],
  opts: { epochs: number; batchSize: number },
): Promise<Float32Array> {
  const tf = getTf()
  const [xt, yt, xh] = tf.tidy(() => [
    tf.tensor2d(rows(feats.x, feats.dim, train), [train.length, feats.dim]),
    tf.oneHot(
      tf.tensor1d(
        train.map((k) => feats.y[k]!),
        'int32',
      ),
      numClasses,
    ),
    tf.tensor2d(rows(feats.x, feats.dim, held), [held.length, feats.dim]),
  ])
  try {
    await head.fit(xt, yt, { epochs: opts.epochs, batchSize: opts.batchSize, shuffle: true, verbose: 0 })
    const p = head.predict(xh) as Tensor
    const values = p.dataSync() as Float32Array
    p.dispose()
    return values
  } finally {
    tf.dispose([xt, yt, xh])
  }
}

export interface Suspect {
  /** Index into the examples. */
  index: number
  /** Probability a head that never saw the example gives its own label. */
  givenProbability: number
  /** The class that head chose instead. */
  predicted: number
  /** Its probability minus the given label's: how confidently the label is contradicted. */
  margin: number
}

/**
 * Out-of-fold predictions of `folds` heads (each trained `epochs` epochs on the other folds); the
 * examples whose own label gets the lowest probability, where another class won, first.
 */
export async function suspectLabels(
  feats: { x: Float32Array; dim: number; y: number[] },
  numClasses: number,
  config: RunConfig,
  opts: {
    folds?: number
    epochs?: number
    shouldStop?: () => boolean
    onFold?: (done: number, total: number) => void
  } = {},
): Promise<Suspect[]> {
  const n = feats.y.length
  const folds = Math.max(2, Math.min(opts.folds ?? 5, n))
  const epochs = opts.epochs ?? 60
  const order = permutation(n, makeRng(config.hyper.seed + 1))
  const probs = new Float32Array(n * numClasses)
  for (let f = 0; f < folds; f++) {
    if (opts.shouldStop?.()) throw new AppError('cancelled', 'Cancelled.')
    const held = order.filter((_, i) => i % folds === f)
    const train = order.filter((_, i) => i % folds !== f)
    const head: LayersModel = buildHead(feats.dim, numClasses, config.head, config.hyper.seed + f)
    const optimizer = compileHead(head, config.hyper)
    try {
      const trainer = LinearHeadTrainer.forModel(head)
      const values = trainer
        ? await kernelFold(trainer, head, feats, numClasses, train, held, {
            epochs,
            batchSize: config.hyper.batchSize,
            rng: makeRng(config.hyper.seed + 1000 + f),
            shouldStop: opts.shouldStop,
          })
        : await tfjsFold(head, feats, numClasses, train, held, { epochs, batchSize: config.hyper.batchSize })
      held.forEach((k, j) => probs.set(values.subarray(j * numClasses, (j + 1) * numClasses), k * numClasses))
    } finally {
      disposeOptimizer(optimizer)
      head.dispose()
    }
    opts.onFold?.(f + 1, folds)
  }
  const out: Suspect[] = []
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * numClasses, (i + 1) * numClasses)
    let predicted = 0
    for (let c = 1; c < numClasses; c++) if (row[c]! > row[predicted]!) predicted = c
    if (predicted !== feats.y[i])
      out.push({
        index: i,
        givenProbability: row[feats.y[i]!]!,
        predicted,
        margin: row[predicted]! - row[feats.y[i]!]!,
      })
  }
  // Most confidently contradicted first: how much more the held-out head believes another class.
  return out.sort((a, b) => b.margin - a.margin)
}
