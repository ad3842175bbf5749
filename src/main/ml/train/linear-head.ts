/**
 * The default head (optional input dropout → dense(classes, softmax)) trained by a hand-written Float32Array
 * kernel instead of `model.fit`.
 *
 * Why: on cached features the head's arithmetic is tiny (examples × features × classes multiply-adds per
 * epoch), but `fit` dispatches ~160 TF.js kernels per batch, each with its own bookkeeping; on WASM that made
 * 4.5 epochs/s on 1,000 × 1,280 vectors where PyTorch does 30. The same mini-batch step in plain JS loops has
 * no dispatch at all. That holds on every backend (native TensorFlow and WebGL pay per-op overhead too, and a
 * GPU cannot win on a few million multiply-adds), so the kernel is used on all of them; it also makes a linear
 * head train identically whatever the backend.
 *
 * The step is `fit`'s, term for term (tfjs-layers 4.22, tfjs-core optimizers):
 * - forward: inverted dropout on the input (training only; kept features scaled by 1 / (1 − rate), the masks
 *   drawn from the kernel's own stream seeded by the layer's seed, so the same distribution as TF.js' masks but
 *   not the same draws), z = x·W + b, p = softmax(z);
 * - loss: categorical cross-entropy on p clipped to [ε, 1 − ε] (ε = the backend's epsilon, 1e-7), each example
 *   weighted by its class weight (`classWeight` picks the weight of the target's arg-max), averaged over the
 *   batch, plus the kernel regulariser l1·Σ|W| + l2·ΣW². The reported batch `loss` includes the regulariser,
 *   as `fit`'s does; `acc` is unweighted (categorical accuracy);
 * - gradients of exactly that loss (no gradient through a clipped probability; d|w|/dw = −1 at w = 0, as TF.js'
 *   Abs gradient has it);
 * - the update of the TF.js optimizer the model was compiled with, read from that optimizer object (its
 *   learning rate every batch, so schedules that call `setLearningRate` keep working), with TF.js' own formulas
 *   and defaults: SGD; momentum (Nesterov too); Adam (β₁ 0.9, β₂ 0.999, ε = backend epsilon, bias correction by
 *   running β powers); RMSProp (ρ 0.9, momentum, ε inside the square root, centred or not); Adagrad
 *   (accumulator starting at 0.1).
 * Labels arrive as target rows, so label smoothing (already in the run's targets) needs nothing here.
 *
 * Layout: the parameters are one Float32Array θ = [Wᵀ (classes × features, each class's weights contiguous),
 * b], so the forward pass is contiguous dot products (blocked: two examples × four classes per pass over the
 * features), the weight gradient contiguous row updates (four examples × four classes per pass), and the
 * optimizer one elementwise pass over θ (every TF.js optimizer here is elementwise; Adam's β powers are
 * shared). The model's kernel is [features × classes]: it is transposed on the way in and out, once per epoch.
 * Nothing is allocated per batch but the small result object.
 */
import type { LayersModel, Optimizer, Tensor } from '@tensorflow/tfjs'
import { getTf } from '../backend'
import { mulberry32 } from '../data/split'

/** What a model must be for the kernel to train it: the default linear head, compiled as `compileHead` does. */
export interface LinearHeadShape {
  inputDim: number
  numClasses: number
  /** Input dropout rate (0: none). */
  dropout: number
  /** Seed of the dropout masks' stream. */
  dropoutSeed: number
  l1: number
  l2: number
  useBias: boolean
}

/** The training data the kernel reads: rows of `inputDim` features and of `numClasses` targets. */
export interface LinearHeadData {
  /** Row-major features [examples × inputDim]. */
  x: Float32Array
  /** Row-major targets [examples × numClasses] (one-hot or smoothed). */
  y: Float32Array
  /** Per-example loss weight (from class weights); null weighs every example 1. */
  sampleWeight: Float32Array | null
}

type Layer = LayersModel['layers'][number]

/** Dropout layers whose masks `seedDropout` seeds (head.ts), by the seed of their stream. */
const dropoutSeeds = new WeakMap<Layer, number>()

