/**
 * Reads RIFF/WAVE files: PCM 8 (unsigned), 16, 24 and 32 bit, IEEE float 32 and 64 bit, G.711 A-law and µ-law,
 * plain or WAVE_FORMAT_EXTENSIBLE. Written here rather than taken from a package because WAV is a few dozen
 * lines, and reading it ourselves lets every way a file can be wrong get its own plain sentence, lets a file cut
 * short still be used, and mixes channels down while reading, so a long stereo file never sits in memory twice.
 */
import type { MonoCollector } from './levels'

export interface WavInfo {
  sampleRate: number
  channels: number
  /** Bits per stored sample (8 for A-law/µ-law). */
  bitDepth: number
  encoding: 'pcm' | 'float' | 'alaw' | 'mulaw'
  /** Plain notes about a file that was still used (e.g. cut short). */
  notes: string[]
}

/** A WAV that cannot be read, with the reason for the user and the kind of problem. */
export class WavError extends Error {
  constructor(
    readonly kind: 'empty' | 'unsupported' | 'damaged',
    message: string,
  ) {
    super(message)
    this.name = 'WavError'
  }
}

const FORMAT_PCM = 1
const FORMAT_FLOAT = 3
const FORMAT_ALAW = 6
const FORMAT_MULAW = 7
const FORMAT_EXTENSIBLE = 0xfffe
/** Names of compressed WAV codecs users meet, for the "convert it" message. */
const CODEC_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM',
  0x11: 'IMA ADPCM',
  0x31: 'GSM 6.10',
  0x50: 'MPEG',
  0x55: 'MP3',
  0xff: 'AAC',
  0x161: 'Windows Media Audio',
}
const DAMAGED_HEADER = 'The WAV file is damaged: its header is incomplete or garbled.'
/** Frames mixed per block; bounds the temporary memory of one block. */
const BLOCK_FRAMES = 1 << 16

function alawToLinear(a: number): number {
  a ^= 0x55
  let t = (a & 0x0f) << 4
  const seg = (a & 0x70) >> 4
  if (seg === 0) t += 8
  else {
    t += 0x108
    if (seg > 1) t <<= seg - 1
  }
  return a & 0x80 ? t : -t
}

function mulawToLinear(u: number): number {
  u = ~u & 0xff
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4)
  return u & 0x80 ? 0x84 - t : t - 0x84
}

let g711: { alaw: Float32Array; mulaw: Float32Array } | undefined
function g711Tables(): { alaw: Float32Array; mulaw: Float32Array } {
  if (!g711) {
    const alaw = new Float32Array(256)
    const mulaw = new Float32Array(256)
    for (let i = 0; i < 256; i++) {
      alaw[i] = alawToLinear(i) / 32768
      mulaw[i] = mulawToLinear(i) / 32768
    }
    g711 = { alaw, mulaw }
  }
  return g711
}

export function isWav(buf: Uint8Array): boolean {
  return buf.length >= 12 && ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 4) === 'WAVE'
}

function ascii(buf: Uint8Array, at: number, n: number): string {
  let s = ''
  for (let i = at; i < at + n && i < buf.length; i++) s += String.fromCharCode(buf[i])
  return s
}

interface Fmt {
  format: number
  channels: number
  sampleRate: number
  blockAlign: number
  bits: number
}

function readFmt(view: DataView, at: number, size: number): Fmt {
  if (size < 16) throw new WavError('damaged', DAMAGED_HEADER)
  let format = view.getUint16(at, true)
  const channels = view.getUint16(at + 2, true)
  const sampleRate = view.getUint32(at + 4, true)
  const blockAlign = view.getUint16(at + 12, true)
  const bits = view.getUint16(at + 14, true)
  if (format === FORMAT_EXTENSIBLE) {
    // cbSize(2) validBits(2) channelMask(4), then the sub-format GUID whose first two bytes are the format tag.
    if (size < 40) throw new WavError('damaged', DAMAGED_HEADER)
    format = view.getUint16(at + 24, true)
  }
  return { format, channels, sampleRate, blockAlign, bits }
}

/**
 * Decodes `buf` (a RIFF/WAVE file) into `out`, mixed down to mono as it reads. Throws WavError with a plain
 * reason when it cannot; the collector throws when the file is longer than it accepts.
 */
