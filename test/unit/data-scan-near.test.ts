/** Near-copies: the scan's difference hash, grouping by Hamming distance, and the split keeping them whole. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mulberry32, scanDataset, splitDataset } from '../../src/main/ml/data'
import { differenceHash, hammingDistance, nearDuplicateGroups } from '../../src/main/ml/data/scan'

let base: string
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tunewise-near-'))
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

/** A 9×8 RGB buffer from a grey value per pixel. */
function greyGrid(value: (x: number, y: number) => number): Uint8Array {
  const out = new Uint8Array(9 * 8 * 3)
  for (let y = 0; y < 8; y++) for (let x = 0; x < 9; x++) out.fill(value(x, y), (y * 9 + x) * 3, (y * 9 + x) * 3 + 3)
  return out
}

/** A busy 320×240 picture: blobs at positions drawn from `seed`. */
function scene(seed: number): sharp.Sharp {
  const random = mulberry32(seed)
  const shapes = Array.from({ length: 6 }, () => {
    const [x, y, r] = [random() * 320, random() * 240, 20 + random() * 50]
    const hue = Math.floor(random() * 360)
    return `<circle cx="${x.toFixed(0)}" cy="${y.toFixed(0)}" r="${r.toFixed(0)}" fill="hsl(${hue},70%,${30 + (hue % 40)}%)"/>`
  })
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><rect width="320" height="240" fill="#888"/>' +
    `${shapes.join('')}</svg>`
  return sharp(Buffer.from(svg))
}

describe('differenceHash and hammingDistance', () => {
  it('reads brighter-than-the-right-neighbour as 1, row by row', () => {
    expect(differenceHash(greyGrid((x) => 240 - x * 25))).toBe('ffffffffffffffff')
    expect(differenceHash(greyGrid((x) => 10 + x * 25))).toBe('0000000000000000')
    // Only the first row falls to the right.
    expect(differenceHash(greyGrid((x, y) => (y === 0 ? 240 - x * 25 : 10 + x * 25)))).toBe('ff00000000000000')
  })

  it('gives no hash for a flat or almost flat image', () => {
    expect(differenceHash(greyGrid(() => 128))).toBeUndefined()
    expect(differenceHash(greyGrid((x, y) => 128 + ((x + y) % 2)))).toBeUndefined()
    expect(() => differenceHash(new Uint8Array(8 * 8 * 3))).toThrow(RangeError)
  })

  it('counts differing bits', () => {
    expect(hammingDistance('ffffffffffffffff', 'ffffffffffffffff')).toBe(0)
    expect(hammingDistance('ffffffffffffffff', '0000000000000000')).toBe(64)
    expect(hammingDistance('8000000000000001', '0000000000000000')).toBe(2)
    expect(hammingDistance('00000000f0000000', '0000000000000000')).toBe(4)
  })
})

