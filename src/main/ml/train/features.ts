/**
 * The speed core: run the frozen part of the network once per image, outside any gradient tape, and keep the
 * result on disk. A second run over the same images (same model, same preprocessing) reads the cache and
 * does not run the network at all.
 *
 * Memory is bounded by the features themselves: the caller's groups (a run's train, val and test splits) are
 * each one Float32Array per network output, allocated once; cached vectors are read into them chunk by chunk
 * and new ones are written to them and streamed to disk in chunks (data/feature-cache.ts) as batches finish.
 * Decoded images live for one batch (and the next one, decoded while the network runs).
 */
import { join } from 'node:path'
import type { LayersModel, Tensor, Tensor4D } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { getTf, inferenceBatch } from '../backend'
import { clipContentKey, type AudioInputSpec } from '../audio/source'
import { featureCacheKey } from '../data/cache-key'
import { hashFile, ImageDecodeError } from '../data/decode'
import { openFeatureSpace, type FeatureChunkWriter, type FeatureSpace } from '../data/feature-cache'
import type { Preprocess } from '../models/catalogue'
import { inputBatch } from './input-batch'

/** Counters that let tests prove the cache works by counts, not clocks. */
export const featureStats = { baseForwardImages: 0, cacheHits: 0, cacheMisses: 0 }

export interface FeatureOptions {
  /** Folder the `files` are relative to. */
  root: string
  /** [height, width] in pixels. */
  inputSize: [number, number]
  preprocess: Preprocess
  /** Images per forward pass. Default `inferenceBatch()` (4 on WASM and plain JS). */
  batchSize?: number
  /** Folder for cached vectors; null disables the disk cache. */
  cacheDir: string | null
  /** Identifies the network and the cut (`baseFeaturesKey`, `boundaryKey`); part of the cache key. */
  modelKey: string
  /**
   * Called as images are done (read from the cache or computed), with the total and, once the network has
   * run for a while, the seconds left at the speed so far (null before that).
   */
  onProgress?: (done: number, total: number, etaSeconds: number | null) => void
  /** Polled between files and batches; true stops with AppError('cancelled'). */
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

/** One distinct image and where its vectors go: rows of the caller's arrays (a file may be asked for twice). */
export interface FeatureItem {
  file: string
  key: string
  dests: { target: Float32Array[]; row: number }[]
  filled: boolean
}

/**
 * One extraction: the arrays being filled, the distinct images (by cache key, so two copies of one picture
 * are computed once), the cache space, and progress with an ETA.
 */
export class FeaturePlan {
  readonly shapes: number[][]
  readonly sizes: number[]
  readonly floats: number
  readonly items = new Map<string, FeatureItem>()
  /** Rows asked for, over every group. */
  total = 0
  /** Rows filled so far. */
  filled = 0
  private computeStart: { at: number; done: number } | null = null

  constructor(
    readonly base: LayersModel | null,
    readonly opts: FeatureOptions,
    readonly space: FeatureSpace | null,
    readonly sets: FeatureSet[],
  ) {
    this.shapes = outputShapes(base, opts.inputSize)
    this.sizes = this.shapes.map(size)
    this.floats = this.sizes.reduce((a, b) => a + b, 0)
  }

  checkStop(): void {
    if (this.opts.shouldStop?.()) throw cancelledError()
  }

  /** Distinct images not filled yet, in the order first asked for. */
  missing(): FeatureItem[] {
    return [...this.items.values()].filter((i) => !i.filled)
  }

  /** Copies one image's vectors (`parts`, one per output) into every row that asked for it. */
  fill(item: FeatureItem, parts: Float32Array[]): void {
    for (const d of item.dests) parts.forEach((p, k) => d.target[k]!.set(p, d.row * this.sizes[k]!))
    item.filled = true
    this.filled += item.dests.length
  }

  /** Reports `done` rows (default: those filled), with an ETA from the speed since the network started. */
  report(done = this.filled): void {
    if (!this.opts.onProgress) return
    const now = Date.now()
    let eta: number | null = null
    if (this.computeStart && done > this.computeStart.done) {
      const elapsed = (now - this.computeStart.at) / 1000
      const rate = (done - this.computeStart.done) / elapsed
      // After a couple of seconds the speed means something (workers have started, caches are warm).
      if (elapsed >= 2 && rate > 0) eta = Math.round((this.total - done) / rate)
    }
    this.opts.onProgress(Math.min(done, this.total), this.total, done >= this.total ? 0 : eta)
  }

