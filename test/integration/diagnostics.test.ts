/**
 * The learning-rate range test and the mislabelled-image search, on the bundled MobileNetV2's
 * features of the synthetic shapes (computed once, from the cache after that): the suggested rate
 * lands within 10× of the best of a small grid search, and planted wrong labels rank near the top.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Tensor } from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { lossAndAccuracy } from '../../src/main/ml/eval/evaluate'
import { cachedFeatures, lrRangeTest, suspectLabels } from '../../src/main/ml/train/diagnostics'
import { buildHead, compileHead, disposeOptimizer } from '../../src/main/ml/train/head'

const root = mkdtempSync(join(tmpdir(), 'tw-diagnostics-'))
const labels = ['circle', 'square', 'triangle']
const config = defaultRunConfig('mobilenet-v2-nsfwjs', 'shapes')
let feats: { x: Float32Array; dim: number; y: number[] }

function take(idx: number[]): { x: Float32Array; dim: number; y: number[] } {
  const x = new Float32Array(idx.length * feats.dim)
  idx.forEach((i, j) => x.set(feats.x.subarray(i * feats.dim, (i + 1) * feats.dim), j * feats.dim))
  return { x, dim: feats.dim, y: idx.map((i) => feats.y[i]!) }
}

beforeAll(async () => {
  await initBackend('wasm')
  await makeSyntheticDataset(join(root, 'shapes'), { perClass: 30, size: 64, seed: 11, classes: labels })
  const examples = labels.flatMap((label) =>
    Array.from({ length: 30 }, (_, i) => ({
      file: `${label}/${label}-${String(i).padStart(3, '0')}.${i % 3 === 2 ? 'jpg' : 'png'}`,
      label,
    })),
  )
  feats = await cachedFeatures(
    { config, dataDir: join(root, 'home'), datasetPath: join(root, 'shapes'), examples, labels },
    { shouldStop: () => false },
  )
}, 180_000)

afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('the learning-rate range test', () => {
  it('suggests a rate within 10× of the best of a grid search', async () => {
    const n = feats.y.length
    const trainIdx = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 0)
    const valIdx = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 === 0)
    const train = take(trainIdx)
    const val = take(valIdx)
    const { suggestion, points } = await lrRangeTest(train, labels.length, config)
    expect(points.length).toBeGreaterThan(20)
    expect(points[points.length - 1]!.lr).toBeGreaterThan(points[0]!.lr)

    const tf = getTf()
    const grid = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]
    const scores: { lr: number; loss: number }[] = []
    for (const lr of grid) {
      const head = buildHead(train.dim, labels.length, config.head, 1)
      const optimizer = compileHead(head, config.hyper, lr)
      const xt = tf.tensor2d(train.x, [train.y.length, train.dim])
      const yt = tf.oneHot(tf.tensor1d(train.y, 'int32'), labels.length)
      await head.fit(xt, yt, { epochs: 15, batchSize: 16, verbose: 0, shuffle: true })
      const xv = tf.tensor2d(val.x, [val.y.length, val.dim])
      const p = head.predict(xv) as Tensor
      const loss = lossAndAccuracy(p.dataSync() as Float32Array, val.y, labels.length).loss
      scores.push({ lr, loss: Number.isFinite(loss) ? loss : Infinity })
      tf.dispose([xt, yt, xv, p])
      disposeOptimizer(optimizer)
      head.dispose()
    }
    const best = scores.reduce((a, b) => (b.loss < a.loss ? b : a))
    expect(suggestion / best.lr, JSON.stringify({ suggestion, scores })).toBeGreaterThanOrEqual(0.1)
    expect(suggestion / best.lr, JSON.stringify({ suggestion, scores })).toBeLessThanOrEqual(10)
  }, 120_000)
})

describe('possibly mislabelled images', () => {
  it('ranks k planted wrong labels within the top 2k', async () => {
    const k = 4
    const planted = [3, 35, 51, 88]
    const y = [...feats.y]
    for (const i of planted) y[i] = (y[i]! + 1) % labels.length
    const suspects = await suspectLabels({ ...feats, y }, labels.length, config, { folds: 5, epochs: 60 })
    const top = suspects.slice(0, 2 * k).map((s) => s.index)
    for (const i of planted) expect(top, JSON.stringify(suspects.slice(0, 10))).toContain(i)
    // Each planted image is predicted as its true class.
    for (const i of planted) expect(suspects.find((s) => s.index === i)?.predicted).toBe(feats.y[i])
  }, 120_000)
})
