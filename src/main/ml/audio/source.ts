/**
 * Clips by id, for training, evaluation and thumbnails: `cats/meow.wav#t=1,2` is read, decoded and resampled
 * once per file (kept in a small cache by total length), and any window of it is cut from that. A clip's
 * feature-cache content key comes from the file's hash and the window's span (`audioClipKey`), so a cached clip
 * needs no decoding at all.
 */
import { stat } from 'node:fs/promises'
import sharp from 'sharp'
import { AppError } from '../../errors'
import { safePath } from '../../safe-path'
import { hashBuffer } from '../data/decode'
import { audioClipKey } from './cache-key'
import { type ClipSettings, clipsFromBuffer, DEFAULT_CLIP_SETTINGS, parseWindowId } from './clips'
import { AudioDecodeError, decodeAudio, NotRegularFileError, readSoundFile } from './decode'
import { resample } from './resample'
import { type ImageSize, type SpectrogramSettings, clipToImage } from './spectrogram'

/** How clips are made from recordings: what the feature extraction and its workers are told. */
export interface AudioInputSpec {
  clip: ClipSettings
  spectrogram: SpectrogramSettings
}

/** Decoded files kept for cutting further windows: at most this many samples (at the clip rate) in all. */
const KEEP_SAMPLES = 16_000 * 60 * 20

interface Decoded {
  hash: string
  /** Mono at the clip rate. */
  samples: Float32Array
}

/** Most recently used last. Keyed by path, size, mtime and clip rate: a changed file is read again. */
const decoded = new Map<string, Decoded>()
let keptSamples = 0
const hashes = new Map<string, string>()

/** A window id's file and span; a plain file name is its first clip. */
export function clipRef(id: string, clip: Partial<ClipSettings> = {}): { file: string; start: number; end: number } {
  const parsed = parseWindowId(id)
  if (parsed) return parsed
  return { file: id, start: 0, end: clip.clipSeconds ?? DEFAULT_CLIP_SETTINGS.clipSeconds }
}

