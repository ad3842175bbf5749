/**
 * The feature cache on disk, format 2: vectors are appended in chunk files as extraction proceeds, and read
 * back chunk by chunk straight into the caller's arrays. Memory stays at one chunk however many images a
 * folder holds (format 1 kept one file per image; 10,000 images meant 10,000 files to open twice).
 *
 * ```
 * <cacheDir>/v2/<space>/<chunk>.twfc     space: sha256 of the network key and the input recipe (32 hex digits)
 *
 * chunk (little-endian):
 *   0   'TWFC'                    magic
 *   4   u32 version (2)
 *   8   u32 count                 vectors in this chunk
 *   12  u32 floats                floats per vector (every output of the network, packed)
 *   16  32 bytes                  the space key (raw), so a chunk copied into another space is never read
 *   48  count × 32 bytes          each vector's key (`featureCacheKey`, raw)
 *   48 + 32·count                 count × floats float32 values
 * ```
 *
 * A chunk is written to a temporary name and renamed, so a reader (another process included) sees it whole or
 * not at all; a file whose size does not match its header is ignored, never misread. Entries are found by the
 * same per-image key as before (`featureCacheKey`: network, recipe, content), so a renamed file still hits.
 * Several processes may add chunks to one space at once: each writes its own files.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { RESIZE_FIT } from './resize'
import type { InputRecipe } from './cache-key'

/** Bumped whenever the layout above changes; other versions live in other folders and are never read. */
export const FEATURE_CACHE_VERSION = 2
const MAGIC = 0x43465754 // 'TWFC' read as a little-endian u32
const HEADER_BYTES = 48
const KEY_BYTES = 32
const CHUNK_EXT = '.twfc'
/** A chunk holds at most this many vectors… */
export const CHUNK_MAX_VECTORS = 256
/** …and at most this many bytes of values (large activations, e.g. phase 2's boundary, give smaller chunks). */
export const CHUNK_MAX_BYTES = 4 * 1024 * 1024

/** Counters for tests: chunks written and read, by count, not by clock. */
export const featureCacheStats = { chunksWritten: 0, chunksRead: 0 }

/** sha256 of the network key and the recipe: the per-image key without the image. */
function featureSpaceKey(modelKey: string, recipe: InputRecipe): Buffer {
  const resize = recipe.resize ?? RESIZE_FIT
  return createHash('sha256')
    .update(`space\n${modelKey}\n${recipe.preprocess}\n${recipe.inputSize.join('x')}\n${resize}`)
    .digest()
}

/** The folder of one feature space (one network cut, one input recipe): its key's first 32 hex digits. */
export function featureSpaceDir(cacheDir: string, modelKey: string, recipe: InputRecipe): string {
  return join(cacheDir, `v${FEATURE_CACHE_VERSION}`, featureSpaceKey(modelKey, recipe).toString('hex', 0, 16))
}

/** Vectors per chunk for vectors of `floats` values. */
export function chunkCapacity(floats: number): number {
  return Math.max(1, Math.min(CHUNK_MAX_VECTORS, Math.floor(CHUNK_MAX_BYTES / (floats * 4))))
}

interface Location {
  file: string
  row: number
}

/** One feature space on disk: which keys it holds (from the chunks' headers) and how to read and add vectors. */
export class FeatureSpace {
  private readonly where = new Map<string, Location>()
  private readonly known = new Set<string>()
  private readonly spaceKey: Buffer
  readonly dir: string

  /**
   * @param modelKey the network up to the cut (`baseFeaturesKey`, `boundaryKey`).
   * @param floats values per vector (all outputs); chunks of another width are ignored.
   */
  constructor(
    cacheDir: string,
    modelKey: string,
    recipe: InputRecipe,
    readonly floats: number,
  ) {
    this.spaceKey = featureSpaceKey(modelKey, recipe)
    this.dir = featureSpaceDir(cacheDir, modelKey, recipe)
  }

