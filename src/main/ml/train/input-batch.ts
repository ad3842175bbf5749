/**
 * What one example is to the network, for either kind of data: an image file decoded and resized, or a sound
 * clip (a window id) drawn as its log-mel spectrogram at the input size. Feature extraction asks here for a
 * batch (the cache key of a clip is `clipContentKey`, see features.ts), so the workers treat both kinds alike.
 */
import type { Tensor4D } from '@tensorflow/tfjs'
import { clipImage, picturesToInput } from '../audio/source'
import { getTf } from '../backend'
import { decodeForTraining, pixelsToTensor } from '../data/pixels'
import type { Preprocess } from '../models/catalogue'
import type { FeatureOptions } from './features'

type InputOptions = Pick<FeatureOptions, 'root' | 'inputSize' | 'preprocess' | 'audio'>

/** Float pictures 0…1 (RGB/255) → the model's input range. */
export function picturesToTensor(
  pictures: Float32Array[],
  inputSize: [number, number],
  preprocess: Preprocess,
): Tensor4D {
  const [h, w] = inputSize
  return getTf().tensor4d(picturesToInput(pictures, preprocess), [pictures.length, h, w, 3])
}

/**
 * The model's input for `files`, as a [n, height, width, 3] batch (caller disposes).
 * @throws AppError('bad_data') naming a file that cannot be read.
 */
export async function inputBatch(opts: InputOptions, files: string[]): Promise<Tensor4D> {
  if (opts.audio) {
    const spec = opts.audio
    const pictures: Float32Array[] = []
    // One at a time: the clips of a recording are usually neighbours, and the first decodes it for the rest.
    for (const f of files) pictures.push(await clipImage(opts.root, f, spec, opts.inputSize))
    return picturesToTensor(pictures, opts.inputSize, opts.preprocess)
  }
  const pixels = await Promise.all(files.map((f) => decodeForTraining(opts.root, f, opts.inputSize)))
  return pixelsToTensor(pixels, opts.inputSize, opts.preprocess)
}