function unreadable(file: string, err: unknown): AppError {
  if (err instanceof AppError && err.code === 'cancelled') return err
  const reason =
    err instanceof AudioDecodeError || err instanceof NotRegularFileError
      ? err.message
      : (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'
        ? 'The file is gone; it may have been moved or deleted.'
        : err instanceof Error
          ? err.message
          : String(err)
  return new AppError('bad_data', `Could not read '${file}': ${reason} Remove it from the dataset and scan again.`)
}

async function identity(path: string): Promise<string> {
  const s = await stat(path)
  return `${path}\u0000${s.size}\u0000${s.mtimeMs}`
}

/** Reads a recording of the dataset; the path must stay inside the folder. */
async function readInside(root: string, file: string): Promise<{ path: string; buf: Buffer }> {
  const path = safePath(root, file, { folder: 'the dataset folder' })
  return { path, buf: await readSoundFile(path) }
}

/** The file's content hash (SHA-256, as the scan's), read once per version of the file. */
export async function soundFileHash(root: string, file: string): Promise<string> {
  try {
    const path = safePath(root, file, { folder: 'the dataset folder' })
    const key = await identity(path)
    const known = hashes.get(key)
    if (known) return known
    const { buf } = await readInside(root, file)
    const hash = hashBuffer(buf)
    hashes.set(key, hash)
    return hash
  } catch (err) {
    throw unreadable(file, err)
  }
}

async function decodeFile(root: string, file: string, rate: number): Promise<Decoded> {
  try {
    const path = safePath(root, file, { folder: 'the dataset folder' })
    const key = `${await identity(path)}\u0000${rate}`
    const hit = decoded.get(key)
    if (hit) {
      decoded.delete(key)
      decoded.set(key, hit)
      return hit
    }
    const { buf } = await readInside(root, file)
    const audio = await decodeAudio(buf)
    const entry = { hash: hashBuffer(buf), samples: resample(audio.samples, audio.sampleRate, rate) }
    hashes.set(key.slice(0, key.lastIndexOf('\u0000')), entry.hash)
    decoded.set(key, entry)
    keptSamples += entry.samples.length
    for (const [k, v] of decoded) {
      if (keptSamples <= KEEP_SAMPLES || k === key) break
      decoded.delete(k)
      keptSamples -= v.samples.length
    }
    return entry
  } catch (err) {
    throw unreadable(file, err)
  }
}

/**
 * The samples of clip `id` (a window id, or a file name for its first clip) at the clip rate, one clip long,
 * padded with silence past the end of the recording.
 * @throws AppError('bad_data') naming the file when it cannot be read or decoded.
 */
export async function clipSamples(root: string, id: string, clip: Partial<ClipSettings> = {}): Promise<Float32Array> {
  const settings = { ...DEFAULT_CLIP_SETTINGS, ...clip }
  const rate = settings.sampleRate
  const ref = clipRef(id, settings)
  const { samples } = await decodeFile(root, ref.file, rate)
  const length = Math.max(1, Math.round(settings.clipSeconds * rate))
  const start = Math.round(ref.start * rate)
  const out = new Float32Array(length)
  if (start < samples.length) out.set(samples.subarray(start, Math.min(samples.length, start + length)))
  return out
}

/** The content key of clip `id` for the feature cache (`audioClipKey`): the file's hash, the span, the settings. */
export async function clipContentKey(root: string, id: string, spec: AudioInputSpec): Promise<string> {
  const ref = clipRef(id, spec.clip)
  const hash = await soundFileHash(root, ref.file)
  return audioClipKey(hash, ref, spec.clip, spec.spectrogram)
}

/** Clip `id` as the network's input picture: floats 0…1 (RGB/255), `size` [height, width] × 3. */
export async function clipImage(
  root: string,
  id: string,
  spec: AudioInputSpec,
  size: ImageSize,
): Promise<Float32Array> {
  return clipToImage(await clipSamples(root, id, spec.clip), size, spec.spectrogram)
}

/**
 * A grey PNG data URL of clip `id`'s spectrogram as the network sees it (low pitch at the bottom), `size`
 * [height, width]; null when the file cannot be read. Never throws.
 */
export async function clipThumbnail(
  root: string,
  id: string,
  spec: AudioInputSpec,
  size: ImageSize = [64, 96],
): Promise<string | null> {
  try {
    const picture = await clipImage(root, id, spec, size)
    const [height, width] = size
    const grey = Buffer.alloc(height * width)
    for (let i = 0; i < grey.length; i++) grey[i] = Math.round(picture[i * 3] * 255)
    const png = await sharp(grey, { raw: { width, height, channels: 1 } })
      .png()
      .toBuffer()
    return `data:image/png;base64,${png.toString('base64')}`
  } catch {
    return null
  }
}

/** Float pictures 0…1 (RGB/255, as `clipImage` draws them) packed into one batch in the model's input range. */
export function picturesToInput(pictures: Float32Array[], preprocess: 'rgb/255' | 'rgb/127.5-1'): Float32Array {
  const per = pictures[0]?.length ?? 0
  const buf = new Float32Array(pictures.length * per)
  pictures.forEach((p, i) => {
    if (preprocess === 'rgb/255') buf.set(p, i * per)
    else for (let j = 0; j < per; j++) buf[i * per + j] = p[j] * 2 - 1
  })
  return buf
}

/** Most clips taken from one recording a person tries on a trained model ("try your own sound"). */
const MAX_TRY_CLIPS = 30

/**
 * The pictures of a whole recording's clips (its bytes, any supported format), as a trained sound model sees
 * them: decoded, resampled, cut with `spec.clip` (at most 30 clips, spread over the recording), drawn at `size`.
 * @throws AppError('bad_data') saying why, for bytes that are not a usable recording.
 */
export async function recordingPictures(
  buf: Uint8Array,
  spec: AudioInputSpec,
  size: ImageSize,
): Promise<Float32Array[]> {
  let windows
  try {
    ;({ windows } = await clipsFromBuffer(buf, 'recording', { ...spec.clip, maxWindowsPerFile: MAX_TRY_CLIPS }))
  } catch (err) {
    throw new AppError('bad_data', err instanceof Error ? err.message : String(err))
  }
  return windows.map((w) => clipToImage(w.samples, size, spec.spectrogram))
}

/** Forgets decoded recordings (tests; a long-running process after a dataset changed). */
export function clearClipCache(): void {
  decoded.clear()
  hashes.clear()
  keptSamples = 0
}
