/**
 * The Teachable Machine–compatible export: a folder that Teachable Machine's own image library
 * (npm `@teachablemachine/image` 0.8.5) loads with `tmImage.load('model.json', 'metadata.json')` and predicts
 * with, giving the classes Tunewise gives.
 *
 * What that library does, read from its source (src/custom-mobilenet.ts, src/utils/canvas.ts, src/utils/tf.ts):
 * - `load` reads metadata.json and fills missing fields (`fillMetadata`): packageVersion, packageName,
 *   timeStamp, userMetadata, modelName, labels, imageSize (default 224). `isMetadata` needs `labels` to be an
 *   array. `predict` reads `imageSize` and `grayscale`; the class names are `labels[i]`.
 * - `predict(image)` calls `cropTo(image, imageSize)`: scale so the shorter side is `imageSize` (sizes rounded
 *   up), draw centred on an `imageSize`² canvas (a centre-square crop), then `capture`: `fromPixels`, the centre
 *   square again (a no-op), a batch of one, and `value / 127 - 1` (127, not 127.5).
 * - The model's output is taken as the probabilities as they are (no softmax is added).
 *
 * So the exported graph takes `[1, imageSize, imageSize, 3]` in TM's range and starts with a 1×1 depthwise
 * convolution that maps it to the base model's own range (an exact affine map per channel; DepthwiseConv2D
 * exists in every TF.js version TM has used). Tunewise's model follows unchanged.
 */
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs'
import sharp from 'sharp'
import { join } from 'node:path'
import { getTf, inferenceBatch } from '../backend'
import { decodeForTraining } from '../data/pixels'
import type { Preprocess } from '../models/catalogue'
import type { ExportMetadata } from './export'

/** The library version whose format this export follows. */
export const TM_LIBRARY = { name: '@teachablemachine/image', version: '0.8.5' } as const

/** Teachable Machine's input scaling (src/utils/tf.ts `capture`): value / 127 - 1. */
export const TM_SCALE = { divide: 127, subtract: 1 } as const

/** metadata.json of a Teachable Machine–compatible export: the library's `Metadata` fields plus ours in userMetadata. */
export interface TeachableMetadata {
  tfjsVersion: string
  packageName: string
  packageVersion: string
  modelName: string
  timeStamp: string
  labels: string[]
  imageSize: number
  grayscale: boolean
  userMetadata: {
    exportedBy: string
    runId: number
    sourceModel: ExportMetadata['sourceModel']
    /** How to feed this graph, for programs other than TM's library. */
    preprocessing: { crop: string; size: [number, number]; scale: string; channels: 'RGB' }
    /** How Tunewise fed the model while training. */
    trainedWith: string
  }
}

/** The (scale, offset) of a base model's own input range, from 0-255 values. */
function baseScale(preprocess: Preprocess): [number, number] {
  return preprocess === 'rgb/255' ? [1 / 255, 0] : [1 / 127.5, -1]
}

/**
 * The affine map from TM's input (v / 127 - 1) to the base's: x_base = a·x_tm + b per channel, since
 * v = 127·(x_tm + 1).
 */
export function tmToBase(preprocess: Preprocess): { a: number; b: number } {
  const [s, o] = baseScale(preprocess)
  return { a: TM_SCALE.divide * s, b: TM_SCALE.divide * s + o }
}

/** Wraps Tunewise's model (image → probabilities) so it takes TM's input. The caller disposes both. */
export function teachableModel(model: LayersModel, meta: ExportMetadata): LayersModel {
  const tf = getTf()
  const [h, w] = meta.inputSize
  if (h !== w) {
    throw new Error(`Teachable Machine feeds square images; this model takes ${h}×${w}.`)
  }
  const { a, b } = tmToBase(meta.preprocessing)
  const input = tf.input({ shape: [h, w, 3], name: 'tm_image' })
  const rescale = tf.layers.depthwiseConv2d({ kernelSize: 1, depthMultiplier: 1, useBias: true, name: 'tm_rescale' })
  const x = rescale.apply(input) as SymbolicTensor
  rescale.setWeights([tf.fill([1, 1, 3, 1], a), tf.fill([3], b)])
  const out = model.apply(x) as SymbolicTensor
  return tf.model({ inputs: input, outputs: out, name: 'tunewise_teachable_machine' })
}

export function teachableMetadata(meta: ExportMetadata, exportedBy: string): TeachableMetadata {
  const [h, w] = meta.inputSize
  return {
    tfjsVersion: meta.tfjsVersion,
    packageName: TM_LIBRARY.name,
    packageVersion: TM_LIBRARY.version,
    modelName: meta.modelName,
    timeStamp: new Date().toISOString(),
    labels: [...meta.labels],
    imageSize: h,
    grayscale: false,
    userMetadata: {
      exportedBy,
      runId: meta.runId,
      sourceModel: meta.sourceModel,
      preprocessing: {
        crop: "scale the shorter side to imageSize, then cut the centre square (what @teachablemachine/image's cropTo does)",
        size: [h, w],
        scale: `RGB value / ${TM_SCALE.divide} - ${TM_SCALE.subtract} (range -1 to 1.008)`,
        channels: 'RGB',
      },
      trainedWith: `whole images squashed to ${w}×${h} (no crop), ${meta.preprocessingDescription}`,
    },
  }
}

/**
 * An image prepared the way TM's library prepares it, in Node: EXIF-rotated, scaled so the shorter side is
 * `size` and cut to the centre square (sharp's `cover`, the geometry of `cropTo`), RGB, value / 127 - 1.
 * The browser's canvas resamples slightly differently from sharp; the geometry and scaling are the same.
 */
export async function teachablePixels(file: string, size: number): Promise<Float32Array> {
  const raw = await sharp(file)
    .rotate()
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .removeAlpha()
    .raw()
    .toBuffer()
  return Float32Array.from(raw, (v) => v / TM_SCALE.divide - TM_SCALE.subtract)
}

/**
 * Predicts with a TM-flavoured model: `fed` = 'tunewise' uses Tunewise's own decoding (whole image squashed)
 * scaled TM's way, which isolates the graph; 'teachable' crops as TM's library does.
 * @returns row-major probabilities [files.length, classes].
 */
export async function predictTeachable(
  model: LayersModel,
  root: string,
  files: string[],
  size: number,
  fed: 'tunewise' | 'teachable',
  batchSize = inferenceBatch(),
): Promise<Float32Array> {
  const tf = getTf()
  const classes = (model.outputs[0].shape[1] as number) ?? 0
  const out = new Float32Array(files.length * classes)
  const per = size * size * 3
  for (let s = 0; s < files.length; s += batchSize) {
    const chunk = files.slice(s, s + batchSize)
    const buf = new Float32Array(chunk.length * per)
    for (let i = 0; i < chunk.length; i++) {
      const px =
        fed === 'teachable'
          ? await teachablePixels(join(root, chunk[i]), size)
          : Float32Array.from(await decodeForTraining(root, chunk[i], [size, size]), (v) => v / TM_SCALE.divide - 1)
      buf.set(px, i * per)
    }
    const x = tf.tensor4d(buf, [chunk.length, size, size, 3])
    const y = model.predict(x) as Tensor
    out.set(y.dataSync() as Float32Array, s * classes)
    tf.dispose([x, y])
  }
  return out
}
