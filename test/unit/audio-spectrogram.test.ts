/**
 * Log-mel spectrograms and the picture a network is shown: the FFT against a plain DFT, the mel filterbank's
 * shape and coverage, a pure tone landing in its band, silence at the floor, and the resize against TF.js's own
 * bilinear resize.
 */
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { AppError } from '../../src/main/errors'
import {
  clipToImage,
  DEFAULT_SPECTROGRAM,
  FLOOR_DB,
  frameCount,
  logMelSpectrogram,
  melFilterbank,
  normalizeSpectrogram,
  resolveSpectrogramSettings,
  type Spectrogram,
  spectrogramSettingsKey,
  spectrogramToImage,
} from '../../src/main/ml/audio'
import { fft } from '../../src/main/ml/audio/fft'
import { chirp, noise, tone } from '../fixtures/audio/synth'

/** Mean over frames of each band. */
function bandMeans(spec: Spectrogram): Float64Array {
  const out = new Float64Array(spec.bands)
  for (let f = 0; f < spec.frames; f++) for (let b = 0; b < spec.bands; b++) out[b] += spec.data[f * spec.bands + b]
  return out.map((v) => v / spec.frames)
}

const argmax = (xs: ArrayLike<number>): number => {
  let best = 0
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i
  return best
}

describe('fft', () => {
  it('matches a plain DFT', () => {
    const n = 64
    const x = noise(n, 7)
    const re = Float64Array.from(x)
    const im = new Float64Array(n)
    fft(re, im)
    for (let k = 0; k < n; k++) {
      let r = 0
      let i = 0
      for (let j = 0; j < n; j++) {
        r += x[j] * Math.cos((2 * Math.PI * j * k) / n)
        i -= x[j] * Math.sin((2 * Math.PI * j * k) / n)
      }
      expect(re[k]).toBeCloseTo(r, 9)
      expect(im[k]).toBeCloseTo(i, 9)
    }
  })

  it('refuses a size that is not a power of two', () => {
    expect(() => fft(new Float64Array(12), new Float64Array(12))).toThrow(/power of two/)
  })
})

describe('mel filterbank', () => {
  const bank = melFilterbank(16000, 512, 64)

  it('has one row per band over the FFT bins, each a triangle peaking at most 1', () => {
    expect(bank.weights).toHaveLength(64)
    for (const row of bank.weights) {
      expect(row).toHaveLength(257)
      const peak = Math.max(...row)
      expect(peak).toBeGreaterThan(0)
      expect(peak).toBeLessThanOrEqual(1)
    }
    // Centres rise, evenly spaced in mel.
    for (let b = 1; b < 64; b++) expect(bank.centres[b]).toBeGreaterThan(bank.centres[b - 1])
  })

  it('covers every bin between the first and last band centre exactly once (weights sum to 1)', () => {
    for (let k = 0; k < 257; k++) {
      const f = (k * 16000) / 512
      if (f < bank.centres[0] || f > bank.centres[63]) continue
      let sum = 0
      for (const row of bank.weights) sum += row[k]
      expect(sum, `bin ${k} (${f} Hz)`).toBeCloseTo(1, 5)
    }
  })

  it('is built once per (rate, FFT size, bands) and shared', () => {
    expect(melFilterbank(16000, 512, 64)).toBe(bank)
    expect(melFilterbank(16000, 512, 40)).not.toBe(bank)
    expect(melFilterbank(16000, 1024, 64)).not.toBe(bank)
  })

  it('refuses more bands than the window can tell apart', () => {
    expect(() => melFilterbank(16000, 128, 128)).toThrow(AppError)
    expect(() => melFilterbank(16000, 128, 128)).toThrow(/too many for a 8 ms window.*fewer bands/)
  })
})

