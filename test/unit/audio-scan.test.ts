/**
 * The sound-folder scan: what it reports about good files (clips, durations, rates, silence, clipping, copies,
 * hashes, thumbnails), how it groups the files it cannot use, that it keeps the image scan's safety rules (every
 * path it hands the file system is recorded, so "nothing outside the root is read" is checked directly), and that
 * the split it feeds never lets the clips of one file straddle two splits.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { SplitRatios } from '../../src/shared/types'
import { AppError } from '../../src/main/errors'
import {
  type AudioDatasetScan,
  audioSplitInputs,
  parseWindowId,
  scanAudioDataset,
  type ScannedAudioFile,
  splitAudioDataset,
} from '../../src/main/ml/audio'
import { encodeWav, noise, tone, wav16 } from '../fixtures/audio/synth'

/** Every call the code under test makes into fs/promises, with its path argument. */
const calls = vi.hoisted(() => [] as { fn: string; path: string }[])

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<Record<string, unknown>>()
  const names = ['readdir', 'open', 'readFile', 'stat', 'lstat', 'realpath', 'readlink', 'opendir', 'access']
  const wrapped: Record<string, unknown> = {}
  for (const name of names) {
    const fn = real[name] as (...args: unknown[]) => unknown
    wrapped[name] = (...args: unknown[]) => {
      calls.push({ fn: name, path: String(args[0]) })
      return fn(...args)
    }
  }
  return { ...real, ...wrapped, default: { ...(real.default as object), ...wrapped } }
})

const FIXTURES = join(__dirname, '..', 'fixtures', 'audio')
let base: string
let root: string
let outside: string
let scan: AudioDatasetScan

function write(file: string, content: string | Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'tunewise-audio-scan-'))
  root = join(base, 'sounds')
  outside = join(base, 'outside')
  write(join(outside, 'secret.wav'), wav16(tone(300, 16000, 1), 16000))

  const yes = join(root, 'yes')
  write(join(yes, 'a.wav'), wav16(tone(500, 16000, 1), 16000))
  const b = tone(700, 44100, 2.5, 0.4)
  write(join(yes, 'b.wav'), encodeWav([b, b.map((v) => -v)], { sampleRate: 44100, encoding: 'pcm24' }))
  copyFileSync(join(FIXTURES, 'tone-44100-stereo-16.flac'), join(yes, 'c.flac'))
  copyFileSync(join(yes, 'a.wav'), join(yes, 'copy-of-a.wav'))
  write(join(yes, 'quiet.wav'), wav16(tone(500, 16000, 1, 0.0002), 16000))
  write(join(yes, 'loud.wav'), wav16(tone(200, 16000, 0.5, 2), 16000))
  write(join(yes, '.hidden.wav'), 'not even sound')
  write(join(yes, 'notes.txt'), 'recorded on Tuesday')

  const no = join(root, 'no')
  write(join(no, 'd.wav'), wav16(tone(1000, 8000, 1), 8000))
  copyFileSync(join(FIXTURES, 'tone-22050-stereo.mp3'), join(no, 'e.mp3'))
  copyFileSync(join(FIXTURES, 'tone-16000-mono.ogg'), join(no, 'f.ogg'))
  write(
    join(no, 'g.wav'),
    encodeWav([noise(Math.round(48000 * 3.2), 9, 0.2)], { sampleRate: 48000, encoding: 'float32' }),
  )
  write(join(no, 'broken.wav'), 'this is not a recording\n')
  write(join(no, 'empty.wav'), Buffer.alloc(0))
  copyFileSync(join(FIXTURES, 'tone-48000-mono.opus.ogg'), join(no, 'opus.ogg'))
  execFileSync('mkfifo', [join(no, 'pipe.wav')])
  symlinkSync(join(outside, 'secret.wav'), join(no, 'out.wav'))
  symlinkSync(no, join(no, 'loop'))
  symlinkSync(join(yes, 'a.wav'), join(no, 'link-a.wav'))

  write(join(root, 'loose.wav'), wav16(tone(500, 16000, 0.5), 16000))
  calls.length = 0
  scan = await scanAudioDataset(root)
})