/** Records the seed of a dropout layer's mask stream, so the kernel draws its own masks from the same seed. */
export function rememberDropoutSeed(layer: Layer, seed: number): void {
  dropoutSeeds.set(layer, seed >>> 0)
}

interface DenseConfig {
  activation?: string
  useBias?: boolean
  kernelRegularizer?: { className?: string; config?: { l1?: number; l2?: number } } | null
  biasRegularizer?: unknown
  activityRegularizer?: unknown
  kernelConstraint?: unknown
  biasConstraint?: unknown
}

/**
 * The shape of `model` when it is the default linear head compiled for the kernel (one 2-D input, an optional
 * Dropout, a trainable softmax Dense with at most an L1L2 kernel regulariser, categorical cross-entropy with
 * accuracy, an optimizer the kernel knows); null otherwise, and `model.fit` trains it.
 */
export function linearHeadShape(model: LayersModel): LinearHeadShape | null {
  const m = model as unknown as { loss?: unknown; metricsNames?: string[]; optimizer?: Optimizer }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null
  const inputShape = model.inputs[0]!.shape
  if (inputShape.length !== 2 || typeof inputShape[1] !== 'number') return null
  if (m.loss !== 'categoricalCrossentropy') return null
  if (JSON.stringify(m.metricsNames) !== JSON.stringify(['loss', 'acc'])) return null
  if (!m.optimizer || optimizerKind(m.optimizer) === null) return null
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer')
  const dense = layers.at(-1)
  const dropout = layers.length === 2 ? layers[0] : null
  if (!dense || layers.length > 2 || dense.getClassName() !== 'Dense' || !dense.trainable) return null
  let rate = 0
  if (dropout) {
    const c = dropout.getConfig() as { rate?: number; noiseShape?: unknown }
    if (dropout.getClassName() !== 'Dropout' || c.noiseShape != null || typeof c.rate !== 'number') return null
    // tfjs-layers applies dropout only for 0 < rate < 1.
    rate = c.rate > 0 && c.rate < 1 ? c.rate : 0
  }
  const c = dense.getConfig() as DenseConfig
  if (c.activation !== 'softmax') return null
  if (c.biasRegularizer || c.activityRegularizer || c.kernelConstraint || c.biasConstraint) return null
  const reg = c.kernelRegularizer
  if (reg && reg.className !== 'L1L2') return null
  const useBias = c.useBias !== false
  if (model.trainableWeights.length !== (useBias ? 2 : 1)) return null
  return {
    inputDim: inputShape[1],
    numClasses: dense.outputShape[1] as number,
    dropout: rate,
    // A Dropout layer that `seedDropout` did not seed draws unseeded masks in TF.js; a fixed stream is as good.
    dropoutSeed: dropout ? (dropoutSeeds.get(dropout) ?? 0x2545f491) : 0,
    l1: reg?.config?.l1 ?? 0,
    l2: reg?.config?.l2 ?? 0,
    useBias,
  }
}

type OptimizerKind = 'sgd' | 'momentum' | 'adam' | 'rmsprop' | 'adagrad'

function optimizerKind(optimizer: Optimizer): OptimizerKind | null {
  switch (optimizer.getClassName()) {
    case 'SGD':
      return 'sgd'
    case 'Momentum':
      return 'momentum'
    case 'Adam':
      return 'adam'
    case 'RMSProp':
      return 'rmsprop'
    case 'Adagrad':
      return 'adagrad'
    default:
      return null
  }
}

/** The fields of TF.js' optimizers the kernel reads (their own names). */
interface OptimizerFields {
  learningRate: number
  momentum?: number
  useNesterov?: boolean
  beta1?: number
  beta2?: number
  epsilon?: number
  decay?: number
  centered?: boolean
  initialAccumulatorValue?: number
}

/** One batch's `loss` (with the regulariser) and `acc`, as `fit` reports them. */
export interface BatchResult {
  loss: number
  acc: number
}

/**
 * Trains one linear head: holds its parameters and the optimizer's moments across batches and epochs. Load
 * the model's weights with `readFrom`, train with `trainBatch`, put them back with `writeTo`.
 */
