/**
 * Log-mel spectrograms, and the picture an image network is shown of one.
 *
 * A clip is cut into short overlapping frames (Hann window, `windowMs` long, every `hopMs`), each frame's power
 * spectrum is taken with an FFT, pooled into `melBands` triangular bands spaced evenly in pitch (the mel scale:
 * fine at low frequencies, coarse at high ones, as hearing is), and turned into decibels with a floor so silence
 * is a number, not −∞. `normalizeSpectrogram` then maps each clip's loudest `topDb` decibels to 0…1, so a quiet
 * and a loud recording of the same sound look alike; `spectrogramToImage` stretches that to the network's input
 * size as a grey RGB picture, low pitches at the bottom.
 */
import { AppError } from '../../errors'
import { fft, nextPowerOfTwo } from './fft'

export interface SpectrogramSettings {
  /** Sample rate of the clips, Hz. Default 16000. */
  sampleRate: number
  /** Length of each analysis window, milliseconds. Longer sees pitch finer and timing coarser. Default 25. */
  windowMs: number
  /** Step between windows, milliseconds. Default 10. */
  hopMs: number
  /** Number of mel (pitch) bands: the picture's height before resizing. Default 64. */
  melBands: number
  /** Lowest frequency the bands cover, Hz. Default 0. */
  fMin: number
  /** Highest frequency the bands cover, Hz. Default: half the sample rate (all of it). */
  fMax?: number
  /**
   * Range kept below each clip's loudest point when normalising, dB. Quieter detail is cut to black. Default 40:
   * background noise and room sound stay dark, so the picture is the sound itself (see README.md).
   */
  topDb: number
}

export const DEFAULT_SPECTROGRAM: Readonly<SpectrogramSettings> = Object.freeze({
  sampleRate: 16000,
  windowMs: 25,
  hopMs: 10,
  melBands: 64,
  fMin: 0,
  topDb: 40,
})

/** Power floor before the logarithm: −100 dB relative to a full-scale sine's band power. */
export const POWER_FLOOR = 1e-10
export const FLOOR_DB = 10 * Math.log10(POWER_FLOOR)

/**
 * A spectrogram, frames × bands, row-major by frame (`data[frame * bands + band]`), band 0 the lowest pitch.
 * `scale` says what the numbers are: 'db' straight from `logMelSpectrogram`, 'unit' (0…1) after normalising.
 */
export interface Spectrogram {
  data: Float32Array
  frames: number
  bands: number
  scale: 'db' | 'unit'
}

/** The settings with defaults filled in, and the sizes they imply. */
export interface ResolvedSpectrogram extends SpectrogramSettings {
  fMax: number
  /** Window and hop in samples, and the FFT size (the window rounded up to a power of two). */
  windowSamples: number
  hopSamples: number
  nFft: number
}

export function resolveSpectrogramSettings(settings: Partial<SpectrogramSettings> = {}): ResolvedSpectrogram {
  const s = { ...DEFAULT_SPECTROGRAM, ...settings }
  const fMax = s.fMax ?? s.sampleRate / 2
  const windowSamples = Math.round((s.windowMs / 1000) * s.sampleRate)
  const hopSamples = Math.round((s.hopMs / 1000) * s.sampleRate)
  const bad = (message: string): never => {
    throw new AppError('invalid_input', message)
  }
  if (!(s.sampleRate > 0)) bad(`The sample rate must be above 0 Hz (got ${s.sampleRate}).`)
  if (!(windowSamples >= 2)) bad(`The window (${s.windowMs} ms) is too short: use at least a few milliseconds.`)
  if (!(hopSamples >= 1)) bad(`The hop (${s.hopMs} ms) is too short: use at least 1 ms.`)
  if (!(Number.isInteger(s.melBands) && s.melBands >= 1)) bad(`The number of mel bands must be a whole number ≥ 1.`)
  if (!(s.fMin >= 0 && fMax > s.fMin && fMax <= s.sampleRate / 2)) {
    bad(`The frequency range ${s.fMin}–${fMax} Hz must lie within 0–${s.sampleRate / 2} Hz, lowest first.`)
  }
  if (!(s.topDb > 0)) bad(`The kept range must be above 0 dB (got ${s.topDb}).`)
  return { ...s, fMax, windowSamples, hopSamples, nFft: nextPowerOfTwo(windowSamples) }
}

/** A stable text of the settings, for cache keys and model metadata: equal text, equal pictures. */
export function spectrogramSettingsKey(settings: Partial<SpectrogramSettings> = {}): string {
  const s = resolveSpectrogramSettings(settings)
  return `logmel1;sr=${s.sampleRate};win=${s.windowMs};hop=${s.hopMs};bands=${s.melBands};fmin=${s.fMin};fmax=${s.fMax};top=${s.topDb}`
}

