/**
 * Sound augmentation: noise at the asked signal-to-noise ratio (measured), gain, time shift, SpecAugment masks,
 * all seeded by the project's PRNG so a run repeats.
 */
import { describe, expect, it } from 'vitest'
import {
  addNoise,
  applyGain,
  audioRng,
  augmentSpectrogram,
  augmentWaveform,
  DEFAULT_AUDIO_AUGMENTATION,
  isAudioAugmentationOn,
  logMelSpectrogram,
  maskFrequency,
  maskTime,
  NO_AUDIO_AUGMENTATION,
  normalizeSpectrogram,
  type Spectrogram,
  timeShift,
} from '../../src/main/ml/audio'
import { mulberry32 } from '../../src/main/ml/data/split'
import { makeRng } from '../../src/main/ml/train/random'
import { chirp, noise, rms, tone } from '../fixtures/audio/synth'

const power = (x: ArrayLike<number>): number => rms(x) ** 2

describe('audioRng', () => {
  it('is the project PRNG: the same stream as the split and training for a seed', () => {
    const a = audioRng(99)
    const b = mulberry32(99)
    const c = makeRng(99)
    for (let i = 0; i < 20; i++) {
      const v = a()
      expect(v).toBe(b())
      expect(v).toBe(c())
    }
  })
})

describe('addNoise', () => {
  it.each([-5, 0, 10, 20, 40])('adds noise at %i dB SNR, as measured', (snr) => {
    for (const signal of [tone(440, 16000, 1, 0.3), chirp(200, 5000, 16000, 0.5, 0.8)]) {
      const noisy = addNoise(signal, snr, audioRng(snr + 100))
      const noise = noisy.map((v, i) => v - signal[i])
      const measured = 10 * Math.log10(power(signal) / power(noise))
      expect(Math.abs(measured - snr)).toBeLessThan(0.5)
    }
  })

  it('repeats for a seed and differs between seeds', () => {
    const x = tone(440, 16000, 0.1)
    expect(addNoise(x, 10, audioRng(1))).toEqual(addNoise(x, 10, audioRng(1)))
    expect(addNoise(x, 10, audioRng(1))).not.toEqual(addNoise(x, 10, audioRng(2)))
  })

  it('leaves silence alone (there is no ratio to keep)', () => {
    const silence = new Float32Array(100)
    expect(addNoise(silence, 10, audioRng(1))).toEqual(silence)
  })
})

describe('waveform changes', () => {
  it('applies gain in decibels', () => {
    const x = tone(440, 16000, 0.1, 0.25)
    const y = applyGain(x, 20 * Math.log10(2))
    for (let i = 0; i < x.length; i += 9) expect(y[i]).toBeCloseTo(2 * x[i], 6)
    expect(rms(applyGain(x, -20)) / rms(x)).toBeCloseTo(0.1, 6)
  })

  it('shifts in time, padding with silence or wrapping round', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8])
    expect(Array.from(timeShift(x, 3))).toEqual([0, 0, 0, 1, 2, 3, 4, 5])
    expect(Array.from(timeShift(x, -2))).toEqual([3, 4, 5, 6, 7, 8, 0, 0])
    expect(Array.from(timeShift(x, 3, 'wrap'))).toEqual([6, 7, 8, 1, 2, 3, 4, 5])
    expect(Array.from(timeShift(x, -2, 'wrap'))).toEqual([3, 4, 5, 6, 7, 8, 1, 2])
    expect(Array.from(timeShift(x, 20))).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
  })
})

