/** Per-epoch image augmentation on a float batch (call inside tf.tidy). */
import type { Tensor4D } from '@tensorflow/tfjs'
import type { AugmentConfig } from '../../../shared/types'
import { getTf } from '../backend'
import type { Preprocess } from '../models/catalogue'
import type { Rng } from './random'

/**
 * Returns a transform that, per image: flips left-right (p = 0.5), crops 80-100% of each side at a random
 * place and resizes back, rotates by up to ±15°, and shifts brightness by up to ±15% of the value range.
 * Random choices come from `rng`, so the same seed gives the same augmentations.
 */
export function makeAugmenter(cfg: AugmentConfig, rng: Rng, preprocess: Preprocess): (x: Tensor4D) => Tensor4D {
  const tf = getTf()
  const [lo, hi] = preprocess === 'rgb/255' ? [0, 1] : [-1, 1]
  return (x) => {
    const [n, h, w] = x.shape
    let out: Tensor4D = x
    if (cfg.flip) {
      const mask = tf.tensor4d(
        Array.from({ length: n }, () => (rng() < 0.5 ? 1 : 0)),
        [n, 1, 1, 1],
      )
      out = tf.add(tf.mul(tf.image.flipLeftRight(out), mask), tf.mul(out, tf.sub(1, mask))) as Tensor4D
    }
    if (cfg.crop) {
      const boxes: number[][] = []
      for (let i = 0; i < n; i++) {
        const sh = 0.8 + 0.2 * rng()
        const sw = 0.8 + 0.2 * rng()
        const y1 = (1 - sh) * rng()
        const x1 = (1 - sw) * rng()
        boxes.push([y1, x1, y1 + sh, x1 + sw])
      }
      out = tf.image.cropAndResize(
        out,
        tf.tensor2d(boxes),
        tf.tensor1d(
          Array.from({ length: n }, (_, i) => i),
          'int32',
        ),
        [h, w],
      )
    }
    if (cfg.rotate) {
      const parts = tf.split(out, n, 0) as Tensor4D[]
      // Fill with the mid value so the corners look neutral rather than black.
      out = tf.concat(
        parts.map((p) => tf.image.rotateWithOffset(p, ((rng() * 2 - 1) * 15 * Math.PI) / 180, (lo + hi) / 2)),
        0,
      ) as Tensor4D
    }
    if (cfg.brightness) {
      const delta = tf.tensor4d(
        Array.from({ length: n }, () => (rng() * 2 - 1) * 0.15 * (hi - lo)),
        [n, 1, 1, 1],
      )
      out = tf.clipByValue(tf.add(out, delta), lo, hi) as Tensor4D
    }
    return out
  }
}
