import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeImage, makeSyntheticDataset, scanDataset } from '../../src/main/ml/data'

let base: string
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tunewise-synthetic-'))
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

async function hashes(dir: string): Promise<Map<string, string>> {
  const scan = await scanDataset(dir, { thumbnails: 0 })
  return new Map(scan.files.map((f) => [f.file, f.hash]))
}

describe('makeSyntheticDataset', () => {
  it('writes perClass images per default class, as PNG and JPEG, that the scan accepts', async () => {
    const dir = join(base, 'default')
    const result = await makeSyntheticDataset(dir, { perClass: 6, size: 48, seed: 3 })
    expect(result).toEqual({ dir, files: 24 })
    expect(readdirSync(dir).sort()).toEqual(['circle', 'square', 'star', 'triangle'])
    const names = readdirSync(join(dir, 'star')).sort()
    expect(names).toHaveLength(6)
    expect(names.filter((n) => n.endsWith('.jpg'))).toEqual(['star-002.jpg', 'star-005.jpg'])
    const scan = await scanDataset(dir)
    expect(scan.report.total).toBe(24)
    expect(scan.report.unreadable).toEqual([])
    expect(scan.report.blockers).toEqual([])
    expect(scan.report.duplicates).toEqual([])
    expect(scan.report.classes.map((c) => c.count)).toEqual([6, 6, 6, 6])
    expect(scan.report.sizes).toMatchObject({ minWidth: 48, maxWidth: 48, minHeight: 48, maxHeight: 48 })
  })

  it('is deterministic for a seed and different for another seed', async () => {
    const opts = { perClass: 4, size: 40 }
    await makeSyntheticDataset(join(base, 'a'), { ...opts, seed: 11 })
    await makeSyntheticDataset(join(base, 'b'), { ...opts, seed: 11 })
    await makeSyntheticDataset(join(base, 'c'), { ...opts, seed: 12 })
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((d) => hashes(join(base, d))))
    expect(a.size).toBe(16)
    expect(b).toEqual(a)
    expect([...a].filter(([file, hash]) => c.get(file) === hash)).toEqual([])
  })

  it('uses the given class names and draws a shape that differs from its background', async () => {
    const dir = join(base, 'named')
    const result = await makeSyntheticDataset(dir, {
      perClass: 3,
      size: 64,
      seed: 5,
      classes: ['circle', 'pets', 'ring'],
    })
    expect(result.files).toBe(9)
    expect(readdirSync(dir).sort()).toEqual(['circle', 'pets', 'ring'])
    const meta = await sharp(join(dir, 'pets', 'pets-000.png')).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64])
    // The shape covers a good part of the image: pixel values spread far apart, not just noise.
    const rgb = await decodeImage(join(dir, 'circle', 'circle-000.png'), 64, 64)
    const lum = Array.from({ length: 64 * 64 }, (_, i) => rgb[i * 3] + rgb[i * 3 + 1] + rgb[i * 3 + 2]).sort(
      (x, y) => x - y,
    )
    expect(lum[Math.floor(lum.length * 0.9)] - lum[Math.floor(lum.length * 0.1)]).toBeGreaterThan(150)
  })

  it('refuses duplicate class names', async () => {
    await expect(makeSyntheticDataset(join(base, 'dup'), { classes: ['a', 'a'] })).rejects.toBeInstanceOf(RangeError)
  })
})
