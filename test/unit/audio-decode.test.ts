/**
 * Decoding sound files: every WAV encoding against the exact values it stores, FLAC (lossless) against the exact
 * values of its known source, MP3 and Vorbis by the strength of their known tones, and a plain reason for every
 * file that cannot be used.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../src/main/errors'
import { AudioDecodeError, decodeAudio, decodeAudioFile, sniffAudio } from '../../src/main/ml/audio'
import { amplitudeAt, encodeWav, noise, quantise, tone, type WavEncoding, wav16 } from '../fixtures/audio/synth'

const FIXTURES = join(__dirname, '..', 'fixtures', 'audio')
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name))

/** The value a reader must return for `x` stored with `encoding`. */
function stored(x: number, encoding: WavEncoding): number {
  const q = quantise(x, encoding)
  switch (encoding) {
    case 'u8':
      return (q - 128) / 128
    case 'pcm16':
      return q / 32768
    case 'pcm24':
      return q / 8388608
    case 'pcm32':
      return q / 2147483648
    case 'float32':
      return Math.fround(x)
    default:
      return x
  }
}

/** A signal that visits the corners: both full-scale ends, zero, tiny values, and a tone. */
function probeSignal(n: number): Float32Array {
  const x = tone(440, 8000, n / 8000, 0.7)
  x[0] = 1
  x[1] = -1
  x[2] = 0
  x[3] = 1e-4
  x[4] = -0.123456
  return x
}

async function failure(work: Promise<unknown>): Promise<AudioDecodeError> {
  try {
    await work
  } catch (err) {
    expect(err).toBeInstanceOf(AudioDecodeError)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('bad_data')
    return err as AudioDecodeError
  }
  throw new Error('expected the decode to fail')
}