describe('logMelSpectrogram', () => {
  it('has one frame per hop while a window fits, and one row of bands each', () => {
    const s = resolveSpectrogramSettings()
    expect([s.windowSamples, s.hopSamples, s.nFft]).toEqual([400, 160, 512])
    const spec = logMelSpectrogram(new Float32Array(16000))
    expect(spec.frames).toBe(98)
    expect(spec.bands).toBe(64)
    expect(spec.data).toHaveLength(98 * 64)
    expect(frameCount(16000)).toBe(98)
    expect(logMelSpectrogram(new Float32Array(100)).frames).toBe(1)
    expect(logMelSpectrogram(new Float32Array(16000), { hopMs: 20, melBands: 40 }).data).toHaveLength(49 * 40)
  })

  it.each([500, 1000, 2500, 6000])('puts a pure %i Hz tone in the band centred nearest to it', (freq) => {
    const spec = logMelSpectrogram(tone(freq, 16000, 1, 0.5))
    const bank = melFilterbank(16000, 512, 64)
    const expected = argmax(Array.from(bank.centres, (c) => -Math.abs(c - freq)))
    const means = bandMeans(spec)
    expect(argmax(means)).toBe(expected)
    // Loud there (a 0.5 sine is −12 dB before the band's share), far above bands an octave away.
    expect(means[expected]).toBeGreaterThan(-20)
    expect(means[expected]).toBeLessThan(-6)
    const octaveUp = argmax(Array.from(bank.centres, (c) => -Math.abs(c - Math.min(7800, 2 * freq))))
    if (octaveUp !== expected) expect(means[expected] - means[octaveUp]).toBeGreaterThan(40)
  })

  it('follows a chirp upward in time', () => {
    const spec = logMelSpectrogram(chirp(300, 6000, 16000, 1))
    const peakBand = (f: number): number => argmax(spec.data.subarray(f * 64, (f + 1) * 64))
    expect(peakBand(10)).toBeLessThan(peakBand(50))
    expect(peakBand(50)).toBeLessThan(peakBand(90))
  })

  it('gives the floor for silence, and all zeros once normalised', () => {
    const spec = logMelSpectrogram(new Float32Array(16000))
    expect(FLOOR_DB).toBe(-100)
    expect(spec.data.every((v) => v === FLOOR_DB)).toBe(true)
    expect(normalizeSpectrogram(spec).data.every((v) => v === 0)).toBe(true)
  })

  it('normalises each clip: its loudest point to 1, topDb below it to 0', () => {
    // A tone over a faint hiss, so every band sits above the floor.
    const sound = (gain: number): Float32Array => {
      const t = tone(1000, 16000, 1, 0.5)
      const n = noise(t.length, 5, 0.0005)
      return t.map((v, i) => gain * (v + n[i]))
    }
    const spec = logMelSpectrogram(sound(1))
    const unit = normalizeSpectrogram(spec, 60)
    expect(unit.scale).toBe('unit')
    const max = spec.data.reduce((a, b) => Math.max(a, b))
    for (let i = 0; i < spec.data.length; i += 13) {
      const expected = Math.min(1, Math.max(0, (spec.data[i] - (max - 60)) / 60))
      expect(unit.data[i]).toBeCloseTo(expected, 5)
    }
    expect(unit.data.reduce((a, b) => Math.max(a, b))).toBeCloseTo(1, 6)
    expect(unit.data.some((v) => v === 0)).toBe(true)
    // The same sound 20 dB quieter looks the same once normalised.
    const quiet = normalizeSpectrogram(logMelSpectrogram(sound(0.1)), 60)
    for (let i = 0; i < unit.data.length; i++) expect(Math.abs(quiet.data[i] - unit.data[i])).toBeLessThan(1e-3)
  })

  it('keeps the floor black however quiet the clip', () => {
    // Peaks near −40 dB: 80 dB below that is under the floor, which must still map to 0, not grey.
    const spec = logMelSpectrogram(tone(1000, 16000, 1, 0.005))
    const unit = normalizeSpectrogram(spec, 80)
    expect(spec.data.some((v) => v === FLOOR_DB)).toBe(true)
    for (let i = 0; i < spec.data.length; i++) if (spec.data[i] === FLOOR_DB) expect(unit.data[i]).toBe(0)
    expect(unit.data.reduce((a, b) => Math.max(a, b))).toBeCloseTo(1, 6)
  })
})

