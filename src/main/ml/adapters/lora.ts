/**
 * LoRA (Hu et al., 2021) for image models: a frozen layer's weight W₀ gets a trainable low-rank update, so
 * y = act(x·W₀ + bias + (α/r)·(x·A)·B). A starts He-uniform, B at zero, so a fresh adapter changes nothing.
 *
 * - Dense layers and 1×1 stride-1 convolutions (34 of MobileNetV2's 35 Conv2D layers, 2.12 M of its 2.26 M
 *   base weights) are a matrix product over channels: the low-rank path is two `matMul`s. That also keeps
 *   the training off the WASM backend's slow (or missing) convolution filter gradients.
 * - k×k or strided convolutions use the LoCon form: a k×k convolution to r channels (A, with the layer's own
 *   strides, padding and dilation) followed by a 1×1 convolution to the layer's channels (B).
 *
 * Both forms are linear in x, so they merge into the kernel: W = W₀ + (α/r)·reshape(A, [−1, r])·B, reshaped to
 * the kernel's shape (`loraDelta`). The export does that; the training model keeps W₀ untouched.
 */
import type { LayersModel, Tensor, Tensor4D } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { getTf, type Tf } from '../backend'

type Layer = LayersModel['layers'][number]
type LayerVariable = Layer['weights'][number]
type Kwargs = Parameters<Layer['call']>[1]

/** Appended to the adapted layer's name for the adapter layer (`block_16_project_lora`). */
export const LORA_SUFFIX = '_lora'

interface Activation {
  getClassName(): string
  apply(x: Tensor): Tensor
}

interface ConvConfig {
  kernelSize: number[]
  strides: number[]
  padding: 'same' | 'valid'
  dilationRate: number | number[]
  dataFormat?: string
  useBias: boolean
}

function activationOf(layer: Layer): Activation | null {
  return (layer as unknown as { activation?: Activation }).activation ?? null
}

function isLinear(layer: Layer): boolean {
  const act = activationOf(layer)
  return act === null || act.getClassName() === 'Linear'
}

function convConfig(layer: Layer): ConvConfig {
  return layer.getConfig() as unknown as ConvConfig
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0]!, v[1] ?? v[0]!] : [v, v]
}

/**
 * Whether LoRA can adapt `layer`: a Dense or channels-last Conv2D layer with a kernel.
 * @returns null when it can, else the reason in a sentence.
 */
export function loraUnsupported(layer: Layer): string | null {
  const type = layer.getClassName()
  if (type !== 'Dense' && type !== 'Conv2D')
    return `'${layer.name}' is a ${type} layer; LoRA adapts only Conv2D and Dense layers.`
  if (type === 'Conv2D' && convConfig(layer).dataFormat === 'channelsFirst')
    return `'${layer.name}' is a channels-first convolution, which LoRA does not adapt.`
  if (layer.weights.length === 0) return `'${layer.name}' has no weights yet.`
  return null
}

/** True for a 1×1 stride-1 convolution: a matrix product over channels. */
function isPointwise(layer: Layer): boolean {
  if (layer.getClassName() !== 'Conv2D') return false
  const c = convConfig(layer)
  return c.kernelSize.every((k) => k === 1) && c.strides.every((s) => s === 1)
}

/** (x·A)·B for `layer`'s input x; the result has the layer's output shape. */
export function lowRankPath(tf: Tf, layer: Layer, x: Tensor, a: Tensor, b: Tensor): Tensor {
  const [rank, out] = b.shape as [number, number]
  if (layer.getClassName() === 'Dense') {
    const lead = x.shape.slice(0, -1)
    const x2 = tf.reshape(x, [-1, x.shape[x.shape.length - 1]!])
    return tf.reshape(tf.matMul(tf.matMul(x2, a), b), [...lead, out])
  }
  if (isPointwise(layer)) {
    const [n, h, w, c] = x.shape as [number, number, number, number]
    const t = tf.matMul(tf.matMul(tf.reshape(x, [n * h * w, c]), tf.reshape(a, [c, rank])), b)
    return tf.reshape(t, [n, h, w, out])
  }
  const c = convConfig(layer)
  const t = tf.conv2d(x as Tensor4D, a as Tensor4D, pair(c.strides), c.padding, 'NHWC', pair(c.dilationRate))
  const [n, h, w] = t.shape as [number, number, number, number]
  return tf.reshape(tf.matMul(tf.reshape(t, [n * h * w, rank]), b), [n, h, w, out])
}

