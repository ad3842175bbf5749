/**
 * Merge on export: a base with adapters becomes a plain base that loads with `@tensorflow/tfjs` and no
 * custom layer. Each LoRA-adapted layer becomes a copy of itself with the update merged into its kernel
 * (W₀ + (α/r)·A·B, reshaped to the kernel); each LoReFT intervention becomes one 1×1 Conv2D (or Dense, on a
 * flat output) with bias after its layer ((I + Rᵀ(W − R))·h + Rᵀb). Everything else is the base itself.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import type { AdapterWeights } from '../adapters/adapters'
import { loraDelta } from '../adapters/lora'
import { foldReft } from '../adapters/loreft'
import { getTf } from '../backend'
import { rebuildBase } from '../models/graph'

type Layer = LayersModel['layers'][number]

/** Prefix of the convolution a LoReFT intervention folds into (`tunewise_loreft_block_14_add`). */
export const FOLDED_REFT_PREFIX = 'tunewise_loreft_'

/** A fresh, unbuilt layer with `layer`'s configuration and name (frozen). */
function cloneLayer(layer: Layer): Layer {
  const cls = layer.constructor as unknown as {
    fromConfig(cls: unknown, config: Record<string, unknown>): Layer
  }
  const config: Record<string, unknown> = { ...(layer.getConfig() as Record<string, unknown>), trainable: false }
  delete config.batchInputShape
  delete config.inputShape
  return cls.fromConfig(layer.constructor, config)
}

/**
 * `base` with `weights` merged in: a new model (image → features) whose adapted layers are merged copies and
 * whose nudged layers are followed by their folded convolution. `base`'s own weights are not changed.
 * @throws AppError('bad_data') when the adapter names a layer the base does not have or shapes disagree.
 */
export function mergeAdapters(base: LayersModel, weights: AdapterWeights): LayersModel {
  const tf = getTf()
  const byName = new Map(base.layers.map((l) => [l.name, l]))
  const mismatch = (what: string) =>
    new AppError('bad_data', `This adapter does not fit the model: ${what}. Apply it to the model it was trained on.`)
  const replace = new Map<string, Layer>()
  const after = new Map<string, Layer>()
  const pending: { layer: Layer; values: () => Tensor[] }[] = []

  for (const l of weights.lora) {
    const target = byName.get(l.layer)
    if (!target) throw mismatch(`no layer '${l.layer}'`)
    const kernelShape = [...target.weights[0]!.shape] as number[]
    if (kernelShape.join('x') !== l.kernelShape.join('x')) throw mismatch(`'${l.layer}' has another shape`)
    const copy = cloneLayer(target)
    replace.set(l.layer, copy)
    pending.push({
      layer: copy,
      values: () =>
        tf.tidy(() => {
          const [kernel, ...rest] = target.weights.map((w) => w.read())
          const a = tf.tensor(l.a, l.aShape)
          const b = tf.tensor2d(l.b, [l.rank, kernelShape[kernelShape.length - 1]!])
          return [tf.add(kernel!, loraDelta(tf, a, b, l.alpha, kernelShape)), ...rest.map((t) => tf.clone(t))]
        }),
    })
  }

  for (const r of weights.reft) {
    const site = byName.get(r.layer)
    if (!site) throw mismatch(`no layer '${r.layer}'`)
    const shape = (Array.isArray(site.outputShape[0]) ? site.outputShape[0] : site.outputShape) as (number | null)[]
    if (shape[shape.length - 1] !== r.dim) throw mismatch(`'${r.layer}' has another number of channels`)
    const name = `${FOLDED_REFT_PREFIX}${r.layer}`
    const folded =
      shape.length === 4
        ? tf.layers.conv2d({ filters: r.dim, kernelSize: 1, useBias: true, name, trainable: false })
        : tf.layers.dense({ units: r.dim, useBias: true, name, trainable: false })
    after.set(r.layer, folded)
    pending.push({
      layer: folded,
      values: () =>
        tf.tidy(() => {
          const { kernel, bias } = foldReft(
            tf,
            tf.tensor2d(r.r, [r.rank, r.dim]),
            tf.tensor2d(r.w, [r.rank, r.dim]),
            tf.tensor1d(r.b),
          )
          return [shape.length === 4 ? tf.reshape(kernel, [1, 1, r.dim, r.dim]) : kernel, bias]
        }),
    })
  }

  const merged = rebuildBase(base, { replace, after }, 'tunewise_base')
  for (const p of pending) {
    const computed = p.values()
    // Fresh buffers: a reshaped tensor shares its data with the original, and the WASM backend checks the
    // original's rank (a bias made by reshaping a matMul result is refused as rank 3 by FusedConv2D).
    const values = computed.map((t) => tf.tensor(t.dataSync(), t.shape, 'float32'))
    p.layer.setWeights(values)
    tf.dispose([...computed, ...values])
  }
  return merged
}