describe('spectrogramToImage', () => {
  const unit = (data: number[], frames: number, bands: number): Spectrogram => ({
    data: Float32Array.from(data),
    frames,
    bands,
    scale: 'unit',
  })

  it('makes a height × width RGB picture with equal channels', () => {
    const spec = normalizeSpectrogram(logMelSpectrogram(tone(1000, 16000, 1)))
    const img = spectrogramToImage(spec, [224, 224])
    expect(img).toBeInstanceOf(Uint8Array)
    expect(img).toHaveLength(224 * 224 * 3)
    for (let i = 0; i < img.length; i += 3 * 101) {
      expect(img[i + 1]).toBe(img[i])
      expect(img[i + 2]).toBe(img[i])
    }
    const float = spectrogramToImage(spec, [224, 224], { dtype: 'float32' })
    expect(float).toBeInstanceOf(Float32Array)
    for (let i = 0; i < img.length; i += 997) expect(Math.round(float[i] * 255)).toBe(img[i])
  })

  it('puts low pitches at the bottom and high pitches at the top', () => {
    const brightestRow = (freq: number): number => {
      const img = spectrogramToImage(normalizeSpectrogram(logMelSpectrogram(tone(freq, 16000, 1))), [64, 98])
      const rows = Array.from({ length: 64 }, (_, y) => img[(y * 98 + 49) * 3])
      return argmax(rows)
    }
    expect(brightestRow(300)).toBeGreaterThan(48)
    expect(brightestRow(6000)).toBeLessThan(16)
  })

  it('resizes exactly as TF.js bilinear resize with half-pixel centres', () => {
    const frames = 7
    const bands = 5
    const spec = unit(
      Array.from({ length: frames * bands }, (_, i) => ((i * 7919) % 101) / 100),
      frames,
      bands,
    )
    // The same grid as a picture: rows are bands, highest first; columns are frames.
    const grid = Array.from({ length: bands }, (_, y) =>
      Array.from({ length: frames }, (_, x) => spec.data[x * bands + (bands - 1 - y)]),
    )
    for (const [h, w] of [
      [11, 17],
      [3, 4],
      [224, 224],
    ] as const) {
      const ours = spectrogramToImage(spec, [h, w], { dtype: 'float32' })
      const theirs = tf.tidy(() =>
        tf.image.resizeBilinear(tf.tensor3d(grid.flat(), [bands, frames, 1]), [h, w], false, true).dataSync(),
      )
      for (let i = 0; i < h * w; i++) expect(ours[i * 3], `${h}×${w} pixel ${i}`).toBeCloseTo(theirs[i], 5)
    }
  })

  it('refuses a spectrogram that is not normalised', () => {
    const spec = logMelSpectrogram(tone(1000, 16000, 0.1))
    expect(() => spectrogramToImage(spec, [8, 8])).toThrow(/normalise/)
  })

  it('takes a clip all the way to network input in one call', () => {
    const img = clipToImage(tone(1000, 16000, 1), [224, 224])
    expect(img).toHaveLength(224 * 224 * 3)
    expect(img.every((v) => v >= 0 && v <= 1)).toBe(true)
  })
})

describe('settings', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_SPECTROGRAM).toMatchObject({ sampleRate: 16000, windowMs: 25, hopMs: 10, melBands: 64, topDb: 40 })
  })

  it('gives one key per picture-changing setting, the same for defaults written out', () => {
    const base = spectrogramSettingsKey()
    expect(spectrogramSettingsKey({ windowMs: 25, hopMs: 10, melBands: 64, fMax: 8000 })).toBe(base)
    const changed = [
      { windowMs: 30 },
      { hopMs: 5 },
      { melBands: 40 },
      { fMin: 20 },
      { fMax: 7000 },
      { topDb: 60 },
      { sampleRate: 22050 },
    ].map((s) => spectrogramSettingsKey(s))
    expect(new Set([base, ...changed]).size).toBe(changed.length + 1)
  })

  it('refuses settings that cannot work, in plain words', () => {
    expect(() => resolveSpectrogramSettings({ hopMs: 0 })).toThrow(/hop/)
    expect(() => resolveSpectrogramSettings({ fMax: 9000 })).toThrow(/0–8000 Hz/)
    expect(() => resolveSpectrogramSettings({ melBands: 0 })).toThrow(AppError)
  })
})
