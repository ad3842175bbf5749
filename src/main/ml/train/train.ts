/**
 * One training run, start to finish: backend, model, cached features, phase 1 (head on features), optional
 * phase 2 (top of the base + head on activations cached at the freeze boundary), evaluation, export.
 * Pure Node: the same function runs in the app's job process, the CLI and tests.
 */
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type { LayersModel, Optimizer, SymbolicTensor, Tensor } from '@tensorflow/tfjs'
import type { FromJob, JobStart } from '../../../shared/job-messages'
import type { Evaluation, RunConfig, RunProgress } from '../../../shared/types'
import { AppError } from '../../errors'
import { currentBackend, getTf, initBackend } from '../backend'
import { evaluatePredictions, lossAndAccuracy } from '../eval/evaluate'
import { applyChain, writeExport, type ExportMetadata } from '../export/export'
import { preprocessDescriptions } from '../models/catalogue'
import { listLayers, loadBaseModel, type LoadedModel } from '../models/load'
import { makeAugmenter } from './augment'
import {
  cancelledError,
  decodeForTraining,
  extractFeatures,
  featureTensors,
  forwardBatch,
  outputShapes,
  pixelsToTensor,
  type FeatureSet,
} from './features'
import { applyFreeze, resolveTrainable } from './freeze'
import { extractFeaturesParallel } from './parallel-extract'
import { buildHead, compileHead, disposeOptimizer } from './head'
import { makeRng, permutation, type Rng } from './random'
import { LrSchedule } from './schedule'

export interface TrainIo {
  post(msg: FromJob): void
  /** Polled between batches; true cancels cooperatively. */
  shouldStop(): boolean
  /** Feature cache lives in `<cacheDir>/features/`. */
  cacheDir: string
  /** Runs are written to `<dataDir>/runs/<runId>/`. */
  dataDir: string
  /** Model loader; tests inject tiny models. Default `loadBaseModel`. */
  loadModel?: (modelId: string, dataDir: string) => Promise<LoadedModel>
}

/** Largest batch when gradients flow through base layers on WASM (its heap is capped at 4 GiB). */
export const WASM_PHASE2_MAX_BATCH = 8
/** Minimum milliseconds between progress messages. */
const PROGRESS_INTERVAL_MS = 100

class NanLossError extends Error {}

/** `<dataDir>/runs/<runId>`. */
export function runDirOf(dataDir: string, runId: number): string {
  return join(dataDir, 'runs', String(runId))
}

/** Probabilities the run itself computed, saved for export verification and per-example diffs. */
export interface RunPredictions {
  labels: string[]
  root: string
  val: { file: string; probabilities: number[] }[]
  test: { file: string; probabilities: number[] }[]
}

type Example = JobStart['examples'][number]

interface Split {
  examples: Example[]
  labels: number[]
}

/** Inputs for one epoch of training: cached (reused) or freshly augmented (disposed after the epoch). */
type TrainInputs = (epoch: number) => Promise<{ xs: Tensor[]; owned: boolean }>

interface PhaseSpec {
  phase: 1 | 2
  model: LayersModel
  optimizer: Optimizer
  lr0: number
  epochs: number
  batchSize: number
  train: TrainInputs
  trainY: Tensor
  val: { xs: Tensor[]; labels: number[] } | null
}

const fmt = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(6))) : String(x))

/** Hash of a model's weights and output names: cache keys change when the network does. */
function fingerprint(model: LayersModel, extra: string): string {
  const h = createHash('sha256').update(extra)
  // Layer names, not tensor names: TF.js makes tensor names unique per process, so they change between loads.
  for (const o of model.outputs) h.update(`${o.sourceLayer.name}:${o.shape.join(',')}\n`)
  for (const w of model.weights) {
    const v = w.read().dataSync() as Float32Array
    h.update(w.originalName).update(Buffer.from(v.buffer, v.byteOffset, v.byteLength))
  }
  return h.digest('hex')
}