export class LinearHeadTrainer {
  readonly shape: LinearHeadShape
  private readonly kind: OptimizerKind
  private readonly fields: OptimizerFields
  /** [Wᵀ (classes × inputDim), b (classes)]. */
  private readonly theta: Float32Array
  private readonly nW: number
  /** Optimizer slots, as TF.js names them (m/v for Adam, rms/momentum/mg for RMSProp, ...). */
  private readonly slot1: Float32Array
  private readonly slot2: Float32Array
  private readonly slot3: Float32Array
  private accBeta1 = 0
  private accBeta2 = 0
  /** TF.js' epsilon for this backend (1e-7 for float32), for the loss clip and Adagrad. */
  private readonly eps: number
  private readonly keepThreshold: number
  /** xorshift128 state of the dropout masks. */
  private readonly rng = new Int32Array(4)
  /** Scratch, sized for the largest batch seen. */
  private xb = new Float32Array(0)
  private z = new Float64Array(0)
  private offsets = new Int32Array(0)
  /** dLoss/dθ of the current batch. */
  private readonly grad: Float64Array

  /**
   * @param shape the head (`linearHeadShape`).
   * @param optimizer the TF.js optimizer the model was compiled with: the kernel applies its update rule and
   *   reads its learning rate every batch. Its own state is not used (the kernel keeps its own).
   */
  constructor(shape: LinearHeadShape, optimizer: Optimizer) {
    const kind = optimizerKind(optimizer)
    if (kind === null) throw new Error(`The linear-head kernel has no ${optimizer.getClassName()} optimizer.`)
    this.shape = shape
    this.kind = kind
    this.fields = optimizer as unknown as OptimizerFields
    const { inputDim: d, numClasses: c } = shape
    this.nW = c * d
    this.theta = new Float32Array(this.nW + c)
    const n = this.theta.length
    const f = this.fields
    this.slot1 = new Float32Array(kind === 'sgd' ? 0 : n)
    this.slot2 = new Float32Array(kind === 'adam' || kind === 'rmsprop' ? n : 0)
    this.slot3 = new Float32Array(kind === 'rmsprop' && f.centered ? n : 0)
    if (kind === 'adagrad') this.slot1.fill(f.initialAccumulatorValue ?? 0.1)
    this.accBeta1 = Math.fround(f.beta1 ?? 0.9)
    this.accBeta2 = Math.fround(f.beta2 ?? 0.999)
    this.eps = getTf().backend().epsilon()
    // Keep a feature when a uniform 16-bit draw is at least rate·2¹⁶ (TF.js keeps it when u ≥ rate).
    this.keepThreshold = Math.round(shape.dropout * 65536)
    // xorshift128 must not start at all zeros: its state comes from mulberry32 of the seed.
    const seedRng = mulberry32(shape.dropoutSeed)
    for (let i = 0; i < 4; i++) this.rng[i] = Math.floor(seedRng() * 4294967296) | 0
    if (this.rng.every((v) => v === 0)) this.rng[0] = 1
    this.grad = new Float64Array(n)
  }

  /** A trainer for `model` when it is an eligible linear head (`linearHeadShape`), else null. */
  static forModel(model: LayersModel): LinearHeadTrainer | null {
    const shape = linearHeadShape(model)
    const optimizer = (model as unknown as { optimizer?: Optimizer }).optimizer
    return shape && optimizer ? new LinearHeadTrainer(shape, optimizer) : null
  }

  /** Loads the model's current weights (a callback may have restored others since the last epoch). */
  readFrom(model: LayersModel): void {
    const { inputDim: d, numClasses: c, useBias } = this.shape
    const weights = model.trainableWeights
    const kernel = weights[0]!.read().dataSync() as Float32Array
    for (let i = 0; i < d; i++) for (let k = 0; k < c; k++) this.theta[k * d + i] = kernel[i * c + k]!
    if (useBias) this.theta.set(weights[1]!.read().dataSync() as Float32Array, this.nW)
  }

  /** Writes the trained weights into the model. */
  writeTo(model: LayersModel): void {
    const tf = getTf()
    const { inputDim: d, numClasses: c, useBias } = this.shape
    const kernel = new Float32Array(this.nW)
    for (let k = 0; k < c; k++) for (let i = 0; i < d; i++) kernel[i * c + k] = this.theta[k * d + i]!
    const weights = model.trainableWeights
    const values: Tensor[] = [tf.tensor2d(kernel, [d, c])]
    if (useBias) values.push(tf.tensor1d(this.theta.slice(this.nW)))
    values.forEach((v, i) => weights[i]!.write(v))
    tf.dispose(values)
  }

