/**
 * The hand-written linear-head kernel against TF.js itself: one optimizer step of each optimizer equals
 * `optimizer.minimize` on the same loss (class weights, label smoothing, L1/L2), a whole `fitLoop` equals the
 * `model.fit` path step for step without dropout and reaches the same accuracy with it, it dispatches fewer
 * TF.js kernels, and the callbacks (early stopping with restore, cancel mid-epoch, a changed learning rate) see
 * what they saw with `fit`.
 */
import type { LayersModel, Tensor, Variable } from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../src/main/errors'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { CancelOnRequest, EarlyStopping, TrainingCallback, type Logs } from '../../src/main/ml/train/callbacks'
import { fitLoop, type FitSpec } from '../../src/main/ml/train/fit-loop'
import { buildHead, compileHead, makeOptimizer, setLearningRate } from '../../src/main/ml/train/head'
import { LinearHeadTrainer, linearHeadShape } from '../../src/main/ml/train/linear-head'
import { makeRng } from '../../src/main/ml/train/random'
import { smoothLabels } from '../../src/main/ml/train/run-job'
import { defaultHyper } from '../../src/shared/run-config'
import type { HeadConfig, HyperParams, OptimizerName } from '../../src/shared/types'

beforeAll(async () => {
  await initBackend('cpu')
})

const OPTIMIZERS: OptimizerName[] = ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad']
const hyper = (patch: Partial<HyperParams> = {}): HyperParams => ({ ...structuredClone(defaultHyper), ...patch })
const head = (patch: Partial<HeadConfig> = {}): HeadConfig => ({
  units: [],
  dropout: 0,
  initializer: 'glorot',
  l1: 1e-3,
  l2: 1e-2,
  ...patch,
})

/**
 * `n` examples of `dim` non-negative features in `classes` classes: a class-dependent mean plus noise (clipped
 * at 0, like ReLU features), labels cycling through the classes.
 */
function problem(
  n: number,
  dim: number,
  classes: number,
  seed: number,
  noise = 1,
): { x: Float32Array; labels: number[] } {
  const rng = makeRng(seed)
  const means = Array.from({ length: classes }, () => Array.from({ length: dim }, () => 2 * rng()))
  const labels = Array.from({ length: n }, (_, i) => i % classes)
  const x = new Float32Array(n * dim)
  labels.forEach((y, i) => {
    for (let d = 0; d < dim; d++) {
      const gauss = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng())
      x[i * dim + d] = Math.max(0, means[y]![d]! + noise * gauss)
    }
  })
  return { x, labels }
}

const weightsOf = (m: LayersModel): number[][] => m.getWeights().map((w) => Array.from(w.dataSync()))

function expectClose(a: number[][], b: number[][], tol: number): void {
  expect(a.map((w) => w.length)).toEqual(b.map((w) => w.length))
  let worst = 0
  a.forEach((w, i) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i]![j]!)))))
  expect(worst).toBeLessThan(tol)
}