function subset(set: FeatureSet, idx: number[]): FeatureSet {
  const sizes = set.shapes.map((s) => s.reduce((a, b) => a * b, 1))
  const data = set.data.map((d, k) => {
    const out = new Float32Array(idx.length * sizes[k])
    idx.forEach((i, j) => out.set(d.subarray(i * sizes[k], (i + 1) * sizes[k]), j * sizes[k]))
    return out
  })
  return { count: idx.length, shapes: set.shapes, data }
}

function predictProbs(model: LayersModel, xs: Tensor[], batchSize: number): Float32Array {
  const tf = getTf()
  if (xs[0].shape[0] === 0) return new Float32Array(0)
  const y = model.predict(xs.length === 1 ? xs[0] : xs, { batchSize }) as Tensor
  const out = y.dataSync() as Float32Array
  tf.dispose(y)
  return out
}

/**
 * The layers above the first trainable base layer, rebuilt on new inputs that stand for the tensors crossing
 * the freeze boundary. `lower` computes those tensors from the image (null when the boundary is the image).
 */
export function splitAtBoundary(
  base: LayersModel,
  trainable: Set<string>,
): { lower: LayersModel | null; inputs: SymbolicTensor[]; features: SymbolicTensor; boundaryNames: string[] } {
  const tf = getTf()
  const layers = base.layers
  let first = layers.findIndex((l) => trainable.has(l.name))
  if (first < 0) throw new AppError('invalid_input', 'Phase 2 needs at least one unfrozen base layer.')
  const index = new Map(layers.map((l, i) => [l, i]))
  const crossing = (from: number) => {
    const seen = new Map<number, SymbolicTensor>()
    for (const l of layers.slice(from)) {
      const node = l.inboundNodes[0]
      node.inputTensors.forEach((t, k) => {
        if ((index.get(node.inboundLayers[k]) ?? -1) < from) seen.set(t.id, t)
      })
    }
    return [...seen.values()]
  }
  let boundary = crossing(first)
  const inputIds = new Set(base.inputs.map((t) => t.id))
  if (boundary.some((t) => inputIds.has(t.id))) {
    // The image itself crosses: nothing worth caching below; run everything above the input.
    first = layers.findIndex((l) => l.getClassName() !== 'InputLayer')
    boundary = [...base.inputs]
  }
  const lower = boundary.every((t) => inputIds.has(t.id))
    ? null
    : tf.model({ inputs: base.inputs, outputs: boundary, name: 'tunewise_frozen_part' })
  const map = new Map<number, SymbolicTensor>()
  const inputs = boundary.map((t, i) => {
    const x = tf.input({ shape: t.shape.slice(1) as number[], name: `tunewise_boundary_${i}` })
    map.set(t.id, x)
    return x
  })
  for (const l of layers.slice(first)) {
    if (l.getClassName() === 'InputLayer') continue
    const node = l.inboundNodes[0]
    const ins = node.inputTensors.map((t) => {
      const m = map.get(t.id)
      if (!m) throw new Error(`phase 2 graph: no input for layer ${l.name}`)
      return m
    })
    const out = l.apply(ins.length === 1 ? ins[0] : ins) as SymbolicTensor | SymbolicTensor[]
    const outs = Array.isArray(out) ? out : [out]
    node.outputTensors.forEach((t, k) => map.set(t.id, outs[k]))
  }
  const features = map.get(base.outputs[0].id)
  if (!features) throw new Error('phase 2 graph: the feature output was not reached')
  return { lower, inputs, features, boundaryNames: boundary.map((t) => t.sourceLayer.name) }
}

class Run {
  readonly tf = getTf()
  readonly t0 = Date.now()
  private lastProgress = 0
  private readonly disposables: { dispose(): void }[] = []
  readonly rng: Rng

  constructor(
    readonly job: JobStart,
    readonly io: TrainIo,
  ) {
    this.rng = makeRng(job.config.hyper.seed)
  }

  get config(): RunConfig {
    return this.job.config
  }

  elapsed(): number {
    return Date.now() - this.t0
  }