  /**
   * One optimizer step on the examples `rows[start..end)` of `data`; returns the batch's loss (before the step,
   * regulariser included) and accuracy, as `fit` reports them.
   */
  trainBatch(data: LinearHeadData, rows: Int32Array, start: number, end: number): BatchResult {
    const { inputDim: d, numClasses: c, dropout, l1, l2, useBias } = this.shape
    const batch = end - start
    const theta = this.theta
    const nW = this.nW
    if (this.z.length < batch * c) {
      this.z = new Float64Array(batch * c)
      this.offsets = new Int32Array(batch)
    }
    const z = this.z
    const offsets = this.offsets
    // Inputs: with dropout, a masked and rescaled copy (inverted dropout); without, the rows themselves.
    let src = data.x
    if (dropout > 0) {
      if (this.xb.length < batch * d) this.xb = new Float32Array(batch * d)
      src = this.xb
      this.dropoutRows(data.x, rows, start, batch)
      for (let r = 0; r < batch; r++) offsets[r] = r * d
    } else {
      for (let r = 0; r < batch; r++) offsets[r] = rows[start + r]! * d
    }

    forward(src, offsets, batch, theta, d, c, useBias ? nW : -1, z)

    // Softmax, clipped cross-entropy, accuracy; z becomes dLoss/dz (already divided by the batch size).
    const eps = this.eps
    const lo = Math.fround(eps)
    const hi = Math.fround(1 - eps)
    let lossSum = 0
    let correct = 0
    for (let r = 0; r < batch; r++) {
      const row = rows[start + r]!
      const zo = r * c
      const yo = row * c
      let max = z[zo]!
      for (let k = 1; k < c; k++) if (z[zo + k]! > max) max = z[zo + k]!
      let sum = 0
      for (let k = 0; k < c; k++) {
        const e = Math.exp(z[zo + k]! - max)
        z[zo + k] = e
        sum += e
      }
      let ce = 0
      let aSum = 0
      let pred = 0
      let truth = 0
      for (let k = 0; k < c; k++) {
        const p = z[zo + k]! / sum
        z[zo + k] = p
        const t = data.y[yo + k]!
        if (p > z[zo + pred]!) pred = k
        if (t > data.y[yo + truth]!) truth = k
        const clipped = p < lo ? lo : p > hi ? hi : p
        ce -= t * Math.log(clipped)
        // dLoss/dp_k · p_k: −t_k inside the clip range (NaN passes through), 0 where the clip cut the gradient.
        if (!(p < lo || p > hi)) aSum -= t
      }
      const w = data.sampleWeight ? data.sampleWeight[row]! : 1
      lossSum += w * ce
      if (pred === truth) correct++
      const scale = w / batch
      for (let k = 0; k < c; k++) {
        const p = z[zo + k]!
        const a = p < lo || p > hi ? 0 : -data.y[yo + k]!
        z[zo + k] = scale * (a - p * aSum)
      }
    }

    // Gradient of every parameter (data term; the bias's; the regulariser's at the weights the batch saw, whose
    // value joins the loss), then the optimizer's elementwise step over all of θ.
    const grad = this.grad
    weightGradient(src, offsets, batch, z, c, d, grad)
    if (useBias)
      for (let k = 0; k < c; k++) {
        let s = 0
        for (let r = 0; r < batch; r++) s += z[r * c + k]!
        grad[nW + k] = s
      }
    const reg = l1 > 0 || l2 > 0 ? regularize(theta, grad, nW, l1, l2) : 0
    this.update(grad, useBias ? nW + c : nW, this.fields.learningRate)
    if (this.kind === 'adam') {
      this.accBeta1 = Math.fround(this.accBeta1 * (this.fields.beta1 ?? 0.9))
      this.accBeta2 = Math.fround(this.accBeta2 * (this.fields.beta2 ?? 0.999))
    }
    return { loss: lossSum / batch + reg, acc: correct / batch }
  }

