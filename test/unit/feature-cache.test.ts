/**
 * The chunked feature cache (format 2): vectors come back exactly, chunks hold at most their capacity, and a
 * chunk that is cut short, of another version or width, or copied into another space is ignored, never
 * misread. Format 1 entries (one .f32 file per image) are not read at all.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { featureCacheKey, type InputRecipe } from '../../src/main/ml/data/cache-key'
import {
  CHUNK_MAX_VECTORS,
  chunkCapacity,
  featureSpaceDir,
  openFeatureSpace,
} from '../../src/main/ml/data/feature-cache'

const root = mkdtempSync(join(tmpdir(), 'tw-feature-cache-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const recipe: InputRecipe = { inputSize: [32, 32], preprocess: 'rgb/255' }
const FLOATS = 6
const key = (i: number) => featureCacheKey('net', recipe, `content-${i}`)
/** Vector i: two outputs of 4 and 2 values, distinct per image. */
const parts = (i: number) => [Float32Array.from([i, i + 0.25, -i, 1e-3 * i]), Float32Array.from([i * 2, 7])]

async function write(cacheDir: string, count: number, from = 0): Promise<void> {
  const space = await openFeatureSpace(cacheDir, 'net', recipe, FLOATS)
  const writer = space.writer()
  for (let i = from; i < from + count; i++) await writer.add(key(i), parts(i))
  await writer.close()
}

/** Reads vectors `ids` back into fresh arrays; returns them and the ids found. */
async function read(cacheDir: string, ids: number[], floats = FLOATS) {
  const space = await openFeatureSpace(cacheDir, 'net', recipe, floats)
  const target = [new Float32Array(ids.length * 4), new Float32Array(ids.length * 2)]
  const wanted = new Map(ids.map((id, row) => [key(id), [{ target, row }]]))
  const found = await space.readInto(wanted, [4, 2])
  return { target, found: ids.filter((id) => found.has(key(id))), size: space.size }
}

const chunks = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.twfc'))

describe('the chunked feature cache', () => {
  it('streams vectors into chunks of at most their capacity and reads them back exactly, in any order', async () => {
    const cacheDir = join(root, 'a')
    const n = CHUNK_MAX_VECTORS + 10
    await write(cacheDir, n)
    expect(chunkCapacity(FLOATS)).toBe(CHUNK_MAX_VECTORS)
    const dir = featureSpaceDir(cacheDir, 'net', recipe)
    expect(chunks(dir)).toHaveLength(2)
    const ids = [n - 1, 0, 300 % n, 5]
    const { target, found, size } = await read(cacheDir, ids)
    expect(size).toBe(n)
    expect(found).toEqual(ids)
    ids.forEach((id, row) => {
      expect(Array.from(target[0]!.subarray(row * 4, row * 4 + 4))).toEqual(Array.from(parts(id)[0]!))
      expect(Array.from(target[1]!.subarray(row * 2, row * 2 + 2))).toEqual(Array.from(parts(id)[1]!))
    })
  })

  it('bounds a chunk by bytes for wide vectors', () => {
    // 64 KB vectors: 64 to a 4 MB chunk.
    expect(chunkCapacity(16384)).toBe(64)
    expect(chunkCapacity(10_000_000)).toBe(1)
  })

  it('ignores a chunk cut short, of another version or width, or moved into another space', async () => {
    const cacheDir = join(root, 'b')
    await write(cacheDir, 3)
    const dir = featureSpaceDir(cacheDir, 'net', recipe)
    const [chunk] = chunks(dir)
    const file = join(dir, chunk!)
    const good = readFileSync(file)

    truncateSync(file, good.length - 4)
    expect((await read(cacheDir, [0, 1, 2])).found).toEqual([])

    const otherVersion = Buffer.from(good)
    otherVersion.writeUInt32LE(3, 4)
    writeFileSync(file, otherVersion)
    expect((await read(cacheDir, [0, 1, 2])).found).toEqual([])

    writeFileSync(file, good)
    expect((await read(cacheDir, [0, 1, 2])).found).toEqual([0, 1, 2])
    // Another width reads nothing from the same folder.
    expect((await read(cacheDir, [0], FLOATS + 1)).found).toEqual([])

    // A chunk copied into another network's space does not serve that network.
    const elsewhere = featureSpaceDir(cacheDir, 'other-net', recipe)
    mkdirSync(elsewhere, { recursive: true })
    copyFileSync(file, join(elsewhere, chunk!))
    const space = await openFeatureSpace(cacheDir, 'other-net', recipe, FLOATS)
    expect(space.size).toBe(0)
  })

  it('never reads a format 1 entry (one .f32 file per image)', async () => {
    const cacheDir = join(root, 'c')
    const k = key(0)
    mkdirSync(join(cacheDir, k.slice(0, 2)), { recursive: true })
    writeFileSync(join(cacheDir, k.slice(0, 2), `${k}.f32`), Buffer.from(new Float32Array(FLOATS).buffer))
    expect((await read(cacheDir, [0])).found).toEqual([])
  })

  it('finds chunks another process added after it was opened', async () => {
    const cacheDir = join(root, 'd')
    await write(cacheDir, 2)
    const space = await openFeatureSpace(cacheDir, 'net', recipe, FLOATS)
    expect(space.size).toBe(2)
    await write(cacheDir, 2, 2)
    expect(space.has(key(3))).toBe(false)
    await space.refresh()
    expect(space.size).toBe(4)
  })
})