describe('WAV', () => {
  const encodings: WavEncoding[] = ['u8', 'pcm16', 'pcm24', 'pcm32', 'float32', 'float64']
  const rates = [8000, 11025, 16000, 22050, 44100, 48000]

  it.each(encodings.map((e, i) => [e, rates[i % rates.length]] as const))(
    'reads %s at %i Hz sample for sample',
    async (encoding, rate) => {
      const x = probeSignal(400)
      const audio = await decodeAudio(encodeWav([x], { sampleRate: rate, encoding }))
      expect(audio.format).toBe('wav')
      expect(audio.sampleRate).toBe(rate)
      expect(audio.channels).toBe(1)
      expect(audio.samples.length).toBe(400)
      expect(audio.duration).toBeCloseTo(400 / rate, 12)
      for (let i = 0; i < x.length; i++) {
        expect(audio.samples[i], `sample ${i}`).toBeCloseTo(stored(x[i], encoding), 7)
      }
    },
  )

  it('mixes stereo down to the mean of the channels', async () => {
    const left = tone(440, 16000, 0.1, 0.8)
    const right = tone(1000, 16000, 0.1, 0.4)
    const audio = await decodeAudio(encodeWav([left, right], { sampleRate: 16000, encoding: 'pcm16' }))
    expect(audio.channels).toBe(2)
    for (let i = 0; i < left.length; i += 7) {
      expect(audio.samples[i]).toBeCloseTo((stored(left[i], 'pcm16') + stored(right[i], 'pcm16')) / 2, 7)
    }
  })

  it('reads WAVE_FORMAT_EXTENSIBLE 24-bit stereo and float, with other chunks before the data', async () => {
    const a = tone(300, 48000, 0.05, 0.9)
    const b = noise(a.length, 3, 0.3)
    // An odd-sized chunk: the reader must skip its pad byte to find 'data'.
    const extraChunks: [string, Uint8Array][] = [['LIST', new Uint8Array([1, 2, 3])]]
    for (const encoding of ['pcm24', 'float32'] as const) {
      const audio = await decodeAudio(encodeWav([a, b], { sampleRate: 48000, encoding, extensible: true, extraChunks }))
      expect(audio.channels).toBe(2)
      expect(audio.samples.length).toBe(a.length)
      for (let i = 0; i < a.length; i += 11) {
        expect(audio.samples[i]).toBeCloseTo((stored(a[i], encoding) + stored(b[i], encoding)) / 2, 7)
      }
    }
  })

  it('reads G.711 A-law and µ-law at their table values', async () => {
    const g711 = (format: 6 | 7, bytes: number[]): Buffer => {
      const wav = encodeWav([new Float32Array(bytes.length)], { sampleRate: 8000, encoding: 'u8' })
      wav.writeUInt16LE(format, 20)
      Buffer.from(bytes).copy(wav, 44)
      return wav
    }
    const alaw = await decodeAudio(g711(6, [0xd5, 0x55, 0xaa, 0x2a]))
    expect(Array.from(alaw.samples)).toEqual([8, -8, 32256, -32256].map((v) => v / 32768))
    const mulaw = await decodeAudio(g711(7, [0xff, 0x80, 0x00]))
    expect(Array.from(mulaw.samples)).toEqual([0, 32124, -32124].map((v) => v / 32768))
  })

  it('uses what is there of a file cut short, and says so', async () => {
    const whole = wav16(tone(440, 16000, 0.5), 16000)
    const cut = whole.subarray(0, 44 + 2 * 3000 + 1)
    const audio = await decodeAudio(cut)
    expect(audio.samples.length).toBe(3000)
    expect(audio.notes.join(' ')).toMatch(/cut short/)
  })

  it('reads to the end when a recorder left the data size unset (0xFFFFFFFF)', async () => {
    const wav = wav16(tone(440, 16000, 0.25), 16000)
    wav.writeUInt32LE(0xffffffff, 40)
    const audio = await decodeAudio(wav)
    expect(audio.samples.length).toBe(4000)
    expect(audio.notes).toEqual([])
  })

  it('reads NaN and infinite float samples as silence, with a note', async () => {
    const x = new Float32Array([0.5, Number.NaN, Number.POSITIVE_INFINITY, -0.5])
    const audio = await decodeAudio(encodeWav([x], { sampleRate: 8000, encoding: 'float32' }))
    expect(Array.from(audio.samples)).toEqual([0.5, 0, 0, -0.5])
    expect(audio.notes.join(' ')).toMatch(/2 samples were not a number/)
  })

  it('measures peak and loudness, and tells clipping from a loud sine that touches full scale', async () => {
    const loud = await decodeAudio(encodeWav([tone(1000, 16000, 0.5, 1)], { sampleRate: 16000, encoding: 'float32' }))
    expect(loud.levels.peak).toBeCloseTo(1, 6)
    expect(loud.levels.rms).toBeCloseTo(Math.SQRT1_2, 2)
    expect(loud.levels.clippedFraction).toBeLessThan(0.001)
    // Twice too loud: flat tops at full scale for a third of every cycle.
    const clipped = await decodeAudio(wav16(tone(200, 16000, 0.5, 2), 16000))
    expect(clipped.levels.clippedFraction).toBeGreaterThan(0.3)
    const quiet = await decodeAudio(wav16(tone(200, 16000, 0.1, 0.01), 16000))
    expect(quiet.levels.peak).toBeCloseTo(0.01, 3)
  })
})