  /** Probabilities [rows × classes] for `rows` of `x` (inference: no dropout), through the training forward. */
  predict(x: Float32Array, rows: Int32Array): Float32Array {
    const { inputDim: d, numClasses: c, useBias } = this.shape
    const out = new Float32Array(rows.length * c)
    const chunk = 64
    const offsets = new Int32Array(chunk)
    const z = new Float64Array(chunk * c)
    for (let start = 0; start < rows.length; start += chunk) {
      const n = Math.min(chunk, rows.length - start)
      for (let r = 0; r < n; r++) offsets[r] = rows[start + r]! * d
      forward(x, offsets, n, this.theta, d, c, useBias ? this.nW : -1, z)
      for (let r = 0; r < n; r++) {
        let max = z[r * c]!
        for (let k = 1; k < c; k++) max = Math.max(max, z[r * c + k]!)
        let sum = 0
        for (let k = 0; k < c; k++) sum += z[r * c + k] = Math.exp(z[r * c + k]! - max)
        for (let k = 0; k < c; k++) out[(start + r) * c + k] = z[r * c + k]! / sum
      }
    }
    return out
  }

  /**
   * Copies `batch` rows into the scratch with inverted dropout: each feature is kept when a 16-bit uniform draw
   * is at least rate·2¹⁶ (the kept share is the rate to within 2⁻¹⁷) and then scaled by 1 / (1 − rate), as TF.js'
   * dropout scales. The draws come two per output of xorshift128, seeded from the layer's seed: a mask needs
   * no more than that, and it costs half of mulberry32's multiplies (a mask per feature per batch adds up).
   */
  private dropoutRows(x: Float32Array, rows: Int32Array, start: number, batch: number): void {
    const d = this.shape.inputDim
    const scale = 1 / (1 - this.shape.dropout)
    const threshold = this.keepThreshold
    const xb = this.xb
    const st = this.rng
    let s0 = st[0]!
    let s1 = st[1]!
    let s2 = st[2]!
    let s3 = st[3]!
    for (let r = 0; r < batch; r++) {
      const o = rows[start + r]! * d
      const ob = r * d
      for (let i = 0; i < d; i += 2) {
        const t = s0 ^ (s0 << 11)
        s0 = s1
        s1 = s2
        s2 = s3
        s3 = s3 ^ (s3 >>> 19) ^ (t ^ (t >>> 8))
        // Branch-free: (u − threshold) >>> 31 is 1 exactly when the draw u falls below the threshold.
        xb[ob + i] = x[o + i]! * (scale - scale * (((s3 & 0xffff) - threshold) >>> 31))
        if (i + 1 < d) xb[ob + i + 1] = x[o + i + 1]! * (scale - scale * (((s3 >>> 16) - threshold) >>> 31))
      }
    }
    st[0] = s0
    st[1] = s1
    st[2] = s2
    st[3] = s3
  }

