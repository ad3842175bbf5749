/**
 * Memory does not grow with the number of images beyond the features themselves. A real run (the engine's
 * own path: extraction sharded over a worker, the chunked cache, one array per split) is measured at N and
 * at 3N images, each in a fresh process (test/helpers/scale-memory-run.ts), with a tiny base whose features
 * are wide (64 KB an image) so they dominate: a second copy of them, per-image buffers kept, or decoded
 * images held for the whole set would each add at least as much again. The cache must be written, and read
 * back, in more than one chunk. Counts and bytes, not clocks.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { FLOATS, LABELS, type MeasuredRun } from '../helpers/scale-memory-run'

const root = mkdtempSync(join(tmpdir(), 'tw-scale-memory-'))
const datasetPath = join(root, 'shapes')
const script = resolve(__dirname, '../helpers/scale-memory-run.ts')
/** Images of the small run; the large one has three times as many (the whole dataset). */
const SMALL = 120
const LARGE = 3 * SMALL
afterAll(() => rmSync(root, { recursive: true, force: true }))

async function measure(images: number, cache: string): Promise<MeasuredRun> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', script, datasetPath, join(root, cache), String(images / LABELS.length)],
    { cwd: resolve(__dirname, '../..'), maxBuffer: 1 << 20 },
  )
  return JSON.parse(stdout.trim().split('\n').pop()!) as MeasuredRun
}

beforeAll(async () => {
  await initBackend('cpu')
  await makeSyntheticDataset(datasetPath, { perClass: LARGE / LABELS.length, size: 32, seed: 9, classes: LABELS })
}, 120_000)

describe('memory at scale', () => {
  it('grows by the features of the extra images and no more, cold and from the cache; chunks both ways', async () => {
    const featureBytes = (images: number) => images * FLOATS * 4
    // Room for what does not depend on the image count: a batch of images, a cache chunk (4 MB), noise.
    const margin = 6 * 1024 * 1024

    const coldSmall = await measure(SMALL, 'cache-small')
    const coldLarge = await measure(LARGE, 'cache-large')
    // Stopped where training starts; every image ran through the base once (here or in the extraction worker).
    expect([coldSmall.status, coldLarge.status]).toEqual(['cancelled', 'cancelled'])
    expect(coldSmall.forwarded).toBe(SMALL)
    expect(coldLarge.forwarded).toBe(LARGE)
    // The measure sees the features, so it would notice a second copy.
    expect(coldLarge.peak).toBeGreaterThan(featureBytes(LARGE) * 0.9)
    expect(coldLarge.peak - coldSmall.peak).toBeLessThan(featureBytes(LARGE - SMALL) + margin)
    // Streamed to disk as extraction went: 64 KB vectors, at most 4 MB a chunk.
    expect(coldSmall.written).toBeGreaterThan(1)

    // Again, everything from the cache: read chunk by chunk into the split arrays.
    const warmSmall = await measure(SMALL, 'cache-small')
    const warmLarge = await measure(LARGE, 'cache-large')
    expect([warmSmall.forwarded, warmLarge.forwarded, warmSmall.written, warmLarge.written]).toEqual([0, 0, 0, 0])
    expect(warmSmall.read).toBeGreaterThan(1)
    expect(warmLarge.peak).toBeGreaterThan(featureBytes(LARGE) * 0.9)
    expect(warmLarge.peak - warmSmall.peak).toBeLessThan(featureBytes(LARGE - SMALL) + margin)
  }, 300_000)
})
