/**
 * Augmentation for sound: random changes that keep what a clip is (a word stays the word) so the model learns the
 * sound rather than the recording. On the waveform: a gain change, a shift in time, added noise at a chosen
 * signal-to-noise ratio. On the spectrogram, SpecAugment-style masks: a few stretches of time and a few pitch
 * bands blanked, so no single moment or band can carry the decision.
 *
 * Every random choice comes from the `rng` passed in (the project's mulberry32, `audioRng(seed)`), so a run
 * repeats exactly for the same seed. Augmented clips differ every epoch: a feature cache must be off with these
 * on, as for images.
 */
import { mulberry32 } from '../data/split'
import type { Spectrogram } from './spectrogram'

/** A seeded source of uniform numbers in [0, 1). */
export type Rng = () => number

/** The same generator the split and training use. */
export function audioRng(seed: number): Rng {
  return mulberry32(seed)
}

/**
 * Moves the sound `shift` samples later (earlier when negative). With 'pad' the gap is silence and what falls off
 * the end is lost; with 'wrap' it comes round to the other end.
 */
export function timeShift(samples: Float32Array, shift: number, mode: 'pad' | 'wrap' = 'pad'): Float32Array {
  const n = samples.length
  const out = new Float32Array(n)
  if (n === 0) return out
  const s = Math.round(shift)
  if (mode === 'wrap') {
    const k = ((s % n) + n) % n
    out.set(samples.subarray(n - k), 0)
    out.set(samples.subarray(0, n - k), k)
  } else if (s >= 0) {
    if (s < n) out.set(samples.subarray(0, n - s), s)
  } else if (-s < n) {
    out.set(samples.subarray(-s), 0)
  }
  return out
}

/** Multiplies by `gainDb` decibels (+6 dB doubles the amplitude). Not clipped. */
export function applyGain(samples: Float32Array, gainDb: number): Float32Array {
  const g = 10 ** (gainDb / 20)
  const out = new Float32Array(samples.length)
  for (let i = 0; i < out.length; i++) out[i] = samples[i] * g
  return out
}

/** Standard normal numbers from `rng` (Box–Muller). */
function gaussian(n: number, rng: Rng): Float64Array {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng() // (0, 1]: log(0) is never taken
    const v = rng()
    const r = Math.sqrt(-2 * Math.log(u))
    out[i] = r * Math.cos(2 * Math.PI * v)
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v)
  }
  return out
}

function power(x: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i] * x[i]
  return x.length > 0 ? s / x.length : 0
}

/**
 * Adds white Gaussian noise so that the clip's power over the noise's is exactly `snrDb` decibels (the noise is
 * scaled by its own measured power, not its expected one). A silent clip has no ratio to keep: returned as is.
 */
export function addNoise(samples: Float32Array, snrDb: number, rng: Rng): Float32Array {
  const signal = power(samples)
  const out = samples.slice()
  if (signal === 0 || samples.length === 0) return out
  const noise = gaussian(samples.length, rng)
  const scale = Math.sqrt(signal / 10 ** (snrDb / 10) / power(noise))
  for (let i = 0; i < out.length; i++) out[i] += noise[i] * scale
  return out
}

export interface MaskOptions {
  /** How many masks. */
  count: number
  /** Widest mask, as a share of the axis (frames for time, bands for pitch), 0…1. Each is 0 to this wide. */
  maxWidth: number
  /** What masked cells become: the spectrogram's mean (SpecAugment's choice) or 0. Default 'mean'. */
  fill?: 'mean' | 'zero'
}

function mask(spec: Spectrogram, axis: 'time' | 'frequency', opts: MaskOptions, rng: Rng): Spectrogram {
  const { frames, bands } = spec
  const data = spec.data.slice()
  const size = axis === 'time' ? frames : bands
  let fill = 0
  if ((opts.fill ?? 'mean') === 'mean' && data.length > 0) {
    let sum = 0
    for (let i = 0; i < data.length; i++) sum += data[i]
    fill = sum / data.length
  }
  const widest = Math.max(0, Math.min(size, Math.floor(opts.maxWidth * size)))
  for (let m = 0; m < opts.count; m++) {
    const width = Math.floor(rng() * (widest + 1))
    const start = Math.floor(rng() * (size - width + 1))
    for (let i = start; i < start + width; i++) {
      if (axis === 'time') data.fill(fill, i * bands, (i + 1) * bands)
      else for (let f = 0; f < frames; f++) data[f * bands + i] = fill
    }
  }
  return { ...spec, data }
}