describe('SpecAugment masks', () => {
  const spec = normalizeSpectrogram(logMelSpectrogram(chirp(200, 6000, 16000, 1)))
  const mean = spec.data.reduce((a, b) => a + b) / spec.data.length

  /** Frames (or bands) whose every cell was changed to `fill`. */
  function masked(out: Spectrogram, axis: 'time' | 'frequency', fill: number): number[] {
    const size = axis === 'time' ? out.frames : out.bands
    const other = axis === 'time' ? out.bands : out.frames
    const idx = (i: number, j: number): number => (axis === 'time' ? i * out.bands + j : j * out.bands + i)
    const hit: number[] = []
    for (let i = 0; i < size; i++) {
      let all = true
      for (let j = 0; j < other; j++) all &&= out.data[idx(i, j)] === Math.fround(fill)
      if (all) hit.push(i)
    }
    return hit
  }

  it('masks whole frames, contiguous and at most maxWidth wide, with the mean; nothing else changes', () => {
    const out = maskTime(spec, { count: 1, maxWidth: 0.2 }, audioRng(4))
    const frames = masked(out, 'time', mean)
    expect(frames.length).toBeGreaterThan(0)
    expect(frames.length).toBeLessThanOrEqual(Math.floor(0.2 * spec.frames))
    expect(frames[frames.length - 1] - frames[0]).toBe(frames.length - 1)
    for (let f = 0; f < spec.frames; f++) {
      if (frames.includes(f)) continue
      for (let b = 0; b < spec.bands; b++) expect(out.data[f * spec.bands + b]).toBe(spec.data[f * spec.bands + b])
    }
    expect(spec.data).not.toBe(out.data)
  })

  it('masks whole bands for frequency masking, zero-filled when asked', () => {
    // In decibels, where no band of noise is 0 before masking.
    const db = logMelSpectrogram(noise(16000, 3))
    expect(db.data.every((v) => v < 0)).toBe(true)
    const out = maskFrequency(db, { count: 1, maxWidth: 0.25, fill: 'zero' }, audioRng(8))
    const bands = masked(out, 'frequency', 0)
    expect(bands.length).toBeGreaterThan(0)
    expect(bands.length).toBeLessThanOrEqual(16)
    expect(bands[bands.length - 1] - bands[0]).toBe(bands.length - 1)
  })

  it('repeats for a seed and moves with it', () => {
    const a = maskTime(spec, { count: 2, maxWidth: 0.1 }, audioRng(1))
    expect(maskTime(spec, { count: 2, maxWidth: 0.1 }, audioRng(1)).data).toEqual(a.data)
    const others = [2, 3, 4, 5].map((s) => maskTime(spec, { count: 2, maxWidth: 0.1 }, audioRng(s)).data)
    expect(others.some((d) => !d.every((v, i) => v === a.data[i]))).toBe(true)
  })
})

describe('augmentation settings', () => {
  it('does nothing when off', () => {
    const x = tone(440, 16000, 0.5)
    expect(isAudioAugmentationOn(NO_AUDIO_AUGMENTATION)).toBe(false)
    expect(augmentWaveform(x, NO_AUDIO_AUGMENTATION, audioRng(1))).toEqual(x)
    const spec = logMelSpectrogram(x)
    expect(augmentSpectrogram(spec, NO_AUDIO_AUGMENTATION, audioRng(1))).toBe(spec)
  })

  it('changes clips when on, the same way for the same seed', () => {
    const x = tone(440, 16000, 1, 0.3)
    const a = DEFAULT_AUDIO_AUGMENTATION
    expect(isAudioAugmentationOn(a)).toBe(true)
    const one = augmentWaveform(x, a, audioRng(11))
    expect(one).toEqual(augmentWaveform(x, a, audioRng(11)))
    expect(one).not.toEqual(x)
    expect(one).toHaveLength(x.length)
    // Each setting alone turns augmentation on.
    for (const on of [
      { timeShift: 0.1 },
      { noiseSnrDb: [10, 20] as [number, number], noiseProbability: 1 },
      { gainDb: 3 },
      { timeMasks: 1, timeMaskWidth: 0.1 },
      { frequencyMasks: 1, frequencyMaskWidth: 0.1 },
    ]) {
      expect(isAudioAugmentationOn({ ...NO_AUDIO_AUGMENTATION, ...on })).toBe(true)
    }
  })

  it('adds noise within the chosen SNR range', () => {
    const x = tone(440, 16000, 1, 0.3)
    const only = { ...NO_AUDIO_AUGMENTATION, noiseSnrDb: [12, 18] as [number, number], noiseProbability: 1 }
    for (let seed = 0; seed < 10; seed++) {
      const y = augmentWaveform(x, only, audioRng(seed))
      const snr = 10 * Math.log10(power(x) / power(y.map((v, i) => v - x[i])))
      expect(snr).toBeGreaterThan(12 - 0.5)
      expect(snr).toBeLessThan(18 + 0.5)
    }
  })
})