afterAll(() => rmSync(base, { recursive: true, force: true }))

const file = (name: string): ScannedAudioFile => {
  const f = scan.files.find((x) => x.file === name)
  if (!f) throw new Error(`${name} not scanned`)
  return f
}

describe('scanAudioDataset: readable files', () => {
  it('finds the classes and their files, skipping hidden ones silently', () => {
    const { report } = scan
    expect(report.kind).toBe('audio')
    expect(report.path).toBe(resolve(root))
    expect(report.classes.map((c) => [c.name, c.count])).toEqual([
      ['no', 4],
      ['yes', 6],
    ])
    expect(report.total).toBe(10)
    const everything = JSON.stringify(scan)
    expect(everything).not.toMatch(/hidden/)
    expect(report.blockers).toEqual([])
  })

  it('measures each file: format, rate, channels, duration, clips and content hash', () => {
    expect(file('yes/b.wav')).toMatchObject({
      format: 'wav',
      sampleRate: 44100,
      channels: 2,
      frames: 110250,
      windows: 3,
      silent: false,
      clipped: false,
    })
    expect(file('yes/b.wav').duration).toBeCloseTo(2.5, 9)
    expect(file('no/g.wav')).toMatchObject({ sampleRate: 48000, windows: 3 })
    expect(file('yes/c.flac')).toMatchObject({ format: 'flac', sampleRate: 44100, windows: 1 })
    expect(file('no/e.mp3')).toMatchObject({ format: 'mp3', sampleRate: 22050 })
    expect(file('no/f.ogg')).toMatchObject({ format: 'ogg', sampleRate: 16000 })
    for (const f of scan.files) expect(f.hash).toBe(sha256(join(root, f.file)))
    expect(file('yes/a.wav').peakDb).toBeCloseTo(20 * Math.log10(0.5), 2)
  })

  it('counts clips and seconds per class, and summarises durations, rates and formats', () => {
    const { report } = scan
    const yes = report.classes.find((c) => c.name === 'yes')!
    expect(yes.windows).toBe(1 + 3 + 1 + 1 + 1 + 1)
    expect(yes.seconds).toBeCloseTo(1 + 2.5 + 0.3 + 1 + 1 + 0.5, 3)
    expect(report.windows).toBe(scan.files.reduce((n, f) => n + f.windows, 0))
    expect(report.durations.min).toBeCloseTo(0.3, 2)
    expect(report.durations.max).toBeCloseTo(3.2, 6)
    expect(report.sampleRates.map((r) => r.rate)).toEqual([8000, 16000, 22050, 44100, 48000])
    expect(report.formats).toEqual([
      { format: 'flac', count: 1 },
      { format: 'mp3', count: 1 },
      { format: 'ogg', count: 1 },
      { format: 'wav', count: 7 },
    ])
    expect(report.clip).toEqual({ sampleRate: 16000, clipSeconds: 1, hopSeconds: 1 })
  })

  it('flags silent and clipped recordings, with a warning for each', () => {
    expect(scan.report.silent).toEqual(['yes/quiet.wav'])
    expect(scan.report.clipped).toEqual(['yes/loud.wav'])
    const warnings = scan.report.warnings.join('\n')
    expect(warnings).toMatch(/1 recording is silent .*yes\/quiet.wav/)
    expect(warnings).toMatch(/1 recording is distorted by clipping .*yes\/loud.wav/)
    expect(warnings).toMatch(/different sample rates/)
    expect(warnings).toMatch(/below 16000 Hz \(first: no\/d.wav, 8000 Hz\)/)
    expect(warnings).toMatch(/1 recording at the top of the folder was ignored \(first: loose.wav\)/)
  })

  it('reports exact copies', () => {
    expect(scan.report.duplicates).toEqual([
      { hash: sha256(join(root, 'yes/a.wav')), files: ['yes/a.wav', 'yes/copy-of-a.wav'], crossClass: false },
    ])
  })

  it('draws a spectrogram thumbnail per file, as a PNG the page can show', async () => {
    const yes = scan.report.classes.find((c) => c.name === 'yes')!
    expect(yes.thumbnails.map((t) => t.file)).toEqual([
      'yes/a.wav',
      'yes/b.wav',
      'yes/c.flac',
      'yes/copy-of-a.wav',
      'yes/loud.wav',
      'yes/quiet.wav',
    ])
    const url = yes.thumbnails[0].dataUrl
    expect(url).toMatch(/^data:image\/png;base64,/)
    const meta = await sharp(Buffer.from(url.split(',')[1], 'base64')).metadata()
    expect([meta.width, meta.height]).toEqual([96, 64])
  })
})