  /** Reads the headers of chunks not indexed yet (new ones another process wrote meanwhile, too). */
  async refresh(): Promise<void> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch {
      return
    }
    for (const name of names) {
      if (!name.endsWith(CHUNK_EXT) || this.known.has(name)) continue
      this.known.add(name)
      const keys = await this.readKeys(join(this.dir, name))
      if (!keys) continue
      keys.forEach((key, row) => {
        if (!this.where.has(key)) this.where.set(key, { file: name, row })
      })
    }
  }

  has(key: string): boolean {
    return this.where.has(key)
  }

  get size(): number {
    return this.where.size
  }

  /** The keys of a well-formed chunk of this space and width; null for anything else. */
  private async readKeys(file: string): Promise<string[] | null> {
    let fh
    try {
      fh = await open(file, 'r')
    } catch {
      return null
    }
    try {
      const head = Buffer.alloc(HEADER_BYTES)
      const { bytesRead } = await fh.read(head, 0, HEADER_BYTES, 0)
      if (bytesRead !== HEADER_BYTES) return null
      if (head.readUInt32LE(0) !== MAGIC || head.readUInt32LE(4) !== FEATURE_CACHE_VERSION) return null
      const count = head.readUInt32LE(8)
      const floats = head.readUInt32LE(12)
      if (floats !== this.floats || count === 0 || !head.subarray(16, 48).equals(this.spaceKey)) return null
      const size = (await fh.stat()).size
      if (size !== HEADER_BYTES + count * KEY_BYTES + count * floats * 4) return null
      const keyBytes = Buffer.alloc(count * KEY_BYTES)
      const read = await fh.read(keyBytes, 0, keyBytes.length, HEADER_BYTES)
      if (read.bytesRead !== keyBytes.length) return null
      return Array.from({ length: count }, (_, i) => keyBytes.toString('hex', i * KEY_BYTES, (i + 1) * KEY_BYTES))
    } catch {
      return null
    } finally {
      await fh.close()
    }
  }

  /**
   * Copies the vectors of `wanted` (key → the rows they go to) into `targets`: one array per network output,
   * each row `sizes[k]` floats, as `extractFeatures` packs them. Reads one chunk at a time (only chunks that
   * hold a wanted key). Returns the keys it found; `shouldStop` is polled between chunks.
   */
  async readInto(
    wanted: Map<string, { target: Float32Array[]; row: number }[]>,
    sizes: number[],
    shouldStop?: () => boolean,
    onRows?: (rows: number) => void,
  ): Promise<Set<string>> {
    const byFile = new Map<string, { row: number; key: string }[]>()
    for (const key of wanted.keys()) {
      const at = this.where.get(key)
      if (!at) continue
      const list = byFile.get(at.file) ?? []
      list.push({ row: at.row, key })
      byFile.set(at.file, list)
    }
    const found = new Set<string>()
    const capacity = chunkCapacity(this.floats)
    const scratch = Buffer.allocUnsafeSlow(capacity * this.floats * 4)
    const values = new Float32Array(scratch.buffer, scratch.byteOffset, capacity * this.floats)
    for (const [name, entries] of byFile) {
      if (shouldStop?.()) break
      const file = join(this.dir, name)
      let fh
      try {
        fh = await open(file, 'r')
      } catch {
        continue
      }
      try {
        const count = (await fh.read(Buffer.alloc(4), 0, 4, 8)).buffer.readUInt32LE(0)
        const bytes = count * this.floats * 4
        if (bytes > scratch.length) continue
        const { bytesRead } = await fh.read(scratch, 0, bytes, HEADER_BYTES + count * KEY_BYTES)
        if (bytesRead !== bytes) continue
        featureCacheStats.chunksRead++
        let rows = 0
        for (const { row, key } of entries) {
          const from = row * this.floats
          for (const dest of wanted.get(key)!) {
            let o = from
            sizes.forEach((s, k) => {
              dest.target[k]!.set(values.subarray(o, o + s), dest.row * s)
              o += s
            })
            rows++
          }
          found.add(key)
        }
        onRows?.(rows)
      } finally {
        await fh.close()
      }
    }
    return found
  }

  /** A writer that adds chunks to this space as vectors arrive. */
  writer(): FeatureChunkWriter {
    return new FeatureChunkWriter(this.dir, this.floats, this.spaceKey, (name, keys) => {
      this.known.add(name)
      keys.forEach((key, row) => {
        if (!this.where.has(key)) this.where.set(key, { file: name, row })
      })
    })
  }
}

/**
 * Buffers vectors and writes a chunk whenever `chunkCapacity` of them are in; `close` writes the rest. Holds
 * at most one chunk in memory.
 */
export class FeatureChunkWriter {
  private readonly capacity: number
  private readonly keys: string[] = []
  private readonly buf: Buffer
  private readonly values: Float32Array
  private written = 0

  constructor(
    private readonly dir: string,
    private readonly floats: number,
    private readonly spaceKey: Buffer,
    private readonly onChunk: (name: string, keys: string[]) => void,
  ) {
    this.capacity = chunkCapacity(floats)
    this.buf = Buffer.allocUnsafeSlow(this.capacity * floats * 4)
    this.values = new Float32Array(this.buf.buffer, this.buf.byteOffset, this.capacity * floats)
  }

  /** Chunks written so far. */
  get chunks(): number {
    return this.written
  }

  /** Adds one vector (its outputs, packed in order). Writes a chunk when one is full. */
  async add(key: string, parts: Float32Array[]): Promise<void> {
    let o = this.keys.length * this.floats
    for (const p of parts) {
      this.values.set(p, o)
      o += p.length
    }
    this.keys.push(key)
    if (this.keys.length === this.capacity) await this.flush()
  }

  /** Writes what is buffered (also after a cancel: those vectors are good). */
  async close(): Promise<void> {
    if (this.keys.length) await this.flush()
  }

  private async flush(): Promise<void> {
    const count = this.keys.length
    const keys = this.keys.splice(0)
    const head = Buffer.alloc(HEADER_BYTES)
    head.writeUInt32LE(MAGIC, 0)
    head.writeUInt32LE(FEATURE_CACHE_VERSION, 4)
    head.writeUInt32LE(count, 8)
    head.writeUInt32LE(this.floats, 12)
    this.spaceKey.copy(head, 16)
    const keyBytes = Buffer.alloc(count * KEY_BYTES)
    keys.forEach((k, i) => keyBytes.write(k, i * KEY_BYTES, KEY_BYTES, 'hex'))
    await mkdir(this.dir, { recursive: true })
    const name = `${Date.now().toString(36)}-${process.pid}-${randomBytes(6).toString('hex')}${CHUNK_EXT}`
    const tmp = join(this.dir, `.${name}.tmp`)
    try {
      const fh = await open(tmp, 'w')
      try {
        await fh.writev([head, keyBytes, this.buf.subarray(0, count * this.floats * 4)])
      } finally {
        await fh.close()
      }
      await rename(tmp, join(this.dir, name))
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw err
    }
    this.written++
    featureCacheStats.chunksWritten++
    this.onChunk(name, keys)
  }
}

/** Opens (without reading) the space for `modelKey` + `recipe` under `cacheDir`. */
export async function openFeatureSpace(
  cacheDir: string,
  modelKey: string,
  recipe: InputRecipe,
  floats: number,
): Promise<FeatureSpace> {
  const space = new FeatureSpace(cacheDir, modelKey, recipe, floats)
  await space.refresh()
  return space
}