  progress(p: Omit<RunProgress, 'runId'>, force = false): void {
    const now = Date.now()
    if (!force && now - this.lastProgress < PROGRESS_INTERVAL_MS) return
    this.lastProgress = now
    this.io.post({ type: 'progress', progress: { runId: this.job.runId, ...p } })
  }

  log(message: string): void {
    this.io.post({ type: 'log', message })
  }

  keep<T extends { dispose(): void }>(x: T): T {
    this.disposables.push(x)
    return x
  }

  /**
   * Frees a model's weights however many graphs its layers joined: TF.js counts one reference per symbolic
   * call, so `dispose()` on one container leaves layers shared with the phase-2 and export graphs alive.
   */
  keepWeights(model: LayersModel): void {
    for (const w of model.weights) this.disposables.push({ dispose: () => w.dispose() })
  }

  disposeAll(): void {
    for (const d of this.disposables.reverse()) {
      try {
        d.dispose()
      } catch {
        // Layers shared between containers may already be gone; nothing else to free.
      }
    }
    this.disposables.length = 0
  }

  checkStop(): void {
    if (this.io.shouldStop()) throw cancelledError()
  }

  private lastYield = Date.now()

  /**
   * fit() chains promises that resolve as microtasks, which starves the process's message queue:
   * a cancel message would only be read after training. Yield a macrotask turn every 50 ms.
   */
  async yieldToEvents(): Promise<void> {
    if (Date.now() - this.lastYield < 50) return
    await new Promise<void>((ok) => setImmediate(ok))
    this.lastYield = Date.now()
  }

  /** Trains `spec.model` epoch by epoch with schedule, early stopping, class weights, NaN and stop checks. */
  async fitPhase(spec: PhaseSpec, classWeight: Record<number, number> | undefined): Promise<void> {
    const { tf } = this
    const { hyper } = this.config
    const schedule = new LrSchedule(hyper.schedule, spec.lr0, spec.epochs, spec.optimizer)
    const es = hyper.earlyStopping
    let best = Infinity
    let wait = 0
    let snapshot: Tensor[] | null = null
    const n = spec.trainY.shape[0]
    const batches = Math.ceil(n / spec.batchSize)
    const phaseStart = Date.now()
    let batchesDone = 0
    let latest: Record<string, number> = {}
    try {
      for (let epoch = 0; epoch < spec.epochs; epoch++) {
        this.checkStop()
        const lr = schedule.onEpochBegin(epoch)
        const { xs, owned } = await spec.train(epoch)
        const idx = tf.tensor1d(permutation(n, this.rng), 'int32')
        const xsP = xs.map((x) => tf.gather(x, idx))
        const yP = tf.gather(spec.trainY, idx)
        let nanAt: number | null = null
        let stopped = false
        let history
        try {
          history = await spec.model.fit(xsP.length === 1 ? xsP[0] : xsP, yP, {
            epochs: 1,
            batchSize: spec.batchSize,
            shuffle: false,
            verbose: 0,
            classWeight,
            callbacks: {
              onBatchEnd: async (batch, logs) => {
                batchesDone++
                await this.yieldToEvents()
                const loss = logs?.loss ?? NaN
                if (!Number.isFinite(loss)) {
                  nanAt = epoch + 1
                  spec.model.stopTraining = true
                }
                if (this.io.shouldStop()) {
                  stopped = true
                  spec.model.stopTraining = true
                }
                const perBatch = (Date.now() - phaseStart) / batchesDone
                this.progress({
                  phase: spec.phase,
                  epoch: epoch + 1,
                  epochs: spec.epochs,
                  batch: batch + 1,
                  batches,
                  metrics: { ...latest, loss, acc: logs?.acc ?? NaN },
                  etaSeconds: Math.round((perBatch * (spec.epochs * batches - batchesDone)) / 1000),
                  stage: 'training',
                })
              },
            },
          })
        } finally {
          tf.dispose([idx, yP, ...xsP])
          if (owned) tf.dispose(xs)
        }
        if (stopped) throw cancelledError()
        const loss = history.history.loss?.[0] as number
        if (nanAt !== null || !Number.isFinite(loss)) {
          const what = Number.isNaN(loss) || nanAt !== null ? 'NaN' : 'infinite'
          const suggestion = spec.lr0 > 1e-3 ? 0.001 : spec.lr0 / 10
          throw new NanLossError(
            `Training stopped: the loss became ${what} at epoch ${nanAt ?? epoch + 1}${spec.phase === 2 ? ' of phase 2' : ''}. ` +
              `The learning rate (${fmt(spec.lr0)}) is probably too high; try ${fmt(suggestion)}.`,
          )
        }
        const values: Record<string, number> = { loss, acc: history.history.acc?.[0] as number, lr }
        if (spec.val && spec.val.labels.length > 0) {
          const probs = predictProbs(spec.model, spec.val.xs, 32)
          const v = lossAndAccuracy(probs, spec.val.labels, this.job.labels.length)
          values.val_loss = v.loss
          values.val_acc = v.acc
        }
        latest = values
        this.io.post({ type: 'epoch', metrics: { phase: spec.phase, epoch: epoch + 1, t: this.elapsed(), values } })
        const monitored = values.val_loss ?? loss
        schedule.onEpochEnd(monitored)
        if (monitored < best) {
          best = monitored
          wait = 0
          if (es.enabled && es.restoreBest) {
            if (snapshot) tf.dispose(snapshot)
            snapshot = spec.model.weights.map((w) => tf.clone(w.read()))
          }
        } else if (es.enabled && ++wait >= es.patience) {
          this.log(
            `Phase ${spec.phase}: no improvement for ${es.patience} epochs; stopped early at epoch ${epoch + 1}.`,
          )
          break
        }
      }
      if (snapshot) {
        // Restore the best epoch's weights (also at the natural end, as Keras 3 does).
        const weights = spec.model.weights
        snapshot.forEach((s, i) => weights[i].write(s))
      }
    } finally {
      if (snapshot) tf.dispose(snapshot)
    }
  }
}

