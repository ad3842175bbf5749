import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../src/main/errors'
import {
  datasetBlockers,
  datasetId,
  fingerprint,
  hashFile,
  scanDataset,
  type DatasetScan,
} from '../../src/main/ml/data'

let base: string

/** A flat image whose colour depends on `n`, so every file has different bytes. */
async function image(file: string, n: number, format: 'png' | 'jpeg' = 'png', w = 24, h = 24): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true })
  const s = sharp({
    create: {
      width: w,
      height: h,
      channels: 3,
      background: { r: (n * 37) % 256, g: (n * 91) % 256, b: (n * 53) % 256 },
    },
  })
  await (format === 'png' ? s.png() : s.jpeg()).toFile(file)
}

function write(file: string, content: string | Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

function folder(name: string): string {
  const dir = join(base, name)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** The awkward collection: every kind of file the decoder test covers, mixed into two classes. */
async function makeMessyDataset(root: string): Promise<void> {
  for (let i = 0; i < 5; i++) await image(join(root, 'cats', `cat-${i}.png`), i)
  for (let i = 0; i < 4; i++) await image(join(root, 'dogs', `dog-${i}.jpg`), 100 + i, 'jpeg')
  await image(join(root, 'dogs', 'more', 'nested-dog.png'), 200)
  // Same bytes as cats/cat-0.png, in another class.
  write(join(root, 'dogs', 'copy-of-cat.png'), readFileSync(join(root, 'cats', 'cat-0.png')))
  mkdirSync(join(root, 'birds'), { recursive: true })

  const noisy = Buffer.alloc(64 * 48 * 3)
  for (let i = 0; i < noisy.length; i++) noisy[i] = (i * 7919) & 0xff
  const jpeg = await sharp(noisy, { raw: { width: 64, height: 48, channels: 3 } })
    .jpeg()
    .toBuffer()
  const png = await sharp(noisy, { raw: { width: 64, height: 48, channels: 3 } })
    .png()
    .toBuffer()
  write(join(root, 'cats', 'corrupt.jpg'), Buffer.concat([jpeg.subarray(0, 20), Buffer.alloc(2000, 0x5a)]))
  write(join(root, 'cats', 'truncated.png'), png.subarray(0, png.length >> 1))
  write(join(root, 'cats', 'empty.jpg'), Buffer.alloc(0))
  write(join(root, 'cats', 'text.jpg'), 'not a picture')
  write(join(root, 'cats', 'notes.txt'), 'cat notes')
  write(join(root, 'cats', '.DS_Store'), 'finder junk')
  // What unzipping on a Mac leaves at the top: not a class.
  write(join(root, '__MACOSX', 'cats', '._cat-0.png'), 'AppleDouble')
  write(join(root, 'README.md'), 'top-level notes are ignored')
  symlinkSync(join(root, 'nowhere.png'), join(root, 'cats', 'ghost.png'))

  const solid = (w: number, h: number, r: number, g: number, b: number): sharp.Sharp =>
    sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } })
  await solid(1, 1, 9, 9, 9)
    .png()
    .toFile(join(root, 'cats', 'one-pixel.png'))
  await solid(20, 20, 200, 30, 30)
    .toColourspace('cmyk')
    .jpeg()
    .toFile(join(root, 'cats', 'cmyk.jpg'))
  await solid(20, 20, 10, 120, 240)
    .toColourspace('rgb16')
    .png()
    .toFile(join(root, 'cats', 'sixteen.png'))
  await solid(20, 20, 90, 90, 90)
    .toColourspace('b-w')
    .png()
    .toFile(join(root, 'cats', 'gray.png'))
  await solid(40, 20, 1, 2, 3)
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toFile(join(root, 'cats', 'exif-6.jpg'))
  await solid(20, 20, 5, 6, 7)
    .png()
    .toFile(join(root, 'cats', 'chat-été-猫.png'))
  await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toFile(join(root, 'cats', 'transparent.png'))
  const f1 = await solid(8, 8, 255, 0, 0).png().toBuffer()
  const f2 = await solid(8, 8, 0, 0, 255).png().toBuffer()
  await sharp([f1, f2], { join: { animated: true } })
    .gif()
    .toFile(join(root, 'cats', 'animated.gif'))
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tunewise-scan-'))
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

