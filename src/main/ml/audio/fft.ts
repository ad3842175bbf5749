/**
 * A small iterative radix-2 FFT (power-of-two sizes), with its twiddle factors and bit-reversal order built once
 * per size. Spectrogram frames are a few hundred samples, so this is all the speed needed without a package.
 */

interface Plan {
  n: number
  cos: Float64Array
  sin: Float64Array
  reversed: Uint32Array
}

const plans = new Map<number, Plan>()

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0
}

export function nextPowerOfTwo(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}

function plan(n: number): Plan {
  let p = plans.get(n)
  if (p) return p
  if (!isPowerOfTwo(n)) throw new RangeError(`fft: size must be a power of two, got ${n}`)
  const cos = new Float64Array(n / 2)
  const sin = new Float64Array(n / 2)
  for (let k = 0; k < n / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n)
    sin[k] = -Math.sin((2 * Math.PI * k) / n)
  }
  const bits = Math.log2(n)
  const reversed = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    let r = 0
    for (let b = 0, x = i; b < bits; b++, x >>= 1) r = (r << 1) | (x & 1)
    reversed[i] = r
  }
  p = { n, cos, sin, reversed }
  plans.set(n, p)
  return p
}

/** In-place forward DFT of (re, im), both of length n (a power of two): X[k] = Σ x[j]·e^(−2πi·jk/n). */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length
  if (im.length !== n) throw new RangeError('fft: re and im must have the same length')
  if (n <= 1) return
  const { cos, sin, reversed } = plan(n)
  for (let i = 0; i < n; i++) {
    const j = reversed[i]
    if (j > i) {
      ;[re[i], re[j]] = [re[j], re[i]]
      ;[im[i], im[j]] = [im[j], im[i]]
    }
  }
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2
    const step = n / size
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step]
        const wi = sin[k * step]
        const a = start + k
        const b = a + half
        const tr = re[b] * wr - im[b] * wi
        const ti = re[b] * wi + im[b] * wr
        re[b] = re[a] - tr
        im[b] = im[a] - ti
        re[a] += tr
        im[a] += ti
      }
    }
  }
}