function classWeights(train: Split, numClasses: number): Record<number, number> {
  const counts = new Array<number>(numClasses).fill(0)
  for (const y of train.labels) counts[y]++
  const out: Record<number, number> = {}
  counts.forEach((c, k) => (out[k] = c > 0 ? train.labels.length / (numClasses * c) : 1))
  return out
}

async function runJob(run: Run): Promise<void> {
  const { job, io, tf } = run
  const { config } = job
  const { hyper } = config
  const choice = await initBackend(job.backend)
  io.post({ type: 'backend', backend: choice.backend, reason: choice.reason })
  run.progress(
    { phase: 1, epoch: 0, epochs: hyper.epochs, batch: 0, batches: 0, metrics: {}, etaSeconds: null, stage: 'loading' },
    true,
  )
  const loaded = await (io.loadModel ?? loadBaseModel)(config.modelId, io.dataDir)
  run.keepWeights(loaded.model)

  const numClasses = job.labels.length
  if (numClasses < 2) throw new AppError('invalid_input', 'Training needs at least two classes.')
  const labelIndex = new Map(job.labels.map((l, i) => [l, i]))
  const splitOf = (name: Example['split']): Split => {
    const examples = job.examples.filter((e) => e.split === name)
    const labels = examples.map((e) => {
      const k = labelIndex.get(e.label)
      if (k === undefined)
        throw new AppError('invalid_input', `'${e.file}' has label '${e.label}', which is not one of the classes.`)
      return k
    })
    return { examples, labels }
  }
  const train = splitOf('train')
  const val = splitOf('val')
  const test = splitOf('test')
  if (train.examples.length === 0)
    throw new AppError('invalid_input', 'The training split is empty. Give training a larger share.')

  const trainable = resolveTrainable(listLayers(loaded), config.freeze)
  const doPhase2 = config.phase2.enabled && config.freeze.preset !== 'feature-extraction' && trainable.size > 0
  if (config.phase2.enabled && !doPhase2) run.log('Phase 2 skipped: the freeze settings leave no base layer to train.')
  const augment = config.augment.enabled
  const featureCache = join(io.cacheDir, 'features')
  const extractOpts = (modelKey: string, phase: 1 | 2) => ({
    root: job.datasetPath,
    inputSize: loaded.inputSize,
    preprocess: loaded.preprocess,
    batchSize: 16,
    cacheDir: featureCache,
    modelKey,
    shouldStop: () => io.shouldStop(),
    onProgress: (done: number, total: number) =>
      run.progress(
        { phase, epoch: 0, epochs: 0, batch: done, batches: total, metrics: {}, etaSeconds: null, stage: 'extracting' },
        done === 0 || done === total,
      ),
  })

  // Decoded training pixels, kept only when augmenting (each epoch sees new variants).
  let trainPixels: Uint8Array[] | null = null
  const augmenter = makeAugmenter(config.augment, run.rng, loaded.preprocess)
  const augmentedInputs =
    (net: LayersModel | null, batchSize: number): TrainInputs =>
    async () => {
      if (!trainPixels) {
        trainPixels = []
        for (const e of train.examples) {
          run.checkStop()
          trainPixels.push(await decodeForTraining(job.datasetPath, e.file, loaded.inputSize))
        }
      }
      const shapes = outputShapes(net, loaded.inputSize)
      const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1))
      const data = sizes.map((s) => new Float32Array(trainPixels!.length * s))
      for (let s = 0; s < trainPixels.length; s += batchSize) {
        run.checkStop()
        const x = pixelsToTensor(trainPixels.slice(s, s + batchSize), loaded.inputSize, loaded.preprocess)
        const outs = forwardBatch(net, x, augmenter)
        tf.dispose(x)
        outs.forEach((o, k) => data[k].set(o, s * sizes[k]))
      }
      return { xs: featureTensors({ count: trainPixels.length, shapes, data }), owned: true }
    }

  // ---- Phase 1: the frozen base runs once; the head trains on its cached output.
  const baseKey = fingerprint(loaded.base, `${loaded.card.id}|features`)
  const evalFiles = [...val.examples, ...test.examples].map((e) => e.file)
  const files = augment ? evalFiles : [...train.examples.map((e) => e.file), ...evalFiles]
  const feats = await extractFeaturesParallel(loaded.base, files, {
    ...extractOpts(baseKey, 1),
    workers: extractionWorkers(),
    minImagesPerWorker: 64,
  })
  const off = augment ? 0 : train.examples.length
  const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i)
  const trainSet = augment ? null : subset(feats, range(0, off))
  const valSet = subset(feats, range(off, val.examples.length))
  const testSet = subset(feats, range(off + val.examples.length, test.examples.length))

  const head = buildHead(loaded.featureDim, numClasses, config.head, hyper.seed)
  run.keepWeights(head)
  const optimizer1 = compileHead(head, hyper)
  run.keep({ dispose: () => disposeOptimizer(optimizer1) })
  const yTrain = run.keep(tf.tidy(() => tf.oneHot(tf.tensor1d(train.labels, 'int32'), numClasses)))
  const weights = hyper.classWeights === 'auto' ? classWeights(train, numClasses) : undefined
  const valX = run.keep(featureTensors(valSet)[0])
  let testX: Tensor[] = [run.keep(featureTensors(testSet)[0])]
  const cachedTrain: Tensor[] | null = trainSet ? featureTensors(trainSet) : null
  cachedTrain?.forEach((t) => run.keep(t))

  await run.fitPhase(
    {
      phase: 1,
      model: head,
      optimizer: optimizer1,
      lr0: hyper.learningRate,
      epochs: hyper.epochs,
      batchSize: hyper.batchSize,
      train: cachedTrain ? async () => ({ xs: cachedTrain!, owned: false }) : augmentedInputs(loaded.base, 16),
      trainY: yTrain,
      val: val.examples.length ? { xs: [valX], labels: val.labels } : null,
    },
    weights,
  )
  let finalModel: LayersModel = head
  let valX2: Tensor[] = [valX]

  // ---- Phase 2: unfreeze the top of the base; cache activations at the freeze boundary.
  if (doPhase2) {
    applyFreeze(loaded.base, trainable)
    const { lower, inputs, features, boundaryNames } = splitAtBoundary(loaded.base, trainable)
    const trainModel = tf.model({ inputs, outputs: applyChain(head.layers, features), name: 'tunewise_phase2' })
    const lr2 = hyper.learningRate * config.phase2.lrFactor
    const optimizer2 = compileHead(trainModel, hyper, lr2)
    run.keep({ dispose: () => disposeOptimizer(optimizer2) })
    const onWasm = tf.getBackend() === 'wasm'
    const batch2 = onWasm ? Math.min(WASM_PHASE2_MAX_BATCH, hyper.batchSize) : hyper.batchSize
    if (batch2 < hyper.batchSize) run.log(`Phase 2 uses batches of ${batch2} (WASM memory limit).`)
    run.log(`Phase 2 trains ${trainable.size} base layers; activations cached at ${boundaryNames.join(', ')}.`)
    const lowerKey = lower ? fingerprint(lower, `${loaded.card.id}|boundary|${boundaryNames.join(',')}`) : 'image'
    const bFeats = await extractFeatures(lower, files, extractOpts(lowerKey, 2))
    const bTrain = augment ? null : subset(bFeats, range(0, off))
    const bVal =
      run.keep({ dispose: () => undefined }) && featureTensors(subset(bFeats, range(off, val.examples.length)))
    const bTest = featureTensors(subset(bFeats, range(off + val.examples.length, test.examples.length)))
    const bTrainX = bTrain ? featureTensors(bTrain) : null
    for (const t of [...bVal, ...bTest, ...(bTrainX ?? [])]) run.keep(t)
    try {
      await run.fitPhase(
        {
          phase: 2,
          model: trainModel,
          optimizer: optimizer2,
          lr0: lr2,
          epochs: config.phase2.epochs,
          batchSize: batch2,
          train: bTrainX ? async () => ({ xs: bTrainX, owned: false }) : augmentedInputs(lower, batch2),
          trainY: yTrain,
          val: val.examples.length ? { xs: bVal, labels: val.labels } : null,
        },
        weights,
      )
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err)
      if (/not registered for backend/.test(msg)) {
        throw new AppError(
          'unavailable',
          `Phase 2 cannot run on the ${tf.getBackend()} backend here (${msg}). Turn phase 2 off or use the cpu backend.`,
        )
      }
      throw err
    }
    finalModel = trainModel
    valX2 = bVal
    testX = bTest
    applyFreeze(loaded.base, new Set())
  }

  // ---- Evaluation.
  run.progress(stageOnly(doPhase2 ? 2 : 1, 'evaluating'), true)
  const score = (split: Split, xs: Tensor[], name: Evaluation['split']) => {
    const probs = predictProbs(finalModel, xs, 32)
    const evaluation = evaluatePredictions(
      probs,
      split.examples.map((e, i) => ({ file: e.file, label: split.labels[i] })),
      job.labels,
      name,
    )
    const rows = split.examples.map((e, i) => ({
      file: e.file,
      probabilities: Array.from(probs.subarray(i * numClasses, (i + 1) * numClasses)),
    }))
    return { evaluation, rows }
  }
  const valScore = val.examples.length ? score(val, valX2, 'val') : null
  const testScore = test.examples.length ? score(test, testX, 'test') : null
  if (valScore) io.post({ type: 'evaluation', evaluation: valScore.evaluation })
  if (testScore) io.post({ type: 'evaluation', evaluation: testScore.evaluation })

  // ---- Export.
  run.progress(stageOnly(doPhase2 ? 2 : 1, 'exporting'), true)
  const runDir = runDirOf(io.dataDir, job.runId)
  await mkdir(runDir, { recursive: true })
  const modelPath = join(runDir, 'model')
  const [h, w] = loaded.inputSize
  const meta: ExportMetadata = {
    tfjsVersion: tf.version.tfjs,
    packageName: 'tunewise',
    packageVersion: '0.1.0',
    modelName: config.name,
    timeStamp: new Date().toISOString(),
    labels: [...job.labels],
    imageSize: h === w ? h : Math.max(h, w),
    inputSize: [h, w],
    preprocessing: loaded.preprocess,
    preprocessingDescription: preprocessDescriptions[loaded.preprocess],
    sourceModel: { id: loaded.card.id, name: loaded.card.name, license: loaded.card.license },
    runId: job.runId,
  }
  await writeExport(loaded.base, head, modelPath, meta)
  const predictions: RunPredictions = {
    labels: [...job.labels],
    root: job.datasetPath,
    val: valScore?.rows ?? [],
    test: testScore?.rows ?? [],
  }
  await writeFile(join(runDir, 'predictions.json'), JSON.stringify(predictions))
  io.post({ type: 'artifact', kind: 'model', path: modelPath })
  io.post({
    type: 'done',
    status: 'succeeded',
    bestValAccuracy: valScore ? valScore.evaluation.accuracy : null,
    testAccuracy: testScore ? testScore.evaluation.accuracy : null,
  })
}

