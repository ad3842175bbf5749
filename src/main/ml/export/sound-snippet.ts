/**
 * The JavaScript a sound model's card hands its users: `clipToInput(samples, sampleRate)` turns mono samples at
 * any rate into the model's input tensor exactly as Tunewise made its training pictures, and
 * `recordingToInput(samples, sampleRate)` does so for every clip of a recording (what the app averages when it
 * tries a recording). The source is built here as text with the run's settings written in as numbers, so the
 * card's code needs nothing but @tensorflow/tfjs and runs in a browser and in Node alike.
 *
 * It is a line-for-line port of the engine's path (`audio/resample.ts`, `clips.ts`, `fft.ts`, `spectrogram.ts`,
 * and `picturesToInput` in `audio/source.ts`), in the same arithmetic order and the same float widths, so its
 * pictures equal the engine's to float rounding; test/unit/sound-snippet.test.ts runs the generated text and
 * compares. Change one side, change the other.
 */
import type { ImageSize } from '../audio/spectrogram'
import type { AudioInputSpec } from '../audio/source'

/** The model's input scaling, as `picturesToInput` applies it. */
export type SoundPreprocess = 'rgb/255' | 'rgb/127.5-1'

/** The numbers the snippet is built from, worked out from a run's settings the way the engine works them out. */
export interface SoundSnippetNumbers {
  rate: number
  clipSamples: number
  stepSamples: number
  minTailSamples: number
  windowSamples: number
  hopSamples: number
  nFft: number
  frames: number
  bands: number
  fMin: number
  fMax: number
  topDb: number
}

/** At most this many clips of one recording in `recordingToInput` (the app's "try your own sound" takes 30). */
export const SNIPPET_MAX_CLIPS = 30

const nextPowerOfTwo = (n: number): number => {
  let p = 1
  while (p < n) p *= 2
  return p
}

/** The sizes in samples a run's sound settings imply (as `clips.ts` `resolve` and `resolveSpectrogramSettings`). */
export function soundSnippetNumbers(spec: AudioInputSpec): SoundSnippetNumbers {
  const rate = spec.clip.sampleRate
  const s = spec.spectrogram
  const clipSamples = Math.max(1, Math.round(spec.clip.clipSeconds * rate))
  const windowSamples = Math.round((s.windowMs / 1000) * s.sampleRate)
  const hopSamples = Math.round((s.hopMs / 1000) * s.sampleRate)
  return {
    rate,
    clipSamples,
    stepSamples: Math.max(1, Math.round((spec.clip.hopSeconds ?? spec.clip.clipSeconds) * rate)),
    minTailSamples: Math.max(1, Math.round((spec.clip.minTailSeconds ?? spec.clip.clipSeconds / 2) * rate)),
    windowSamples,
    hopSamples,
    nFft: nextPowerOfTwo(windowSamples),
    frames: clipSamples <= windowSamples ? 1 : 1 + Math.floor((clipSamples - windowSamples) / hopSamples),
    bands: s.melBands,
    fMin: s.fMin,
    fMax: s.fMax ?? s.sampleRate / 2,
    topDb: s.topDb,
  }
}

const num = (n: number): string => String(n)
const ms = (samples: number, rate: number): string => `${Math.round((samples / rate) * 1e6) / 1e3} ms`
const secs = (samples: number, rate: number): string => `${Math.round((samples / rate) * 1e6) / 1e6} s`

/**
 * The source of `clipToInput` and `recordingToInput` for a sound model: plain JavaScript that expects `tf`
 * (@tensorflow/tfjs) in scope and defines both as constants. `size` is the model's input [height, width].
 */