export function readWav(buf: Uint8Array, out: MonoCollector): WavInfo {
  if (!isWav(buf)) throw new WavError('damaged', DAMAGED_HEADER)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const notes: string[] = []
  let fmt: Fmt | undefined
  let dataAt = -1
  let dataSize = 0
  for (let at = 12; at + 8 <= buf.length;) {
    const id = ascii(buf, at, 4)
    const size = view.getUint32(at + 4, true)
    const body = at + 8
    if (id === 'fmt ') {
      if (body + Math.min(size, 40) > buf.length) throw new WavError('damaged', DAMAGED_HEADER)
      fmt = readFmt(view, body, size)
    } else if (id === 'data') {
      dataAt = body
      dataSize = size
      break
    }
    // Chunks are padded to an even length.
    at = body + size + (size % 2)
  }
  if (!fmt) throw new WavError('damaged', `${DAMAGED_HEADER} It has no format description ('fmt ' chunk).`)
  if (dataAt < 0) throw new WavError('damaged', "The WAV file is damaged: it has no sound data ('data' chunk).")

  const { format, channels, sampleRate, bits } = fmt
  if (channels === 0 || sampleRate === 0) throw new WavError('damaged', DAMAGED_HEADER)
  let encoding: WavInfo['encoding']
  if (format === FORMAT_PCM) encoding = 'pcm'
  else if (format === FORMAT_FLOAT) encoding = 'float'
  else if (format === FORMAT_ALAW) encoding = 'alaw'
  else if (format === FORMAT_MULAW) encoding = 'mulaw'
  else {
    const codec = CODEC_NAMES[format] ?? `compressed format ${format}`
    throw new WavError(
      'unsupported',
      `The WAV file holds ${codec} sound, which Tunewise cannot read. Save it again as plain (PCM) WAV or as FLAC.`,
    )
  }
  // The container size per sample: from the block alignment, which also covers 20-bit samples stored in 3 bytes.
  const bytes = fmt.blockAlign > 0 && fmt.blockAlign % channels === 0 ? fmt.blockAlign / channels : Math.ceil(bits / 8)
  const valid =
    (encoding === 'pcm' && bytes >= 1 && bytes <= 4 && bits <= bytes * 8) ||
    (encoding === 'float' && (bytes === 4 || bytes === 8)) ||
    ((encoding === 'alaw' || encoding === 'mulaw') && bytes === 1)
  if (!valid) {
    throw new WavError(
      'unsupported',
      `The WAV file uses ${bits}-bit ${encoding === 'float' ? 'float' : 'samples'} in ${bytes}-byte slots, which ` +
        'Tunewise cannot read. Save it again as 16-bit PCM WAV.',
    )
  }
  const blockAlign = bytes * channels

  // A size of 0 or 0xFFFFFFFF is what recorders write when they stop before fixing the header: read to the end.
  let available = buf.length - dataAt
  if (dataSize > available && dataSize !== 0xffffffff) {
    notes.push('The file is cut short: its sound data ends before the header says; the part that is there was used.')
  } else if (dataSize !== 0 && dataSize !== 0xffffffff) {
    available = dataSize
  }
  const frames = Math.floor(available / blockAlign)
  if (frames === 0) throw new WavError('empty', 'The WAV file holds no sound (0 samples).')
  out.setSampleRate(sampleRate, frames)

  const { alaw, mulaw } = g711Tables()
  let notNumbers = 0
  const read = (offset: number): number => {
    switch (encoding) {
      case 'float': {
        const x = bytes === 4 ? view.getFloat32(offset, true) : view.getFloat64(offset, true)
        if (Number.isFinite(x)) return x
        notNumbers++
        return 0
      }
      case 'alaw':
        return alaw[buf[offset]]
      case 'mulaw':
        return mulaw[buf[offset]]
      default:
        break
    }
    switch (bytes) {
      case 1:
        return (buf[offset] - 128) / 128
      case 2:
        return view.getInt16(offset, true) / 32768
      case 3: {
        const v = buf[offset] | (buf[offset + 1] << 8) | (buf[offset + 2] << 16)
        return ((v << 8) >> 8) / 8388608
      }
      default:
        return view.getInt32(offset, true) / 2147483648
    }
  }
  for (let start = 0; start < frames; start += BLOCK_FRAMES) {
    const n = Math.min(BLOCK_FRAMES, frames - start)
    const base = dataAt + start * blockAlign
    out.addInterleaved(n, channels, (i, c) => read(base + i * blockAlign + c * bytes))
  }
  if (notNumbers > 0) {
    notes.push(
      `${notNumbers} sample${notNumbers === 1 ? ' was' : 's were'} not a number (NaN or infinite); read as silence.`,
    )
  }
  return { sampleRate, channels, bitDepth: encoding === 'alaw' || encoding === 'mulaw' ? 8 : bits, encoding, notes }
}