  /** The optimizer's step on θ[0..n) with gradient `g`, TF.js' formulas. */
  private update(g: Float64Array, n: number, lr: number): void {
    const at = 0
    const theta = this.theta
    const f = this.fields
    switch (this.kind) {
      case 'sgd':
        for (let i = 0; i < n; i++) theta[at + i] -= lr * g[i]!
        return
      case 'momentum': {
        const acc = this.slot1
        const m = f.momentum ?? 0
        for (let i = 0; i < n; i++) {
          const a = (acc[at + i] = m * acc[at + i]! + g[i]!)
          theta[at + i] -= lr * (f.useNesterov ? g[i]! + a * m : a)
        }
        return
      }
      case 'adam': {
        const mS = this.slot1
        const vS = this.slot2
        const b1 = f.beta1 ?? 0.9
        const b2 = f.beta2 ?? 0.999
        const eps = f.epsilon ?? this.eps
        // lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε), with the bias corrections taken out of the loop.
        const stepScale = lr / (1 - this.accBeta1)
        const rootScale = 1 / Math.sqrt(1 - this.accBeta2)
        const k1 = 1 - b1
        const k2 = 1 - b2
        for (let i = 0; i < n; i++) {
          const gi = g[i]!
          const m = (mS[at + i] = b1 * mS[at + i]! + k1 * gi)
          const v = (vS[at + i] = b2 * vS[at + i]! + k2 * gi * gi)
          theta[at + i] -= (stepScale * m) / (Math.sqrt(v) * rootScale + eps)
        }
        return
      }
      case 'rmsprop': {
        const ms = this.slot1
        const mom = this.slot2
        const mg = this.slot3
        const rho = f.decay ?? 0.9
        const m = f.momentum ?? 0
        const eps = f.epsilon ?? this.eps
        for (let i = 0; i < n; i++) {
          const gi = g[i]!
          const s = (ms[at + i] = rho * ms[at + i]! + (1 - rho) * gi * gi)
          let denom: number
          if (f.centered) {
            const a = (mg[at + i] = rho * mg[at + i]! + (1 - rho) * gi)
            denom = Math.sqrt(s - (a * a + eps))
          } else denom = Math.sqrt(s + eps)
          const step = (mom[at + i] = m * mom[at + i]! + (gi * lr) / denom)
          theta[at + i] -= step
        }
        return
      }
      case 'adagrad': {
        const acc = this.slot1
        const eps = this.eps
        for (let i = 0; i < n; i++) {
          const gi = g[i]!
          const a = (acc[at + i] = acc[at + i]! + gi * gi)
          theta[at + i] -= (lr * gi) / Math.sqrt(a + eps)
        }
        return
      }
    }
  }
}

/**
 * z[r·c + k] = x_r · Wᵀ_k (+ b_k) for every row of the batch and every class. Two rows and four classes at a
 * time (then fewer), each with its own accumulator: every weight read serves two rows, every input read four
 * classes, and the additions do not wait on each other. `biasAt` < 0: no bias.
 */
function forward(
  src: Float32Array,
  offsets: Int32Array,
  batch: number,
  theta: Float32Array,
  d: number,
  c: number,
  biasAt: number,
  z: Float64Array,
): void {
  let r = 0
  for (; r + 2 <= batch; r += 2) {
    const o0 = offsets[r]!
    const o1 = offsets[r + 1]!
    const z0 = r * c
    const z1 = z0 + c
    let k = 0
    for (; k + 4 <= c; k += 4) {
      const w0 = k * d
      const w1 = w0 + d
      const w2 = w1 + d
      const w3 = w2 + d
      let a0 = 0
      let a1 = 0
      let a2 = 0
      let a3 = 0
      let b0 = 0
      let b1 = 0
      let b2 = 0
      let b3 = 0
      for (let i = 0; i < d; i++) {
        const u = src[o0 + i]!
        const v = src[o1 + i]!
        const t0 = theta[w0 + i]!
        const t1 = theta[w1 + i]!
        const t2 = theta[w2 + i]!
        const t3 = theta[w3 + i]!
        a0 += u * t0
        a1 += u * t1
        a2 += u * t2
        a3 += u * t3
        b0 += v * t0
        b1 += v * t1
        b2 += v * t2
        b3 += v * t3
      }
      z[z0 + k] = a0
      z[z0 + k + 1] = a1
      z[z0 + k + 2] = a2
      z[z0 + k + 3] = a3
      z[z1 + k] = b0
      z[z1 + k + 1] = b1
      z[z1 + k + 2] = b2
      z[z1 + k + 3] = b3
    }
    for (; k < c; k++) {
      const w0 = k * d
      let a0 = 0
      let b0 = 0
      for (let i = 0; i < d; i++) {
        const t0 = theta[w0 + i]!
        a0 += src[o0 + i]! * t0
        b0 += src[o1 + i]! * t0
      }
      z[z0 + k] = a0
      z[z1 + k] = b0
    }
  }
  if (r < batch) {
    const o0 = offsets[r]!
    for (let k = 0; k < c; k++) {
      const w0 = k * d
      let a0 = 0
      let a1 = 0
      let i = 0
      for (; i + 2 <= d; i += 2) {
        a0 += src[o0 + i]! * theta[w0 + i]!
        a1 += src[o0 + i + 1]! * theta[w0 + i + 1]!
      }
      if (i < d) a0 += src[o0 + i]! * theta[w0 + i]!
      z[r * c + k] = a0 + a1
    }
  }
  if (biasAt >= 0) for (let q = 0; q < batch * c; q++) z[q] += theta[biasAt + (q % c)]!
}

