/**
 * A small decoder for Windows BMP files. The prebuilt libvips inside sharp has no BMP loader, and BMP is
 * common enough in older collections (screenshots, scanners) that refusing it would surprise users.
 * Handles the uncompressed variants: 1/4/8-bit palettes, 16/24/32-bit, and BI_BITFIELDS masks.
 */

export interface RawRgba {
  width: number
  height: number
  /** width * height * 4 bytes, top row first. */
  data: Uint8Array
}

/** Thrown for BMP files this decoder cannot read; `message` is a plain sentence for the user. */
export class BmpError extends Error {
  constructor(
    message: string,
    /** True when the file is a BMP variant we do not support (as opposed to damaged). */
    readonly unsupported = false,
  ) {
    super(message)
    this.name = 'BmpError'
  }
}

export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d
}

/** Reads width and height from the header without decoding pixels. */
export function bmpSize(buf: Buffer): { width: number; height: number } {
  if (buf.length < 26) throw new BmpError('The image data is damaged or cut short: the BMP header is incomplete.')
  const dibSize = buf.readUInt32LE(14)
  if (dibSize === 12) return { width: buf.readUInt16LE(18), height: buf.readUInt16LE(20) }
  if (buf.length < 30) throw new BmpError('The image data is damaged or cut short: the BMP header is incomplete.')
  return { width: Math.abs(buf.readInt32LE(18)), height: Math.abs(buf.readInt32LE(22)) }
}

/** Bit offset and width of a contiguous channel mask, for BI_BITFIELDS images. */
function maskShift(mask: number): { shift: number; bits: number } {
  if (mask === 0) return { shift: 0, bits: 0 }
  let shift = 0
  while (((mask >>> shift) & 1) === 0) shift++
  let bits = 0
  while (((mask >>> (shift + bits)) & 1) === 1) bits++
  return { shift, bits }
}

function scaleTo8(value: number, bits: number): number {
  if (bits === 0) return 255
  if (bits >= 8) return value >>> (bits - 8)
  return Math.round((value * 255) / ((1 << bits) - 1))
}

/**
 * Decodes a BMP to RGBA. `maxPixels` guards against huge headers before any allocation.
 * @throws BmpError with a plain reason.
 */
export function decodeBmp(buf: Buffer, maxPixels: number): RawRgba {
  const cut = 'The image data is damaged or cut short: the BMP file ends before its pixels do.'
  if (buf.length < 26) throw new BmpError('The image data is damaged or cut short: the BMP header is incomplete.')
  const dataOffset = buf.readUInt32LE(10)
  const dibSize = buf.readUInt32LE(14)
  let width: number
  let height: number
  let bpp: number
  let compression = 0
  let colorsUsed = 0
  let paletteEntrySize = 4
  if (dibSize === 12) {
    width = buf.readUInt16LE(18)
    height = buf.readUInt16LE(20)
    bpp = buf.readUInt16LE(24)
    paletteEntrySize = 3
  } else {
    if (dibSize < 40 || buf.length < 54) {
      throw new BmpError('The image data is damaged or cut short: the BMP header is incomplete.')
    }
    width = buf.readInt32LE(18)
    height = buf.readInt32LE(22)
    bpp = buf.readUInt16LE(28)
    compression = buf.readUInt32LE(30)
    colorsUsed = buf.readUInt32LE(46)
  }
  const topDown = height < 0
  height = Math.abs(height)
  if (width <= 0 || height === 0) throw new BmpError('The image data is damaged: the BMP header gives no size.')
  if (width * height > maxPixels) throw new BmpError('too large')

  // 0 = BI_RGB, 3 = BI_BITFIELDS, 6 = BI_ALPHABITFIELDS. RLE and embedded JPEG/PNG are rare enough to refuse.
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new BmpError('This BMP uses a compressed variant that is not supported. Re-save it as PNG or JPEG.', true)
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) {
    throw new BmpError(`This BMP uses ${bpp} bits per pixel, which is not supported. Re-save it as PNG or JPEG.`, true)
  }

  let masks: { r: number; g: number; b: number; a: number } | null = null
  if (compression === 3 || compression === 6) {
    if (buf.length < 66) throw new BmpError(cut)
    const hasAlphaMask = compression === 6 || dibSize >= 56
    masks = {
      r: buf.readUInt32LE(54),
      g: buf.readUInt32LE(58),
      b: buf.readUInt32LE(62),
      a: hasAlphaMask && buf.length >= 70 ? buf.readUInt32LE(66) : 0,
    }
  } else if (bpp === 16) {
    masks = { r: 0x7c00, g: 0x03e0, b: 0x001f, a: 0 }
  }

  let palette: Uint8Array | null = null
  if (bpp <= 8) {
    const count = colorsUsed || 1 << bpp
    const start = 14 + dibSize
    if (start + count * paletteEntrySize > buf.length) throw new BmpError(cut)
    palette = new Uint8Array(count * 3)
    for (let i = 0; i < count; i++) {
      const p = start + i * paletteEntrySize
      palette[i * 3] = buf[p + 2]
      palette[i * 3 + 1] = buf[p + 1]
      palette[i * 3 + 2] = buf[p]
    }
  }

  const rowBytes = Math.ceil((width * bpp) / 32) * 4
  if (dataOffset + rowBytes * (height - 1) + Math.ceil((width * bpp) / 8) > buf.length) throw new BmpError(cut)

  const out = new Uint8Array(width * height * 4)
  const r = masks ? maskShift(masks.r) : null
  const g = masks ? maskShift(masks.g) : null
  const b = masks ? maskShift(masks.b) : null
  const a = masks ? maskShift(masks.a) : null
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * rowBytes
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4
      if (palette) {
        const bitPos = x * bpp
        const byte = buf[row + (bitPos >> 3)]
        const index = bpp === 8 ? byte : (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1)
        const pi = Math.min(index, palette.length / 3 - 1) * 3
        out[o] = palette[pi]
        out[o + 1] = palette[pi + 1]
        out[o + 2] = palette[pi + 2]
        out[o + 3] = 255
      } else if (masks && r && g && b && a) {
        const v = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4)
        out[o] = scaleTo8((v & masks.r) >>> r.shift, r.bits)
        out[o + 1] = scaleTo8((v & masks.g) >>> g.shift, g.bits)
        out[o + 2] = scaleTo8((v & masks.b) >>> b.shift, b.bits)
        out[o + 3] = masks.a ? scaleTo8((v & masks.a) >>> a.shift, a.bits) : 255
      } else {
        // 24-bit BGR, or 32-bit BGRx whose fourth byte BI_RGB declares unused.
        const p = row + x * (bpp / 8)
        out[o] = buf[p + 2]
        out[o + 1] = buf[p + 1]
        out[o + 2] = buf[p]
        out[o + 3] = 255
      }
    }
  }
  return { width, height, data: out }
}
