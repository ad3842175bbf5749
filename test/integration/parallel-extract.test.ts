import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LayersModel } from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { extractFeatures, featureStats, type FeatureOptions } from '../../src/main/ml/train/features'
import { tinyConvNet } from '../helpers/tiny-model'
import { extractFeaturesParallel, parallelStats } from '../../src/main/ml/train/parallel-extract'
import { AppError } from '../../src/main/errors'
import { openFeatureSpace } from '../../src/main/ml/data/feature-cache'

const root = mkdtempSync(join(tmpdir(), 'tw-parallel-'))
const datasetPath = join(root, 'shapes')
const classes = ['circle', 'square']
// 12 images: 6 per class, mixed PNG and JPEG as the synthetic dataset writes them.
const files = classes.flatMap((c) =>
  Array.from({ length: 6 }, (_, i) => `${c}/${c}-${String(i).padStart(3, '0')}.${i % 3 === 2 ? 'jpg' : 'png'}`),
)
let base: LayersModel
afterAll(() => rmSync(root, { recursive: true, force: true }))

const opts = (cacheDir: string | null): FeatureOptions => ({
  root: datasetPath,
  inputSize: [32, 32],
  preprocess: 'rgb/255',
  batchSize: 4,
  cacheDir,
  modelKey: 'tiny-parallel-test',
})

/** Vectors the chunked cache holds for this test's network, and the chunk files holding them. */
const cached = async (dir: string): Promise<{ vectors: number; chunks: number }> => {
  const space = await openFeatureSpace(dir, 'tiny-parallel-test', { inputSize: [32, 32], preprocess: 'rgb/255' }, 8)
  const chunks = readdirSync(space.dir).filter((f) => f.endsWith('.twfc')).length
  return { vectors: space.size, chunks }
}

beforeAll(async () => {
  await initBackend('wasm')
  await makeSyntheticDataset(datasetPath, { perClass: 6, size: 40, seed: 5, classes })
  base = tinyConvNet({ pool: true, name: 'tiny_base' })
})

describe('extractFeaturesParallel', () => {
  it('shards uncached images over this process and a worker and returns the single-process vectors', async () => {
    const single = await extractFeatures(base, files, opts(null))
    const cacheDir = join(root, 'cache-a')
    const forwardBefore = featureStats.baseForwardImages
    const progress: number[] = []
    const parallel = await extractFeaturesParallel(base, files, {
      ...opts(cacheDir),
      workers: 2,
      minImagesPerWorker: 1,
      headStartImages: 0,
      onProgress: (done) => progress.push(done),
    })

    // The first shard is this process's own; the second went to one forked worker.
    expect(parallelStats.shardSizes).toEqual([6, 6])
    expect(parallelStats.workerPids).toHaveLength(1)
    expect(parallelStats.workerPids).not.toContain(process.pid)
    // The base ran over every image exactly once, here or in the worker.
    expect(featureStats.baseForwardImages - forwardBefore).toBe(files.length)
    // Each process streamed its own chunk; together they hold every image once.
    expect(await cached(cacheDir)).toEqual({ vectors: files.length, chunks: 2 })
    expect(progress.at(-1)).toBe(files.length)

    expect(parallel.count).toBe(single.count)
    expect(parallel.shapes).toEqual(single.shapes)
    expect(parallel.data[0].length).toBe(files.length * 8)
    let maxDiff = 0
    single.data[0].forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - parallel.data[0][i]))))
    expect(maxDiff).toBeLessThan(1e-5)
    // Not all zeros or constant: the comparison above means something.
    expect(new Set(Array.from(single.data[0].subarray(0, 16))).size).toBeGreaterThan(8)

    // A second call finds everything cached and starts no worker.
    const again = await extractFeaturesParallel(base, files, {
      ...opts(cacheDir),
      workers: 2,
      minImagesPerWorker: 1,
      headStartImages: 0,
    })
    expect(parallelStats.shardSizes).toEqual([])
    expect(Array.from(again.data[0])).toEqual(Array.from(parallel.data[0]))
  })

  it('only sends the uncached images to workers, and keeps them in the order asked for', async () => {
    const cacheDir = join(root, 'cache-b')
    await extractFeatures(base, files.slice(0, 4), opts(cacheDir))
    const reversed = [...files].reverse()
    const parallel = await extractFeaturesParallel(base, reversed, {
      ...opts(cacheDir),
      workers: 2,
      minImagesPerWorker: 1,
    })
    // 8 uncached: this process takes half plus a head start (it needs no start-up), the worker the rest.
    expect(parallelStats.shardSizes).toEqual([6, 2])
    const single = await extractFeatures(base, reversed, opts(null))
    const diff = single.data[0].reduce((m, v, i) => Math.max(m, Math.abs(v - parallel.data[0][i])), 0)
    expect(diff).toBeLessThan(1e-5)
  })

  it('runs small jobs in this process', async () => {
    const forwardBefore = featureStats.baseForwardImages
    const out = await extractFeaturesParallel(base, files.slice(0, 3), { ...opts(null), workers: 2 })
    expect(parallelStats.workerPids).toEqual([])
    expect(out.count).toBe(3)
    expect(featureStats.baseForwardImages - forwardBefore).toBe(3)
  })

  it('passes a bad image up as bad_data naming the file, not as an internal error', async () => {
    writeFileSync(join(datasetPath, 'circle', 'notes.png'), 'not an image')
    const err = await extractFeaturesParallel(base, [...files.slice(0, 3), 'circle/notes.png'], {
      ...opts(join(root, 'cache-d')),
      workers: 2,
      minImagesPerWorker: 1,
      headStartImages: 0,
    }).catch((e: unknown) => e)
    expect(parallelStats.shardSizes).toEqual([2, 2])
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('bad_data')
    expect((err as AppError).message).toContain('notes.png')
  })

  it('cancels: rejects with "cancelled" and leaves no worker running', async () => {
    let stop = false
    const run = extractFeaturesParallel(base, files, {
      ...opts(join(root, 'cache-c')),
      workers: 2,
      minImagesPerWorker: 1,
      // Ask to stop as soon as the workers exist; the parent polls between their messages.
      shouldStop: () => {
        if (parallelStats.workerPids.length === 1) stop = true
        return stop
      },
    })
    const err = await run.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('cancelled')
    expect(parallelStats.workerPids).toHaveLength(1)
    for (const pid of parallelStats.workerPids) expect(() => process.kill(pid, 0)).toThrow()
  })
})
