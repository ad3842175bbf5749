/**
 * Turns one sound file (WAV, FLAC, MP3 or OGG Vorbis) into mono samples at its own rate, with the levels the
 * data report needs, and explains in plain words why a file cannot be used. The scan (to prove each file is
 * readable) and training (to make clips) use this one path, so a file the scan accepts is one training reads.
 *
 * The format is told from the content, never the name. WAV is read here (wav.ts); FLAC, MP3 and Vorbis by the
 * WebAssembly decoders of the wasm-audio-decoders project (pure WASM, no native build, run under plain Node),
 * fed in chunks so a file over the length limit is refused before all of it is decoded.
 */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { basename } from 'node:path'
import { AppError } from '../../errors'
import { type Levels, MonoCollector } from './levels'
import { readWav, WavError } from './wav'

export type AudioFormat = 'wav' | 'flac' | 'mp3' | 'ogg'

/** Why a sound file cannot be used; each is one row of the audio scan's `problemGroups`. */
export type AudioProblemKind = 'empty' | 'unsupported' | 'damaged' | 'too-large'

/** A file that cannot be used as sound. The message says what is wrong and what to do. */
export class AudioDecodeError extends AppError {
  constructor(
    readonly kind: AudioProblemKind,
    message: string,
  ) {
    super('bad_data', message)
    this.name = 'AudioDecodeError'
  }
}

export interface DecodedAudio {
  /** Mono: the mean of the channels. */
  samples: Float32Array
  /** Samples per second of `samples` (the file's own rate). */
  sampleRate: number
  /** Channels in the file, before the mix-down. */
  channels: number
  format: AudioFormat
  /** Seconds. */
  duration: number
  levels: Levels
  /** Plain notes about a file that was still used (cut short, damaged frames skipped, ...). */
  notes: string[]
}

export interface DecodeOptions {
  /** Longest sound accepted, in seconds: longer files are refused (kind 'too-large'). Default 600 (10 minutes). */
  maxSeconds?: number
}

export const DEFAULT_MAX_SECONDS = 600
/** Files above this size are refused before being read into memory (bytes). */
export const MAX_AUDIO_FILE_BYTES = 512 * 1024 * 1024
export const SUPPORTED_AUDIO = 'WAV, FLAC, MP3 or OGG Vorbis'
/** Lower-case file extensions treated as sound files by the scan. */
export const AUDIO_EXTENSIONS = new Set(['.wav', '.wave', '.flac', '.mp3', '.ogg', '.oga'])

/** Compressed input fed to a decoder at a time: small enough that the length limit bites early. */
const CHUNK_BYTES = 64 * 1024
const CONVERT = 'Convert it to WAV or FLAC, or exclude it.'

function ascii(buf: Uint8Array, at: number, n: number): string {
  let s = ''
  for (let i = at; i < at + n && i < buf.length; i++) s += String.fromCharCode(buf[i])
  return s
}

/** Length of an ID3v2 tag at `at` (header and footer included), or 0. */
function id3Length(buf: Uint8Array, at: number): number {
  if (buf.length < at + 10 || ascii(buf, at, 3) !== 'ID3') return 0
  const size =
    ((buf[at + 6] & 0x7f) << 21) | ((buf[at + 7] & 0x7f) << 14) | ((buf[at + 8] & 0x7f) << 7) | (buf[at + 9] & 0x7f)
  return 10 + size + (buf[at + 5] & 0x10 ? 10 : 0)
}

const MPEG_BITRATES: Record<string, number[]> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
}

/** An MPEG audio frame header at `at`: its length in bytes (0 for free-format) and channel count, or null. */
export function mpegFrameAt(buf: Uint8Array, at: number): { length: number; channels: number } | null {
  if (at + 4 > buf.length || buf[at] !== 0xff || (buf[at + 1] & 0xe0) !== 0xe0) return null
  const version = (buf[at + 1] >> 3) & 3 // 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1
  const layer = 4 - ((buf[at + 1] >> 1) & 3) // 1, 2 or 3; 4 means reserved (and is what AAC's ADTS uses)
  const bitrateIndex = buf[at + 2] >> 4
  const rateIndex = (buf[at + 2] >> 2) & 3
  if (version === 1 || layer === 4 || bitrateIndex === 15 || rateIndex === 3) return null
  const rate = [44100, 48000, 32000][rateIndex] / (version === 3 ? 1 : version === 2 ? 2 : 4)
  const kbps = MPEG_BITRATES[`${version === 3 ? 1 : 2}-${layer}`][bitrateIndex]
  const padding = (buf[at + 2] >> 1) & 1
  const channels = buf[at + 3] >> 6 === 3 ? 1 : 2
  if (kbps === 0) return { length: 0, channels }
  const length =
    layer === 1
      ? (Math.floor((12 * kbps * 1000) / rate) + padding) * 4
      : Math.floor(((layer === 3 && version !== 3 ? 72 : 144) * kbps * 1000) / rate) + padding
  return { length, channels }
}

