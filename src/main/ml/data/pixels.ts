/**
 * From an image file to the float batch a model takes: decode (resized with `RESIZE_FIT`), then scale the
 * RGB uint8 values as the model's preprocessing says. Training, evaluation and export all go through here, so
 * an exported model sees exactly the numbers the run trained on.
 */
import { join } from 'node:path'
import type { Tensor4D } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { getTf } from '../backend'
import type { Preprocess } from '../models/catalogue'
import { ImageDecodeError, decodeImage } from './decode'

/** The (scale, offset) that maps a 0-255 value to the model's input range. */
function scaleOf(preprocess: Preprocess): [scale: number, offset: number] {
  return preprocess === 'rgb/255' ? [1 / 255, 0] : [1 / 127.5, -1]
}

/**
 * Scales RGB uint8 pixels into a float batch as the model expects.
 * @param pixels one row-major HWC array per image, each `inputSize[0] * inputSize[1] * 3` long.
 * @param inputSize [height, width] in pixels.
 * @returns a [pixels.length, height, width, 3] tensor; the caller disposes it.
 */
export function pixelsToTensor(pixels: Uint8Array[], inputSize: [number, number], preprocess: Preprocess): Tensor4D {
  const tf = getTf()
  const [h, w] = inputSize
  const per = h * w * 3
  const buf = new Float32Array(pixels.length * per)
  const [scale, offset] = scaleOf(preprocess)
  pixels.forEach((p, i) => {
    if (p.length !== per) throw new Error(`decoded image has ${p.length} values, expected ${per}`)
    const o = i * per
    for (let j = 0; j < per; j++) buf[o + j] = p[j] * scale + offset
  })
  return tf.tensor4d(buf, [pixels.length, h, w, 3])
}

/**
 * Decodes `<root>/<file>` to RGB uint8 at `inputSize` ([height, width]).
 * @throws AppError('bad_data') naming the file and saying what to do, for any decode failure.
 */
export async function decodeForTraining(root: string, file: string, inputSize: [number, number]): Promise<Uint8Array> {
  try {
    return await decodeImage(join(root, file), inputSize[0], inputSize[1])
  } catch (err) {
    const reason = err instanceof ImageDecodeError ? err.reason : err instanceof Error ? err.message : String(err)
    throw new AppError('bad_data', `Could not read '${file}': ${reason} Remove it from the dataset and scan again.`)
  }
}