export function soundClipFunction(spec: AudioInputSpec, size: ImageSize, preprocess: SoundPreprocess): string {
  const n = soundSnippetNumbers(spec)
  const [height, width] = size
  const scaling =
    preprocess === 'rgb/255'
      ? 'const toModel = (v) => v // picture 0…1 as it is (RGB / 255)'
      : 'const toModel = (v) => v * 2 - 1 // picture 0…1 to -1…1 (RGB / 127.5 - 1)'
  const lines = [
    '// clipToInput(samples, sampleRate, startSeconds = 0): one clip of a recording as this model’s input, made',
    '// exactly as Tunewise made its training pictures. samples: mono Float32Array at any sample rate (mix',
    '// channels down by averaging them). Returns a tf.Tensor4D [1, height, width, 3].',
    '// recordingToInput(samples, sampleRate): every clip of a recording, as the app cuts it, [clips, height, width, 3].',
    '// Needs only @tensorflow/tfjs as `tf`. Works in a browser and in Node.',
    'const { clipToInput, recordingToInput } = (() => {',
    `  const RATE = ${num(n.rate)} // Hz: every recording is resampled to this first`,
    `  const CLIP = ${num(n.clipSamples)} // samples in a clip (${secs(n.clipSamples, n.rate)}); a shorter recording is padded with silence`,
    `  const STEP = ${num(n.stepSamples)} // samples from one clip's start to the next in a long recording (${secs(n.stepSamples, n.rate)})`,
    `  const MIN_TAIL = ${num(n.minTailSamples)} // a further clip needs at least this much sound left (${secs(n.minTailSamples, n.rate)})`,
    `  const MAX_CLIPS = ${SNIPPET_MAX_CLIPS} // recordingToInput takes at most this many clips, spread evenly`,
    `  const WINDOW = ${num(n.windowSamples)} // samples in each analysis window (${ms(n.windowSamples, n.rate)}), Hann-weighted`,
    `  const HOP = ${num(n.hopSamples)} // samples from one window to the next (${ms(n.hopSamples, n.rate)})`,
    `  const N_FFT = ${num(n.nFft)} // FFT size: the window rounded up to a power of two`,
    `  const FRAMES = ${num(n.frames)} // windows in a clip: the spectrogram's width before resizing`,
    `  const BANDS = ${num(n.bands)} // mel bands (HTK mel scale): its height before resizing`,
    `  const F_MIN = ${num(n.fMin)} // Hz, lowest band edge`,
    `  const F_MAX = ${num(n.fMax)} // Hz, highest band edge`,
    `  const TOP_DB = ${num(n.topDb)} // dB kept below each clip's loudest point; quieter is black`,
    '  const POWER_FLOOR = 1e-10 // band power below this counts as this (-100 dB)',
    '  const FLOOR_DB = 10 * Math.log10(POWER_FLOOR)',
    `  const HEIGHT = ${num(height)} // the model's input, pixels`,
    `  const WIDTH = ${num(width)}`,
    `  ${scaling}`,
    '',
    '  // Resampling: a Kaiser-windowed sinc low-pass (β 8.6, 48 zero crossings, cut-off 0.945 × the lower Nyquist).',
    '  const besselI0 = (x) => {',
    '    let sum = 1',
    '    let term = 1',
    '    const q = (x * x) / 4',
    '    for (let k = 1; k < 64; k++) {',
    '      term *= q / (k * k)',
    '      sum += term',
    '      if (term < sum * 1e-17) break',
    '    }',
    '    return sum',
    '  }',
    '  const designs = new Map()',
    '  const design = (from) => {',
    '    let d = designs.get(from)',
    '    if (d) return d',
    '    const ratio = Math.min(1, RATE / from)',
    '    const gcd = (a, b) => (b ? gcd(b, a % b) : a)',
    '    const g = gcd(Math.round(from), RATE)',
    '    d = { cutoff: 0.5 * ratio * 0.945, half: Math.ceil(48 / ratio), beta: 8.6, i0Beta: besselI0(8.6), phases: new Map() }',
    '    d.integral = Number.isInteger(from)',
    '    d.L = d.integral ? RATE / g : 0',
    '    d.M = d.integral ? Math.round(from) / g : 0',
    '    d.bank = d.integral && d.L * 2 * d.half <= 4000000',
    '    designs.set(from, d)',
    '    return d',
    '  }',
    '  const kernel = (t, d) => {',
    '    const r = t / d.half',
    '    if (r <= -1 || r >= 1) return 0',
    '    const w = besselI0(d.beta * Math.sqrt(1 - r * r)) / d.i0Beta',
    '    const x = 2 * d.cutoff * t',
    '    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)',
    '    return 2 * d.cutoff * sinc * w',
    '  }',
    '  const taps = (frac, d) => {',
    '    const out = new Float32Array(2 * d.half)',
    '    let sum = 0',
    '    for (let k = 0; k < out.length; k++) {',
    '      const w = kernel(k - d.half + 1 - frac, d)',
    '      out[k] = w',
    '      sum += w',
    '    }',
    '    if (sum !== 0) for (let k = 0; k < out.length; k++) out[k] /= sum',
    '    return out',
    '  }',
    '  // Samples first … first + count - 1 of `x` resampled from `from` Hz to RATE; silence past the end.',
    '  const resampledLength = (n, from) => Math.ceil((n * RATE) / from)',
    '  const resampleRange = (x, from, first, count) => {',
    '    const out = new Float32Array(count)',
    '    const n = x.length',
    '    const end = Math.min(first + count, from === RATE ? n : resampledLength(n, from))',
    '    if (from === RATE) {',
    '      if (first < end) out.set(x.subarray(first, end))',
    '      return out',
    '    }',
    '    const d = design(from)',
    '    const len = 2 * d.half',
    '    for (let j = first; j < end; j++) {',
    '      let i',
    '      let h',
    '      if (d.bank) {',
    '        const pos = j * d.M',
    '        i = Math.floor(pos / d.L)',
    '        const phase = pos - i * d.L',
    '        h = d.phases.get(phase)',
    '        if (!h) d.phases.set(phase, (h = taps(phase / d.L, d)))',
    '      } else {',
    '        const pos = (j * from) / RATE',
    '        i = Math.floor(pos)',
    '        h = taps(pos - i, d)',
    '      }',
    '      const start = i - d.half + 1',
    '      let acc = 0',
    '      const k0 = Math.max(0, -start)',
    '      const k1 = Math.min(len, n - start)',
    '      for (let k = k0; k < k1; k++) acc += h[k] * x[start + k]',
    '      out[j - first] = acc',
    '    }',
    '    return out',
    '  }',
    '',
    '  // Radix-2 FFT, in place.',
    '  const cos = new Float64Array(N_FFT / 2)',
    '  const sin = new Float64Array(N_FFT / 2)',
    '  for (let k = 0; k < N_FFT / 2; k++) {',
    '    cos[k] = Math.cos((2 * Math.PI * k) / N_FFT)',
    '    sin[k] = -Math.sin((2 * Math.PI * k) / N_FFT)',
    '  }',
    '  const reversed = new Uint32Array(N_FFT)',
    '  for (let i = 0, bits = Math.log2(N_FFT); i < N_FFT; i++) {',
    '    let r = 0',
    '    for (let b = 0, x = i; b < bits; b++, x >>= 1) r = (r << 1) | (x & 1)',
    '    reversed[i] = r',
    '  }',
    '  const fft = (re, im) => {',
    '    for (let i = 0; i < N_FFT; i++) {',
    '      const j = reversed[i]',
    '      if (j > i) {',
    '        ;[re[i], re[j]] = [re[j], re[i]]',
    '        ;[im[i], im[j]] = [im[j], im[i]]',
    '      }',
    '    }',
    '    for (let size = 2; size <= N_FFT; size *= 2) {',
    '      const half = size / 2',
    '      const step = N_FFT / size',
    '      for (let start = 0; start < N_FFT; start += size) {',
    '        for (let k = 0; k < half; k++) {',
    '          const wr = cos[k * step]',
    '          const wi = sin[k * step]',
    '          const a = start + k',
    '          const b = a + half',
    '          const tr = re[b] * wr - im[b] * wi',
    '          const ti = re[b] * wi + im[b] * wr',
    '          re[b] = re[a] - tr',
    '          im[b] = im[a] - ti',
    '          re[a] += tr',
    '          im[a] += ti',
    '        }',
    '      }',
    '    }',
    '  }',
    '',
    '  // Periodic Hann window; power is divided by (Σ window)², so a full-scale sine reads about -6 dB.',
    '  const hann = new Float64Array(WINDOW)',
    '  let windowSum = 0',
    '  for (let i = 0; i < WINDOW; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / WINDOW)',
    '  for (let i = 0; i < WINDOW; i++) windowSum += hann[i]',
    '  const powerScale = 1 / (windowSum * windowSum)',
    '',
    '  // Triangular mel filters (HTK: mel = 2595 log10(1 + f / 700)), peak 1, evenly spaced in mel.',
    '  const BINS = N_FFT / 2 + 1',
    '  const hzToMel = (hz) => 2595 * Math.log10(1 + hz / 700)',
    '  const melToHz = (mel) => 700 * (10 ** (mel / 2595) - 1)',
    '  const lo = hzToMel(F_MIN)',
    '  const hi = hzToMel(F_MAX)',
    '  const edges = Array.from({ length: BANDS + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (BANDS + 1)))',
    '  const filters = []',
    '  for (let b = 0; b < BANDS; b++) {',
    '    const [left, centre, right] = [edges[b], edges[b + 1], edges[b + 2]]',
    '    const weights = new Float32Array(BINS)',
    '    let first = -1',
    '    let last = -1',
    '    for (let k = 0; k < BINS; k++) {',
    '      const f = (k * RATE) / N_FFT',
    '      const w = Math.max(0, Math.min((f - left) / (centre - left), (right - f) / (right - centre)))',
    '      if (w > 0) {',
    '        weights[k] = w',
    '        if (first < 0) first = k',
    '        last = k',
    '      }',
    '    }',
    '    filters.push({ weights, first, end: last + 1 })',
    '  }',
    '',
    '  // One clip (CLIP samples at RATE) → log-mel in dB → 0…1 per clip → the picture, scaled for the model.',
    '  const picture = (clip, out, offset) => {',
    '    const db = new Float32Array(FRAMES * BANDS)',
    '    const re = new Float64Array(N_FFT)',
    '    const im = new Float64Array(N_FFT)',
    '    const power = new Float64Array(BINS)',
    '    for (let f = 0; f < FRAMES; f++) {',
    '      re.fill(0)',
    '      im.fill(0)',
    '      for (let i = 0; i < WINDOW; i++) {',
    '        const at = f * HOP + i',
    '        re[i] = (at < clip.length ? clip[at] : 0) * hann[i]',
    '      }',
    '      fft(re, im)',
    '      for (let k = 0; k < BINS; k++) power[k] = (re[k] * re[k] + im[k] * im[k]) * powerScale',
    '      for (let b = 0; b < BANDS; b++) {',
    '        const { weights, first, end } = filters[b]',
    '        let e = 0',
    '        for (let k = first; k < end; k++) e += weights[k] * power[k]',
    '        db[f * BANDS + b] = 10 * Math.log10(Math.max(e, POWER_FLOOR))',
    '      }',
    '    }',
    '    // Loudest point → 1, TOP_DB below it → 0; a quiet clip uses the floor as 0 instead, silence stays 0.',
    '    let max = -Infinity',
    '    for (let i = 0; i < db.length; i++) if (db[i] > max) max = db[i]',
    '    const low = Math.max(max - TOP_DB, FLOOR_DB)',
    '    const range = max - low',
    '    const unit = new Float32Array(db.length)',
    '    if (range > 1e-3) for (let i = 0; i < db.length; i++) unit[i] = Math.min(1, Math.max(0, (db[i] - low) / range))',
    '    // Bilinear resize with half-pixel centres (as tf.image.resizeBilinear), time left to right, low pitch at the bottom.',
    '    const axis = (n, src) =>',
    '      Array.from({ length: n }, (_, i) => {',
    '        const x = Math.min(src - 1, Math.max(0, ((i + 0.5) * src) / n - 0.5))',
    '        const i0 = Math.floor(x)',
    '        return { i0, i1: Math.min(src - 1, i0 + 1), t: Math.fround(x - i0) }',
    '      })',
    '    const cols = axis(WIDTH, FRAMES)',
    '    const rows = axis(HEIGHT, BANDS)',
    '    for (let y = 0; y < HEIGHT; y++) {',
    '      const { i0: b0, i1: b1, t: ty } = rows[HEIGHT - 1 - y]',
    '      for (let x = 0; x < WIDTH; x++) {',
    '        const { i0: f0, i1: f1, t: tx } = cols[x]',
    '        const lower = unit[f0 * BANDS + b0] * (1 - tx) + unit[f1 * BANDS + b0] * tx',
    '        const upper = unit[f0 * BANDS + b1] * (1 - tx) + unit[f1 * BANDS + b1] * tx',
    '        const v = toModel(Math.fround(lower * (1 - ty) + upper * ty))',
    '        const o = offset + (y * WIDTH + x) * 3',
    '        out[o] = v',
    '        out[o + 1] = v',
    '        out[o + 2] = v',
    '      }',
    '    }',
    '  }',
    '',
    '  const asFloat32 = (samples) => (samples instanceof Float32Array ? samples : Float32Array.from(samples))',
    '  const PIXELS = HEIGHT * WIDTH * 3',
    '  const clipToInput = (samples, sampleRate, startSeconds = 0) => {',
    '    const out = new Float32Array(PIXELS)',
    '    picture(resampleRange(asFloat32(samples), sampleRate, Math.round(startSeconds * RATE), CLIP), out, 0)',
    '    return tf.tensor4d(out, [1, HEIGHT, WIDTH, 3])',
    '  }',
    '  const recordingToInput = (samples, sampleRate) => {',
    '    const x = asFloat32(samples)',
    '    const length = sampleRate === RATE ? x.length : resampledLength(x.length, sampleRate)',
    '    let starts = [0]',
    '    for (let s = STEP; length - s >= MIN_TAIL; s += STEP) starts.push(s)',
    '    if (starts.length > MAX_CLIPS)',
    '      starts = Array.from({ length: MAX_CLIPS }, (_, k) => starts[Math.floor((k * starts.length) / MAX_CLIPS)])',
    '    const out = new Float32Array(starts.length * PIXELS)',
    '    starts.forEach((s, i) => picture(resampleRange(x, sampleRate, s, CLIP), out, i * PIXELS))',
    '    return tf.tensor4d(out, [starts.length, HEIGHT, WIDTH, 3])',
    '  }',
    '  return { clipToInput, recordingToInput }',
    '})()',
  ]
  return lines.join('\n')
}