/**
 * Adds the kernel regulariser's gradient to g[0..n) (d|w|/dw = −1 at w = 0, as TF.js' Abs gradient has it) and
 * returns its value l1·Σ|w| + l2·Σw², both at the weights θ holds now.
 */
function regularize(theta: Float32Array, g: Float64Array, n: number, l1: number, l2: number): number {
  let s1 = 0
  let s2 = 0
  const twoL2 = 2 * l2
  if (l1 > 0)
    for (let i = 0; i < n; i++) {
      const v = theta[i]!
      s1 += Math.abs(v)
      s2 += v * v
      g[i] += (v > 0 ? l1 : -l1) + twoL2 * v
    }
  else
    for (let i = 0; i < n; i++) {
      const v = theta[i]!
      s2 += v * v
      g[i] += twoL2 * v
    }
  return l1 * s1 + l2 * s2
}

/**
 * g[k·d + i] = Σ_r dz[r·c + k] · x_r[i]: the data term of every weight's gradient. Four rows and four classes
 * at a time (then fewer): each input read serves four classes and each g[i] is read and written once per four
 * rows.
 */
function weightGradient(
  src: Float32Array,
  offsets: Int32Array,
  batch: number,
  dz: Float64Array,
  c: number,
  d: number,
  g: Float64Array,
): void {
  g.fill(0, 0, c * d)
  let r = 0
  for (; r + 4 <= batch; r += 4) {
    const o0 = offsets[r]!
    const o1 = offsets[r + 1]!
    const o2 = offsets[r + 2]!
    const o3 = offsets[r + 3]!
    const z0 = r * c
    const z1 = z0 + c
    const z2 = z1 + c
    const z3 = z2 + c
    let k = 0
    for (; k + 4 <= c; k += 4) {
      const g0 = k * d
      const g1 = g0 + d
      const g2 = g1 + d
      const g3 = g2 + d
      const a00 = dz[z0 + k]!
      const a01 = dz[z0 + k + 1]!
      const a02 = dz[z0 + k + 2]!
      const a03 = dz[z0 + k + 3]!
      const a10 = dz[z1 + k]!
      const a11 = dz[z1 + k + 1]!
      const a12 = dz[z1 + k + 2]!
      const a13 = dz[z1 + k + 3]!
      const a20 = dz[z2 + k]!
      const a21 = dz[z2 + k + 1]!
      const a22 = dz[z2 + k + 2]!
      const a23 = dz[z2 + k + 3]!
      const a30 = dz[z3 + k]!
      const a31 = dz[z3 + k + 1]!
      const a32 = dz[z3 + k + 2]!
      const a33 = dz[z3 + k + 3]!
      for (let i = 0; i < d; i++) {
        const x0 = src[o0 + i]!
        const x1 = src[o1 + i]!
        const x2 = src[o2 + i]!
        const x3 = src[o3 + i]!
        g[g0 + i] += a00 * x0 + a10 * x1 + a20 * x2 + a30 * x3
        g[g1 + i] += a01 * x0 + a11 * x1 + a21 * x2 + a31 * x3
        g[g2 + i] += a02 * x0 + a12 * x1 + a22 * x2 + a32 * x3
        g[g3 + i] += a03 * x0 + a13 * x1 + a23 * x2 + a33 * x3
      }
    }
    for (; k < c; k++) {
      const g0 = k * d
      const a0 = dz[z0 + k]!
      const a1 = dz[z1 + k]!
      const a2 = dz[z2 + k]!
      const a3 = dz[z3 + k]!
      for (let i = 0; i < d; i++)
        g[g0 + i] += a0 * src[o0 + i]! + a1 * src[o1 + i]! + a2 * src[o2 + i]! + a3 * src[o3 + i]!
    }
  }
  for (; r < batch; r++) {
    const o = offsets[r]!
    for (let k = 0; k < c; k++) {
      const a = dz[r * c + k]!
      const g0 = k * d
      for (let i = 0; i < d; i++) g[g0 + i] += a * src[o + i]!
    }
  }
}
