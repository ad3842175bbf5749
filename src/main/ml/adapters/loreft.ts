/**
 * LoReFT (Wu et al., 2024, "ReFT: Representation Finetuning"), for image models: at a chosen layer's output,
 * every position's channel vector h (d values) becomes
 *
 *     Φ(h) = h + Rᵀ(W·h + b − R·h)
 *
 * with R ∈ ℝ^{r×d} (orthonormal rows), W ∈ ℝ^{r×d} and b ∈ ℝ^r. It edits h only inside the r-dimensional
 * subspace R spans. The model stays frozen; R, W and b train.
 *
 * Orthonormality is kept by **QR re-orthonormalisation after every optimiser step** (`OrthonormalRows`): R's
 * rows go through Gram–Schmidt, which gives the Q factor of Rᵀ's thin QR decomposition with a positive
 * diagonal, i.e. the orthonormal basis nearest in order to the rows the step produced. (A parametrisation,
 * e.g. R = QR(V), would need a QR gradient TF.js does not have.)
 *
 * Start: R random orthonormal, W = R and b = 0, so Φ is exactly the identity and the head trained in phase 1
 * still sees the features it learned on (the paper starts W at random; here phase 2 must start where phase 1
 * ended). Export folds Φ into one 1×1 convolution with bias: Φ(h) = (I + Rᵀ(W − R))·h + Rᵀb (`foldReft`).
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { getTf, type Tf } from '../backend'
import { TrainingCallback } from '../train/callbacks'
import { makeRng } from '../train/random'

type Layer = LayersModel['layers'][number]
type LayerVariable = Layer['weights'][number]

/** Appended to the nudged layer's name for the intervention layer (`block_14_add_loreft`). */
export const REFT_SUFFIX = '_loreft'

/**
 * Gram–Schmidt (modified, in float64) on the rows of an r×d matrix: the rows of Qᵀ for the thin QR of its
 * transpose, with a positive diagonal. A row that falls (numerically) into the span of the earlier ones is
 * replaced by the first unit vector outside that span, so the result always has orthonormal rows.
 */
export function orthonormalRows(m: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const q: Float64Array[] = []
  for (let i = 0; i < rows; i++) {
    let v = Float64Array.from({ length: cols }, (_, j) => m[i * cols + j]!)
    for (let attempt = 0; attempt <= cols; attempt++) {
      for (const u of q) {
        let dot = 0
        for (let j = 0; j < cols; j++) dot += u[j]! * v[j]!
        for (let j = 0; j < cols; j++) v[j]! -= dot * u[j]!
      }
      let norm = 0
      for (let j = 0; j < cols; j++) norm += v[j]! * v[j]!
      norm = Math.sqrt(norm)
      if (norm > 1e-6) {
        for (let j = 0; j < cols; j++) v[j]! /= norm
        break
      }
      v = new Float64Array(cols)
      v[attempt % cols] = 1
    }
    q.push(v)
  }
  const out = new Float32Array(rows * cols)
  q.forEach((v, i) => out.set(v, i * cols))
  return out
}

/** A random r×d matrix with orthonormal rows, from `seed`. */
export function randomOrthonormalRows(rows: number, cols: number, seed: number): Float32Array {
  const rng = makeRng(seed)
  const m = new Float64Array(rows * cols)
  // Box–Muller: Gaussian rows give a uniformly random subspace.
  for (let k = 0; k < m.length; k++) {
    const u = Math.max(rng(), 1e-12)
    m[k] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng())
  }
  return orthonormalRows(m, rows, cols)
}

/** Φ(h) = h + ((h·(W − R)ᵀ + b)·R) on the last axis of `h` (the row-vector form of h + Rᵀ(W·h + b − R·h)). */
export function reftApply(tf: Tf, h: Tensor, r: Tensor, w: Tensor, b: Tensor): Tensor {
  return tf.tidy(() => {
    const d = h.shape[h.shape.length - 1]!
    const h2 = tf.reshape(h, [-1, d])
    const p = tf.add(tf.matMul(h2, tf.sub(w, r), false, true), b)
    return tf.reshape(tf.add(h2, tf.matMul(p, r)), h.shape)
  })
}

/**
 * The intervention folded into a linear map in row-vector form, Φ(h) = h·K + c: K = I + (W − R)ᵀ·R ([d, d],
 * a 1×1 convolution's or dense layer's kernel) and c = b·R ([d], its bias).
 */
