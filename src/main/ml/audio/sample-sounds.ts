/**
 * A small spoken-word sample dataset, made on this machine by the eSpeak NG speech synthesizer (the Debian
 * package `espeak-ng`): a few words, each said by several voices at several speeds and pitches, placed at a
 * random moment of a one-second recording with a little background noise. People can try the sound path before
 * they have recordings of their own, and tests get data without shipping any. The same seed gives the same files
 * (the synthesizer is deterministic; placement, level and noise come from the project's seeded generator).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { AppError } from '../../errors'
import { mulberry32 } from '../data/split'
import { decodeAudio } from './decode'
import { resample } from './resample'

export interface SampleSoundOptions {
  /** The words, one class folder each. Default yes, no, up, down. */
  words?: string[]
  /** One-second recordings per word. Default 32. */
  perWord?: number
  /** Two-second recordings per word that say it twice (two clips each, which must stay in one split). Default 2. */
  longPerWord?: number
  /** Seed for voices, placement, level and noise. Default 1. */
  seed?: number
  /** Rate of the written WAV files, Hz. Default 16000. */
  sampleRate?: number
  /** Voices to draw from, as `espeak-ng -v` takes them (`en-gb+f3`). Default six English accents and variants. */
  voices?: readonly string[]
  /** Speed range of a saying, words a minute (`espeak-ng -s`). Default [140, 180]. */
  speeds?: readonly [number, number]
  /** Pitch range of a saying, 0–99 (`espeak-ng -p`). Default [35, 65]. */
  pitches?: readonly [number, number]
  /** How far below the recording's level (its RMS over the whole file) the background noise is, dB. Default [25, 40]. */
  noiseDb?: readonly [number, number]
  /** The synthesizer to run. Default `espeak-ng` from PATH. */
  espeak?: string
  /** Called after each file is written. */
  onProgress?: (done: number, total: number) => void
  /** Called after each file is written with how it was made (benches break errors down by voice or noise). */
  onRecording?: (made: SampleRecording) => void
}

/** How one sample recording was made: its path under the folder, and each saying's voice, speed and pitch. */
export interface SampleRecording {
  file: string
  word: string
  sayings: { voice: string; speed: number; pitch: number }[]
  /** The background noise, dB below the recording's RMS level. */
  noiseDb: number
}

export const DEFAULT_SAMPLE_WORDS = ['yes', 'no', 'up', 'down'] as const

/**
 * Voices and variants that ship with the Debian package (English accents, male and female). Each saying also
 * gets its own speed (140–180 words a minute) and pitch (35–65 of 0–99).
 */
const VOICES = ['en-us', 'en-gb', 'en-us+f2', 'en-gb+f3', 'en+m3', 'en-029']

/** How "Use sample sounds" says its words: the voices, speeds (wpm), pitches (0–99) and noise (dB below). */
export const SAMPLE_SOUND_DEFAULTS = {
  voices: VOICES,
  speeds: [140, 180],
  pitches: [35, 65],
  noiseDb: [25, 40],
} as const satisfies Pick<SampleSoundOptions, 'voices' | 'speeds' | 'pitches' | 'noiseDb'>

/** Where the synthesizer is, or null when it is not installed. */
export function findEspeak(name = 'espeak-ng'): string | null {
  if (name.includes('/')) return existsSync(name) ? name : null
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return null
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) =>
    execFile(cmd, args, { timeout: 30_000 }, (err, _out, stderr) =>
      err ? fail(new Error(`${err.message}${stderr ? `: ${stderr.trim()}` : ''}`)) : ok(),
    ),
  )
}

/** 16-bit PCM mono WAV bytes of `samples` (−1…1). */
export function encodeWav16(samples: Float32Array, rate: number): Buffer {
  const buf = Buffer.alloc(44 + samples.length * 2)
  buf.write('RIFF', 0)
  buf.writeUInt32LE(36 + samples.length * 2, 4)
  buf.write('WAVE', 8)
  buf.write('fmt ', 12)
  buf.writeUInt32LE(16, 16)
  buf.writeUInt16LE(1, 20)
  buf.writeUInt16LE(1, 22)
  buf.writeUInt32LE(rate, 24)
  buf.writeUInt32LE(rate * 2, 28)
  buf.writeUInt16LE(2, 32)
  buf.writeUInt16LE(16, 34)
  buf.write('data', 36)
  buf.writeUInt32LE(samples.length * 2, 40)
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]))
    buf.writeInt16LE(Math.round(v * 32767), 44 + i * 2)
  }
  return buf
}

