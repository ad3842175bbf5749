/**
 * The sound scan on a folder built to trip it, as data-scan-hostile.test.ts does for images: links out of the
 * folder (a file, a folder, a whole class), link loops (to a parent, relative, a given split linked to another),
 * a link that points at itself, FIFOs named `*.wav` (also reached through a link), OS litter. Every path the
 * scan hands the file system is recorded (fs/promises is wrapped), so "nothing outside the root is read" and
 * "no folder is listed twice" are checked directly. Both scans walk the folder with one `walkDataset`, so on a
 * folder holding images and recordings side by side they report the same hostile paths.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, sep } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type AudioDatasetScan, scanAudioDataset } from '../../src/main/ml/audio'
import { scanDataset } from '../../src/main/ml/data'
import { tone, wav16 } from '../fixtures/audio/synth'

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

let base: string

function write(file: string, content: string | Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

const recording = (freq: number): Buffer => wav16(tone(freq, 16000, 1), 16000)
const fifo = (...paths: string[]): void => void execFileSync('mkfifo', paths)

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tw-audio-hostile-'))
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

describe('scanAudioDataset on a hostile folder', () => {
  let root: string
  let outside: string
  let scan: AudioDatasetScan
  const recorded: { fn: string; path: string }[] = []

  beforeAll(async () => {
    root = join(base, 'sounds')
    outside = join(base, 'outside')
    // Good recordings next to the dataset: following a link to them would count them.
    write(join(outside, 'secret-outside.wav'), recording(300))
    write(join(outside, 'secret-class', 'secret-in-class.wav'), recording(310))

    for (let i = 0; i < 4; i++) write(join(root, 'yes', `yes-${i}.wav`), recording(400 + 10 * i))
    for (let i = 0; i < 3; i++) write(join(root, 'no', `no-${i}.wav`), recording(2000 + 10 * i))
    write(join(root, '.stash', 'stashed.wav'), recording(900))

    symlinkSync(join(outside, 'secret-outside.wav'), join(root, 'yes', 'out.wav')) // a file outside
    symlinkSync(outside, join(root, 'yes', 'elsewhere')) // a folder outside
    symlinkSync(join(outside, 'secret-class'), join(root, 'maybe')) // a whole class folder outside
    symlinkSync(join(root, 'yes'), join(root, 'yes', 'loop')) // a link to its own folder
    mkdirSync(join(root, 'no', 'nested'))
    symlinkSync('..', join(root, 'no', 'nested', 'up')) // relative, to the class folder
    symlinkSync('self.wav', join(root, 'no', 'self.wav')) // a circle of one link
    symlinkSync(join(root, 'yes', 'yes-0.wav'), join(root, 'no', 'also-yes.wav')) // counted elsewhere
    symlinkSync(join(root, '.stash', 'stashed.wav'), join(root, 'no', 'stashed.wav')) // inside, read once

    fifo(join(root, 'yes', 'pipe.wav'), join(root, 'no', 'pipe.flac'))
    symlinkSync(join(root, 'yes', 'pipe.wav'), join(root, 'no', 'pipe-link.wav')) // a FIFO through a link

    write(join(root, '.DS_Store'), 'finder')
    write(join(root, 'yes', '._yes-0.wav'), 'AppleDouble')
    write(join(root, 'yes', 'Thumbs.db'), 'windows')
    write(join(root, '__MACOSX', 'yes', '._yes-1.wav'), 'AppleDouble')

    calls.length = 0
    scan = await scanAudioDataset(root, { concurrency: 4, thumbnails: 0 })
    recorded.push(...calls)
  }, 20_000)

  it('counts each recording once and nothing from outside', () => {
    expect(scan.report.classes.map((c) => [c.name, c.count])).toEqual([
      ['no', 4],
      ['yes', 4],
    ])
    expect(scan.files.map((f) => f.file)).toEqual([
      'no/no-0.wav',
      'no/no-1.wav',
      'no/no-2.wav',
      'no/stashed.wav',
      'yes/yes-0.wav',
      'yes/yes-1.wav',
      'yes/yes-2.wav',
      'yes/yes-3.wav',
    ])
  })

  it('reports each hostile path once, with its reason, grouped by kind', () => {
    const byFile = Object.fromEntries(scan.report.unreadable.map((u) => [u.file, u.reason]))
    expect(Object.keys(byFile)).toEqual([
      'maybe',
      'no/also-yes.wav',
      'no/nested/up',
      'no/pipe-link.wav',
      'no/pipe.flac',
      'no/self.wav',
      'yes/elsewhere',
      'yes/loop',
      'yes/out.wav',
      'yes/pipe.wav',
    ])
    for (const link of ['maybe', 'yes/elsewhere', 'yes/out.wav'])
      expect(byFile[link]).toMatch(/links to outside the folder are not followed/)
    for (const pipe of ['yes/pipe.wav', 'no/pipe.flac', 'no/pipe-link.wav'])
      expect(byFile[pipe]).toBe('Not a regular file (a pipe, socket or device); it was not opened.')
    expect(byFile['yes/loop']).toMatch(/already read/)
    expect(byFile['no/nested/up']).toMatch(/already read/)
    expect(byFile['no/also-yes.wav']).toMatch(/links to a recording that is already counted \(yes\/yes-0\.wav\)/)
    expect(byFile['no/self.wav']).toMatch(/could not be found/)
    expect(scan.report.problemGroups.map((g) => [g.kind, g.count])).toEqual([
      ['outside-link', 3],
      ['not-regular', 3],
      ['missing', 1],
      ['link-loop', 2],
      ['link-repeat', 1],
    ])
    const everything = JSON.stringify(scan.report)
    for (const leak of ['secret', '__MACOSX', 'DS_Store', 'Thumbs', '._yes']) expect(everything).not.toContain(leak)
  })

  it('never hands the file system a path outside the root, and never opens a FIFO', () => {
    expect(recorded.length).toBeGreaterThan(0)
    const inside = (p: string): boolean => {
      const abs = resolve(p)
      return abs === root || abs.startsWith(root + sep)
    }
    expect(recorded.filter((c) => !inside(c.path))).toEqual([])
    const opened = recorded.filter((c) => c.fn === 'open' || c.fn === 'readFile').map((c) => c.path)
    // The record is live: each kept recording was opened once, by its real path.
    expect(opened.filter((p) => p === join(root, 'yes', 'yes-0.wav'))).toHaveLength(1)
    expect(opened).toContain(join(root, '.stash', 'stashed.wav'))
    for (const pipe of [
      join(root, 'yes', 'pipe.wav'),
      join(root, 'no', 'pipe.flac'),
      join(root, 'no', 'pipe-link.wav'),
    ])
      expect(opened).not.toContain(pipe)
  })

  it('never lists a folder twice, however many links lead to it', () => {
    const listed = recorded.filter((c) => c.fn === 'readdir').map((c) => c.path)
    expect(new Set(listed).size).toBe(listed.length)
    expect(listed.sort()).toEqual([root, join(root, 'no'), join(root, 'no', 'nested'), join(root, 'yes')].sort())
  })

  it('gives the same report on a second scan', async () => {
    const again = await scanAudioDataset(root, { concurrency: 1, thumbnails: 0 })
    expect(again.report).toEqual(scan.report)
  })
})

describe('scanAudioDataset and a given split', () => {
  it('reads a linked class folder inside the root once, and a split linked to another once', async () => {
    const root = join(base, 'given')
    for (let i = 0; i < 2; i++) write(join(root, 'train', 'yes', `y${i}.wav`), recording(400 + i))
    for (let i = 0; i < 2; i++) write(join(root, 'train', 'no', `n${i}.wav`), recording(2000 + i))
    write(join(root, 'shelf', 'yes-test', 't0.wav'), recording(420))
    mkdirSync(join(root, 'test'))
    symlinkSync(join(root, 'shelf', 'yes-test'), join(root, 'test', 'yes'))
    // val/ is a link to train/: the same folder must not count as both.
    symlinkSync(join(root, 'train'), join(root, 'val'))
    fifo(join(root, 'train', 'yes', 'pipe.wav'))
    const { report, files } = await scanAudioDataset(root, { thumbnails: 0 })
    expect(files.map((f) => [f.file, f.givenSplit])).toEqual([
      ['test/yes/t0.wav', 'test'],
      ['train/no/n0.wav', 'train'],
      ['train/no/n1.wav', 'train'],
      ['train/yes/y0.wav', 'train'],
      ['train/yes/y1.wav', 'train'],
    ])
    expect(report.unreadable.map((u) => [u.file, u.kind])).toEqual([
      ['train/yes/pipe.wav', 'not-regular'],
      ['val', 'link-loop'],
    ])
  }, 10_000)
})

describe('the image and sound scans share one walk', () => {
  it('report the same links out, loops, repeats and FIFOs, each for its own kind of file', async () => {
    const root = join(base, 'mixed')
    const outside = join(base, 'mixed-outside')
    write(join(outside, 'o.wav'), recording(300))
    await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 9, g: 90, b: 200 } } })
      .png()
      .toFile(join(outside, 'o.png'))
    for (const cls of ['a', 'b']) {
      write(join(root, cls, `${cls}.wav`), recording(cls === 'a' ? 400 : 2000))
      await sharp({
        create: { width: 20, height: 20, channels: 3, background: { r: cls === 'a' ? 250 : 5, g: 9, b: 9 } },
      })
        .png()
        .toFile(join(root, cls, `${cls}.png`))
    }
    for (const ext of ['wav', 'png']) {
      symlinkSync(join(outside, `o.${ext}`), join(root, 'a', `out.${ext}`))
      symlinkSync(join(root, 'a', `a.${ext}`), join(root, 'b', `again.${ext}`))
      fifo(join(root, 'b', `pipe.${ext}`))
    }
    symlinkSync(join(root, 'a'), join(root, 'b', 'loop'))
    const sound = await scanAudioDataset(root, { thumbnails: 0 })
    const images = await scanDataset(root, { thumbnails: 0 })
    const walkKinds = new Set(['outside-link', 'not-regular', 'link-loop', 'link-repeat'])
    const fromWalk = (u: { file: string; kind?: string }[]) =>
      u.filter((p) => walkKinds.has(p.kind ?? '')).map((p) => [p.file, p.kind])
    // Links out and FIFOs are refused whatever their names; a repeat is a repeat of the scan's own kind.
    const expected = (ext: string) => [
      ['a/out.png', 'outside-link'],
      ['a/out.wav', 'outside-link'],
      [`b/again.${ext}`, 'link-repeat'],
      ['b/loop', 'link-loop'],
      ['b/pipe.png', 'not-regular'],
      ['b/pipe.wav', 'not-regular'],
    ]
    expect(fromWalk(sound.report.unreadable)).toEqual(expected('wav'))
    expect(fromWalk(images.report.unreadable)).toEqual(expected('png'))
    // Each scan names the other kind's files as not its own, and counts only its own.
    expect(sound.files.map((f) => f.file)).toEqual(['a/a.wav', 'b/b.wav'])
    expect(images.files.map((f) => f.file)).toEqual(['a/a.png', 'b/b.png'])
    expect(sound.report.unreadable.filter((u) => u.kind === 'not-audio').map((u) => u.file)).toEqual([
      'a/a.png',
      'b/again.png',
      'b/b.png',
    ])
  }, 15_000)
})
