/**
 * Resampling to the clip rate (band-limited: what the new rate can hold survives, what it cannot is removed rather
 * than folded back as a false tone) and cutting recordings into named, fixed-length windows.
 */
import { describe, expect, it } from 'vitest'
import {
  audioClipKey,
  clipsFromBuffer,
  cutWindows,
  parseWindowId,
  resample,
  resampledLength,
  windowCount,
  windowIds,
  windowStarts,
} from '../../src/main/ml/audio'
import { amplitudeAt, encodeWav, rms, tone } from '../fixtures/audio/synth'

const db = (ratio: number): number => 20 * Math.log10(ratio)

/** Gain (dB) of a `freq` tone through `from` → `to`, and the level (dB re the input) at `alias` Hz, mid-signal. */
function through(from: number, to: number, freq: number, alias?: number): { gain: number; alias: number } {
  const out = resample(tone(freq, from, 1, 0.5), from, to)
  const [a, b] = [Math.round(to * 0.1), Math.round(to * 0.9)]
  return {
    gain: db(amplitudeAt(out, freq, to, a, b) / 0.5),
    alias: alias === undefined ? -Infinity : db(amplitudeAt(out, alias, to, a, b) / 0.5),
  }
}

describe('resample', () => {
  it('keeps a 7 kHz tone when going from 48 kHz to 16 kHz', () => {
    expect(Math.abs(through(48000, 16000, 7000).gain)).toBeLessThan(0.5)
  })

  it('removes a 12 kHz tone at 48 kHz instead of folding it to 4 kHz at 16 kHz', () => {
    // Picking every third sample would put it at 4 kHz at full strength (0 dB).
    const { gain, alias } = through(48000, 16000, 12000, 4000)
    expect(alias).toBeLessThan(-60)
    expect(gain).toBeLessThan(-60)
    const out = resample(tone(12000, 48000, 1, 0.5), 48000, 16000)
    expect(db(rms(out, 1600, 14400) / (0.5 * Math.SQRT1_2))).toBeLessThan(-60)
  })

  it('handles 44.1 kHz (ratio 160/441): 7 kHz kept, 10 kHz (would alias to 6 kHz) removed', () => {
    expect(Math.abs(through(44100, 16000, 7000).gain)).toBeLessThan(0.5)
    expect(through(44100, 16000, 10000, 6000).alias).toBeLessThan(-60)
  })

  it('upsamples 8 kHz to 16 kHz without an image of the tone above the old Nyquist', () => {
    const { gain, alias } = through(8000, 16000, 3000, 5000)
    expect(Math.abs(gain)).toBeLessThan(0.5)
    expect(alias).toBeLessThan(-60)
  })

  it('handles ratios with no small fraction (filter computed per sample)', () => {
    for (const from of [44099, 22050.5]) {
      expect(Math.abs(through(from, 16000, 1000).gain)).toBeLessThan(0.5)
      expect(through(from, 16000, 10000, 6000).alias).toBeLessThan(-60)
    }
  })

  it('keeps a constant level and covers the same time span', () => {
    const dc = new Float32Array(48000).fill(0.25)
    const out = resample(dc, 48000, 16000)
    expect(out.length).toBe(16000)
    for (let i = 500; i < 15500; i += 97) expect(out[i]).toBeCloseTo(0.25, 5)
    expect(resampledLength(44101, 44100, 16000)).toBe(16001)
    expect(resample(new Float32Array(7), 44100, 16000).length).toBe(resampledLength(7, 44100, 16000))
  })

  it('returns a copy at the same rate', () => {
    const x = tone(100, 16000, 0.01)
    const y = resample(x, 16000, 16000)
    expect(y).toEqual(x)
    expect(y).not.toBe(x)
  })
})

