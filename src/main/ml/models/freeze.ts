/**
 * Which base layers train, and BatchNorm's mode. TF.js BatchNormalization ignores `trainable: false` during
 * `fit` (it normalises with batch statistics and keeps updating its moving mean/variance), so a frozen BN layer
 * must be forced into inference mode. An unfrozen BN layer runs in inference mode too by default (Keras'
 * fine-tuning advice): its scale and shift (γ, β) train, its moving statistics do not move. Only when a run asks
 * for batch statistics does an unfrozen BN layer normalise with each batch and update them.
 */
import type { LayersModel } from '@tensorflow/tfjs'

type Layer = LayersModel['layers'][number]
type CallFn = Layer['call']

const patched = new WeakSet<Layer>()
/** Unfrozen BatchNorm layers allowed to use batch statistics (set by `applyFreeze`). */
const batchStatistics = new WeakSet<Layer>()

/** How `applyFreeze` treats the BatchNorm layers it unfreezes. */
export interface FreezeOptions {
  /**
   * Let unfrozen BatchNorm layers normalise with each batch's statistics and update their moving mean and
   * variance. Default false: inference mode, only γ and β train.
   */
  batchNormStatistics?: boolean
}

/**
 * Makes a BatchNormalization layer run in inference mode (moving statistics, no updates) unless it is trainable
 * and allowed batch statistics. The check happens at call time, so later changes take effect without
 * re-patching.
 */
export function patchBatchNorm(layer: Layer): void {
  if (patched.has(layer) || layer.getClassName() !== 'BatchNormalization') return
  const original: CallFn = layer.call.bind(layer)
  layer.call = ((inputs, kwargs) =>
    original(inputs, layer.trainable && batchStatistics.has(layer) ? kwargs : { ...kwargs, training: false })) as CallFn
  patched.add(layer)
}

/**
 * Sets every layer's `trainable` flag explicitly (true only for names in `trainable`) and patches BatchNorm
 * layers (see `FreezeOptions`). Compile after calling this: a model collects its trainable weights at compile
 * time.
 */
export function applyFreeze(model: LayersModel, trainable: Set<string>, opts: FreezeOptions = {}): void {
  for (const layer of model.layers) {
    layer.trainable = trainable.has(layer.name)
    patchNested(layer, layer.trainable && opts.batchNormStatistics === true)
  }
}

/** Nested models (Teachable Machine exports) hide their BatchNorm layers one level down. */
function patchNested(layer: Layer, useBatchStatistics: boolean): void {
  patchBatchNorm(layer)
  if (useBatchStatistics) batchStatistics.add(layer)
  else batchStatistics.delete(layer)
  const inner = (layer as unknown as { layers?: Layer[] }).layers
  if (Array.isArray(inner)) for (const l of inner) patchNested(l, useBatchStatistics)
}
