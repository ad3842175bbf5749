/** A small seeded PRNG (mulberry32): shuffles and augmentations repeat exactly for the same seed. */
import { mulberry32 } from '../data/split'

export type Rng = () => number

/** The same mulberry32 generator the split uses, so every seeded thing in a run agrees. */
export function makeRng(seed: number): Rng {
  return mulberry32(seed)
}

/** Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[p[i], p[j]] = [p[j], p[i]]
  }
  return p
}
