import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decodeImage,
  decodeImageBuffer,
  hashFile,
  ImageDecodeError,
  probeImage,
  probeImageBuffer,
  thumbnailDataUrl,
} from '../../src/main/ml/data'

let dir: string
const path = (name: string): string => join(dir, name)

/** Pixel (x, y) of an RGB HWC buffer of the given width. */
function px(rgb: Uint8Array, width: number, x: number, y: number): [number, number, number] {
  const o = (y * width + x) * 3
  return [rgb[o], rgb[o + 1], rgb[o + 2]]
}

function expectClose(actual: number[], expected: number[], tolerance: number): void {
  actual.forEach((v, i) =>
    expect(Math.abs(v - expected[i]), `channel ${i}: ${v} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance),
  )
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ImageDecodeError)
    return (err as ImageDecodeError).reason
  }
  throw new Error('expected the decode to fail')
}

const solid = (w: number, h: number, r: number, g: number, b: number): sharp.Sharp =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } })

/** Pseudo-random pixels: compress badly, so cutting the file really loses image data. */
function noise(w: number, h: number): sharp.Sharp {
  const data = Buffer.alloc(w * h * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 5) * 104729) & 0xff
  return sharp(data, { raw: { width: w, height: h, channels: 3 } })
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf: Buffer): number {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** A valid small PNG whose header claims width × height: the shape of a decompression bomb. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await solid(4, 4, 0, 0, 0).png().toBuffer())
  // IHDR data sits at bytes 16..29 (after signature 8, length 4, type 4); its CRC covers type + data.
  png.writeUInt32BE(width, 16)
  png.writeUInt32BE(height, 20)
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29)
  return png
}

/** A 24-bit bottom-up BMP, written by hand because sharp cannot write BMP. */
function bmp24(w: number, h: number, colour: (x: number, y: number) => [number, number, number]): Buffer {
  const row = Math.ceil((w * 3) / 4) * 4
  const buf = Buffer.alloc(54 + row * h)
  buf.write('BM', 0, 'latin1')
  buf.writeUInt32LE(buf.length, 2)
  buf.writeUInt32LE(54, 10)
  buf.writeUInt32LE(40, 14)
  buf.writeInt32LE(w, 18)
  buf.writeInt32LE(h, 22)
  buf.writeUInt16LE(1, 26)
  buf.writeUInt16LE(24, 28)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = colour(x, y)
      const o = 54 + (h - 1 - y) * row + x * 3
      buf[o] = b
      buf[o + 1] = g
      buf[o + 2] = r
    }
  }
  return buf
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunewise-decode-'))
  const jpeg = await noise(64, 48).jpeg().toBuffer()
  writeFileSync(path('corrupt.jpg'), Buffer.concat([jpeg.subarray(0, 20), Buffer.alloc(3000, 0x5a)]))
  const png = await noise(64, 48).png().toBuffer()
  writeFileSync(path('truncated.png'), png.subarray(0, Math.floor(png.length / 2)))
  writeFileSync(path('empty.jpg'), Buffer.alloc(0))
  writeFileSync(path('text.jpg'), 'These are my notes, not a photo.\n')
  writeFileSync(path('drawing.png'), '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"></svg>')
  await solid(1, 1, 250, 10, 10).png().toFile(path('one-pixel.png'))
  await solid(8000, 8000, 0x33, 0x66, 0x99).png().toFile(path('huge-8000.png'))
  writeFileSync(path('bomb.png'), await pngClaiming(20000, 20000))
  await solid(32, 32, 200, 30, 30).toColourspace('cmyk').jpeg().toFile(path('cmyk.jpg'))
  await solid(32, 32, 10, 120, 240).toColourspace('rgb16').png().toFile(path('sixteen.png'))
  await solid(32, 32, 0x77, 0x77, 0x77).toColourspace('b-w').png().toFile(path('gray.png'))
  // 40 wide × 20 tall, red top-left 10×10 block on blue; EXIF 6 means "rotate 90° clockwise to display".
  const raw = Buffer.alloc(40 * 20 * 3)
  for (let y = 0; y < 20; y++)
    for (let x = 0; x < 40; x++) raw.set(x < 10 && y < 10 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3)
  await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } })
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 95 })
    .toFile(path('exif-6.jpg'))
  await solid(16, 16, 20, 200, 60).png().toFile(path('chat-été-猫.png'))
  // Left half opaque green, right half fully transparent (with a red colour that must not show).
  const rgba = Buffer.alloc(4 * 4 * 4)
  for (let i = 0; i < 16; i++) rgba.set(i % 4 < 2 ? [0, 200, 0, 255] : [255, 0, 0, 0], i * 4)
  await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } })
    .png()
    .toFile(path('transparent.png'))
  const red = await solid(8, 8, 255, 0, 0).png().toBuffer()
  const blue = await solid(8, 8, 0, 0, 255).png().toBuffer()
  await sharp([red, blue], { join: { animated: true } })
    .gif()
    .toFile(path('animated.gif'))
  await sharp([red, blue], { join: { animated: true } })
    .webp({ lossless: true })
    .toFile(path('animated.webp'))
  // 100 × 50, red in the left quarter only: a centre crop would lose it, a squash keeps it.
  const wide = Buffer.alloc(100 * 50 * 3)
  for (let i = 0; i < 100 * 50; i++) wide.set(i % 100 < 25 ? [255, 0, 0] : [0, 0, 255], i * 3)
  await sharp(wide, { raw: { width: 100, height: 50, channels: 3 } })
    .png()
    .toFile(path('wide.png'))
  writeFileSync(
    path('bitmap.bmp'),
    bmp24(6, 4, (x) => (x < 3 ? [250, 0, 0] : [0, 0, 250])),
  )
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('decodeImage: files that cannot be used get a plain reason', () => {
  it('a zero-byte file', async () => {
    expect(await reasonOf(decodeImage(path('empty.jpg'), 8, 8))).toBe('The file is empty (0 bytes).')
  })

  it('a text file named .jpg', async () => {
    expect(await reasonOf(decodeImage(path('text.jpg'), 8, 8))).toBe(
      'Not an image: the content is not JPEG, PNG, WebP, GIF, BMP or TIFF.',
    )
  })

  it('a JPEG with a valid header and a garbage body', async () => {
    expect(await reasonOf(decodeImage(path('corrupt.jpg'), 8, 8))).toMatch(/^The image data is damaged or cut short: /)
  })

  it('a truncated PNG', async () => {
    expect(await reasonOf(decodeImage(path('truncated.png'), 8, 8))).toMatch(
      /^The image data is damaged or cut short: the file ends too early/,
    )
  })

  it('damaged files get the same reason when many images decode at once', async () => {
    // libvips keeps one error text per process; concurrent decodes used to turn it into "Unknown error".
    const bad = ['truncated.png', 'corrupt.jpg'].map((f) => path(f))
    const reasons = await Promise.all(Array.from({ length: 24 }, (_, i) => reasonOf(decodeImage(bad[i % 2]!, 8, 8))))
    expect(new Set(reasons.filter((_, i) => i % 2 === 0)).size).toBe(1)
    expect(new Set(reasons.filter((_, i) => i % 2 === 1)).size).toBe(1)
    expect(reasons[0]).toMatch(/the file ends too early/)
  })

  it('an SVG drawing is refused by name', async () => {
    expect(await reasonOf(decodeImage(path('drawing.png'), 8, 8))).toMatch(/^Not a supported image: the content is SVG/)
  })

  it('a file that claims 20000×20000 pixels is refused as too large before decoding', async () => {
    const reason = await reasonOf(decodeImage(path('bomb.png'), 8, 8))
    expect(reason).toMatch(/^The image is too large \(20000×20000 pixels, 400 megapixels; the limit is 100\)/)
  })

  it('a missing file', async () => {
    expect(await reasonOf(decodeImage(path('gone.png'), 8, 8))).toMatch(/could not be found/)
  })

  it('rejects a bad target size as a programming error, not a file problem', async () => {
    await expect(decodeImage(path('one-pixel.png'), 0, 8)).rejects.toBeInstanceOf(RangeError)
  })
})

describe('decodeImage: awkward but valid images decode to 8-bit RGB', () => {
  it('returns h*w*3 bytes, squashed (fill) rather than cropped', async () => {
    const out = await decodeImage(path('wide.png'), 10, 10)
    expect(out).toBeInstanceOf(Uint8Array)
    expect(out.length).toBe(10 * 10 * 3)
    expectClose(px(out, 10, 0, 5), [255, 0, 0], 40)
    expectClose(px(out, 10, 9, 5), [0, 0, 255], 40)
  })

  it('upscales a 1×1 image and flags it as tiny', async () => {
    const out = await decodeImage(path('one-pixel.png'), 4, 4)
    for (let i = 0; i < 16; i++) expectClose(px(out, 4, i % 4, i >> 2), [250, 10, 10], 2)
    const probe = await probeImage(path('one-pixel.png'))
    expect(probe.warnings.join(' ')).toMatch(/Tiny image \(1×1 pixels\)/)
  })

  it('decodes an 8000×8000 (64 MP) image', async () => {
    const out = await decodeImage(path('huge-8000.png'), 8, 8)
    expectClose(px(out, 8, 4, 4), [0x33, 0x66, 0x99], 1)
    expect((await probeImage(path('huge-8000.png'))).warnings).toEqual([])
  })

  it('converts CMYK JPEG to sRGB', async () => {
    expect((await sharp(path('cmyk.jpg')).metadata()).space).toBe('cmyk')
    const out = await decodeImage(path('cmyk.jpg'), 4, 4)
    expectClose(px(out, 4, 2, 2), [200, 30, 30], 30)
  })

  it('converts 16-bit PNG to 8-bit', async () => {
    expect((await sharp(path('sixteen.png')).metadata()).depth).toBe('ushort')
    const out = await decodeImage(path('sixteen.png'), 4, 4)
    expectClose(px(out, 4, 1, 1), [10, 120, 240], 2)
  })

  it('expands grayscale to three equal channels', async () => {
    expect((await sharp(path('gray.png')).metadata()).channels).toBe(1)
    const out = await decodeImage(path('gray.png'), 4, 4)
    expect(out.length).toBe(48)
    expectClose(px(out, 4, 3, 3), [0x77, 0x77, 0x77], 1)
  })

  it('applies EXIF orientation: the red top-left corner lands top-right after a 90° turn', async () => {
    const probe = await probeImage(path('exif-6.jpg'))
    expect([probe.width, probe.height]).toEqual([20, 40])
    const out = await decodeImage(path('exif-6.jpg'), 40, 20)
    expectClose(px(out, 20, 15, 4), [255, 0, 0], 60)
    expectClose(px(out, 20, 4, 4), [0, 0, 255], 60)
    expectClose(px(out, 20, 15, 30), [0, 0, 255], 60)
  })

  it('reads a non-ASCII file name', async () => {
    const out = await decodeImage(path('chat-été-猫.png'), 2, 2)
    expectClose(px(out, 2, 0, 0), [20, 200, 60], 1)
  })

  it('flattens transparent pixels onto white', async () => {
    const out = await decodeImage(path('transparent.png'), 4, 4)
    expectClose(px(out, 4, 0, 1), [0, 200, 0], 1)
    expectClose(px(out, 4, 3, 1), [255, 255, 255], 1)
  })

  it('takes the first frame of an animated GIF and an animated WebP', async () => {
    expect((await sharp(path('animated.gif')).metadata()).pages).toBe(2)
    expect((await sharp(path('animated.webp')).metadata()).pages).toBe(2)
    for (const file of ['animated.gif', 'animated.webp']) {
      const out = await decodeImage(path(file), 8, 8)
      expect(out.length).toBe(8 * 8 * 3)
      expectClose(px(out, 8, 4, 4), [255, 0, 0], 10)
    }
  })

  it('decodes an uncompressed BMP (which sharp alone cannot)', async () => {
    const out = await decodeImage(path('bitmap.bmp'), 4, 6)
    expectClose(px(out, 6, 0, 0), [250, 0, 0], 1)
    expectClose(px(out, 6, 5, 3), [0, 0, 250], 1)
    expect((await probeImage(path('bitmap.bmp'))).format).toBe('bmp')
  })

  it('decodeImageBuffer gives the same pixels as decodeImage', async () => {
    const { readFile } = await import('node:fs/promises')
    const fromFile = await decodeImage(path('wide.png'), 7, 5)
    const fromBuffer = await decodeImageBuffer(await readFile(path('wide.png')), 7, 5)
    expect(Buffer.from(fromBuffer).equals(Buffer.from(fromFile))).toBe(true)
  })

  it('probe refuses the same files decode refuses', async () => {
    await expect(probeImageBuffer(Buffer.alloc(0))).rejects.toBeInstanceOf(ImageDecodeError)
    await expect(probeImage(path('truncated.png'))).rejects.toBeInstanceOf(ImageDecodeError)
  })
})

describe('hashFile and thumbnails', () => {
  it('hashFile is the sha256 of the bytes', async () => {
    const { readFile } = await import('node:fs/promises')
    const expected = createHash('sha256')
      .update(await readFile(path('cmyk.jpg')))
      .digest('hex')
    expect(await hashFile(path('cmyk.jpg'))).toBe(expected)
    expect(await hashFile(path('cmyk.jpg'))).not.toBe(await hashFile(path('gray.png')))
  })

  it('thumbnailDataUrl gives a small JPEG for an image and null for a non-image', async () => {
    const url = await thumbnailDataUrl(path('wide.png'), 20)
    expect(url).toMatch(/^data:image\/jpeg;base64,/)
    const meta = await sharp(Buffer.from(url!.split(',')[1], 'base64')).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 20, 10])
    expect(await thumbnailDataUrl(path('text.jpg'))).toBeNull()
    expect(await thumbnailDataUrl(path('gone.png'))).toBeNull()
  })
})