/** SpecAugment time masking: `count` stretches of frames, each up to `maxWidth` of the clip, set to the fill. */
export function maskTime(spec: Spectrogram, opts: MaskOptions, rng: Rng): Spectrogram {
  return mask(spec, 'time', opts, rng)
}

/** SpecAugment frequency masking: `count` runs of mel bands, each up to `maxWidth` of them, set to the fill. */
export function maskFrequency(spec: Spectrogram, opts: MaskOptions, rng: Rng): Spectrogram {
  return mask(spec, 'frequency', opts, rng)
}

/** Sound augmentation settings; each is off at 0 (or null). */
export interface AudioAugmentation {
  /** Largest shift in time, as a share of the clip, either way (0…0.5). Default 0.1. */
  timeShift: number
  /** Added noise's signal-to-noise ratio, dB, drawn between [lowest, highest] per clip; null for none. Default [10, 30]. */
  noiseSnrDb: [number, number] | null
  /** Share of clips that get noise (0…1). Default 0.5. */
  noiseProbability: number
  /** Largest gain change, dB, either way. Default 6. */
  gainDb: number
  /** Time masks per clip. Default 2. */
  timeMasks: number
  /** Widest time mask, as a share of the clip's frames. Default 0.1. */
  timeMaskWidth: number
  /** Pitch-band masks per clip. Default 2. */
  frequencyMasks: number
  /** Widest band mask, as a share of the mel bands. Default 0.15. */
  frequencyMaskWidth: number
}

export const DEFAULT_AUDIO_AUGMENTATION: Readonly<AudioAugmentation> = Object.freeze<AudioAugmentation>({
  timeShift: 0.1,
  noiseSnrDb: [10, 30],
  noiseProbability: 0.5,
  gainDb: 6,
  timeMasks: 2,
  timeMaskWidth: 0.1,
  frequencyMasks: 2,
  frequencyMaskWidth: 0.15,
})

export const NO_AUDIO_AUGMENTATION: Readonly<AudioAugmentation> = Object.freeze<AudioAugmentation>({
  timeShift: 0,
  noiseSnrDb: null,
  noiseProbability: 0,
  gainDb: 0,
  timeMasks: 0,
  timeMaskWidth: 0,
  frequencyMasks: 0,
  frequencyMaskWidth: 0,
})

/** Whether any augmentation is on (then the feature cache must be off). */
export function isAudioAugmentationOn(a: AudioAugmentation): boolean {
  return (
    a.timeShift > 0 ||
    (a.noiseSnrDb !== null && a.noiseProbability > 0) ||
    a.gainDb > 0 ||
    (a.timeMasks > 0 && a.timeMaskWidth > 0) ||
    (a.frequencyMasks > 0 && a.frequencyMaskWidth > 0)
  )
}

/** The waveform half: a random gain, then a random shift, then (for some clips) noise at a random SNR. */
export function augmentWaveform(samples: Float32Array, a: AudioAugmentation, rng: Rng): Float32Array {
  let out = samples
  if (a.gainDb > 0) out = applyGain(out, (2 * rng() - 1) * a.gainDb)
  if (a.timeShift > 0) {
    const most = Math.floor(Math.min(0.5, a.timeShift) * samples.length)
    out = timeShift(out, Math.round((2 * rng() - 1) * most))
  }
  if (a.noiseSnrDb !== null && a.noiseProbability > 0 && rng() < a.noiseProbability) {
    const [lo, hi] = a.noiseSnrDb
    out = addNoise(out, lo + rng() * (hi - lo), rng)
  }
  return out === samples ? samples.slice() : out
}

/** The spectrogram half: time masks, then frequency masks. */
export function augmentSpectrogram(spec: Spectrogram, a: AudioAugmentation, rng: Rng): Spectrogram {
  let out = spec
  if (a.timeMasks > 0 && a.timeMaskWidth > 0)
    out = maskTime(out, { count: a.timeMasks, maxWidth: a.timeMaskWidth }, rng)
  if (a.frequencyMasks > 0 && a.frequencyMaskWidth > 0) {
    out = maskFrequency(out, { count: a.frequencyMasks, maxWidth: a.frequencyMaskWidth }, rng)
  }
  return out
}