describe('scanDataset on a messy folder', () => {
  let root: string
  let scan: DatasetScan
  const progress: [number, number][] = []

  beforeAll(async () => {
    root = folder('messy')
    await makeMessyDataset(root)
    scan = await scanDataset(root, { onProgress: (done, total) => progress.push([done, total]), concurrency: 3 })
  })

  it('lists every unusable file with a plain reason, and skips hidden files silently', () => {
    const reasons = Object.fromEntries(scan.report.unreadable.map((u) => [u.file, u.reason]))
    expect(Object.keys(reasons).sort()).toEqual([
      'cats/corrupt.jpg',
      'cats/empty.jpg',
      'cats/ghost.png',
      'cats/notes.txt',
      'cats/text.jpg',
      'cats/truncated.png',
    ])
    expect(reasons['cats/empty.jpg']).toBe('The file is empty (0 bytes).')
    expect(reasons['cats/text.jpg']).toBe('Not an image: the content is not JPEG, PNG, WebP, GIF, BMP or TIFF.')
    expect(reasons['cats/ghost.png']).toBe('The file ghost.png could not be found; it may have been moved or deleted.')
    expect(reasons['cats/notes.txt']).toBe('Not an image file (notes.txt); it was skipped.')
    expect(reasons['cats/corrupt.jpg']).toMatch(/^The image data is damaged or cut short/)
    expect(reasons['cats/truncated.png']).toMatch(/^The image data is damaged or cut short/)
  })

  it('groups the same problems by reason, one row each, in a fixed order', () => {
    expect(scan.report.problemGroups.map(({ kind, count, examples }) => ({ kind, count, examples }))).toEqual([
      { kind: 'missing', count: 1, examples: ['cats/ghost.png'] },
      { kind: 'empty', count: 1, examples: ['cats/empty.jpg'] },
      { kind: 'unsupported', count: 1, examples: ['cats/text.jpg'] },
      { kind: 'damaged', count: 2, examples: ['cats/corrupt.jpg', 'cats/truncated.png'] },
      { kind: 'not-image', count: 1, examples: ['cats/notes.txt'] },
    ])
    for (const g of scan.report.problemGroups) {
      expect(g.reason.length).toBeGreaterThan(0)
      expect(g.action).toMatch(/\.$/)
    }
  })

  it('keeps the awkward but valid images, nested folders and non-ASCII names', () => {
    const byFile = new Map(scan.files.map((f) => [f.file, f]))
    for (const name of [
      'one-pixel.png',
      'cmyk.jpg',
      'sixteen.png',
      'gray.png',
      'exif-6.jpg',
      'chat-été-猫.png',
      'transparent.png',
      'animated.gif',
    ]) {
      expect(byFile.get(`cats/${name}`)?.label, name).toBe('cats')
    }
    expect(byFile.get('dogs/more/nested-dog.png')?.label).toBe('dogs')
    // Displayed size: the EXIF-rotated 40×20 photo is 20 wide and 40 tall.
    expect(byFile.get('cats/exif-6.jpg')).toMatchObject({ width: 20, height: 40 })
    expect(byFile.get('cats/animated.gif')).toMatchObject({ width: 8, height: 8 })
    expect(scan.files.map((f) => f.file)).toEqual([...scan.files.map((f) => f.file)].sort())
    expect(scan.files.every((f) => !f.file.includes('\\') && f.givenSplit === undefined)).toBe(true)
  })

  it('hashes each file as sha256 of its bytes', async () => {
    for (const f of scan.files.slice(0, 4)) expect(f.hash).toBe(await hashFile(join(root, f.file)))
  })

  it('counts classes, including the empty one, and blocks on it', () => {
    const counts = Object.fromEntries(scan.report.classes.map((c) => [c.name, c.count]))
    expect(counts).toEqual({ birds: 0, cats: 13, dogs: 6 })
    expect(scan.report.total).toBe(19)
    expect(scan.report.givenSplit).toBe(false)
    expect(scan.report.blockers).toEqual([
      "Class 'birds' has no readable images. Add images to its folder, or remove or exclude the class.",
    ])
    expect(scan.report.tinyClasses).toEqual(['birds'])
  })

  it('finds the copy across classes', () => {
    expect(scan.report.duplicates).toEqual([
      { hash: expect.any(String), files: ['cats/cat-0.png', 'dogs/copy-of-cat.png'], crossClass: true },
    ])
    expect(scan.report.warnings.some((w) => w.includes('in more than one class'))).toBe(true)
  })

  it('warns about the tiny image and the skipped files', () => {
    // The 1×1 image and the 8×8 GIF; the first by name is quoted.
    expect(scan.report.warnings.some((w) => /^2 tiny images .*first: cats\/animated\.gif/.test(w))).toBe(true)
    expect(scan.report.warnings.some((w) => w.startsWith('6 files could not be used'))).toBe(true)
  })

  it('makes up to 8 JPEG thumbnails per class, from the first files by name', () => {
    const cats = scan.report.classes.find((c) => c.name === 'cats')!
    expect(cats.thumbnails).toHaveLength(8)
    expect(cats.thumbnails.every((t) => t.dataUrl.startsWith('data:image/jpeg;base64,'))).toBe(true)
    const firstReadable = scan.files.filter((f) => f.label === 'cats').map((f) => f.file)
    expect(cats.thumbnails.map((t) => t.file).every((f) => firstReadable.includes(f))).toBe(true)
  })

  it('records sizes and reports progress up to the total', () => {
    expect(scan.report.sizes.minWidth).toBe(1)
    expect(scan.report.sizes.maxHeight).toBe(40)
    // 1, 8, six 20-wide images and eleven 24-wide ones: the middle of 19 is 24.
    expect(scan.report.sizes.medianWidth).toBe(24)
    const total = progress[0][1]
    // 19 readable + corrupt, truncated, empty, text and the broken link; notes.txt is never a candidate.
    expect(total).toBe(24)
    expect(progress.at(-1)).toEqual([total, total])
    expect(progress.map((p) => p[0])).toEqual([...Array(total + 1).keys()])
  })

  it('gives the same report and fingerprint on a second scan', async () => {
    const again = await scanDataset(root, { concurrency: 1 })
    expect(again.report).toEqual(scan.report)
    expect(again.files).toEqual(scan.files)
  })

  it('drops the empty-class blocker once that class is excluded', () => {
    const args = { root, classNames: scan.report.classes.map((c) => c.name), files: scan.files, givenSplit: false }
    expect(datasetBlockers(args)).toHaveLength(1)
    expect(datasetBlockers({ ...args, excluded: { files: [], classes: ['birds'] } })).toEqual([])
    expect(datasetBlockers({ ...args, excluded: { files: [], classes: ['birds', 'dogs'] } })).toEqual([
      "Only one class ('cats') was found. Add a second sub-folder with images of another class.",
    ])
  })
})