export function foldReft(tf: Tf, r: Tensor, w: Tensor, b: Tensor): { kernel: Tensor; bias: Tensor } {
  return tf.tidy(() => {
    const [rank, d] = r.shape as [number, number]
    const kernel = tf.add(tf.eye(d), tf.matMul(tf.sub(w, r), r, true, false))
    const bias = tf.reshape(tf.matMul(tf.reshape(b, [1, rank]), r), [d])
    return { kernel, bias }
  })
}

/** A trainable LoReFT intervention on one layer's output. */
export interface ReftIntervention extends Layer {
  /** The layer whose output is nudged. */
  readonly site: string
  readonly rank: number
  /** R: [r, d], orthonormal rows. */
  readonly r: LayerVariable
  /** W: [r, d]. */
  readonly w: LayerVariable
  /** b: [r]. */
  readonly b: LayerVariable
}

type ReftCtor = new (site: string, rank: number, seed: number) => ReftIntervention
const classes = new WeakMap<Tf, ReftCtor>()

function reftClass(tf: Tf): ReftCtor {
  const known = classes.get(tf)
  if (known) return known
  class TunewiseLoReFT extends tf.layers.Layer implements ReftIntervention {
    static className = 'TunewiseLoReFT'
    r!: LayerVariable
    w!: LayerVariable
    b!: LayerVariable

    constructor(
      readonly site: string,
      readonly rank: number,
      private readonly seed: number,
    ) {
      super({ name: `${site}${REFT_SUFFIX}`, trainable: true })
    }

    override build(inputShape: Parameters<Layer['build']>[0]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[]
      const d = shape[shape.length - 1]!
      this.r = this.addWeight('loreft_r', [this.rank, d], 'float32', tf.initializers.zeros())
      this.w = this.addWeight('loreft_w', [this.rank, d], 'float32', tf.initializers.zeros())
      this.b = this.addWeight('loreft_b', [this.rank], 'float32', tf.initializers.zeros())
      const start = tf.tensor2d(randomOrthonormalRows(this.rank, d, this.seed), [this.rank, d])
      this.r.write(start)
      this.w.write(start)
      start.dispose()
      this.built = true
    }

    override computeOutputShape(inputShape: Parameters<Layer['computeOutputShape']>[0]) {
      return inputShape
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const h = Array.isArray(inputs) ? inputs[0]! : inputs
      return reftApply(tf, h, this.r.read(), this.w.read(), this.b.read())
    }

    override getConfig() {
      return { ...super.getConfig(), site: this.site, rank: this.rank }
    }
  }
  const cls = TunewiseLoReFT as unknown as ReftCtor
  classes.set(tf, cls)
  return cls
}

/**
 * A LoReFT intervention for the output of layer `site`, rank `rank` (R random orthonormal from `seed`, W = R,
 * b = 0: the identity until it trains).
 */
export function makeReft(site: string, rank: number, seed: number): ReftIntervention {
  const Cls = reftClass(getTf())
  return new Cls(site, rank, seed)
}

/** Puts R back on orthonormal rows (QR re-orthonormalisation) in place. */
export function reorthonormalize(layer: ReftIntervention): void {
  const tf = getTf()
  const [rank, d] = layer.r.shape as [number, number]
  const q = tf.tensor2d(orthonormalRows(layer.r.read().dataSync(), rank, d), [rank, d])
  layer.r.write(q)
  q.dispose()
}

/** ‖R·Rᵀ − I‖ (Frobenius): 0 for orthonormal rows. */
export function orthonormalityError(r: ArrayLike<number>, rows: number, cols: number): number {
  let sum = 0
  for (let i = 0; i < rows; i++)
    for (let k = 0; k < rows; k++) {
      let dot = 0
      for (let j = 0; j < cols; j++) dot += r[i * cols + j]! * r[k * cols + j]!
      sum += (dot - (i === k ? 1 : 0)) ** 2
    }
  return Math.sqrt(sum)
}

/** Re-orthonormalises every intervention's R after each optimiser step (each batch). */
export class OrthonormalRows extends TrainingCallback {
  /** @param layers the interventions being trained. */
  constructor(private readonly layers: ReftIntervention[]) {
    super()
  }

  override async onBatchEnd(): Promise<void> {
    for (const l of this.layers) reorthonormalize(l)
  }
}