/** Where MPEG frames start: two headers in a row (or one that ends the file), searched in the first 64 KB. */
function findMpeg(buf: Uint8Array, from: number): { at: number; channels: number } | null {
  const end = Math.min(buf.length - 4, from + 64 * 1024)
  for (let at = from; at <= end; at++) {
    const frame = mpegFrameAt(buf, at)
    if (!frame) continue
    const next = at + frame.length
    if (frame.length === 0 || next >= buf.length || mpegFrameAt(buf, next)) return { at, channels: frame.channels }
  }
  return null
}

/** What the content is: a format this module decodes, or the name of what it is instead (for the message). */
export type Sniffed = { format: AudioFormat; channels?: number } | { other: string }

/** Tells the format from the first bytes. */
export function sniffAudio(buf: Uint8Array): Sniffed {
  const tag = ascii(buf, 0, 4)
  if (tag === 'RIFF') {
    const kind = ascii(buf, 8, 4)
    if (kind === 'WAVE') return { format: 'wav' }
    return {
      other: kind === 'AVI ' ? 'an AVI video' : kind === 'WEBP' ? 'a WebP image' : 'a RIFF file that is not WAV',
    }
  }
  if (tag === 'RF64' || tag === 'BW64') return { other: 'a 64-bit WAV (RF64, for files over 4 GB)' }
  if (tag === 'RIFX') return { other: 'a big-endian WAV (RIFX)' }
  if (tag === 'fLaC') return { format: 'flac' }
  if (tag === 'OggS') {
    // The first page's first packet names the codec: 27-byte header, then the segment table.
    const segments = buf[26] ?? 0
    const packet = ascii(buf, 27 + segments, 8)
    if (packet.startsWith('\x01vorbis')) return { format: 'ogg' }
    if (packet.startsWith('OpusHead')) return { other: 'Opus sound in an Ogg file' }
    if (packet.startsWith('\x7fFLAC')) return { other: 'FLAC sound in an Ogg file' }
    if (packet.startsWith('Speex')) return { other: 'Speex sound in an Ogg file' }
    return { other: 'an Ogg file without Vorbis sound (perhaps a video)' }
  }
  if (ascii(buf, 4, 4) === 'ftyp') return { other: 'MP4/M4A (AAC or ALAC)' }
  if (tag === 'FORM' && /^AIF[FC]$/.test(ascii(buf, 8, 4))) return { other: 'AIFF' }
  if (tag === 'MThd') return { other: 'a MIDI file (notes, not recorded sound)' }
  if (ascii(buf, 0, 5) === '#!AMR') return { other: 'AMR (a phone voice recording)' }
  if (buf[0] === 0x1a && buf[1] === 0x45 && buf[2] === 0xdf && buf[3] === 0xa3) return { other: 'WebM/Matroska' }
  if (ascii(buf, 0, 4) === 'wvpk') return { other: 'WavPack' }
  const afterTag = id3Length(buf, 0)
  if (afterTag > 0 && ascii(buf, afterTag, 4) === 'fLaC') return { format: 'flac' }
  if (buf[afterTag] === 0xff && (buf[afterTag + 1] & 0xf6) === 0xf0) return { other: 'AAC (ADTS)' }
  const mpeg = findMpeg(buf, afterTag)
  if (mpeg) return { format: 'mp3', channels: mpeg.channels }
  if (buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return { other: 'a JPEG image' }
  if (ascii(buf, 1, 3) === 'PNG') return { other: 'a PNG image' }
  if (ascii(buf, 0, 4) === 'GIF8') return { other: 'a GIF image' }
  if (ascii(buf, 0, 4) === '%PDF') return { other: 'a PDF document' }
  if (tag === 'PK\x03\x04') return { other: 'a ZIP archive' }
  const head = buf.subarray(0, 512)
  if (head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b !== 127))) {
    return { other: 'text' }
  }
  return { other: 'not a sound format Tunewise knows' }
}

