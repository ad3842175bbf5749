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
 * Augmented training inputs. The training images are decoded once (on first use) and kept as pixels; each
 * epoch transforms them anew and runs the frozen part of the network over the result.
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

  private async decoded(): Promise<Uint8Array[]> {
    if (this.pixels) return this.pixels
    const pixels: Uint8Array[] = []
    for (const e of this.examples) {
      this.checkStop()
      pixels.push(await decodeForTraining(this.root, e.file, this.loaded.inputSize))
    }
    this.pixels = pixels
    return pixels
  }

  private async epochInputs(net: LayersModel | null, batchSize: number): Promise<Tensor[]> {
    const { inputSize, preprocess } = this.loaded
    const pixels = await this.decoded()
    const shapes = outputShapes(net, inputSize)
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1))
    const data = sizes.map((s) => new Float32Array(pixels.length * s))
    for (let s = 0; s < pixels.length; s += batchSize) {
      this.checkStop()
      const x = pixelsToTensor(pixels.slice(s, s + batchSize), inputSize, preprocess)
      const outs = forwardBatch(net, x, this.augment)
      x.dispose()
      outs.forEach((o, k) => data[k].set(o, s * sizes[k]))
    }
    return featureTensors({ count: pixels.length, shapes, data })
  }
}