describe('fingerprint and datasetId', () => {
  const files = [
    { file: 'a/1.png', hash: 'h1', label: 'a' },
    { file: 'b/2.png', hash: 'h2', label: 'b' },
    { file: 'b/3.png', hash: 'h3', label: 'b' },
  ]

  it('does not depend on order but does on content, names and labels', () => {
    const fp = fingerprint(files)
    expect(fp).toMatch(/^[0-9a-f]{64}$/)
    expect(fingerprint([...files].reverse())).toBe(fp)
    expect(fingerprint(files.map((f, i) => (i === 0 ? { ...f, hash: 'hx' } : f)))).not.toBe(fp)
    expect(fingerprint(files.map((f, i) => (i === 0 ? { ...f, label: 'b' } : f)))).not.toBe(fp)
    expect(fingerprint(files.map((f, i) => (i === 0 ? { ...f, file: 'a/9.png' } : f)))).not.toBe(fp)
  })

  it('datasetId is short, stable and depends on root and fingerprint', () => {
    const fp = fingerprint(files)
    expect(datasetId('/data/x', fp)).toMatch(/^ds_[0-9a-f]{12}$/)
    expect(datasetId('/data/x', fp)).toBe(datasetId('/data/x', fp))
    expect(datasetId('/data/y', fp)).not.toBe(datasetId('/data/x', fp))
    expect(datasetId('/data/x', fingerprint(files.slice(1)))).not.toBe(datasetId('/data/x', fp))
  })
})