/** The decoded block every WASM decoder returns. */
interface WasmDecoded {
  channelData: Float32Array[]
  samplesDecoded: number
  sampleRate: number
  /** FLAC only: bits per sample of the stream. */
  bitDepth?: number
  errors: unknown[]
}

interface WasmDecoder {
  ready: Promise<void>
  decode(data: Uint8Array): WasmDecoded | Promise<WasmDecoded>
  flush?: () => Promise<WasmDecoded>
  free(): void | Promise<void>
}

/** The decoder modules are loaded on first use: each carries its WebAssembly inline, which costs start-up time. */
const decoderModules: Partial<Record<Exclude<AudioFormat, 'wav'>, Promise<() => WasmDecoder>>> = {}

function makeDecoder(format: Exclude<AudioFormat, 'wav'>): Promise<() => WasmDecoder> {
  decoderModules[format] ??= (async (): Promise<() => WasmDecoder> => {
    if (format === 'flac') {
      const { FLACDecoder } = await import('@wasm-audio-decoders/flac')
      return () => new FLACDecoder()
    }
    if (format === 'ogg') {
      const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis')
      return () => new OggVorbisDecoder() as unknown as WasmDecoder
    }
    const { MPEGDecoder } = await import('mpg123-decoder')
    return () => new MPEGDecoder()
  })()
  return decoderModules[format]!
}

const FORMAT_NAMES: Record<AudioFormat, string> = { wav: 'WAV', flac: 'FLAC', mp3: 'MP3', ogg: 'OGG' }

function tooLong(maxSeconds: number): () => AudioDecodeError {
  const limit = maxSeconds >= 120 ? `${Math.round(maxSeconds / 60)} minutes` : `${maxSeconds} seconds`
  return () =>
    new AudioDecodeError(
      'too-large',
      `The recording is longer than ${limit}, the most Tunewise reads from one file. Cut it into shorter files.`,
    )
}

async function decodeCompressed(
  buf: Uint8Array,
  format: Exclude<AudioFormat, 'wav'>,
  out: MonoCollector,
): Promise<{ sampleRate: number; channels: number; notes: string[] }> {
  const name = FORMAT_NAMES[format]
  const decoder = (await makeDecoder(format))()
  let sampleRate = 0
  let channels = 0
  let errors = 0
  const take = (d: WasmDecoded): void => {
    errors += d.errors.length
    if (d.samplesDecoded <= 0) return
    if (sampleRate === 0) {
      sampleRate = d.sampleRate
      out.setSampleRate(sampleRate)
    } else if (d.sampleRate !== sampleRate) {
      throw new AudioDecodeError(
        'unsupported',
        `The ${name} file changes its sample rate part-way through (${sampleRate} Hz, then ${d.sampleRate} Hz). ${CONVERT}`,
      )
    }
    channels = Math.max(channels, d.channelData.length)
    if (format === 'flac' && d.bitDepth) {
      // The FLAC decoder divides by 2^(bits-1) − 1; WAV readers (and this one) by 2^(bits-1). Rescaled so a FLAC
      // and a WAV of the same recording give the same samples, and so the same clips.
      const k = (2 ** (d.bitDepth - 1) - 1) / 2 ** (d.bitDepth - 1)
      for (const ch of d.channelData) for (let i = 0; i < d.samplesDecoded; i++) ch[i] *= k
    }
    out.addPlanar(d.channelData, d.samplesDecoded)
  }
  try {
    await decoder.ready
    for (let at = 0; at < buf.length; at += CHUNK_BYTES) take(await decoder.decode(buf.subarray(at, at + CHUNK_BYTES)))
    if (decoder.flush) take(await decoder.flush())
  } catch (err) {
    if (err instanceof AudioDecodeError) throw err
    const raw = err instanceof Error ? err.message : String(err)
    if (/support.*codec/i.test(raw)) {
      throw new AudioDecodeError(
        'unsupported',
        `The ${name} file holds a kind of sound Tunewise cannot read. ${CONVERT}`,
      )
    }
    throw new AudioDecodeError('damaged', `The ${name} file is damaged: the decoder stopped (${raw}). ${CONVERT}`)
  } finally {
    await decoder.free()
  }
  if (out.length === 0) {
    // A header and nothing after it, or a body the decoder cannot find its way into: either way nothing usable.
    throw new AudioDecodeError(
      'damaged',
      `No sound could be read from the ${name} file: it is damaged, cut short or empty. ${CONVERT}`,
    )
  }
  const notes =
    errors > 0
      ? [`${errors} damaged part${errors === 1 ? ' was' : 's were'} skipped while decoding; the rest was used.`]
      : []
  return { sampleRate, channels, notes }
}