describe('scanAudioDataset: files it cannot use', () => {
  it('groups them by reason, each with what to do, every one in exactly one group', () => {
    const { report } = scan
    const byKind = Object.fromEntries(report.problemGroups.map((g) => [g.kind, g.examples]))
    expect(byKind).toEqual({
      'outside-link': ['no/out.wav'],
      'not-regular': ['no/pipe.wav'],
      empty: ['no/empty.wav'],
      unsupported: ['no/broken.wav', 'no/opus.ogg'],
      'not-audio': ['yes/notes.txt'],
      'link-loop': ['no/loop'],
      'link-repeat': ['no/link-a.wav'],
    })
    expect(report.problemGroups.reduce((n, g) => n + g.count, 0)).toBe(report.unreadable.length)
    for (const g of report.problemGroups) expect(g.action).toMatch(/\.$/)
    const reason = (f: string): string | undefined => report.unreadable.find((u) => u.file === f)?.reason
    expect(reason('no/broken.wav')).toMatch(/the content is text/)
    expect(reason('no/opus.ogg')).toMatch(/Opus/)
    expect(reason('no/empty.wav')).toBe('The file is empty (0 bytes).')
  })

  it('reads nothing outside the root and never opens the FIFO', () => {
    const outsideReal = resolve(outside)
    // The record is live: the scan opened the files it read through it.
    expect(calls.filter((c) => c.fn === 'open').length).toBeGreaterThanOrEqual(scan.report.total)
    const touched = calls.filter((c) => c.path.startsWith(outsideReal))
    expect(touched).toEqual([])
    expect(calls.filter((c) => (c.fn === 'open' || c.fn === 'readFile') && c.path.endsWith('pipe.wav'))).toEqual([])
  })

  it('refuses a missing root and stops when cancelled', async () => {
    await expect(scanAudioDataset(join(base, 'nowhere'))).rejects.toMatchObject({ code: 'bad_data' })
    const err = await scanAudioDataset(root, { shouldStop: () => true }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('cancelled')
  })

  it('blocks a folder with one class or no readable recordings', async () => {
    const one = join(base, 'one')
    write(join(one, 'only', 'a.wav'), wav16(tone(500, 16000, 1), 16000))
    write(join(one, 'bad', 'x.wav'), 'nope')
    const { report } = await scanAudioDataset(one)
    expect(report.blockers.join('\n')).toMatch(/Class 'bad' has no readable recordings/)
    expect(report.blockers.join('\n')).toMatch(/Only one class \('only'\)/)
  })
})

describe('splitting clips', () => {
  const ratios: SplitRatios = { train: 0.6, val: 0.2, test: 0.2, seed: 1 }
  let many: AudioDatasetScan

  beforeAll(async () => {
    const dir = join(base, 'many')
    for (const label of ['cat', 'dog']) {
      for (let i = 0; i < 8; i++) {
        // 2 to 5 windows each, at 8 kHz to stay small.
        const seconds = 2 + (i % 4)
        write(join(dir, label, `${label}-${i}.wav`), wav16(noise(8000 * seconds, i + (label === 'cat' ? 0 : 50)), 8000))
      }
    }
    many = await scanAudioDataset(dir, { thumbnails: 0 })
  })

  it('gives one split entry per clip, grouped by file', () => {
    const { inputs, groups } = audioSplitInputs(many.files)
    expect(inputs).toHaveLength(many.report.windows)
    for (const input of inputs) {
      const parsed = parseWindowId(input.file)!
      expect(groups.get(input.file)).toBe(parsed.file)
      expect(input.label).toBe(parsed.file.split('/')[0])
    }
    expect(new Set(inputs.map((i) => i.hash)).size).toBe(inputs.length)
  })

  it('never lets the clips of one file straddle two splits', () => {
    let sawTest = 0
    for (let seed = 1; seed <= 25; seed++) {
      const result = splitAudioDataset(many.files, { ...ratios, seed })
      const splitOf = new Map<string, Set<string>>()
      for (const a of result.assignment) {
        const f = parseWindowId(a.file)!.file
        splitOf.set(f, (splitOf.get(f) ?? new Set()).add(a.split))
      }
      expect(splitOf.size).toBe(16)
      for (const [f, splits] of splitOf) expect(splits.size, `${f} with seed ${seed}`).toBe(1)
      if ([...splitOf.values()].some((s) => s.has('test'))) sawTest++
    }
    // The property is not met by putting everything in training.
    expect(sawTest).toBe(25)
  })

  it('keeps identical files together, excludes whole files, and joins files a caller groups', async () => {
    const dup = join(base, 'dup')
    for (const label of ['a', 'b']) {
      for (let i = 0; i < 6; i++) {
        write(join(dup, label, `${i}.wav`), wav16(noise(8000 * 2, i * 7 + label.length), 8000))
      }
    }
    copyFileSync(join(dup, 'a', '0.wav'), join(dup, 'a', 'copy.wav'))
    const { files } = await scanAudioDataset(dup, { thumbnails: 0 })
    for (let seed = 1; seed <= 10; seed++) {
      const result = splitAudioDataset(
        files,
        { ...ratios, seed },
        {
          excluded: { files: ['b/5.wav'], classes: [] },
          groups: new Map([
            ['a/1.wav', 'session'],
            ['a/2.wav', 'session'],
          ]),
        },
      )
      const splits = (f: string): string[] => [
        ...new Set(result.assignment.filter((a) => a.file.startsWith(`${f}#`)).map((a) => a.split)),
      ]
      expect(splits('b/5.wav')).toEqual([])
      expect(splits('a/0.wav')).toEqual(splits('a/copy.wav'))
      expect(splits('a/1.wav')).toEqual(splits('a/2.wav'))
      expect(splits('a/1.wav')).toHaveLength(1)
    }
  })

  it('keeps a split given by train/ and test/ folders', async () => {
    const given = join(base, 'given')
    for (const split of ['train', 'test']) {
      for (const label of ['up', 'down']) {
        for (let i = 0; i < 2; i++) {
          write(join(given, split, label, `${i}.wav`), wav16(noise(8000, i + split.length + label.length), 8000))
        }
      }
    }
    const { report, files } = await scanAudioDataset(given, { thumbnails: 0 })
    expect(report.givenSplit).toBe(true)
    expect(report.classes.map((c) => [c.name, c.given])).toEqual([
      ['down', { train: 2, val: 0, test: 2 }],
      ['up', { train: 2, val: 0, test: 2 }],
    ])
    const result = splitAudioDataset(files, { train: 0.8, val: 0, test: 0.2, seed: 3 })
    for (const a of result.assignment) expect(a.split).toBe(a.file.startsWith('test/') ? 'test' : 'train')
  })
})
