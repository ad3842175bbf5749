/**
 * Sound in training: the run config's sound settings as the extraction's clip spec, and the per-epoch inputs
 * when sound augmentation is on (each training clip changed anew every epoch, on the waveform and on the
 * spectrogram, then run through the frozen part of the network).
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import type { RunConfig } from '../../../shared/types'
import { type AudioAugmentation, augmentSpectrogram, augmentWaveform } from '../audio/augment'
import { audioAugmentationOf, clipSettingsOf, spectrogramSettingsOf } from '../audio/settings'
import { type AudioInputSpec, clipSamples } from '../audio/source'
import {
  logMelSpectrogram,
  normalizeSpectrogram,
  resolveSpectrogramSettings,
  spectrogramToImage,
} from '../audio/spectrogram'
import type { LoadedModel } from '../models/load'
import { featureTensors, forwardBatch, outputShapes } from './features'
import type { TrainInputs } from './fit-loop'
import { picturesToTensor } from './input-batch'
import type { EpochInputs } from './inputs'
import type { Rng } from './random'
import type { Example } from './splits'

/** How a run's examples become pictures: the clip and spectrogram settings for sound, undefined for images. */
export function audioInputSpec(
  config: Pick<RunConfig, 'sound'> & { dataKind?: RunConfig['dataKind'] },
): AudioInputSpec | undefined {
  if (config.dataKind !== 'audio') return undefined
  return { clip: clipSettingsOf(config), spectrogram: spectrogramSettingsOf(config) }
}

/** The sound augmentation a run trains with (all off unless `sound.augment.enabled`). */
export function runAudioAugmentation(config: Pick<RunConfig, 'sound'>): AudioAugmentation {
  return audioAugmentationOf(config)
}

/**
 * Augmented sound clips. The training clips' samples are read once (on first use) and kept; each epoch every
 * clip gets a random gain, shift and noise, its spectrogram random time and band masks, and the picture goes
 * through `net`. Random choices come from the run's generator, so a seed repeats a run.
 */
export class AudioAugmentedInputs implements EpochInputs {
  private samples: Float32Array[] | null = null

  /**
   * @param examples the training split, in label order (ids of clips).
   * @param root folder the clips' files are relative to.
   * @param loaded the model (input size and preprocessing).
   * @param checkStop throws when the run was cancelled; called between clips and batches.
   */
  constructor(
    private readonly examples: Example[],
    private readonly root: string,
    private readonly loaded: LoadedModel,
    private readonly spec: AudioInputSpec,
    private readonly augmentation: AudioAugmentation,
    private readonly rng: Rng,
    private readonly checkStop: () => void,
  ) {}

  through(net: LayersModel | null, batchSize: number): TrainInputs {
    return async () => ({ xs: await this.epochInputs(net, batchSize), owned: true })
  }

  private async clips(): Promise<Float32Array[]> {
    if (this.samples) return this.samples
    const out: Float32Array[] = []
    for (const e of this.examples) {
      this.checkStop()
      out.push(await clipSamples(this.root, e.file, this.spec.clip))
    }
    this.samples = out
    return out
  }

  /** One clip, changed at random, as a picture 0…1. */
  private picture(samples: Float32Array): Float32Array {
    const s = resolveSpectrogramSettings(this.spec.spectrogram)
    const wave = augmentWaveform(samples, this.augmentation, this.rng)
    const spec = augmentSpectrogram(
      normalizeSpectrogram(logMelSpectrogram(wave, s), s.topDb),
      this.augmentation,
      this.rng,
    )
    return spectrogramToImage(spec, this.loaded.inputSize, { dtype: 'float32' })
  }

  private async epochInputs(net: LayersModel | null, batchSize: number): Promise<Tensor[]> {
    const { inputSize, preprocess } = this.loaded
    const clips = await this.clips()
    const shapes = outputShapes(net, inputSize)
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1))
    const data = sizes.map((s) => new Float32Array(clips.length * s))
    for (let s = 0; s < clips.length; s += batchSize) {
      this.checkStop()
      const x = picturesToTensor(
        clips.slice(s, s + batchSize).map((c) => this.picture(c)),
        inputSize,
        preprocess,
      )
      const outs = forwardBatch(net, x)
      x.dispose()
      outs.forEach((o, k) => data[k].set(o, s * sizes[k]))
    }
    return featureTensors({ count: clips.length, shapes, data })
  }
}
