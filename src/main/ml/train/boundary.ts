/**
 * Phase 2's graph surgery: cut the base where training starts, so everything below the cut runs once (and is
 * cached) and only the layers above it are on the gradient tape.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { getTf } from '../backend'

type Layer = LayersModel['layers'][number]

/** The base cut at the freeze boundary. */
export interface BoundarySplit {
  /** Image → the tensors crossing the boundary; null when the boundary is the image itself. */
  lower: LayersModel | null
  /** New inputs standing for the crossing tensors, in `boundaryNames` order. */
  inputs: SymbolicTensor[]
  /** The base's feature output, rebuilt on `inputs`. */
  features: SymbolicTensor
  /** Names of the layers whose outputs cross (part of the boundary cache key). */
  boundaryNames: string[]
}

/** Tensors made below layer index `from` and read at or above it. */
function crossingTensors(layers: Layer[], from: number): SymbolicTensor[] {
  const index = new Map(layers.map((l, i) => [l, i]))
  const seen = new Map<number, SymbolicTensor>()
  for (const l of layers.slice(from)) {
    const node = l.inboundNodes[0]
    node.inputTensors.forEach((t, k) => {
      if ((index.get(node.inboundLayers[k]) ?? -1) < from) seen.set(t.id, t)
    })
  }
  return [...seen.values()]
}

/** Applies `layers` again, in order, starting from `known` (original tensor id → its new stand-in). */
function reapply(layers: Layer[], known: Map<number, SymbolicTensor>): void {
  for (const l of layers) {
    if (l.getClassName() === 'InputLayer') continue
    const node = l.inboundNodes[0]
    const ins = node.inputTensors.map((t) => {
      const m = known.get(t.id)
      if (!m) throw new Error(`phase 2 graph: no input for layer ${l.name}`)
      return m
    })
    const out = l.apply(ins.length === 1 ? ins[0] : ins) as SymbolicTensor | SymbolicTensor[]
    const outs = Array.isArray(out) ? out : [out]
    node.outputTensors.forEach((t, k) => known.set(t.id, outs[k]))
  }
}

/**
 * The layers above the first trainable base layer, rebuilt on new inputs that stand for the tensors crossing
 * the freeze boundary. `lower` computes those tensors from the image (null when the boundary is the image).
 * @throws AppError('invalid_input') when no base layer is trainable.
 */
export function splitAtBoundary(base: LayersModel, trainable: Set<string>): BoundarySplit {
  const tf = getTf()
  const layers = base.layers
  let first = layers.findIndex((l) => trainable.has(l.name))
  if (first < 0) throw new AppError('invalid_input', 'Phase 2 needs at least one unfrozen base layer.')
  let boundary = crossingTensors(layers, first)
  const inputIds = new Set(base.inputs.map((t) => t.id))
  if (boundary.some((t) => inputIds.has(t.id))) {
    // The image itself crosses: nothing worth caching below; run everything above the input.
    first = layers.findIndex((l) => l.getClassName() !== 'InputLayer')
    boundary = [...base.inputs]
  }
  const lower = boundary.every((t) => inputIds.has(t.id))
    ? null
    : tf.model({ inputs: base.inputs, outputs: boundary, name: 'tunewise_frozen_part' })
  const known = new Map<number, SymbolicTensor>()
  const inputs = boundary.map((t, i) => {
    const x = tf.input({ shape: t.shape.slice(1) as number[], name: `tunewise_boundary_${i}` })
    known.set(t.id, x)
    return x
  })
  reapply(layers.slice(first), known)
  const features = known.get(base.outputs[0].id)
  if (!features) throw new Error('phase 2 graph: the feature output was not reached')
  return { lower, inputs, features, boundaryNames: boundary.map((t) => t.sourceLayer.name) }
}