export const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700)
export const melToHz = (mel: number): number => 700 * (10 ** (mel / 2595) - 1)

/**
 * Triangular mel filters over the FFT bins: `weights[band]` has `nFft / 2 + 1` entries, and is non-zero only
 * within `[start[band], end[band])`. Each triangle peaks at 1 on its centre frequency and reaches 0 on its
 * neighbours' centres, so between the first and last centre the weights of any bin sum to 1.
 */
export interface MelFilterbank {
  sampleRate: number
  nFft: number
  bands: number
  fMin: number
  fMax: number
  /** Centre frequency of each band, Hz. */
  centres: Float64Array
  weights: Float32Array[]
  start: Int32Array
  end: Int32Array
}

const filterbanks = new Map<string, MelFilterbank>()

/**
 * The mel filterbank for these sizes, built on the first call and shared afterwards (training asks for the
 * same one for every clip).
 * @throws AppError('invalid_input') when a band would cover no FFT bin (too many bands for the window).
 */
export function melFilterbank(
  sampleRate: number,
  nFft: number,
  bands: number,
  fMin = 0,
  fMax = sampleRate / 2,
): MelFilterbank {
  const key = `${sampleRate}|${nFft}|${bands}|${fMin}|${fMax}`
  const cached = filterbanks.get(key)
  if (cached) return cached
  const bins = nFft / 2 + 1
  const lo = hzToMel(fMin)
  const hi = hzToMel(fMax)
  const edges = Array.from({ length: bands + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (bands + 1)))
  const weights: Float32Array[] = []
  const start = new Int32Array(bands)
  const end = new Int32Array(bands)
  const centres = new Float64Array(bands)
  for (let b = 0; b < bands; b++) {
    const [left, centre, right] = [edges[b], edges[b + 1], edges[b + 2]]
    centres[b] = centre
    const row = new Float32Array(bins)
    let first = -1
    let last = -1
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nFft
      const w = Math.max(0, Math.min((f - left) / (centre - left), (right - f) / (right - centre)))
      if (w > 0) {
        row[k] = w
        if (first < 0) first = k
        last = k
      }
    }
    if (first < 0) {
      const windowMs = Math.round((nFft / sampleRate) * 1000)
      throw new AppError(
        'invalid_input',
        `${bands} mel bands are too many for a ${windowMs} ms window at ${sampleRate} Hz: the lowest bands would be ` +
          'empty. Use fewer bands or a longer window.',
      )
    }
    weights.push(row)
    start[b] = first
    end[b] = last + 1
  }
  const bank: MelFilterbank = { sampleRate, nFft, bands, fMin, fMax, centres, weights, start, end }
  filterbanks.set(key, bank)
  return bank
}

const hannWindows = new Map<number, Float64Array>()

/** Periodic Hann window of `n` samples (the form used for spectral analysis). */
export function hann(n: number): Float64Array {
  let w = hannWindows.get(n)
  if (!w) {
    w = new Float64Array(n)
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n)
    hannWindows.set(n, w)
  }
  return w
}

/** Frames a clip of `length` samples gives: one per hop while a whole window fits, at least one. */
export function frameCount(length: number, settings: Partial<SpectrogramSettings> = {}): number {
  const s = resolveSpectrogramSettings(settings)
  return length <= s.windowSamples ? 1 : 1 + Math.floor((length - s.windowSamples) / s.hopSamples)
}

/**
 * The log-mel spectrogram of mono `samples` at `settings.sampleRate`, in decibels. Power is scaled so a
 * full-scale sine puts about −6 dB in its band; anything below `POWER_FLOOR` reads as `FLOOR_DB` (−100 dB).
 */
export function logMelSpectrogram(samples: Float32Array, settings: Partial<SpectrogramSettings> = {}): Spectrogram {
  const s = resolveSpectrogramSettings(settings)
  const bank = melFilterbank(s.sampleRate, s.nFft, s.melBands, s.fMin, s.fMax)
  const window = hann(s.windowSamples)
  let windowSum = 0
  for (let i = 0; i < window.length; i++) windowSum += window[i]
  const scale = 1 / (windowSum * windowSum)
  const frames = frameCount(samples.length, s)
  const bins = s.nFft / 2 + 1
  const re = new Float64Array(s.nFft)
  const im = new Float64Array(s.nFft)
  const power = new Float64Array(bins)
  const data = new Float32Array(frames * s.melBands)
  for (let f = 0; f < frames; f++) {
    const offset = f * s.hopSamples
    re.fill(0)
    im.fill(0)
    for (let i = 0; i < s.windowSamples; i++) {
      const x = offset + i < samples.length ? samples[offset + i] : 0
      re[i] = x * window[i]
    }
    fft(re, im)
    for (let k = 0; k < bins; k++) power[k] = (re[k] * re[k] + im[k] * im[k]) * scale
    for (let b = 0; b < s.melBands; b++) {
      const w = bank.weights[b]
      let e = 0
      for (let k = bank.start[b]; k < bank.end[b]; k++) e += w[k] * power[k]
      data[f * s.melBands + b] = 10 * Math.log10(Math.max(e, POWER_FLOOR))
    }
  }
  return { data, frames, bands: s.melBands, scale: 'db' }
}