describe('FLAC, MP3 and OGG Vorbis', () => {
  /** Known content of the fixtures (make-fixtures.mjs): 440 Hz at 0.5 left, 660 Hz at 0.25 right, 0.3 s. */
  const known = (i: number, rate: number, bits: number, channels: number): number => {
    const full = 2 ** (bits - 1)
    const q = (x: number): number => Math.max(-full, Math.min(full - 1, Math.round(x * full))) / full
    const left = q(0.5 * Math.sin((2 * Math.PI * 440 * i) / rate))
    const right = q(0.25 * Math.sin((2 * Math.PI * 660 * i) / rate))
    return channels === 1 ? left : (left + right) / 2
  }

  it.each([
    ['tone-44100-stereo-16.flac', 44100, 2, 16],
    ['tone-48000-mono-24.flac', 48000, 1, 24],
  ] as const)('decodes %s to its exact source samples', async (name, rate, channels, bits) => {
    const audio = await decodeAudio(fixture(name))
    expect(audio.format).toBe('flac')
    expect(audio.sampleRate).toBe(rate)
    expect(audio.channels).toBe(channels)
    expect(audio.samples.length).toBe(Math.round(rate * 0.3))
    let worst = 0
    for (let i = 0; i < audio.samples.length; i++) {
      worst = Math.max(worst, Math.abs(audio.samples[i] - known(i, rate, bits, channels)))
    }
    // Float32 rounding of exact integers over 2^(bits-1): far below one step of the 24-bit scale.
    expect(worst).toBeLessThan(1e-7)
  })

  it('gives the same samples for a FLAC and a WAV of the same recording', async () => {
    const flac = await decodeAudio(fixture('tone-44100-stereo-16.flac'))
    const n = flac.samples.length
    const left = Float64Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 44100))
    const right = Float64Array.from({ length: n }, (_, i) => 0.25 * Math.sin((2 * Math.PI * 660 * i) / 44100))
    const wav = await decodeAudio(encodeWav([left, right], { sampleRate: 44100, encoding: 'pcm16' }))
    expect(Array.from(wav.samples)).toEqual(Array.from(flac.samples))
  })

  it.each([
    ['tone-22050-stereo.mp3', 'mp3', 22050, 2],
    ['tone-16000-mono.ogg', 'ogg', 16000, 1],
  ] as const)('decodes %s with its tones at their strength', async (name, format, rate, channels) => {
    const audio = await decodeAudio(fixture(name))
    expect(audio.format).toBe(format)
    expect(audio.sampleRate).toBe(rate)
    expect(audio.channels).toBe(channels)
    expect(audio.duration).toBeGreaterThan(0.28)
    expect(audio.duration).toBeLessThan(0.36)
    const n = audio.samples.length
    const [from, to] = [Math.round(n * 0.2), Math.round(n * 0.8)]
    // The mono mix: 440 Hz at 0.5 (mono) or 0.25 (stereo mean), 660 Hz at 0 or 0.125.
    const a440 = amplitudeAt(audio.samples, 440, rate, from, to)
    const a660 = amplitudeAt(audio.samples, 660, rate, from, to)
    expect(a440).toBeCloseTo(channels === 1 ? 0.5 : 0.25, 1)
    expect(Math.abs(a440 / (channels === 1 ? 0.5 : 0.25) - 1)).toBeLessThan(0.08)
    if (channels === 2) expect(Math.abs(a660 / 0.125 - 1)).toBeLessThan(0.08)
    else expect(a660).toBeLessThan(0.02)
  })

  it('refuses Opus in Ogg by name', async () => {
    const err = await failure(decodeAudio(fixture('tone-48000-mono.opus.ogg')))
    expect(err.kind).toBe('unsupported')
    expect(err.message).toMatch(/Opus/)
    expect(err.message).toMatch(/Convert it to WAV or FLAC/)
  })

  it.each(['tone-44100-stereo-16.flac', 'tone-22050-stereo.mp3', 'tone-16000-mono.ogg'])(
    'reports %s with its body overwritten as damaged',
    async (name) => {
      const good = fixture(name)
      const bad = Buffer.concat([good.subarray(0, 200), Buffer.alloc(good.length - 200, 0x5a)])
      const err = await failure(decodeAudio(bad))
      expect(err.kind).toBe('damaged')
      expect(err.message).toMatch(/No sound could be read/)
    },
  )

  it('refuses a compressed file over the length limit', async () => {
    const err = await failure(decodeAudio(fixture('tone-22050-stereo.mp3'), { maxSeconds: 0.1 }))
    expect(err.kind).toBe('too-large')
    expect(err.message).toMatch(/longer than 0.1 seconds.*Cut it into shorter files/)
  })
})

