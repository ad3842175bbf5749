/**
 * Turns one image file into the RGB uint8 pixels the engine feeds to a model, and explains in plain words
 * why a file cannot be used. Both the scan (to prove each file is readable) and training use this one
 * path, so a file the scan accepts is a file training can read.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import sharp from 'sharp'
import { BmpError, bmpSize, decodeBmp, isBmp } from './bmp'

/**
 * Largest image accepted, in pixels (100 megapixels). An 8000×8000 photo (64 MP) passes; the limit is
 * there so a small file that claims a gigantic size (a "decompression bomb") cannot exhaust memory.
 */
export const MAX_INPUT_PIXELS = 100_000_000

/** Images smaller than this on either side are decoded but flagged: they carry almost no detail. */
export const TINY_IMAGE_SIDE = 16

const SUPPORTED = 'JPEG, PNG, WebP, GIF, BMP or TIFF'
const NOT_AN_IMAGE = `Not an image: the content is not ${SUPPORTED}.`
/** Formats sharp decodes that we accept. SVG is refused: it can reference outside files and is not a photo. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'bmp'])

/** A file that cannot be used as an image; `reason` is a plain sentence meant for the user. */
export class ImageDecodeError extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'ImageDecodeError'
  }
}

/** What a successful probe learned about an image (see `probeImageBuffer`). */
export interface ImageProbe {
  /** Container format as sharp names it ('jpeg', 'png', ...), or 'bmp'. */
  format: string
  /** Size in pixels as displayed, i.e. after EXIF rotation. */
  width: number
  height: number
  /** Plain-language notes that do not stop the image from being used (e.g. a tiny image). */
  warnings: string[]
}

function tooLarge(width: number, height: number): ImageDecodeError {
  const mp = ((width * height) / 1e6).toFixed(0)
  return new ImageDecodeError(
    `The image is too large (${width}×${height} pixels, ${mp} megapixels; the limit is ${MAX_INPUT_PIXELS / 1e6}). ` +
      'Save a smaller copy and use that instead.',
  )
}

/** Translates libvips/sharp messages into sentences a non-coder can act on. */
const CUT_SHORT =
  'The image data is damaged or cut short: the file ends too early (it may not have finished copying or downloading).'

function plainReason(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err)
  if (/unsupported image format/i.test(raw)) return NOT_AN_IMAGE
  if (/exceeds pixel limit/i.test(raw)) {
    return `The image is too large (over ${MAX_INPUT_PIXELS / 1e6} megapixels). Save a smaller copy and use that instead.`
  }
  if (/premature end|end of stream|truncat|unexpected end|short read|not enough data|read error/i.test(raw)) {
    return CUT_SHORT
  }
  const detail = raw
    .replace(/^Input (buffer|file) (has corrupt header|contains)[:]?\s*/i, '')
    .replace(/\b(VipsJpeg|VipsForeignLoad\w*|\w+load(_buffer)?|gifload|tiff2vips|webp2vips):\s*/gi, '')
    .split('\n')[0]
    .trim()
  return `The image data is damaged or cut short: ${detail || 'the decoder could not read it'}.`.replace(/\.\.$/, '.')
}

/** A plain-language error for a file that could not be read from disk (missing, no permission, ...). */
export function readFailure(file: string, err: unknown): ImageDecodeError {
  const code = (err as NodeJS.ErrnoException | null)?.code
  const name = basename(file)
  if (code === 'ENOENT')
    return new ImageDecodeError(`The file ${name} could not be found; it may have been moved or deleted.`)
  if (code === 'EACCES' || code === 'EPERM') {
    return new ImageDecodeError(`The file ${name} could not be opened: permission denied. Check its sharing settings.`)
  }
  if (code === 'EISDIR') return new ImageDecodeError(`${name} is a folder, not an image file.`)
  return new ImageDecodeError(`The file ${name} could not be read (${code ?? 'unknown error'}).`)
}

async function readImageFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw readFailure(file, err)
  }
}

/**
 * Opens the bytes as a sharp pipeline (not yet rotated or flattened) after checking format and size from the header alone, so neither a
 * text file nor a decompression bomb ever reaches the pixel decoder.
 */
export async function openImage(
  buf: Buffer,
): Promise<{ image: sharp.Sharp; format: string; width: number; height: number; endsEarly: boolean }> {
  if (buf.length === 0) throw new ImageDecodeError('The file is empty (0 bytes).')
  if (isBmp(buf)) {
    try {
      const size = bmpSize(buf)
      if (size.width * size.height > MAX_INPUT_PIXELS) throw tooLarge(size.width, size.height)
      const bmp = decodeBmp(buf, MAX_INPUT_PIXELS)
      const image = sharp(Buffer.from(bmp.data.buffer, bmp.data.byteOffset, bmp.data.byteLength), {
        raw: { width: bmp.width, height: bmp.height, channels: 4 },
        limitInputPixels: MAX_INPUT_PIXELS,
      })
      return { image, format: 'bmp', width: bmp.width, height: bmp.height, endsEarly: false }
    } catch (err) {
      if (err instanceof ImageDecodeError) throw err
      if (err instanceof BmpError) throw new ImageDecodeError(err.message)
      throw new ImageDecodeError(plainReason(err))
    }
  }
  let meta: sharp.Metadata
  try {
    // The header only: no pixel limit here so an oversized image can be reported with its real size.
    meta = await sharp(buf, { limitInputPixels: false }).metadata()
  } catch (err) {
    throw new ImageDecodeError(endsEarly(buf, sniffFormat(buf)) ? CUT_SHORT : plainReason(err))
  }
  if (!meta.format || !ACCEPTED_FORMATS.has(meta.format)) {
    const kind = meta.format ? meta.format.toUpperCase() : 'unknown'
    throw new ImageDecodeError(`Not a supported image: the content is ${kind}, not ${SUPPORTED}.`)
  }
  const width = meta.width ?? 0
  const height = meta.pageHeight ?? meta.height ?? 0
  if (width <= 0 || height <= 0) throw new ImageDecodeError('The image data is damaged: it has no width or height.')
  if (width * height > MAX_INPUT_PIXELS) throw tooLarge(width, height)
  const rotated = (meta.orientation ?? 1) >= 5
  // failOn 'error' rather than the default 'warning': phone and camera JPEGs often carry harmless warnings
  // (extraneous bytes before a marker), while truncation is still an error and is still refused.
  const image = sharp(buf, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', pages: 1, page: 0 })
  return {
    image,
    format: meta.format,
    width: rotated ? height : width,
    height: rotated ? width : height,
    endsEarly: endsEarly(buf, meta.format),
  }
}

const PNG_END = Buffer.from('IEND')

/** The format by its signature, for files whose header libvips could not parse. */
function sniffFormat(buf: Buffer): string {
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47) return 'png'
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg'
  return ''
}