/**
 * Per-clip normalisation: the clip's loudest value maps to 1, and `topDb` below it (or the floor, if that is
 * nearer) to 0, so a quiet and a loud recording of one sound look alike while silence stays black. A clip with
 * nothing above the floor maps to all 0.
 */
export function normalizeSpectrogram(spec: Spectrogram, topDb = DEFAULT_SPECTROGRAM.topDb): Spectrogram {
  if (spec.scale !== 'db') throw new RangeError('normalizeSpectrogram: the spectrogram is already normalised')
  let max = -Infinity
  for (let i = 0; i < spec.data.length; i++) if (spec.data[i] > max) max = spec.data[i]
  const out = new Float32Array(spec.data.length)
  const low = Math.max(max - topDb, FLOOR_DB)
  const range = max - low
  if (range > 1e-3) {
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, (spec.data[i] - low) / range))
  }
  return { data: out, frames: spec.frames, bands: spec.bands, scale: 'unit' }
}

export type ImageSize = readonly [height: number, width: number]

/**
 * Renders a normalised spectrogram as an RGB picture of `size` [height, width], all three channels equal:
 * time runs left to right, pitch bottom (low) to top (high), resized with bilinear interpolation (pixel
 * centres aligned, as `tf.image.resizeBilinear` with half-pixel centres). Returns `height × width × 3` values,
 * row-major: bytes 0…255 by default, or floats 0…1 (RGB/255, what the bundled networks take) with
 * `{ dtype: 'float32' }`.
 */
export function spectrogramToImage(spec: Spectrogram, size: ImageSize): Uint8Array
export function spectrogramToImage(spec: Spectrogram, size: ImageSize, opts: { dtype: 'float32' }): Float32Array
export function spectrogramToImage(spec: Spectrogram, size: ImageSize, opts: { dtype: 'uint8' }): Uint8Array
export function spectrogramToImage(
  spec: Spectrogram,
  [height, width]: ImageSize,
  opts: { dtype: 'uint8' | 'float32' } = { dtype: 'uint8' },
): Uint8Array | Float32Array {
  if (spec.scale !== 'unit') {
    throw new RangeError('spectrogramToImage: normalise the spectrogram first (normalizeSpectrogram)')
  }
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new RangeError(`spectrogramToImage: bad size ${height}×${width}`)
  }
  const { data, frames, bands } = spec
  const float = opts.dtype === 'float32'
  const out = float ? new Float32Array(height * width * 3) : new Uint8Array(height * width * 3)
  // Source coordinates of each output column (time) and row (band, flipped so band 0 is the bottom row).
  const axis = (n: number, src: number): { i0: Int32Array; i1: Int32Array; t: Float32Array } => {
    const i0 = new Int32Array(n)
    const i1 = new Int32Array(n)
    const t = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      const x = Math.min(src - 1, Math.max(0, ((i + 0.5) * src) / n - 0.5))
      i0[i] = Math.floor(x)
      i1[i] = Math.min(src - 1, i0[i] + 1)
      t[i] = x - i0[i]
    }
    return { i0, i1, t }
  }
  const cols = axis(width, frames)
  const rows = axis(height, bands)
  const at = (frame: number, band: number): number => data[frame * bands + band]
  for (let y = 0; y < height; y++) {
    // Row 0 is the top of the picture: the highest band.
    const yy = height - 1 - y
    const b0 = rows.i0[yy]
    const b1 = rows.i1[yy]
    const ty = rows.t[yy]
    for (let x = 0; x < width; x++) {
      const f0 = cols.i0[x]
      const f1 = cols.i1[x]
      const tx = cols.t[x]
      const lower = at(f0, b0) * (1 - tx) + at(f1, b0) * tx
      const upper = at(f0, b1) * (1 - tx) + at(f1, b1) * tx
      const v = lower * (1 - ty) + upper * ty
      const o = (y * width + x) * 3
      const value = float ? v : Math.round(v * 255)
      out[o] = value
      out[o + 1] = value
      out[o + 2] = value
    }
  }
  return out
}

/** Samples → normalised log-mel → picture, the whole path a clip takes to the network, in one call. */
export function clipToImage(
  samples: Float32Array,
  size: ImageSize,
  settings: Partial<SpectrogramSettings> = {},
): Float32Array {
  const s = resolveSpectrogramSettings(settings)
  return spectrogramToImage(normalizeSpectrogram(logMelSpectrogram(samples, s), s.topDb), size, { dtype: 'float32' })
}