describe('windows', () => {
  it('starts a window every hop while at least half a clip is left, the first always', () => {
    expect(windowStarts(16000)).toEqual([0])
    expect(windowStarts(4000)).toEqual([0])
    expect(windowStarts(40000)).toEqual([0, 16000, 32000]) // 0.5 s left at 2 s: kept, padded
    expect(windowStarts(39999)).toEqual([0, 16000]) // just under half a clip left: dropped
    expect(windowStarts(40000, { hopSeconds: 0.5 })).toEqual([0, 8000, 16000, 24000, 32000])
    expect(windowStarts(40000, { clipSeconds: 2, minTailSeconds: 0.1 })).toEqual([0, 32000])
  })

  it('thins a very long file evenly to the per-file cap', () => {
    const starts = windowStarts(16000 * 100, { maxWindowsPerFile: 10 })
    expect(starts).toHaveLength(10)
    expect(starts[0]).toBe(0)
    expect(starts[9]).toBe(16000 * 90)
  })

  it('cuts windows of one clip length, padding the last with silence', () => {
    const x = Float32Array.from({ length: 40000 }, (_, i) => (i % 100) / 100 + 0.01)
    const windows = cutWindows(x, 'yes/a.wav')
    expect(windows.map((w) => w.id)).toEqual(['yes/a.wav#t=0,1', 'yes/a.wav#t=1,2', 'yes/a.wav#t=2,3'])
    expect(windows.map((w) => [w.start, w.end])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ])
    for (const w of windows) expect(w.samples.length).toBe(16000)
    expect(Array.from(windows[1].samples.subarray(0, 5))).toEqual(Array.from(x.subarray(16000, 16005)))
    expect(windows[2].samples[7999]).toBe(x[39999])
    expect(windows[2].samples.subarray(8000).every((v) => v === 0)).toBe(true)
    expect(windows.every((w) => !w.silent)).toBe(true)
  })

  it('pads a short file to one clip and flags silent windows', () => {
    const [short] = cutWindows(tone(440, 16000, 0.3), 'a.wav')
    expect(short.samples.length).toBe(16000)
    expect(rms(short.samples, 0, 4800)).toBeGreaterThan(0.3)
    expect(rms(short.samples, 4800)).toBe(0)
    const [quiet] = cutWindows(tone(440, 16000, 1, 0.0005), 'b.wav')
    expect(quiet.silent).toBe(true)
  })

  it('names windows so the file and span can be read back, even with # in the name', () => {
    expect(parseWindowId('a #1/take#2.wav#t=1.5,2.5')).toEqual({ file: 'a #1/take#2.wav', start: 1.5, end: 2.5 })
    expect(parseWindowId('plain.wav')).toBeNull()
    const ids = windowIds('x.wav', 44100 * 3, 44100, { hopSeconds: 0.25 })
    expect(ids[1]).toBe('x.wav#t=0.25,1.25')
    for (const id of ids) expect(parseWindowId(id)?.file).toBe('x.wav')
  })

  it('counts from the file rate exactly the windows that cutting the resampled sound gives', () => {
    for (const [frames, rate] of [
      [44100, 44100],
      [66150, 44100],
      [66149, 44100],
      [8000 * 7 + 3, 8000],
      [48000 * 2.5, 48000],
      [100, 22050],
    ] as const) {
      const cut = cutWindows(resample(new Float32Array(frames), rate, 16000), 'f.wav')
      expect(windowCount(frames, rate), `${frames} at ${rate}`).toBe(cut.length)
      expect(windowIds('f.wav', frames, rate)).toEqual(cut.map((w) => w.id))
    }
  })

  it('decodes, resamples and cuts a file in one call', async () => {
    const left = tone(1000, 48000, 2.5, 0.5)
    const wav = encodeWav([left, left], { sampleRate: 48000, encoding: 'pcm16' })
    const { audio, windows } = await clipsFromBuffer(wav, 'tones/a.wav')
    expect(audio.sampleRate).toBe(48000)
    expect(windows.map((w) => w.id)).toEqual(['tones/a.wav#t=0,1', 'tones/a.wav#t=1,2', 'tones/a.wav#t=2,3'])
    expect(amplitudeAt(windows[1].samples, 1000, 16000)).toBeCloseTo(0.5, 2)
  })
})

describe('audioClipKey', () => {
  const hash = 'ab'.repeat(32)
  const span = { start: 1, end: 2 }

  it('changes with the content, the window, a clip setting or a spectrogram setting', () => {
    const base = audioClipKey(hash, span)
    expect(base).toMatch(/^[0-9a-f]{64}$/)
    const others = [
      audioClipKey('cd'.repeat(32), span),
      audioClipKey(hash, { start: 2, end: 3 }),
      audioClipKey(hash, span, { clipSeconds: 2 }),
      audioClipKey(hash, span, { sampleRate: 22050 }),
      audioClipKey(hash, span, {}, { melBands: 40 }),
      audioClipKey(hash, span, {}, { hopMs: 5 }),
    ]
    expect(new Set([base, ...others]).size).toBe(others.length + 1)
  })

  it('stays the same for settings that only choose which windows exist, and for defaults written out', () => {
    const base = audioClipKey(hash, span)
    expect(audioClipKey(hash, span, { hopSeconds: 0.5, maxWindowsPerFile: 3 })).toBe(base)
    expect(audioClipKey(hash, span, { sampleRate: 16000, clipSeconds: 1 }, { windowMs: 25, melBands: 64 })).toBe(base)
  })
})
