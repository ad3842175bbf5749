/**
 * Cuts a recording into the fixed-length clips a model sees: a short file is padded with silence, a long one
 * becomes several windows. Every window is named by its file and its time span (`cats/meow.wav#t=1,2`, the
 * media-fragment form a browser's audio element understands), and the scan and the loader place windows with
 * one function (`windowStarts`), so the windows a split assigns are exactly the windows training reads.
 */
import { type DecodedAudio, type DecodeOptions, decodeAudio } from './decode'
import { resample, resampledLength } from './resample'

export interface ClipSettings {
  /** Rate every clip is resampled to, Hz. Default 16000. */
  sampleRate: number
  /** Length of one clip, seconds. Default 1. */
  clipSeconds: number
  /** Step between the starts of consecutive windows of one file, seconds. Default: `clipSeconds` (no overlap). */
  hopSeconds?: number
  /**
   * A window that would start with less than this much sound left (seconds) is not made; a shorter one is padded
   * with silence. Default: half of `clipSeconds`. The first window is always made.
   */
  minTailSeconds?: number
  /**
   * Most windows taken from one file, spread evenly over it when there are more. Default 600. Bounds the share of
   * a class one long recording can take.
   */
  maxWindowsPerFile?: number
}

export const DEFAULT_CLIP_SETTINGS: Readonly<ClipSettings> = Object.freeze({ sampleRate: 16000, clipSeconds: 1 })

/** A window is silent when its loudest sample is below this (−60 dBFS). */
export const SILENT_PEAK = 0.001

export interface ClipWindow {
  /** Stable name: `${file}#t=${start},${end}` (seconds). */
  id: string
  /** Position among the file's windows. */
  index: number
  /** Start and end in seconds from the start of the file (`end` may pass the file's end: padded). */
  start: number
  end: number
  /** `clipSamples` samples at `settings.sampleRate`. */
  samples: Float32Array
  /** True when the window holds no sound above −60 dBFS; callers may drop such windows of long files. */
  silent: boolean
}

interface Resolved {
  sampleRate: number
  clip: number
  hop: number
  minTail: number
  maxWindows: number
}

function resolve(settings: Partial<ClipSettings>): Resolved {
  const s = { ...DEFAULT_CLIP_SETTINGS, ...settings }
  if (!(s.sampleRate > 0) || !(s.clipSeconds > 0)) throw new RangeError('clip settings: rate and length must be > 0')
  const clip = Math.max(1, Math.round(s.clipSeconds * s.sampleRate))
  const hop = Math.max(1, Math.round((s.hopSeconds ?? s.clipSeconds) * s.sampleRate))
  const minTail = Math.max(1, Math.round((s.minTailSeconds ?? s.clipSeconds / 2) * s.sampleRate))
  return { sampleRate: s.sampleRate, clip, hop, minTail, maxWindows: Math.max(1, s.maxWindowsPerFile ?? 600) }
}

/**
 * Where the windows of a sound `length` samples long start (in samples at the clip rate): every hop, as long as
 * at least `minTail` samples are left, the first always; more than `maxWindowsPerFile` are thinned evenly.
 */
export function windowStarts(length: number, settings: Partial<ClipSettings> = {}): number[] {
  const { hop, minTail, maxWindows } = resolve(settings)
  const starts: number[] = [0]
  for (let s = hop; length - s >= minTail; s += hop) starts.push(s)
  if (starts.length <= maxWindows) return starts
  return Array.from({ length: maxWindows }, (_, k) => starts[Math.floor((k * starts.length) / maxWindows)])
}

/** How many windows a file `frames` samples long at `fileRate` gives, without decoding it again (the scan's count). */
export function windowCount(frames: number, fileRate: number, settings: Partial<ClipSettings> = {}): number {
  const rate = resolve(settings).sampleRate
  return windowStarts(resampledLength(frames, fileRate, rate), settings).length
}

/** Seconds as the shortest decimal that is exact to the microsecond (`1`, `0.5`, `12.0625`). */
function seconds(samples: number, rate: number): number {
  return Math.round((samples / rate) * 1e6) / 1e6
}

export function windowId(file: string, start: number, end: number): string {
  return `${file}#t=${start},${end}`
}

/** Splits a window id back into its file and span; null for an id without a `#t=start,end` suffix. */
export function parseWindowId(id: string): { file: string; start: number; end: number } | null {
  const at = id.lastIndexOf('#t=')
  if (at < 0) return null
  const m = /^(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec(id.slice(at + 3))
  if (!m) return null
  return { file: id.slice(0, at), start: Number(m[1]), end: Number(m[2]) }
}

/** The ids of a file's windows, for a file `frames` long at `fileRate` (what the split needs, from the scan). */
export function windowIds(
  file: string,
  frames: number,
  fileRate: number,
  settings: Partial<ClipSettings> = {},
): string[] {
  const r = resolve(settings)
  return windowStarts(resampledLength(frames, fileRate, r.sampleRate), settings).map((s) =>
    windowId(file, seconds(s, r.sampleRate), seconds(s + r.clip, r.sampleRate)),
  )
}

/**
 * Cuts mono `samples` (already at `settings.sampleRate`) into windows of one clip length each: zero-padded at
 * the end when the sound runs out.
 */
export function cutWindows(samples: Float32Array, file: string, settings: Partial<ClipSettings> = {}): ClipWindow[] {
  const r = resolve(settings)
  return windowStarts(samples.length, settings).map((s, index) => {
    const clip = new Float32Array(r.clip)
    clip.set(samples.subarray(s, Math.min(samples.length, s + r.clip)))
    let peak = 0
    for (let i = 0; i < clip.length; i++) peak = Math.max(peak, Math.abs(clip[i]))
    const start = seconds(s, r.sampleRate)
    const end = seconds(s + r.clip, r.sampleRate)
    return { id: windowId(file, start, end), index, start, end, samples: clip, silent: peak < SILENT_PEAK }
  })
}

/** A decoded file as clips: the decode result (at the file's rate) and its windows at the clip rate. */
export interface FileClips {
  audio: DecodedAudio
  windows: ClipWindow[]
}

/**
 * Decodes a sound file's bytes, resamples it to the clip rate and cuts it into windows. `file` names the
 * windows (the path relative to the dataset root).
 * @throws AudioDecodeError as `decodeAudio`.
 */
export async function clipsFromBuffer(
  buf: Uint8Array,
  file: string,
  settings: Partial<ClipSettings> = {},
  decodeOptions: DecodeOptions = {},
): Promise<FileClips> {
  const audio = await decodeAudio(buf, decodeOptions)
  const rate = resolve(settings).sampleRate
  const mono = resample(audio.samples, audio.sampleRate, rate)
  return { audio, windows: cutWindows(mono, file, settings) }
}