describe('scanDataset layouts and blockers', () => {
  it('a single class folder is blocked with a plain sentence', async () => {
    const root = folder('single')
    for (let i = 0; i < 3; i++) await image(join(root, 'cats', `c${i}.png`), i)
    const { report } = await scanDataset(root)
    expect(report.blockers).toEqual([
      "Only one class ('cats') was found. Add a second sub-folder with images of another class.",
    ])
  })

  it('an empty folder is blocked', async () => {
    const root = folder('empty')
    const { report, files } = await scanDataset(root)
    expect(files).toEqual([])
    expect(report.blockers).toEqual([
      `No images found in ${root}. Tunewise expects one sub-folder per class, each holding images.`,
    ])
    expect(report.sizes).toEqual({
      minWidth: 0,
      maxWidth: 0,
      minHeight: 0,
      maxHeight: 0,
      medianWidth: 0,
      medianHeight: 0,
    })
  })

  it('images lying loose without class folders are blocked with the reason', async () => {
    const root = folder('loose')
    await image(join(root, 'a.png'), 1)
    await image(join(root, 'b.png'), 2)
    const { report } = await scanDataset(root)
    expect(report.blockers).toHaveLength(1)
    expect(report.blockers[0]).toMatch(/are not in class sub-folders/)
  })

  it('warns about imbalance and tiny classes', async () => {
    const root = folder('unbalanced')
    for (let i = 0; i < 12; i++) await image(join(root, 'many', `m${i}.png`), i)
    for (let i = 0; i < 2; i++) await image(join(root, 'few', `f${i}.png`), 50 + i)
    const { report } = await scanDataset(root, { minPerClass: 3 })
    expect(report.blockers).toEqual([])
    expect(report.tinyClasses).toEqual(['few'])
    expect(report.minPerClass).toBe(3)
    expect(report.warnings.some((w) => w.includes("'many' has 12 images but 'few' only 2 (6.0×)"))).toBe(true)
    expect(report.warnings.some((w) => w.includes("'few' (2)"))).toBe(true)
  })

  it('reads train/ validation/ test/ as a given split and marks copies across splits', async () => {
    const root = folder('given')
    for (const [split, n] of [
      ['train', 4],
      ['validation', 2],
      ['test', 2],
    ] as const) {
      for (const cls of ['ants', 'bees']) {
        for (let i = 0; i < n; i++)
          await image(join(root, split, cls, `${cls}-${i}.png`), split.length * 10 + i + (cls === 'ants' ? 0 : 100))
      }
    }
    write(join(root, 'test', 'ants', 'leak.png'), readFileSync(join(root, 'train', 'ants', 'ants-0.png')))
    const scan = await scanDataset(root)
    expect(scan.report.givenSplit).toBe(true)
    expect(scan.report.blockers).toEqual([])
    const ants = scan.report.classes.find((c) => c.name === 'ants')!
    expect(ants.given).toEqual({ train: 4, val: 2, test: 3 })
    expect(scan.files.find((f) => f.file === 'validation/bees/bees-1.png')?.givenSplit).toBe('val')
    expect(scan.files.find((f) => f.file === 'test/ants/leak.png')).toMatchObject({ label: 'ants', givenSplit: 'test' })
    expect(scan.report.duplicates).toEqual([
      {
        hash: expect.any(String),
        files: ['test/ants/leak.png', 'train/ants/ants-0.png'],
        crossClass: false,
        crossSplit: true,
      },
    ])
    expect(scan.report.warnings.some((w) => w.includes('in more than one of train/, val/ and test/'))).toBe(true)
  })

  it('a given split where a class has no training images is blocked', async () => {
    const root = folder('given-no-train')
    await image(join(root, 'train', 'ants', 'a.png'), 1)
    await image(join(root, 'train', 'ants', 'b.png'), 2)
    await image(join(root, 'test', 'bees', 'c.png'), 3)
    const { report } = await scanDataset(root)
    expect(report.blockers).toEqual([expect.stringMatching(/^Class 'bees' has no images in train\//)])
  })

  it('a missing root or a file as root throws AppError bad_data', async () => {
    await expect(scanDataset(join(base, 'does-not-exist'))).rejects.toMatchObject({ code: 'bad_data' })
    await expect(scanDataset(join(base, 'does-not-exist'))).rejects.toBeInstanceOf(AppError)
    const file = join(base, 'a-file.txt')
    writeFileSync(file, 'x')
    await expect(scanDataset(file)).rejects.toMatchObject({
      code: 'bad_data',
      message: expect.stringMatching(/is a file, not a folder/),
    })
  })
})