describe('nearDuplicateGroups', () => {
  /** The same grouping by comparing every pair, for reference. */
  function bruteForce(files: { file: string; label: string; dhash: string }[], max: number): Map<string, string> {
    const sorted = [...files].sort((a, b) => (a.file < b.file ? -1 : 1))
    const group = sorted.map((_, i) => i)
    const find = (i: number): number => (group[i] === i ? i : (group[i] = find(group[i])))
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        if (sorted[i].label === sorted[j].label && hammingDistance(sorted[i].dhash, sorted[j].dhash) <= max) {
          group[find(j)] = find(i)
        }
      }
    }
    const members = new Map<number, string[]>()
    sorted.forEach((f, i) => members.set(find(i), [...(members.get(find(i)) ?? []), f.file]))
    const out = new Map<string, string>()
    for (const m of members.values()) if (m.length > 1) for (const f of m) out.set(f, m[0])
    return out
  }

  it('matches comparing every pair, on random hashes with planted near-copies', () => {
    for (let iter = 0; iter < 60; iter++) {
      const random = mulberry32(500 + iter)
      const hex = (): string =>
        Array.from({ length: 16 }, () => Math.floor(random() * 16).toString(16)).join('') as string
      const flip = (h: string, bits: number): string => {
        let v = BigInt(`0x${h}`)
        for (let b = 0; b < bits; b++) v ^= 1n << BigInt(Math.floor(random() * 64))
        return v.toString(16).padStart(16, '0')
      }
      const files: { file: string; label: string; dhash: string }[] = []
      for (let i = 0; i < 40; i++) {
        const label = random() < 0.5 ? 'a' : 'b'
        const h = hex()
        files.push({ file: `f${String(files.length).padStart(3, '0')}`, label, dhash: h })
        for (let c = Math.floor(random() * 3); c > 0; c--) {
          const near = flip(h, Math.floor(random() * 7))
          files.push({
            file: `f${String(files.length).padStart(3, '0')}`,
            label: random() < 0.8 ? label : 'b',
            dhash: near,
          })
        }
      }
      for (const max of [2, 4])
        expect(nearDuplicateGroups(files, max), `iteration ${iter}`).toEqual(bruteForce(files, max))
    }
  })

  it('ignores files without a hash and never joins two classes', () => {
    const groups = nearDuplicateGroups([
      { file: 'a/1.png', label: 'a', dhash: '00000000000000ff' },
      { file: 'a/2.png', label: 'a', dhash: '00000000000000fe' },
      { file: 'b/3.png', label: 'b', dhash: '00000000000000ff' },
      { file: 'a/4.png', label: 'a' },
    ])
    expect(groups).toEqual(
      new Map([
        ['a/1.png', 'a/1.png'],
        ['a/2.png', 'a/1.png'],
      ]),
    )
  })
})

describe('scanDataset and near-copies', () => {
  it('hashes resized and re-encoded copies alike, and the split keeps them on one side', async () => {
    const root = join(base, 'near')
    for (const cls of ['a', 'b']) mkdirSync(join(root, cls), { recursive: true })
    for (let i = 0; i < 10; i++)
      await scene(i)
        .png()
        .toFile(join(root, 'a', `a${i}.png`))
    for (let i = 0; i < 10; i++)
      await scene(100 + i)
        .png()
        .toFile(join(root, 'b', `b${i}.png`))
    // Near-copies of a0: smaller, and a low-quality JPEG.
    await scene(0)
      .resize(200, 150)
      .png()
      .toFile(join(root, 'a', 'a0-small.png'))
    await scene(0)
      .jpeg({ quality: 40 })
      .toFile(join(root, 'a', 'a0-web.jpg'))
    // A flat swatch: no hash, so never anyone's near-copy.
    await sharp({ create: { width: 50, height: 50, channels: 3, background: '#888' } })
      .png()
      .toFile(join(root, 'b', 'flat.png'))

    const { files } = await scanDataset(root)
    const dhash = new Map(files.map((f) => [f.file, f.dhash]))
    expect(dhash.get('b/flat.png')).toBeUndefined()
    expect(files.filter((f) => f.file !== 'b/flat.png').every((f) => /^[0-9a-f]{16}$/.test(f.dhash ?? ''))).toBe(true)
    expect(hammingDistance(dhash.get('a/a0.png')!, dhash.get('a/a0-small.png')!)).toBeLessThanOrEqual(4)
    expect(hammingDistance(dhash.get('a/a0.png')!, dhash.get('a/a0-web.jpg')!)).toBeLessThanOrEqual(4)

    const groups = nearDuplicateGroups(files)
    expect(groups.get('a/a0-small.png')).toBe('a/a0-small.png')
    expect(groups.get('a/a0-web.jpg')).toBe('a/a0-small.png')
    expect(groups.get('a/a0.png')).toBe('a/a0-small.png')
    // The 18 other scenes are no one's near-copy.
    expect([...groups.keys()].sort()).toEqual(['a/a0-small.png', 'a/a0-web.jpg', 'a/a0.png'])

    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const split = splitDataset(files, { train: 0.6, val: 0.2, test: 0.2, seed }, { groups })
      const sides = new Set(split.assignment.filter((a) => a.file.startsWith('a/a0')).map((a) => a.split))
      expect(sides.size).toBe(1)
    }
  })
})