describe('files that cannot be used', () => {
  it('reports an empty file', async () => {
    const err = await failure(decodeAudio(Buffer.alloc(0)))
    expect(err.kind).toBe('empty')
    expect(err.message).toBe('The file is empty (0 bytes).')
  })

  it('reports a WAV with a header and no samples', async () => {
    const err = await failure(decodeAudio(encodeWav([new Float32Array(0)], { sampleRate: 16000, encoding: 'pcm16' })))
    expect(err.kind).toBe('empty')
    expect(err.message).toMatch(/holds no sound/)
  })

  it('reports a compressed WAV codec by name', async () => {
    const wav = wav16(tone(440, 8000, 0.1), 8000)
    wav.writeUInt16LE(0x11, 20)
    const err = await failure(decodeAudio(wav))
    expect(err.kind).toBe('unsupported')
    expect(err.message).toMatch(/IMA ADPCM.*Save it again as plain \(PCM\) WAV/)
  })

  it('reports damaged WAV headers', async () => {
    const wav = wav16(tone(440, 8000, 0.1), 8000)
    expect((await failure(decodeAudio(wav.subarray(0, 20)))).kind).toBe('damaged')
    const noData = Buffer.from(wav.subarray(0, 36))
    expect((await failure(decodeAudio(noData))).message).toMatch(/no sound data/)
    const noChannels = Buffer.from(wav)
    noChannels.writeUInt16LE(0, 22)
    expect((await failure(decodeAudio(noChannels))).kind).toBe('damaged')
  })

  it.each([
    ['text', Buffer.from('just some notes\nabout the recording\n'), /the content is text/],
    ['a PNG', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]), /a PNG image/],
    ['an M4A', Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypM4A '), Buffer.alloc(40)]), /MP4\/M4A/],
    ['AIFF', Buffer.concat([Buffer.from('FORM'), Buffer.alloc(4), Buffer.from('AIFF'), Buffer.alloc(30)]), /AIFF/],
    ['random bytes', Buffer.from(Array.from({ length: 300 }, (_, i) => ((i * 37 + 11) % 251) & 0xfe)), /not WAV, FLAC/],
  ])('reports %s as not a supported sound file', async (_, bytes, reason) => {
    const err = await failure(decodeAudio(bytes))
    expect(err.kind).toBe('unsupported')
    expect(err.message).toMatch(reason)
  })

  it('refuses a WAV over the length limit before reading its samples', async () => {
    const err = await failure(decodeAudio(wav16(tone(440, 16000, 1), 16000), { maxSeconds: 0.5 }))
    expect(err.kind).toBe('too-large')
  })

  it('tells the format from the content, not the name', () => {
    expect(sniffAudio(fixture('tone-22050-stereo.mp3'))).toEqual({ format: 'mp3', channels: 2 })
    expect(sniffAudio(fixture('tone-48000-mono-24.flac'))).toEqual({ format: 'flac' })
    expect(sniffAudio(fixture('tone-16000-mono.ogg'))).toEqual({ format: 'ogg' })
    expect(sniffAudio(wav16(tone(1, 8000, 0.01), 8000))).toEqual({ format: 'wav' })
  })
})

describe('decodeAudioFile', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tunewise-audio-decode-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads a file from disk', async () => {
    writeFileSync(join(dir, 'a.wav'), wav16(tone(440, 16000, 0.2), 16000))
    const audio = await decodeAudioFile(join(dir, 'a.wav'))
    expect(audio.samples.length).toBe(3200)
  })

  it('reports a missing file in plain words', async () => {
    await expect(decodeAudioFile(join(dir, 'gone.wav'))).rejects.toThrow(/gone.wav could not be found/)
  })

  it.skipIf(process.platform === 'win32')('does not block on a FIFO named like a sound file', async () => {
    execFileSync('mkfifo', [join(dir, 'pipe.wav')])
    const err = await decodeAudioFile(join(dir, 'pipe.wav')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).message).toMatch(/not a regular file/)
  })
})