/**
 * Decodes a sound file's bytes to mono at the file's own rate.
 * @throws AudioDecodeError (an AppError with code 'bad_data') with a plain reason when the bytes are empty, not
 *   a supported format, damaged, or longer than `opts.maxSeconds`.
 */
export async function decodeAudio(buf: Uint8Array, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  if (buf.length === 0) throw new AudioDecodeError('empty', 'The file is empty (0 bytes).')
  const maxSeconds = opts.maxSeconds ?? DEFAULT_MAX_SECONDS
  const sniffed = sniffAudio(buf)
  if ('other' in sniffed) {
    const what = sniffed.other === 'text' ? 'text' : sniffed.other
    const sentence =
      sniffed.other === 'not a sound format Tunewise knows'
        ? `Not a sound file Tunewise can read: the content is not ${SUPPORTED_AUDIO}.`
        : `Not a supported sound file: the content is ${what}, not ${SUPPORTED_AUDIO}.`
    throw new AudioDecodeError('unsupported', `${sentence} ${CONVERT}`)
  }
  const out = new MonoCollector(maxSeconds, tooLong(maxSeconds))
  let info: { sampleRate: number; channels: number; notes: string[] }
  if (sniffed.format === 'wav') {
    try {
      info = readWav(buf, out)
    } catch (err) {
      if (err instanceof WavError) throw new AudioDecodeError(err.kind, err.message)
      throw err
    }
  } else {
    info = await decodeCompressed(buf, sniffed.format, out)
    // mpg123 always hands out two channels; the frame header knows whether the file is mono.
    if (sniffed.format === 'mp3' && sniffed.channels !== undefined) info.channels = sniffed.channels
  }
  const { samples, levels } = out.finish()
  return {
    samples,
    sampleRate: info.sampleRate,
    channels: info.channels,
    format: sniffed.format,
    duration: samples.length / info.sampleRate,
    levels,
    notes: info.notes,
  }
}

/** Opening with O_NONBLOCK makes a FIFO open return at once instead of waiting for a writer (0 on Windows). */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0)

/** Thrown by `readSoundFile` for a path that is not a regular file (a FIFO, socket or device). */
export class NotRegularFileError extends Error {
  constructor(readonly file: string) {
    super(`${basename(file)} is not a regular file (a pipe, socket or device); it was not opened.`)
    this.name = 'NotRegularFileError'
  }
}

/**
 * Reads a file without following a link at its last step and without blocking (a FIFO opens at once), after
 * checking it is a regular file of a sane size. Errors from the file system are passed on as they are.
 */
export async function readSoundFile(path: string): Promise<Buffer> {
  const handle = await open(path, OPEN_FLAGS)
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new NotRegularFileError(path)
    if (info.size > MAX_AUDIO_FILE_BYTES) {
      throw new AudioDecodeError(
        'too-large',
        `The file is too large (${Math.round(info.size / 1024 / 1024)} MB; the limit is 512 MB). Cut it into shorter files.`,
      )
    }
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

/**
 * Reads and decodes one sound file.
 * @throws AudioDecodeError as `decodeAudio`, and AppError('bad_data') when the file cannot be read.
 */
export async function decodeAudioFile(path: string, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  let buf: Buffer
  try {
    buf = await readSoundFile(path)
  } catch (err) {
    if (err instanceof AppError) throw err
    if (err instanceof NotRegularFileError) throw new AppError('bad_data', err.message)
    const code = (err as NodeJS.ErrnoException | null)?.code
    const name = basename(path)
    const reason =
      code === 'ENOENT'
        ? `The file ${name} could not be found; it may have been moved or deleted.`
        : code === 'EACCES' || code === 'EPERM'
          ? `The file ${name} could not be opened: permission denied. Check its sharing settings.`
          : code === 'ELOOP'
            ? `${name} is a link; sound files are read directly, not through links.`
            : `The file ${name} could not be read (${code ?? 'unknown error'}).`
    throw new AppError('bad_data', reason)
  }
  return decodeAudio(buf, opts)
}