/** The span of `x` louder than 2 % of its peak (the spoken word without the synthesizer's silence around it). */
function trimSilence(x: Float32Array): Float32Array {
  let peak = 0
  for (const v of x) peak = Math.max(peak, Math.abs(v))
  const gate = peak * 0.02
  let a = 0
  let b = x.length
  while (a < b && Math.abs(x[a]) < gate) a++
  while (b > a && Math.abs(x[b - 1]) < gate) b--
  return x.subarray(a, b)
}

/** One word as the synthesizer says it: mono at `rate`, silence trimmed. */
async function speak(
  espeak: string,
  tmp: string,
  word: string,
  voice: string,
  speed: number,
  pitch: number,
  rate: number,
) {
  const out = join(tmp, 'word.wav')
  await run(espeak, ['-v', voice, '-s', String(speed), '-p', String(pitch), '-w', out, word])
  const audio = await decodeAudio(await readFile(out))
  return trimSilence(resample(audio.samples, audio.sampleRate, rate))
}

/**
 * Writes `<dir>/<word>/<word>-NN.wav` for each word: `perWord` one-second recordings and `longPerWord`
 * two-second ones (the word twice). Returns how many files were written.
 * @throws AppError('unavailable') when espeak-ng is not installed, saying how to install it.
 */
export async function makeSampleSounds(dir: string, opts: SampleSoundOptions = {}): Promise<number> {
  const espeak = findEspeak(opts.espeak)
  if (!espeak)
    throw new AppError(
      'unavailable',
      'The sample sounds are made by the eSpeak NG speech synthesizer, which is not installed. Install it (on Debian or Ubuntu: sudo apt install espeak-ng) and try again, or use a folder of your own recordings.',
    )
  const words = opts.words ?? [...DEFAULT_SAMPLE_WORDS]
  const perWord = opts.perWord ?? 32
  const longPerWord = opts.longPerWord ?? 2
  const rate = opts.sampleRate ?? 16000
  const voices = opts.voices?.length ? opts.voices : SAMPLE_SOUND_DEFAULTS.voices
  const [speedLow, speedHigh] = opts.speeds ?? SAMPLE_SOUND_DEFAULTS.speeds
  const [pitchLow, pitchHigh] = opts.pitches ?? SAMPLE_SOUND_DEFAULTS.pitches
  const [noiseLow, noiseHigh] = opts.noiseDb ?? SAMPLE_SOUND_DEFAULTS.noiseDb
  const rng = mulberry32(opts.seed ?? 1)
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng())
  const total = words.length * (perWord + longPerWord)
  let done = 0
  const tmp = await mkdtemp(join(tmpdir(), 'tw-espeak-'))
  try {
    for (const word of words) {
      await mkdir(join(dir, word), { recursive: true })
      for (let i = 0; i < perWord + longPerWord; i++) {
        const long = i >= perWord
        const seconds = long ? 2 : 1
        const clip = new Float32Array(seconds * rate)
        const sayings: SampleRecording['sayings'] = []
        // Each one-second half holds one saying of the word, in its own voice, speed and pitch.
        for (let half = 0; half < seconds; half++) {
          const voice = voices[Math.floor(rng() * voices.length)]
          const speed = speedLow + Math.round(rng() * (speedHigh - speedLow))
          const pitch = pitchLow + Math.round(rng() * (pitchHigh - pitchLow))
          sayings.push({ voice, speed, pitch })
          const said = (await speak(espeak, tmp, word, voice, speed, pitch, rate)).subarray(0, rate)
          // Near the middle of its second (as in the Speech Commands set), up to 0.1 s either way.
          const slack = rate - said.length
          const jitter = Math.round((2 * rng() - 1) * 0.1 * rate)
          const at = half * rate + Math.max(0, Math.min(slack, Math.floor(slack / 2) + jitter))
          const gain = 0.3 + 0.5 * rng()
          let peak = 0
          for (const v of said) peak = Math.max(peak, Math.abs(v))
          for (let k = 0; k < said.length; k++) clip[at + k] += (said[k] / (peak || 1)) * gain
        }
        // Background noise 25 to 40 dB (by default) below the recording's level.
        let power = 0
        for (const v of clip) power += v * v
        const rms = Math.sqrt(power / clip.length)
        const noiseDb = noiseLow + (noiseHigh - noiseLow) * rng()
        const sigma = rms * 10 ** (-noiseDb / 20)
        for (let k = 0; k < clip.length; k++) clip[k] += sigma * gauss()
        const name = `${word}-${long ? 'long-' : ''}${String(i + 1).padStart(2, '0')}.wav`
        await writeFile(join(dir, word, name), encodeWav16(clip, rate))
        done++
        opts.onProgress?.(done, total)
        opts.onRecording?.({ file: `${word}/${name}`, word, sayings, noiseDb })
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return done
}
