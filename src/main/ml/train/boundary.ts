/**
 * Phase 2's graph surgery: cut the base where training starts, so everything below the cut runs once (and is
 * cached) and only the layers above it are on the gradient tape. Adapters enter the graph here too: a LoRA
 * adapter replaces the layer it adapts, a LoReFT intervention follows the layer whose output it nudges
 * (`GraphEdits`, src/main/ml/models/graph.ts; the export rebuilds the whole base the same way).
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { getTf } from '../backend'
import { reapply, type GraphEdits } from '../models/graph'

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

/** Index of the first layer training touches: trainable, replaced, or reading an edited output. */
function firstTrained(layers: Layer[], trainable: Set<string>, edits: GraphEdits): number {
  let first = layers.findIndex((l) => trainable.has(l.name) || (edits.replace?.has(l.name) ?? false))
  if (first < 0) first = Infinity
  layers.forEach((l, i) => {
    if (edits.after?.has(l.name)) first = Math.min(first, i + 1)
  })
  return Number.isFinite(first) ? first : -1
}

/**
 * The layers above the first trained base layer (trainable, adapted, or reading a nudged output), rebuilt on
 * new inputs that stand for the tensors crossing the freeze boundary, with `edits` swapped in. `lower`
 * computes those tensors from the image (null when the boundary is the image).
 * @throws AppError('invalid_input') when nothing in the base trains.
 */
export function splitAtBoundary(base: LayersModel, trainable: Set<string>, edits: GraphEdits = {}): BoundarySplit {
  const tf = getTf()
  const layers = base.layers
  let first = firstTrained(layers, trainable, edits)
  if (first < 0) throw new AppError('invalid_input', 'Phase 2 needs at least one unfrozen or adapted base layer.')
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
    // A nudged output that is itself cached: the intervention is the first thing above the cut.
    const post = edits.after?.get(t.sourceLayer.name)
    known.set(t.id, post ? (post.apply(x) as SymbolicTensor) : x)
    return x
  })
  reapply(layers.slice(first), known, edits)
  const features = known.get(base.outputs[0].id)
  if (!features) throw new Error('phase 2 graph: the feature output was not reached')
  return { lower, inputs, features, boundaryNames: boundary.map((t) => t.sourceLayer.name) }
}
