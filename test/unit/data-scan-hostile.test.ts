/**
 * The scan on folders built to trip it: links out of the folder, link loops, a FIFO named like an image,
 * OS litter and a PNG whose header claims 50000×50000 pixels. Every path the scan hands to the file
 * system is recorded (fs/promises is wrapped), so "nothing outside the root is read" is checked directly.
 */
import { execSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, sep } from 'node:path'
import { deflateSync } from 'node:zlib'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { scanDataset, type DatasetScan } from '../../src/main/ml/data'

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

async function image(file: string, n: number): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true })
  await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: n * 40, g: 255 - n * 30, b: n * 7 } } })
    .png()
    .toFile(file)
}

function write(file: string, content: string | Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(buf: Buffer): number {
  let c = 0xffffffff
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

/** A small PNG whose IHDR (with a correct CRC) declares `width` × `height` RGB pixels; no real pixel data. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

function hasMkfifo(): boolean {
  try {
    execSync('command -v mkfifo', { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'tunewise-hostile-')))
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

describe('scanDataset on a hostile folder', () => {
  let root: string
  let outside: string
  let scan: DatasetScan
  const recorded: { fn: string; path: string }[] = []

  beforeAll(async () => {
    root = join(base, 'data')
    outside = join(base, 'outside')
    // A folder next to the dataset holding a perfectly good image: following a link to it would count it.
    await image(join(outside, 'secret-outside.png'), 1)
    write(join(outside, 'secret-notes.txt'), 'not for the scan')

    for (let i = 0; i < 5; i++) await image(join(root, 'cats', `cat-${i}.png`), i)
    for (let i = 0; i < 3; i++) await image(join(root, 'dogs', `dog-${i}.png`), 10 + i)
    await image(join(root, '.stash', 'stashed.png'), 20)

    symlinkSync(outside, join(root, 'cats', 'elsewhere')) // folder outside
    symlinkSync('/etc', join(root, 'cats', 'etc')) // the outside check's case
    symlinkSync('/etc/hostname', join(root, 'cats', 'host.png')) // file outside
    symlinkSync(outside, join(root, 'birds')) // a whole class folder outside
    symlinkSync(join(root, 'cats'), join(root, 'cats', 'loop')) // a link to its own parent
    mkdirSync(join(root, 'dogs', 'nested'))
    symlinkSync('..', join(root, 'dogs', 'nested', 'up')) // relative, to the class folder
    symlinkSync(join(root, 'cats', 'cat-0.png'), join(root, 'dogs', 'also-cat.png')) // a file counted elsewhere
    symlinkSync(join(root, '.stash', 'stashed.png'), join(root, 'dogs', 'stashed.png')) // a file inside, read once

    if (hasMkfifo()) execSync(`mkfifo ${JSON.stringify(join(root, 'cats', 'x.png'))}`)
    write(join(root, 'cats', 'huge.png'), pngClaiming(50000, 50000))

    write(join(root, '.DS_Store'), 'finder')
    write(join(root, 'cats', '.DS_Store'), 'finder')
    write(join(root, 'cats', '._cat-0.png'), 'AppleDouble')
    write(join(root, 'cats', 'Thumbs.db'), 'windows')
    write(join(root, 'dogs', 'desktop.ini'), 'windows')
    write(join(root, '__MACOSX', 'cats', '._cat-1.png'), 'AppleDouble')

    calls.length = 0
    scan = await scanDataset(root, { concurrency: 4 })
    recorded.push(...calls)
  }, 20_000)

  it('mkfifo exists on this machine, so the FIFO case really ran', () => {
    expect(hasMkfifo()).toBe(true)
  })

  it('counts each image once and nothing from outside', () => {
    expect(scan.report.classes.map((c) => [c.name, c.count])).toEqual([
      ['cats', 5],
      ['dogs', 4],
    ])
    expect(scan.files.map((f) => f.file)).toEqual([
      'cats/cat-0.png',
      'cats/cat-1.png',
      'cats/cat-2.png',
      'cats/cat-3.png',
      'cats/cat-4.png',
      'dogs/dog-0.png',
      'dogs/dog-1.png',
      'dogs/dog-2.png',
      'dogs/stashed.png',
    ])
    expect(scan.report.blockers).toEqual([])
  })

  it('reports each problem path once, with its reason, and lists nothing from outside', () => {
    const byFile = Object.fromEntries(scan.report.unreadable.map((u) => [u.file, u.reason]))
    expect(Object.keys(byFile)).toEqual([
      'birds',
      'cats/elsewhere',
      'cats/etc',
      'cats/host.png',
      'cats/huge.png',
      'cats/loop',
      'cats/x.png',
      'dogs/also-cat.png',
      'dogs/nested/up',
    ])
    for (const link of ['birds', 'cats/elsewhere', 'cats/etc', 'cats/host.png']) {
      expect(byFile[link]).toMatch(/links to outside the folder are not followed/)
    }
    expect(byFile['cats/x.png']).toBe('Not a regular file (a pipe, socket or device); it was not opened.')
    expect(byFile['cats/loop']).toMatch(/already read/)
    expect(byFile['dogs/nested/up']).toMatch(/already read/)
    expect(byFile['dogs/also-cat.png']).toMatch(/already counted \(cats\/cat-0\.png\)/)
    const everything = JSON.stringify(scan.report)
    for (const leak of ['secret', 'hostname', 'passwd', '__MACOSX', 'DS_Store', 'Thumbs', 'desktop.ini', '._cat']) {
      expect(everything).not.toContain(leak)
    }
  })

  it('refuses the 50000×50000 PNG from its header', () => {
    const huge = scan.report.unreadable.find((u) => u.file === 'cats/huge.png')!
    // The size in the reason can only come from the header: no pixel was decoded to learn it.
    expect(huge.reason).toMatch(/^The image is too large \(50000×50000 pixels, 2500 megapixels/)
  })

  it('groups the problems by reason, one row each, with counts, examples and an action', () => {
    const groups = scan.report.problemGroups
    expect(groups.map((g) => [g.kind, g.count])).toEqual([
      ['outside-link', 4],
      ['not-regular', 1],
      ['too-large', 1],
      ['link-loop', 2],
      ['link-repeat', 1],
    ])
    const outsideGroup = groups[0]
    expect(outsideGroup.reason).toBe('Links to outside the folder are not followed')
    expect(outsideGroup.examples).toEqual(['birds', 'cats/elsewhere', 'cats/etc', 'cats/host.png'])
    expect(groups.every((g) => g.action.length > 0 && g.examples.length === Math.min(5, g.count))).toBe(true)
    expect(groups.reduce((n, g) => n + g.count, 0)).toBe(scan.report.unreadable.length)
  })

  it('never hands the file system a path outside the root', () => {
    expect(recorded.length).toBeGreaterThan(0)
    const inside = (p: string): boolean => {
      const abs = resolve(p)
      return abs === root || abs.startsWith(root + sep)
    }
    expect(recorded.filter((c) => !inside(c.path))).toEqual([])
    // The wrapper really sees the scan's reads: each kept image was opened, by its real path.
    const opened = recorded.filter((c) => c.fn === 'open').map((c) => c.path)
    expect(opened).toContain(join(root, 'cats', 'cat-0.png'))
    expect(opened).toContain(join(root, '.stash', 'stashed.png'))
    // The FIFO and the oversized file's neighbours that are not regular files are never opened.
    expect(opened).not.toContain(join(root, 'cats', 'x.png'))
    expect(opened.filter((p) => p === join(root, 'cats', 'cat-0.png'))).toHaveLength(1)
  })

  it('never lists a folder twice, however many links lead to it', () => {
    const listed = recorded.filter((c) => c.fn === 'readdir').map((c) => c.path)
    expect(new Set(listed).size).toBe(listed.length)
    expect(listed.sort()).toEqual([root, join(root, 'cats'), join(root, 'dogs'), join(root, 'dogs', 'nested')].sort())
  })

  it('gives the same report on a second scan', async () => {
    const again = await scanDataset(root, { concurrency: 1 })
    expect(again.report).toEqual(scan.report)
  })
})

describe('scanDataset through links that stay inside', () => {
  it('scans a root reached through a link, without calling its own files outside', async () => {
    const real = join(base, 'real-root')
    await image(join(real, 'a', 'a1.png'), 1)
    await image(join(real, 'b', 'b1.png'), 2)
    const alias = join(base, 'alias-root')
    symlinkSync(real, alias)
    const { report, files } = await scanDataset(alias)
    expect(report.path).toBe(alias)
    expect(files.map((f) => f.file)).toEqual(['a/a1.png', 'b/b1.png'])
    expect(report.unreadable).toEqual([])
    expect(report.problemGroups).toEqual([])
  })

  it('reads a linked class folder inside the root once, and a link loop in a given split once', async () => {
    const root = join(base, 'given-links')
    for (let i = 0; i < 3; i++) await image(join(root, 'train', 'ants', `a${i}.png`), i)
    for (let i = 0; i < 3; i++) await image(join(root, 'train', 'bees', `b${i}.png`), 5 + i)
    await image(join(root, 'shelf', 'ants-test', 't0.png'), 9)
    await image(join(root, 'shelf', 'bees-test', 't1.png'), 10)
    mkdirSync(join(root, 'test'))
    // test/ants is a link to a folder inside the root (beside the split folders, so not read otherwise).
    symlinkSync(join(root, 'shelf', 'ants-test'), join(root, 'test', 'ants'))
    symlinkSync(join(root, 'shelf', 'bees-test'), join(root, 'test', 'bees'))
    // val/ is a link to train/: the same folder must not count as both.
    symlinkSync(join(root, 'train'), join(root, 'val'))
    const { report, files } = await scanDataset(root)
    expect(files.map((f) => [f.file, f.givenSplit])).toEqual([
      ['test/ants/t0.png', 'test'],
      ['test/bees/t1.png', 'test'],
      ['train/ants/a0.png', 'train'],
      ['train/ants/a1.png', 'train'],
      ['train/ants/a2.png', 'train'],
      ['train/bees/b0.png', 'train'],
      ['train/bees/b1.png', 'train'],
      ['train/bees/b2.png', 'train'],
    ])
    expect(report.unreadable).toEqual([
      { file: 'val', kind: 'link-loop', reason: expect.stringMatching(/already read/) },
    ])
    expect(report.problemGroups.map((g) => g.kind)).toEqual(['link-loop'])
  })
})

describe('scanDataset and a FIFO', () => {
  it('reports a FIFO named like an image without blocking, and goes on to the other files', async () => {
    const root = join(base, 'fifo')
    await image(join(root, 'a', 'ok.png'), 1)
    await image(join(root, 'b', 'ok.png'), 2)
    execSync(`mkfifo ${JSON.stringify(join(root, 'a', 'x.png'))} ${JSON.stringify(join(root, 'b', 'y.jpg'))}`)
    // Also reached through a link, which must not open it either.
    symlinkSync(join(root, 'a', 'x.png'), join(root, 'b', 'pipe-link.png'))
    const { report, files } = await scanDataset(root, { concurrency: 1 })
    expect(files.map((f) => f.file)).toEqual(['a/ok.png', 'b/ok.png'])
    expect(report.unreadable.map((u) => u.file)).toEqual(['a/x.png', 'b/pipe-link.png', 'b/y.jpg'])
    expect(report.problemGroups).toEqual([
      {
        kind: 'not-regular',
        reason: 'Not a regular file (a pipe, socket or device); it was not opened',
        count: 3,
        examples: ['a/x.png', 'b/pipe-link.png', 'b/y.jpg'],
        action: expect.any(String),
      },
    ])
  }, 10_000)
})

describe('scanDataset with many problems of one kind', () => {
  it('keeps one group with the count and five examples', async () => {
    const root = join(base, 'many-bad')
    await image(join(root, 'a', 'ok.png'), 1)
    await image(join(root, 'b', 'ok.png'), 2)
    for (let i = 0; i < 12; i++) write(join(root, 'a', `bad-${String(i).padStart(2, '0')}.jpg`), 'not a picture')
    write(join(root, 'b', 'copy.png'), readFileSync(join(root, 'a', 'ok.png')))
    const { report } = await scanDataset(root)
    expect(report.unreadable).toHaveLength(12)
    expect(report.problemGroups).toEqual([
      {
        kind: 'unsupported',
        reason: expect.stringMatching(/^Not a supported image/),
        count: 12,
        examples: ['a/bad-00.jpg', 'a/bad-01.jpg', 'a/bad-02.jpg', 'a/bad-03.jpg', 'a/bad-04.jpg'],
        action: expect.any(String),
      },
    ])
  })
})
