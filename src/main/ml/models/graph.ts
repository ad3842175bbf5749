/**
 * Rebuilding a model's graph with some layers swapped: the one mechanism behind phase 2's cut at the freeze
 * boundary (train/boundary.ts), adapters in the training graph (a LoRA adapter in place of its layer, a LoReFT
 * intervention after its layer) and the merged export (merged copies and folded convolutions).
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs'
import { getTf } from '../backend'

type Layer = LayersModel['layers'][number]

/**
 * Layers to use when the graph is rebuilt: `replace` stands in for the named base layer (a LoRA adapter, or a
 * merged copy), `after` is applied to the named layer's output before anything reads it (a LoReFT
 * intervention, or its folded convolution).
 */
export interface GraphEdits {
  replace?: ReadonlyMap<string, Layer>
  after?: ReadonlyMap<string, Layer>
}

/**
 * Applies `layers` again, in order, starting from `known` (original tensor id → its new stand-in), with
 * `edits` swapped in.
 */
export function reapply(layers: Layer[], known: Map<number, SymbolicTensor>, edits: GraphEdits): void {
  for (const l of layers) {
    if (l.getClassName() === 'InputLayer') continue
    const node = l.inboundNodes[0]
    const ins = node.inputTensors.map((t) => {
      const m = known.get(t.id)
      if (!m) throw new Error(`rebuilt graph: no input for layer ${l.name}`)
      return m
    })
    const use = edits.replace?.get(l.name) ?? l
    const out = use.apply(ins.length === 1 ? ins[0] : ins) as SymbolicTensor | SymbolicTensor[]
    const outs = Array.isArray(out) ? out : [out]
    const post = edits.after?.get(l.name)
    node.outputTensors.forEach((t, k) => known.set(t.id, post ? (post.apply(outs[k]) as SymbolicTensor) : outs[k]))
  }
}

/**
 * The whole base (image → features) rebuilt with `edits` swapped in, on the base's own input. Layers not
 * edited are shared with `base`, weights included.
 */
export function rebuildBase(base: LayersModel, edits: GraphEdits, name = 'tunewise_base'): LayersModel {
  const tf = getTf()
  const known = new Map<number, SymbolicTensor>(base.inputs.map((t) => [t.id, t]))
  reapply(base.layers, known, edits)
  const outputs = base.outputs.map((t) => {
    const o = known.get(t.id)
    if (!o) throw new Error('rebuilt graph: the feature output was not reached')
    return o
  })
  return tf.model({ inputs: base.inputs, outputs, name })
}