/** x·W₀ + bias for a layer with a non-linear activation (which must come after the low-rank sum). */
function preActivation(tf: Tf, layer: Layer, x: Tensor): Tensor {
  const [kernel, bias] = layer.weights.map((w) => w.read())
  let z: Tensor
  if (layer.getClassName() === 'Dense') {
    const lead = x.shape.slice(0, -1)
    const x2 = tf.reshape(x, [-1, x.shape[x.shape.length - 1]!])
    z = tf.reshape(tf.matMul(x2, kernel!), [...lead, kernel!.shape[1]!])
  } else {
    const c = convConfig(layer)
    z = tf.conv2d(x as Tensor4D, kernel as Tensor4D, pair(c.strides), c.padding, 'NHWC', pair(c.dilationRate))
  }
  return bias ? tf.add(z, bias) : z
}

/** The merged update (α/r)·reshape(A, [−1, r])·B in the kernel's shape. */
export function loraDelta(tf: Tf, a: Tensor, b: Tensor, alpha: number, kernelShape: number[]): Tensor {
  return tf.tidy(() => {
    const rank = b.shape[0]!
    return tf.reshape(tf.mul(tf.matMul(tf.reshape(a, [-1, rank]), b), alpha / rank), kernelShape)
  })
}

/** A trainable LoRA adapter around one frozen Dense or Conv2D layer. */
export interface LoraAdapter extends Layer {
  readonly target: Layer
  readonly rank: number
  readonly alpha: number
  /** A: [k, k, cin, r] for convolutions, [din, r] for dense layers. */
  readonly a: LayerVariable
  /** B: [r, cout]. */
  readonly b: LayerVariable
}

const classes = new WeakMap<Tf, new (target: Layer, rank: number, alpha: number, seed: number) => LoraAdapter>()

function loraClass(tf: Tf): new (target: Layer, rank: number, alpha: number, seed: number) => LoraAdapter {
  const known = classes.get(tf)
  if (known) return known
  class TunewiseLoRA extends tf.layers.Layer implements LoraAdapter {
    static className = 'TunewiseLoRA'
    a!: LayerVariable
    b!: LayerVariable

    constructor(
      readonly target: Layer,
      readonly rank: number,
      readonly alpha: number,
      private readonly seed: number,
    ) {
      super({ name: `${target.name}${LORA_SUFFIX}`, trainable: true })
    }

    override build(): void {
      const kernel = this.target.weights[0]!.shape as number[]
      const out = kernel[kernel.length - 1]!
      // He-uniform over the fan-in (k·k·cin or din), as LoRA's Kaiming-uniform A; B at zero.
      this.a = this.addWeight(
        'lora_a',
        [...kernel.slice(0, -1), this.rank],
        'float32',
        tf.initializers.heUniform({ seed: this.seed }),
      )
      this.b = this.addWeight('lora_b', [this.rank, out], 'float32', tf.initializers.zeros())
      this.built = true
    }

    override computeOutputShape(inputShape: Parameters<Layer['computeOutputShape']>[0]) {
      return this.target.computeOutputShape(inputShape)
    }

    override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
      return tf.tidy(() => {
        const x = Array.isArray(inputs) ? inputs[0]! : inputs
        const linear = isLinear(this.target)
        // A linear layer's own call gives exactly W₀'s output, so a zero B leaves it bit for bit.
        const z = linear ? (this.target.call(x, kwargs) as Tensor) : preActivation(tf, this.target, x)
        const delta = lowRankPath(tf, this.target, x, this.a.read(), this.b.read())
        const y = tf.add(z, tf.mul(delta, this.alpha / this.rank))
        return linear ? y : activationOf(this.target)!.apply(y)
      })
    }

    override getConfig() {
      return { ...super.getConfig(), target: this.target.name, rank: this.rank, alpha: this.alpha }
    }
  }
  const cls = TunewiseLoRA as unknown as new (target: Layer, rank: number, alpha: number, seed: number) => LoraAdapter
  classes.set(tf, cls)
  return cls
}

/**
 * A LoRA adapter for `target` (a frozen Dense or Conv2D layer) with rank `rank` and strength `alpha`.
 * @param seed seeds A's He-uniform initialisation.
 * @throws AppError('invalid_input') for a layer LoRA cannot adapt.
 */
export function makeLora(target: Layer, rank: number, alpha: number, seed: number): LoraAdapter {
  const why = loraUnsupported(target)
  if (why) throw new AppError('invalid_input', `${why} Choose other layers for the adapters.`)
  const Cls = loraClass(getTf())
  return new Cls(target, rank, alpha, seed)
}
