/**
 * The feature cache's key, in one place. A cached vector is reused only when everything that produced it is
 * the same: the network up to the cut (its weights and output layers), how the image became the input (size,
 * resize policy, preprocessing) and the image's bytes. Change any of them and the key changes.
 */
import { createHash } from 'node:crypto'
import type { LayersModel } from '@tensorflow/tfjs'
import type { Preprocess } from '../models/catalogue'
import { RESIZE_FIT, type ResizeFit } from './resize'

/** How an image file becomes the model's input. */
export interface InputRecipe {
  /** [height, width] in pixels. */
  inputSize: [number, number]
  preprocess: Preprocess
  /** How the image is fitted to `inputSize`. Default `RESIZE_FIT`, the policy the decoder uses. */
  resize?: ResizeFit
}

/**
 * Hash of a network's output layers and weights, prefixed with `label`: a cache key changes when the network
 * does (another model, a retrained or re-cut base).
 */
export function networkKey(model: LayersModel, label: string): string {
  const h = createHash('sha256').update(label)
  // Layer names, not tensor names: TF.js makes tensor names unique per process, so they change between loads.
  for (const o of model.outputs) h.update(`${o.sourceLayer.name}:${o.shape.join(',')}\n`)
  for (const w of model.weights) {
    const v = w.read().dataSync() as Float32Array
    h.update(w.originalName).update(Buffer.from(v.buffer, v.byteOffset, v.byteLength))
  }
  return h.digest('hex')
}

/** Key for the feature vectors of a whole base (phase 1). */
export function baseFeaturesKey(base: LayersModel, modelId: string): string {
  return networkKey(base, `${modelId}|features`)
}

/** Key for the activations where phase 2's frozen part ends (`boundary`: the layers whose outputs cross). */
export function boundaryKey(lower: LayersModel, modelId: string, boundary: string[]): string {
  return networkKey(lower, `${modelId}|boundary|${boundary.join(',')}`)
}

/**
 * Key of one image's cached activations: sha256 of the network key, the input recipe and the image's
 * content hash (not its path, so a renamed or moved file still hits). Entries of the chunked cache
 * (feature-cache.ts) are found by it.
 */
export function featureCacheKey(modelKey: string, recipe: InputRecipe, contentHash: string): string {
  const resize = recipe.resize ?? RESIZE_FIT
  return createHash('sha256')
    .update(`${modelKey}\n${recipe.preprocess}\n${recipe.inputSize.join('x')}\n${resize}\n${contentHash}`)
    .digest('hex')
}