  /** Marks the start of computing (for the ETA). */
  startClock(done = this.filled): void {
    this.computeStart ??= { at: Date.now(), done }
  }
}

/**
 * The cache key of `<root>/<file>`: the network, the recipe and the file's content.
 * @throws AppError('bad_data') naming the file when it cannot be read.
 */
async function cacheKeyOf(opts: FeatureOptions, file: string): Promise<string> {
  // A sound clip's content is its recording's bytes, the window and the spectrogram settings.
  if (opts.audio) return featureCacheKey(opts.modelKey, opts, await clipContentKey(opts.root, file, opts.audio))
  let content: string
  try {
    content = await hashFile(join(opts.root, file))
  } catch (err) {
    const reason = err instanceof ImageDecodeError ? err.reason : err instanceof Error ? err.message : String(err)
    throw new AppError('bad_data', `Could not read '${file}': ${reason} Remove it from the dataset and scan again.`)
  }
  return featureCacheKey(opts.modelKey, opts, content)
}

/**
 * Allocates one FeatureSet per group, hashes each file (when caching: the cache key is the network, the
 * recipe and the file's content) and opens the cache space. Polls `shouldStop` every few files.
 */
export async function planFeatures(
  base: LayersModel | null,
  groups: string[][],
  opts: FeatureOptions,
): Promise<FeaturePlan> {
  const shapes = outputShapes(base, opts.inputSize)
  const sizes = shapes.map(size)
  const sets = groups.map((files) => ({
    count: files.length,
    shapes,
    data: sizes.map((s) => new Float32Array(files.length * s)),
  }))
  const cacheDir = base ? opts.cacheDir : null
  const floats = sizes.reduce((a, b) => a + b, 0)
  const space = cacheDir ? await openFeatureSpace(cacheDir, opts.modelKey, opts, floats) : null
  const plan = new FeaturePlan(base, opts, space, sets)
  plan.total = groups.reduce((a, g) => a + g.length, 0)
  let n = 0
  for (let g = 0; g < groups.length; g++) {
    const files = groups[g]!
    for (let row = 0; row < files.length; row++) {
      if (n++ % 32 === 0) {
        plan.checkStop()
        if (n % 512 === 1) plan.report(0)
      }
      const file = files[row]!
      const key = space ? await cacheKeyOf(opts, file) : `file:${file}`
      let item = plan.items.get(key)
      if (!item) {
        item = { file, key, dests: [], filled: false }
        plan.items.set(key, item)
      }
      item.dests.push({ target: sets[g]!.data, row })
    }
  }
  return plan
}

/** Fills every row whose vector is in the cache (reading chunk by chunk). Counts cache hits. */
export async function fillFromCache(plan: FeaturePlan): Promise<void> {
  if (!plan.space) return
  const wanted = new Map<string, { target: Float32Array[]; row: number }[]>()
  for (const item of plan.items.values()) if (!item.filled && plan.space.has(item.key)) wanted.set(item.key, item.dests)
  if (wanted.size === 0) return
  const before = plan.filled
  let read = 0
  const found = await plan.space.readInto(
    wanted,
    plan.sizes,
    () => plan.opts.shouldStop?.() ?? false,
    (rows) => plan.report(plan.filled + (read += rows)),
  )
  plan.checkStop()
  for (const key of found) {
    const item = plan.items.get(key)!
    item.filled = true
    plan.filled += item.dests.length
  }
  featureStats.cacheHits += plan.filled - before
  plan.report()
}

/**
 * Runs the network over `items` in batches, decoding the next batch while the current one runs, and hands
 * each image's vectors to `sink` (the caller's rows and/or the cache writer). Polls `shouldStop` before and
 * after each decode, so a cancel waits for at most one forward pass.
 */
export async function computeFeatures(
  base: LayersModel | null,
  items: FeatureItem[],
  opts: FeatureOptions,
  sink: (item: FeatureItem, parts: Float32Array[]) => Promise<void>,
  onBatch?: (images: number) => void,
): Promise<void> {
  const tf = getTf()
  const batchSize = Math.max(1, opts.batchSize ?? inferenceBatch())
  const sizes = outputShapes(base, opts.inputSize).map(size)
  const stop = (): void => {
    if (opts.shouldStop?.()) throw cancelledError()
  }
  const decode = (start: number): Promise<Tensor4D> => {
    const p = inputBatch(
      opts,
      items.slice(start, start + batchSize).map((it) => it.file),
    )
    // Awaited below; a batch abandoned by a cancel must not become an unhandled rejection.
    p.catch(() => undefined)
    return p
  }
  // A batch decoded ahead and then abandoned (a cancel, a failed file) is disposed when it arrives.
  const drop = (p: Promise<Tensor4D> | null): void => {
    p?.then(
      (t) => t.dispose(),
      () => undefined,
    )
  }
  let next = items.length ? decode(0) : null
  try {
    for (let start = 0; start < items.length; start += batchSize) {
      stop()
      const x = await next!
      next = null
      let outs: Float32Array[]
      try {
        stop()
        next = start + batchSize < items.length ? decode(start + batchSize) : null
        outs = forwardBatch(base, x)
      } finally {
        tf.dispose(x)
      }
      const count = x.shape[0]
      for (let b = 0; b < count; b++)
        await sink(
          items[start + b]!,
          outs.map((o, k) => o.subarray(b * sizes[k]!, (b + 1) * sizes[k]!)),
        )
      onBatch?.(count)
    }
  } finally {
    drop(next)
  }
}

/**
 * Computes `items` (default: what `plan` still misses) here, into the caller's rows and the cache, reporting
 * after each batch (`report`, default the plan's own progress). Counts cache misses.
 */
export async function computeMissing(
  plan: FeaturePlan,
  items = plan.missing(),
  report = (): void => plan.report(),
): Promise<void> {
  if (items.length === 0) return
  const writer: FeatureChunkWriter | null = plan.space?.writer() ?? null
  plan.startClock()
  const before = plan.filled
  try {
    await computeFeatures(
      plan.base,
      items,
      plan.opts,
      async (item, parts) => {
        plan.fill(item, parts)
        await writer?.add(item.key, parts)
      },
      report,
    )
  } finally {
    featureStats.cacheMisses += plan.filled - before
    // Vectors computed before a cancel or a bad image are good: keep them for the next run.
    await writer?.close()
  }
}

/**
 * Runs the frozen `base` once over each group of files and returns their activations, one FeatureSet per
 * group, reading and writing the chunked disk cache (keyed by `featureCacheKey`: the network, the input recipe
 * and the image's content). `base` null means "the preprocessed image itself" (nothing frozen below the
 * cut), kept in memory only.
 * @throws AppError('cancelled') when `shouldStop` returns true, AppError('bad_data') for an unreadable image.
 */
export async function extractFeatureGroups(
  base: LayersModel | null,
  groups: string[][],
  opts: FeatureOptions,
): Promise<FeatureSet[]> {
  const plan = await planFeatures(base, groups, opts)
  await fillFromCache(plan)
  plan.report()
  await computeMissing(plan)
  return plan.sets
}

/** `extractFeatureGroups` for one list of files. */
export async function extractFeatures(
  base: LayersModel | null,
  files: string[],
  opts: FeatureOptions,
): Promise<FeatureSet> {
  return (await extractFeatureGroups(base, [files], opts))[0]!
}

/**
 * Fills the disk cache for `files` without keeping any vector (an extraction worker's shard): only images the
 * cache lacks are computed. `keys` are their cache keys when the caller hashed them already.
 * @returns the number of images computed.
 */
export async function cacheFeatures(
  base: LayersModel,
  files: string[],
  opts: FeatureOptions & { cacheDir: string },
  keys?: string[],
): Promise<number> {
  const shapes = outputShapes(base, opts.inputSize)
  const floats = shapes.map(size).reduce((a, b) => a + b, 0)
  const space = await openFeatureSpace(opts.cacheDir, opts.modelKey, opts, floats)
  const todo: FeatureItem[] = []
  const seen = new Set<string>()
  for (let i = 0; i < files.length; i++) {
    if (i % 32 === 0 && opts.shouldStop?.()) throw cancelledError()
    const key = keys?.[i] ?? (await cacheKeyOf(opts, files[i]!))
    if (space.has(key) || seen.has(key)) continue
    seen.add(key)
    todo.push({ file: files[i]!, key, dests: [], filled: false })
  }
  const writer = space.writer()
  let done = files.length - todo.length
  opts.onProgress?.(done, files.length, null)
  try {
    await computeFeatures(
      base,
      todo,
      opts,
      (item, parts) => writer.add(item.key, parts),
      (n) => {
        done += n
        opts.onProgress?.(done, files.length, null)
      },
    )
  } finally {
    await writer.close()
  }
  featureStats.cacheMisses += todo.length
  return todo.length
}

/** Tensors [count, ...shape] for each output of a feature set (caller disposes). */
export function featureTensors(set: FeatureSet): Tensor[] {
  const tf = getTf()
  return set.data.map((d, k) => tf.tensor(d, [set.count, ...set.shapes[k]]))
}
