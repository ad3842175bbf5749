/** Small JPEG previews for the dataset report, as data URLs the renderer can show without file access. */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { openImage } from './decode'

/**
 * A JPEG data URL of the image scaled to fit in `size` × `size` pixels (aspect kept, EXIF-rotated, alpha
 * on white), or null when the bytes are not a readable image. Never throws.
 */
export async function thumbnailFromBuffer(buf: Buffer, size = 96): Promise<string | null> {
  try {
    const { image } = await openImage(buf)
    const jpeg = await image
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .resize(size, size, { fit: 'inside' })
      .jpeg({ quality: 70 })
      .toBuffer()
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`
  } catch {
    return null
  }
}

/**
 * A JPEG data URL thumbnail of `file`, at most `size` pixels (default 96) on its longer side, or null
 * when the file is missing or not a readable image. Never throws.
 */
export async function thumbnailDataUrl(file: string, size = 96): Promise<string | null> {
  let buf: Buffer
  try {
    // Without blocking and without following a link: a FIFO put in place after the scan opens at once.
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOFOLLOW ?? 0))
    try {
      if (!(await handle.stat()).isFile()) return null
      buf = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch {
    return null
  }
  return thumbnailFromBuffer(buf, size)
}