/**
 * Whether a PNG or JPEG stops before its end marker (IEND chunk, EOI). Only used to word the reason
 * when decoding fails: libvips keeps its error text per process, so with concurrent decodes the text
 * can arrive as "Unknown error", and the reason must not depend on that.
 */
function endsEarly(buf: Buffer, format: string): boolean {
  const tail = buf.subarray(Math.max(0, buf.length - 64))
  if (format === 'png') return tail.indexOf(PNG_END) < 0
  if (format === 'jpeg') {
    // Some cameras append data after the end marker; look for it anywhere in the last 64 KB.
    const end = buf.subarray(Math.max(0, buf.length - 65536))
    for (let i = end.length - 2; i >= 0; i--) if (end[i] === 0xff && end[i + 1] === 0xd9) return false
    return true
  }
  return false
}

async function toRgb(image: sharp.Sharp, height: number, width: number, endsEarly = false): Promise<Uint8Array> {
  try {
    const { data, info } = await image
      .rotate() // apply EXIF orientation, so the model sees the photo the way people do
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb') // CMYK, grey, 16-bit and Lab all end as 8-bit sRGB
      // 'fill' squashes rather than crops: the whole object stays in view, as in Teachable Machine, and
      // cropping would silently cut off objects near the edges of wide or tall photos.
      .resize(width, height, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
    if (info.channels === 3 && data.length === width * height * 3) {
      return new Uint8Array(data.buffer, data.byteOffset, data.length)
    }
    // Defensive: if a colourspace ever comes back single-channel, replicate it to RGB.
    if (info.channels === 1 && data.length === width * height) {
      const out = new Uint8Array(width * height * 3)
      for (let i = 0; i < data.length; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[i]
      return out
    }
    throw new ImageDecodeError(`The image data is damaged: it decoded to ${info.channels} channels instead of 3.`)
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err
    throw new ImageDecodeError(endsEarly ? CUT_SHORT : plainReason(err))
  }
}

function checkTarget(height: number, width: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`decodeImage: target size must be positive integers, got ${height}×${width}`)
  }
}

/**
 * Decodes one image file to RGB uint8, resized to `height` × `width` pixels. The result is row-major HWC,
 * length `height * width * 3`.
 *
 * The image is squashed to the target with `fit: 'fill'` (not centre-cropped) so the whole object stays
 * visible, as in Teachable Machine. It is EXIF-rotated; alpha is flattened on white; grayscale, CMYK and
 * 16-bit images become 8-bit sRGB; animated GIF/WebP give their first frame; BMP is decoded in-house.
 * Images over `MAX_INPUT_PIXELS` (100 MP) are refused.
 * @throws ImageDecodeError whose `reason` is a plain sentence ("The file is empty (0 bytes).").
 */
export async function decodeImage(file: string, height: number, width: number): Promise<Uint8Array> {
  checkTarget(height, width)
  return decodeImageBuffer(await readImageFile(file), height, width)
}

/** As `decodeImage`, from bytes already in memory. */
export async function decodeImageBuffer(buf: Buffer, height: number, width: number): Promise<Uint8Array> {
  checkTarget(height, width)
  const { image, endsEarly: cut } = await openImage(buf)
  return toRgb(image, height, width, cut)
}

/**
 * Proves the bytes are a usable image without keeping its pixels: reads the header, checks the format and
 * size, and decodes a tiny (8×8) version through the same pipeline as `decodeImageBuffer`.
 * @throws ImageDecodeError with a plain reason.
 */
export async function probeImageBuffer(buf: Buffer): Promise<ImageProbe> {
  const { image, format, width, height, endsEarly: cut } = await openImage(buf)
  await toRgb(image, 8, 8, cut)
  const warnings: string[] = []
  if (width < TINY_IMAGE_SIDE || height < TINY_IMAGE_SIDE) {
    warnings.push(`Tiny image (${width}×${height} pixels): it will be stretched and carries little detail.`)
  }
  return { format, width, height, warnings }
}

/** As `probeImageBuffer`, reading the file first. */
export async function probeImage(file: string): Promise<ImageProbe> {
  return probeImageBuffer(await readImageFile(file))
}

/** SHA-256 of the bytes, hex. */
export function hashBuffer(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex')
}

/** SHA-256 of the file's bytes, hex. Streams, so large files are not held in memory. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  } catch (err) {
    throw readFailure(file, err)
  }
  return hash.digest('hex')
}
