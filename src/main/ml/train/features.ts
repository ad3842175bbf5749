/**
 * The speed core: run the frozen part of the network once per image, outside any gradient tape, and keep the
 * result on disk. A second run over the same images (same model, same preprocessing) reads the cache and
 * does not run the network at all.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { LayersModel, Tensor, Tensor4D } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { getTf } from '../backend'
import type { AudioInputSpec } from '../audio/source'
import type { Preprocess } from '../models/catalogue'
import { inputBatch, inputCachePath } from './input-batch'

/** Counters that let tests prove the cache works by counts, not clocks. */
export const featureStats = { baseForwardImages: 0, cacheHits: 0, cacheMisses: 0 }

export interface FeatureOptions {
  /** Folder the `files` are relative to. */
  root: string
  /** [height, width] in pixels. */
  inputSize: [number, number]
  preprocess: Preprocess
  /** Images per forward pass. Default 16. */
  batchSize?: number
  /** Folder for cached vectors; null disables the disk cache. */
  cacheDir: string | null
  /** Identifies the network and the cut (`baseFeaturesKey`, `boundaryKey`); part of the cache key. */
  modelKey: string
  /** Called after each batch with images done and total. */
  onProgress?: (done: number, total: number) => void
  /** Polled between batches; true stops with AppError('cancelled'). */
  shouldStop?: () => boolean
  /** Sound data: `files` are clip (window) ids, drawn as spectrograms with these settings. Absent: images. */
  audio?: AudioInputSpec
}

/** Activations for `count` images: for each model output, a packed [count, ...shape] Float32Array. */
export interface FeatureSet {
  count: number
  shapes: number[][]
  data: Float32Array[]
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1)

export function cancelledError(): AppError {
  return new AppError('cancelled', 'The run was cancelled.')
}

/** The output shapes (without batch) of `base`, or the image itself when base is null (identity). */
export function outputShapes(base: LayersModel | null, inputSize: [number, number]): number[][] {
  if (!base) return [[inputSize[0], inputSize[1], 3]]
  return base.outputs.map((o) => o.shape.slice(1).map((d) => d ?? 0))
}

/**
 * Runs `base` (inference only: `predict` inside `tidy`, never on a tape) over a batch of float images,
 * optionally transformed first (augmentation). Returns one Float32Array per output. Counts the images.
 */
export function forwardBatch(
  base: LayersModel | null,
  batch: Tensor4D,
  transform?: (x: Tensor4D) => Tensor4D,
): Float32Array[] {
  const tf = getTf()
  const outs = tf.tidy(() => {
    const x = transform ? transform(batch) : batch
    if (!base) return [x.clone()]
    const y = base.predict(x) as Tensor | Tensor[]
    return Array.isArray(y) ? y : [y]
  })
  if (base) featureStats.baseForwardImages += batch.shape[0]
  const arrays = outs.map((t) => t.dataSync() as Float32Array)
  tf.dispose(outs)
  return arrays
}

/**
 * Reads one cached entry and splits it into one array per output; null when it is missing or has the wrong
 * size (written by another cut of the network, or cut short).
 */
async function readCacheEntry(file: string, sizes: number[]): Promise<Float32Array[] | null> {
  if (!existsSync(file)) return null
  const buf = await readFile(file)
  if (buf.byteLength !== sizes.reduce((a, b) => a + b, 0) * 4) return null
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength))
  let offset = 0
  return sizes.map((s) => {
    const part = all.subarray(offset, offset + s)
    offset += s
    return part
  })
}

async function writeCacheEntry(file: string, values: Float32Array[]): Promise<void> {
  const total = values.reduce((a, v) => a + v.length, 0)
  const packed = new Float32Array(total)
  let o = 0
  for (const v of values) {
    packed.set(v, o)
    o += v.length
  }
  await mkdir(dirname(file), { recursive: true })
  // Temp file + rename: a crash mid-write never leaves a short entry that a later run would trust.
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength))
  await rename(tmp, file)
}

/**
 * Runs the frozen `base` once over `files` in batches and returns their activations, reading and writing the
 * per-image disk cache (one Float32 file per image, keyed by `featureCacheKey`: the network, the input recipe
 * and the image's content). `base` null means "the preprocessed image itself" (nothing frozen below the
 * cut), kept in memory only.
 */
export async function extractFeatures(
  base: LayersModel | null,
  files: string[],
  opts: FeatureOptions,
): Promise<FeatureSet> {
  const tf = getTf()
  const shapes = outputShapes(base, opts.inputSize)
  const sizes = shapes.map(size)
  const data = sizes.map((s) => new Float32Array(files.length * s))
  const cacheDir = base ? opts.cacheDir : null
  const batchSize = Math.max(1, opts.batchSize ?? 16)
  const put = (i: number, values: Float32Array[]) => values.forEach((v, k) => data[k].set(v, i * sizes[k]))

  const cachePaths: (string | null)[] = new Array<string | null>(files.length).fill(null)
  const todo: number[] = []
  for (let i = 0; i < files.length; i++) {
    if (cacheDir) {
      cachePaths[i] = await inputCachePath(cacheDir, opts, files[i])
      const cached = await readCacheEntry(cachePaths[i]!, sizes)
      if (cached) {
        put(i, cached)
        featureStats.cacheHits++
        continue
      }
      featureStats.cacheMisses++
    }
    todo.push(i)
  }
  let done = files.length - todo.length
  opts.onProgress?.(done, files.length)

  for (let start = 0; start < todo.length; start += batchSize) {
    if (opts.shouldStop?.()) throw cancelledError()
    const idx = todo.slice(start, start + batchSize)
    const x = await inputBatch(
      opts,
      idx.map((i) => files[i]),
    )
    let outs: Float32Array[]
    try {
      outs = forwardBatch(base, x)
    } finally {
      tf.dispose(x)
    }
    for (let b = 0; b < idx.length; b++) {
      const values = outs.map((o, k) => o.subarray(b * sizes[k], (b + 1) * sizes[k]))
      put(idx[b], values)
      const path = cachePaths[idx[b]]
      if (path) await writeCacheEntry(path, values)
    }
    done += idx.length
    opts.onProgress?.(done, files.length)
  }
  return { count: files.length, shapes, data }
}

/** Tensors [count, ...shape] for each output of a feature set (caller disposes). */
export function featureTensors(set: FeatureSet): Tensor[] {
  const tf = getTf()
  return set.data.map((d, k) => tf.tensor(d, [set.count, ...set.shapes[k]]))
}
