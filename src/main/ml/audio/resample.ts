/**
 * Band-limited resampling: a Kaiser-windowed sinc low-pass evaluated at each output instant, laid out as a
 * polyphase filter bank when the rate ratio is a small fraction (48→16 kHz is 1/3, 44.1→16 kHz is 160/441).
 *
 * When going down in rate, the low-pass sits just under the new Nyquist frequency, so sound above it (which
 * would otherwise fold back as a false lower tone) is removed: with the defaults the passband is flat to
 * ~0.44 × the new rate (7 kHz at 16 kHz) and the stopband, from the new Nyquist up, is over 75 dB down.
 */

export interface ResampleOptions {
  /**
   * Zero crossings of the sinc on each side, counted at the lower of the two rates. More is a steeper filter
   * and slower. Default 48.
   */
  zeroCrossings?: number
  /** Cut-off as a share of the lower rate's Nyquist frequency. Default 0.945. */
  rolloff?: number
  /** Kaiser window β: the stopband depth (8.6 ≈ 86 dB). Default 8.6. */
  beta?: number
}

/** Output length for `n` input samples: the same span of time, rounded up. */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  return Math.ceil((n * toRate) / fromRate)
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b]
  return a
}

/** Zeroth-order modified Bessel function of the first kind (series; converges fast for the β used here). */
function besselI0(x: number): number {
  let sum = 1
  let term = 1
  const q = (x * x) / 4
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k)
    sum += term
    if (term < sum * 1e-17) break
  }
  return sum
}

interface Design {
  /** Cut-off in cycles per input sample. */
  cutoff: number
  /** Half the filter length, in input samples. */
  half: number
  beta: number
  i0Beta: number
}

function design(fromRate: number, toRate: number, opts: ResampleOptions): Design {
  const ratio = Math.min(1, toRate / fromRate)
  const zeros = opts.zeroCrossings ?? 48
  const beta = opts.beta ?? 8.6
  return {
    cutoff: 0.5 * ratio * (opts.rolloff ?? 0.945),
    half: Math.ceil(zeros / ratio),
    beta,
    i0Beta: besselI0(beta),
  }
}

/** The filter at `t` input samples from the output instant (0 outside the window). */
function kernel(t: number, d: Design): number {
  const r = t / d.half
  if (r <= -1 || r >= 1) return 0
  const window = besselI0(d.beta * Math.sqrt(1 - r * r)) / d.i0Beta
  const x = 2 * d.cutoff * t
  const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)
  return 2 * d.cutoff * sinc * window
}

/**
 * Taps for one output instant lying `frac` (0 ≤ frac < 1) input samples after input sample `i`: weights for
 * inputs i − half + 1 … i + half, normalised to sum to 1 so a constant passes unchanged.
 */
function taps(frac: number, d: Design): Float32Array {
  const out = new Float32Array(2 * d.half)
  let sum = 0
  for (let k = 0; k < out.length; k++) {
    const w = kernel(k - d.half + 1 - frac, d)
    out[k] = w
    sum += w
  }
  if (sum !== 0) for (let k = 0; k < out.length; k++) out[k] /= sum
  return out
}

/** Filter banks by rate pair and design, built once: training resamples thousands of clips at one pair. */
const banks = new Map<string, Float32Array[]>()
/** A bank of `phases` × taps floats is built only up to this many; rarer ratios compute taps per sample. */
const MAX_BANK_FLOATS = 4_000_000

function bankFor(key: string, phases: number, d: Design): Float32Array[] {
  let bank = banks.get(key)
  if (!bank) {
    bank = Array.from({ length: phases }, (_, p) => taps(p / phases, d))
    banks.set(key, bank)
  }
  return bank
}

/**
 * Resamples `input` from `fromRate` to `toRate` (Hz) with a band-limited (anti-aliasing) filter. Outside the
 * signal counts as silence. Returns a copy even when the rates are equal.
 */
export function resample(
  input: Float32Array,
  fromRate: number,
  toRate: number,
  opts: ResampleOptions = {},
): Float32Array {
  if (!(fromRate > 0) || !(toRate > 0))
    throw new RangeError(`resample: rates must be positive (${fromRate}, ${toRate})`)
  if (fromRate === toRate) return input.slice()
  const n = input.length
  const outLength = resampledLength(n, fromRate, toRate)
  const out = new Float32Array(outLength)
  if (n === 0) return out
  const d = design(fromRate, toRate, opts)
  const len = 2 * d.half

  // Exact rational step: output sample j sits at input position j·M/L, with L/M the reduced ratio.
  const g = gcd(Math.round(fromRate), Math.round(toRate))
  const integral = Number.isInteger(fromRate) && Number.isInteger(toRate)
  const L = integral ? Math.round(toRate) / g : 0
  const M = integral ? Math.round(fromRate) / g : 0
  const useBank = integral && L * len <= MAX_BANK_FLOATS
  const key = `${fromRate}>${toRate}|${d.half}|${d.cutoff}|${d.beta}`
  const bank = useBank ? bankFor(key, L, d) : undefined

  for (let j = 0; j < outLength; j++) {
    let i: number
    let h: Float32Array
    if (bank) {
      const pos = j * M
      i = Math.floor(pos / L)
      h = bank[pos - i * L]
    } else {
      const pos = (j * fromRate) / toRate
      i = Math.floor(pos)
      h = taps(pos - i, d)
    }
    const first = i - d.half + 1
    let acc = 0
    const k0 = Math.max(0, -first)
    const k1 = Math.min(len, n - first)
    for (let k = k0; k < k1; k++) acc += h[k] * input[first + k]
    out[j] = acc
  }
  return out
}