/**
 * Runs a whole training job and reports through `io.post`. Never throws: failures end with
 * `{type:'error'}` (code 'nan_loss' for a diverged loss), a cancel with `{type:'done', status:'cancelled'}`.
 */
/** Progress for a stage with no epochs or batches to count (evaluating, exporting). */
function stageOnly(phase: 1 | 2, stage: RunProgress['stage']): Omit<RunProgress, 'runId'> {
  return { phase, epoch: 0, epochs: 0, batch: 0, batches: 0, metrics: {}, etaSeconds: null, stage }
}

/**
 * WASM and the plain-JS backend are single-threaded under Node, so extraction shards over one
 * process per core (this one plus forked workers, up to 4; the app's own processes idle while a run
 * trains). A worker costs ~3 s to start, so a shard needs at least 64 images. Native TensorFlow
 * threads on its own.
 */
function extractionWorkers(): number {
  const backend = currentBackend()?.backend
  if (backend !== 'wasm' && backend !== 'cpu') return 1
  return Math.max(1, Math.min(4, availableParallelism()))
}

export async function trainRun(job: JobStart, io: TrainIo): Promise<void> {
  const run = new Run(job, io)
  try {
    await runJob(run)
  } catch (err) {
    if (err instanceof AppError && err.code === 'cancelled') {
      io.post({ type: 'done', status: 'cancelled', bestValAccuracy: null, testAccuracy: null })
    } else if (err instanceof NanLossError) {
      io.post({ type: 'error', code: 'nan_loss', message: err.message })
    } else if (err instanceof AppError) {
      io.post({ type: 'error', code: err.code, message: err.message })
    } else {
      const message = err instanceof Error ? err.message : String(err)
      io.post({ type: 'error', code: 'internal', message: `Training failed unexpectedly: ${message}` })
    }
  } finally {
    run.disposeAll()
  }
}

/**
 * Runs `trainRun` in this process (CLI, tests) and collects every message. `cancelAfter` lets a caller
 * cancel from its own `onMessage` by returning true.
 */
export async function runInProcess(
  job: JobStart,
  opts: {
    dataDir?: string
    cacheDir?: string
    onMessage?: (msg: FromJob) => boolean | void
    shouldStop?: () => boolean
    loadModel?: TrainIo['loadModel']
  } = {},
): Promise<{ messages: FromJob[]; final: FromJob | undefined }> {
  const messages: FromJob[] = []
  let stop = false
  const dataDir = opts.dataDir ?? job.dataDir
  await trainRun(job, {
    dataDir,
    cacheDir: opts.cacheDir ?? join(dataDir, 'cache'),
    loadModel: opts.loadModel,
    shouldStop: () => stop || (opts.shouldStop?.() ?? false),
    post: (msg) => {
      messages.push(msg)
      if (opts.onMessage?.(msg) === true) stop = true
    },
  })
  const final = [...messages].reverse().find((m) => m.type === 'done' || m.type === 'error')
  return { messages, final }
}