describe('linearHeadShape', () => {
  it('accepts the default head (with or without dropout) and refuses hidden layers', () => {
    const a = buildHead(6, 3, head({ dropout: 0.25 }), 1)
    compileHead(a, hyper())
    expect(linearHeadShape(a)).toMatchObject({ inputDim: 6, numClasses: 3, dropout: 0.25, l1: 1e-3, l2: 1e-2 })
    const b = buildHead(6, 3, head(), 1)
    compileHead(b, hyper({ optimizer: 'rmsprop' }))
    expect(linearHeadShape(b)).toMatchObject({ dropout: 0, useBias: true })
    const hidden = buildHead(6, 3, head({ units: [4] }), 1)
    compileHead(hidden, hyper())
    expect(linearHeadShape(hidden)).toBeNull()
    const adamax = buildHead(6, 3, head(), 1)
    adamax.compile({ optimizer: getTf().train.adamax(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
    expect(linearHeadShape(adamax)).toBeNull()
    for (const m of [a, b, hidden, adamax]) m.dispose()
  })
})

describe('one step equals TF.js', () => {
  const tf = () => getTf()
  const dim = 6
  const classes = 3
  const { x, labels } = problem(5, dim, classes, 4)
  const classWeight: Record<number, number> = { 0: 0.5, 1: 2, 2: 1.25 }

  for (const name of OPTIMIZERS) {
    it(`${name}: three steps with class weights, label smoothing and L1/L2 match optimizer.minimize`, () => {
      const t = tf()
      const cfg = head()
      const model = buildHead(dim, classes, cfg, 3)
      const h = hyper({ optimizer: name, learningRate: 0.05, momentum: 0.8 })
      compileHead(model, h)
      // A non-zero bias, so its update is checked too.
      t.tidy(() => model.layers[0].setWeights([model.getWeights()[0]!, t.tensor1d([0.1, -0.2, 0.05])]))
      const [w0, b0] = model.getWeights().map((w) => w.clone())
      const W = t.variable(w0!) as Variable
      const b = t.variable(b0!) as Variable
      const reference = makeOptimizer(h)
      const xs = t.tensor2d(x, [5, dim])
      const ys = smoothLabels(t.oneHot(t.tensor1d(labels, 'int32'), classes), 0.1)
      const sw = t.tensor1d(labels.map((y) => classWeight[y]!))
      const loss = () =>
        t.tidy(() => {
          const p = t.softmax(xs.matMul(W).add(b))
          const ce = t.metrics.categoricalCrossentropy(ys, p).mul(sw).mean()
          return ce.add(t.regularizers.l1l2({ l1: cfg.l1, l2: cfg.l2 }).apply(W)) as Tensor
        }) as ReturnType<typeof t.scalar>

      const trainer = LinearHeadTrainer.forModel(model)!
      expect(trainer).not.toBeNull()
      trainer.readFrom(model)
      const data = {
        x,
        y: ys.dataSync() as Float32Array,
        sampleWeight: Float32Array.from(labels.map((y) => classWeight[y]!)),
      }
      const rows = Int32Array.from([0, 1, 2, 3, 4])
      for (let step = 0; step < 3; step++) {
        const cost = reference.minimize(loss, true, [W, b])!
        const out = trainer.trainBatch(data, rows, 0, 5)
        expect(out.loss).toBeCloseTo(cost.dataSync()[0]!, 5)
        cost.dispose()
      }
      trainer.writeTo(model)
      expectClose(weightsOf(model), [Array.from(W.dataSync()), Array.from(b.dataSync())], 1e-5)
      t.dispose([W, b, w0!, b0!, xs, ys, sw])
      reference.dispose()
      model.dispose()
    })
  }
})

/** A fitLoop spec over `n` examples of a structured problem, with a validation split of `val` examples. */
function loopSpec(
  model: LayersModel,
  opts: { n: number; val: number; dim: number; classes: number; epochs: number; batch: number; seed: number },
): FitSpec & { tensors: Tensor[] } {
  const tf = getTf()
  const all = problem(opts.n + opts.val, opts.dim, opts.classes, opts.seed, 1.5)
  const x = tf.tensor2d(all.x.slice(0, opts.n * opts.dim), [opts.n, opts.dim])
  const y = smoothLabels(tf.oneHot(tf.tensor1d(all.labels.slice(0, opts.n), 'int32'), opts.classes), 0.1)
  const vx = tf.tensor2d(all.x.slice(opts.n * opts.dim), [opts.val, opts.dim])
  return {
    model,
    epochs: opts.epochs,
    batchSize: opts.batch,
    train: async () => ({ xs: [x], owned: false }),
    trainY: y,
    val: { xs: [vx], labels: all.labels.slice(opts.n) },
    classWeight: { 0: 1, 1: 1.5, 2: 0.75 },
    rng: makeRng(opts.seed),
    tensors: [x, y, vx],
  }
}

class EpochLogs extends TrainingCallback {
  readonly logs: Logs[] = []
  readonly batches: Logs[] = []
  override async onBatchEnd(_batch: number, logs?: Logs) {
    this.batches.push({ ...logs })
  }
  override async onEpochEnd(_epoch: number, logs?: Logs) {
    this.logs.push({ ...logs })
  }
}

/** The same head trained by `fitLoop` both ways, from the same weights and the same shuffles. */
async function bothWays(
  cfg: HeadConfig,
  h: HyperParams,
  opts: Parameters<typeof loopSpec>[1],
): Promise<{ kernel: EpochLogs; fit: EpochLogs; weights: [number[][], number[][]] }> {
  const run = async (headKernel: boolean) => {
    const model = buildHead(opts.dim, opts.classes, cfg, 5)
    compileHead(model, h)
    const spec = loopSpec(model, opts)
    const rec = new EpochLogs()
    await fitLoop({ ...spec, headKernel }, [rec])
    const weights = weightsOf(model)
    getTf().dispose(spec.tensors)
    model.dispose()
    return { rec, weights }
  }
  const k = await run(true)
  const f = await run(false)
  return { kernel: k.rec, fit: f.rec, weights: [k.weights, f.weights] }
}

describe('fitLoop with the kernel', () => {
  for (const name of OPTIMIZERS) {
    it(`${name}: without dropout, the same epochs, logs and weights as the model.fit path`, async () => {
      const opts = { n: 40, val: 12, dim: 8, classes: 3, epochs: 3, batch: 16, seed: 9 }
      const { kernel, fit, weights } = await bothWays(head(), hyper({ optimizer: name, learningRate: 0.02 }), opts)
      expect(kernel.batches.map((b) => b.size)).toEqual(fit.batches.map((b) => b.size))
      kernel.batches.forEach((b, i) => {
        expect(b.loss).toBeCloseTo(fit.batches[i]!.loss!, 5)
        expect(b.acc).toBeCloseTo(fit.batches[i]!.acc!, 6)
      })
      expect(kernel.logs).toHaveLength(3)
      kernel.logs.forEach((l, i) => {
        expect(Object.keys(l).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss'])
        for (const key of ['loss', 'acc', 'val_loss', 'val_acc']) expect(l[key]).toBeCloseTo(fit.logs[i]![key]!, 5)
      })
      expectClose(weights[0], weights[1], 1e-5)
    })
  }

  it('with dropout 0.2 on a seeded separable-ish problem, the same validation accuracy within 2 points', async () => {
    const opts = { n: 300, val: 150, dim: 32, classes: 3, epochs: 12, batch: 16, seed: 21 }
    const { kernel, fit } = await bothWays(head({ dropout: 0.2, l1: 0, l2: 1e-4 }), hyper({ learningRate: 0.01 }), opts)
    // Mean of the last 4 epochs: a single epoch's accuracy on 150 examples moves by a few points.
    const settled = (logs: Logs[]) => logs.slice(-4).reduce((s, l) => s + l.val_acc!, 0) / 4
    const accK = settled(kernel.logs)
    const accF = settled(fit.logs)
    expect(accK).toBeGreaterThan(0.7)
    expect(Math.abs(accK - accF)).toBeLessThanOrEqual(0.02)
    // Dropout is on: training batches are not the plain forward pass.
    expect(kernel.logs.at(-1)!.loss).not.toBeCloseTo(fit.logs.at(-1)!.loss!, 6)
  })

  it('dispatches fewer TF.js kernels per epoch than model.fit, and leaves no tensor behind', async () => {
    const tf = getTf()
    const opts = { n: 64, val: 16, dim: 16, classes: 3, epochs: 2, batch: 16, seed: 2 }
    const count = async (headKernel: boolean) => {
      const model = buildHead(opts.dim, opts.classes, head({ dropout: 0.2 }), 1)
      const optimizer = compileHead(model, hyper())
      const spec = loopSpec(model, opts)
      const before = tf.memory().numTensors
      const info = await tf.profile(() => fitLoop({ ...spec, headKernel }, []))
      // The kernel adds nothing: its state is plain arrays. (The fit path's optimizer keeps its moments.)
      if (headKernel) expect(tf.memory().numTensors).toBe(before)
      tf.dispose(spec.tensors)
      optimizer.dispose()
      model.dispose()
      return info.kernels.length
    }
    const kernel = await count(true)
    const fit = await count(false)
    expect(kernel).toBeLessThan(fit)
    // 4 batches × 2 epochs: the fit path dispatches dozens per batch, the kernel none (validation only).
    expect(fit - kernel).toBeGreaterThan(8 * 20)
  })
})

describe('callbacks with the kernel', () => {
  const opts = { n: 48, val: 12, dim: 8, classes: 3, epochs: 30, batch: 8, seed: 3 }

  it('early stopping with restore ends on the best epoch’s weights', async () => {
    const model = buildHead(opts.dim, opts.classes, head(), 1)
    compileHead(model, hyper({ learningRate: 0.3, optimizer: 'sgd' }))
    const spec = loopSpec(model, opts)
    const snapshots: { valLoss: number; weights: number[][] }[] = []
    class Snap extends TrainingCallback {
      override async onEpochEnd(_e: number, logs?: Logs) {
        snapshots.push({ valLoss: logs!.val_loss!, weights: weightsOf(this.model) })
      }
    }
    const stopped: number[] = []
    await fitLoop(spec, [new Snap(), new EarlyStopping(2, true, (e) => stopped.push(e))])
    expect(stopped).toHaveLength(1)
    expect(snapshots.length).toBeLessThan(opts.epochs)
    const best = snapshots.reduce((a, b) => (b.valLoss < a.valLoss ? b : a))
    expect(weightsOf(model)).toEqual(best.weights)
    getTf().dispose(spec.tensors)
    model.dispose()
  })

  it('a cancel after the second batch stops inside the epoch, with the weights of two steps in the model', async () => {
    const model = buildHead(opts.dim, opts.classes, head(), 1)
    compileHead(model, hyper({ optimizer: 'sgd', learningRate: 0.1 }))
    const spec = loopSpec(model, opts)
    const before = weightsOf(model)
    let batches = 0
    class Count extends TrainingCallback {
      override async onBatchEnd() {
        batches++
      }
    }
    const rec = new EpochLogs()
    const err = await fitLoop(spec, [new Count(), new CancelOnRequest(() => batches >= 2, 0), rec]).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('cancelled')
    expect(batches).toBe(2)
    expect(rec.logs).toHaveLength(0)
    expect(model.stopTraining).toBe(true)
    expect(weightsOf(model)).not.toEqual(before)
    getTf().dispose(spec.tensors)
    model.dispose()
  })

  it("reads the optimizer's learning rate as a schedule sets it: at 0 an epoch leaves the weights alone", async () => {
    const model = buildHead(opts.dim, opts.classes, head(), 1)
    const optimizer = compileHead(model, hyper({ optimizer: 'sgd', learningRate: 0.1 }))
    const spec = { ...loopSpec(model, opts), epochs: 3 }
    const perEpoch: number[][][] = []
    class Zero extends TrainingCallback {
      override async onEpochBegin(epoch: number) {
        setLearningRate(optimizer, epoch === 1 ? 0 : 0.1)
      }
      override async onEpochEnd() {
        perEpoch.push(weightsOf(this.model))
      }
    }
    await fitLoop(spec, [new Zero()])
    expect(perEpoch[1]).toEqual(perEpoch[0])
    expect(perEpoch[2]).not.toEqual(perEpoch[1])
    getTf().dispose(spec.tensors)
    model.dispose()
  })
})
