/** Per-epoch training inputs: the cached features as they are, or fresh augmented variants every epoch. */
import type { LayersModel, Tensor, Tensor4D } from '@tensorflow/tfjs'
import { decodeForTraining, pixelsToTensor } from '../data/pixels'
import type { LoadedModel } from '../models/load'
import { featureTensors, forwardBatch, outputShapes } from './features'
import type { TrainInputs } from './fit-loop'
import type { Example } from './splits'

/** The same tensors every epoch (features cached on disk and loaded once). */
export function cachedInputs(xs: Tensor[]): TrainInputs {
  return async () => ({ xs, owned: false })
}

/** Training inputs made anew each epoch (augmented images or sound clips), through a net's frozen part. */
export interface EpochInputs {
  /** Inputs for a model whose inputs are `net`'s outputs (`net` null: the pictures themselves). */
  through(net: LayersModel | null, batchSize: number): TrainInputs
}

/**
 * Decoded training images are kept between epochs up to this many bytes (about 1,700 images at 224×224);
 * a larger training split is decoded again each epoch, a batch at a time, so memory does not grow with it.
 */
export const PIXEL_CACHE_BYTES = 256 * 1024 * 1024

/**
 * Augmented training inputs. The training images are decoded once (on first use) and kept as pixels when they
 * fit in `PIXEL_CACHE_BYTES`, else decoded batch by batch every epoch; each epoch transforms them anew and runs
 * the frozen part of the network over the result.
 */
export class AugmentedInputs implements EpochInputs {
  private pixels: Uint8Array[] | null = null

  /**
   * @param examples the training split, in label order.
   * @param root folder the example files are relative to.
   * @param loaded the model (input size and preprocessing).
   * @param augment the per-batch random transform (see `makeAugmenter`).
   * @param checkStop throws when the run was cancelled; called between images and batches.
   */
  constructor(
    private readonly examples: Example[],
    private readonly root: string,
    private readonly loaded: LoadedModel,
    private readonly augment: (x: Tensor4D) => Tensor4D,
    private readonly checkStop: () => void,
  ) {}

  /** Inputs for a model whose inputs are `net`'s outputs (`net` null: the images themselves). */
  through(net: LayersModel | null, batchSize: number): TrainInputs {
    return async () => ({ xs: await this.epochInputs(net, batchSize), owned: true })
  }

  /** Whether the whole training split's pixels fit in `PIXEL_CACHE_BYTES`. */
  private keepsPixels(): boolean {
    const [h, w] = this.loaded.inputSize
    return this.examples.length * h * w * 3 <= PIXEL_CACHE_BYTES
  }

  private async decode(examples: Example[]): Promise<Uint8Array[]> {
    const pixels: Uint8Array[] = []
    for (const e of examples) {
      this.checkStop()
      pixels.push(await decodeForTraining(this.root, e.file, this.loaded.inputSize))
    }
    return pixels
  }

  /** The pixels of examples [from, from + count): kept from the first epoch, or decoded now. */
  private async batchPixels(from: number, count: number): Promise<Uint8Array[]> {
    if (!this.keepsPixels()) return this.decode(this.examples.slice(from, from + count))
    this.pixels ??= await this.decode(this.examples)
    return this.pixels.slice(from, from + count)
  }

  private async epochInputs(net: LayersModel | null, batchSize: number): Promise<Tensor[]> {
    const { inputSize, preprocess } = this.loaded
    const n = this.examples.length
    const shapes = outputShapes(net, inputSize)
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1))
    const data = sizes.map((s) => new Float32Array(n * s))
    for (let s = 0; s < n; s += batchSize) {
      this.checkStop()
      const x = pixelsToTensor(await this.batchPixels(s, batchSize), inputSize, preprocess)
      const outs = forwardBatch(net, x, this.augment)
      x.dispose()
      outs.forEach((o, k) => data[k].set(o, s * sizes[k]))
    }
    return featureTensors({ count: n, shapes, data })
  }
}
