/**
 * Which base layers train, and the BatchNorm fix: TF.js BatchNormalization ignores `trainable: false` during
 * `fit` (it normalises with batch statistics and keeps updating its moving mean/variance), so a frozen BN
 * layer must be forced into inference mode.
 */
import type { LayersModel } from '@tensorflow/tfjs'

type Layer = LayersModel['layers'][number]
type CallFn = Layer['call']

const patched = new WeakSet<Layer>()

/**
 * Makes a BatchNormalization layer run in inference mode (moving statistics, no updates) whenever it is not
 * trainable. The check happens at call time, so later `trainable` changes take effect without re-patching.
 */
export function patchBatchNorm(layer: Layer): void {
  if (patched.has(layer) || layer.getClassName() !== 'BatchNormalization') return
  const original: CallFn = layer.call.bind(layer)
  layer.call = ((inputs, kwargs) =>
    original(inputs, layer.trainable ? kwargs : { ...kwargs, training: false })) as CallFn
  patched.add(layer)
}

/**
 * Sets every layer's `trainable` flag explicitly (true only for names in `trainable`) and patches BatchNorm
 * layers. Compile after calling this: a model collects its trainable weights at compile time.
 */
export function applyFreeze(model: LayersModel, trainable: Set<string>): void {
  for (const layer of model.layers) {
    layer.trainable = trainable.has(layer.name)
    patchNested(layer)
  }
}

/** Nested models (Teachable Machine exports) hide their BatchNorm layers one level down. */
function patchNested(layer: Layer): void {
  patchBatchNorm(layer)
  const inner = (layer as unknown as { layers?: Layer[] }).layers
  if (Array.isArray(inner)) for (const l of inner) patchNested(l)
}
