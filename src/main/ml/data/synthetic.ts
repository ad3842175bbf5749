/**
 * A small, learnable sample dataset of drawn shapes, so people can try the whole flow before they have
 * their own images, and so tests and benchmarks have data without shipping any. Each image is an SVG
 * rendered by sharp, with seeded noise added in JS (sharp's own noise is not seedable), then saved as PNG
 * or JPEG. The same seed gives the same bytes.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { mulberry32 } from './split'

export interface SyntheticOptions {
  /** Images per class. Default 40. */
  perClass?: number
  /** Width and height in pixels. Default 96. */
  size?: number
  /** Seed for colours, positions, sizes and noise. Default 1. */
  seed?: number
  /**
   * Class names, one sub-folder each. Default circle, square, triangle, star. A name that is one of the
   * known shapes draws that shape; any other name draws the next unused shape in the list below.
   */
  classes?: string[]
}

const SHAPES = ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring', 'diamond'] as const
type Shape = (typeof SHAPES)[number]

/** Standard deviation of the added pixel noise, in 0-255 units: visible, but far below the shape contrast. */
const NOISE_SIGMA = 7

function isShape(name: string): name is Shape {
  return (SHAPES as readonly string[]).includes(name)
}

/** Gives each class a distinct shape: its own name when it names a shape, else the next unused one. */
function shapesFor(classes: string[]): Shape[] {
  const used = new Set(classes.filter(isShape))
  const spare = SHAPES.filter((s) => !used.has(s))
  let next = 0
  // With more classes than shapes, shapes repeat: such a dataset is not fully learnable, by design of the caller.
  return classes.map((c) =>
    isShape(c) ? c : spare.length > 0 ? spare[next++ % spare.length] : SHAPES[next++ % SHAPES.length],
  )
}

interface Rgb {
  r: number
  g: number
  b: number
}

/** A random colour with each channel in [lo, hi]. */
function colour(random: () => number, lo: number, hi: number): Rgb {
  const channel = (): number => lo + Math.floor(random() * (hi - lo + 1))
  return { r: channel(), g: channel(), b: channel() }
}

function css(c: Rgb): string {
  return `rgb(${c.r},${c.g},${c.b})`
}

function polygon(cx: number, cy: number, radii: number[], angle: number): string {
  const n = radii.length
  const points = radii.map((r, i) => {
    const a = angle + (i * 2 * Math.PI) / n - Math.PI / 2
    return `${(cx + r * Math.cos(a)).toFixed(2)},${(cy + r * Math.sin(a)).toFixed(2)}`
  })
  return points.join(' ')
}

/** SVG markup of one shape of diameter `d` centred at (cx, cy), turned by `angle` radians. */
function shapeSvg(shape: Shape, cx: number, cy: number, d: number, angle: number, fill: string): string {
  const r = d / 2
  const deg = ((angle * 180) / Math.PI).toFixed(2)
  switch (shape) {
    case 'circle':
      return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}"/>`
    case 'ring':
      return `<circle cx="${cx}" cy="${cy}" r="${r * 0.78}" fill="none" stroke="${fill}" stroke-width="${r * 0.44}"/>`
    case 'square': {
      const s = d * 0.8
      return `<rect x="${cx - s / 2}" y="${cy - s / 2}" width="${s}" height="${s}" fill="${fill}" transform="rotate(${deg} ${cx} ${cy})"/>`
    }
    case 'diamond':
      return `<polygon points="${polygon(cx, cy, [r, r * 0.6, r, r * 0.6], angle)}" fill="${fill}"/>`
    case 'triangle':
      return `<polygon points="${polygon(cx, cy + r * 0.15, [r * 1.15, r * 1.15, r * 1.15], angle)}" fill="${fill}"/>`
    case 'star':
      return `<polygon points="${polygon(cx, cy, [r, r * 0.42, r, r * 0.42, r, r * 0.42, r, r * 0.42, r, r * 0.42], angle)}" fill="${fill}"/>`
    case 'hexagon':
      return `<polygon points="${polygon(cx, cy, [r, r, r, r, r, r], angle)}" fill="${fill}"/>`
    case 'cross': {
      const a = r * 0.34
      const path = `M${-a},${-r}H${a}V${-a}H${r}V${a}H${a}V${r}H${-a}V${a}H${-r}V${-a}H${-a}Z`
      return `<path d="${path}" fill="${fill}" transform="translate(${cx} ${cy}) rotate(${deg})"/>`
    }
  }
}

/** Everything random about one image, drawn from its own PRNG so the order of rendering does not matter. */
function drawSvg(shape: Shape, size: number, random: () => number): string {
  // Light shapes on dark backgrounds or dark on light, in random hues: the colour says nothing about the
  // class, and the contrast keeps the outline easy to see even through the noise.
  const light = random() < 0.5
  const background = light ? colour(random, 0, 100) : colour(random, 160, 255)
  const background2 = light ? colour(random, 0, 100) : colour(random, 160, 255)
  const fill = light ? colour(random, 165, 255) : colour(random, 0, 95)
  const d = size * (0.5 + random() * 0.3) // the shape spans 50-80% of the side: large enough to read at 224 px
  const margin = d / 2 + 1
  const cx = margin + random() * Math.max(0, size - 2 * margin)
  const cy = margin + random() * Math.max(0, size - 2 * margin)
  // Squares and triangles tilt by at most 15 degrees (a turned square is a diamond, a turned triangle an
  // arrow); the rest may turn freely.
  const tilt = (random() - 0.5) * (Math.PI / 6)
  const angle = shape === 'square' || shape === 'triangle' ? tilt : random() * 2 * Math.PI
  const gradientAngle = Math.floor(random() * 4) * 90
  // A faint gradient towards a second colour keeps the background from being one flat value.
  const mix = (a: number, b: number): number => Math.round(a * 0.75 + b * 0.25)
  const bg2 = {
    r: mix(background.r, background2.r),
    g: mix(background.g, background2.g),
    b: mix(background.b, background2.b),
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">` +
    `<defs><linearGradient id="g" gradientTransform="rotate(${gradientAngle} 0.5 0.5)">` +
    `<stop offset="0" stop-color="${css(background)}"/><stop offset="1" stop-color="${css(bg2)}"/></linearGradient></defs>` +
    `<rect width="${size}" height="${size}" fill="url(#g)"/>` +
    shapeSvg(shape, cx, cy, d, angle, css(fill)) +
    '</svg>'
  )
}

/** Adds seeded Gaussian noise (Box-Muller) in place. */
function addNoise(pixels: Buffer, random: () => number, sigma: number): void {
  for (let i = 0; i < pixels.length; i += 2) {
    const u = Math.max(random(), 1e-12)
    const v = random()
    const m = sigma * Math.sqrt(-2 * Math.log(u))
    const n0 = m * Math.cos(2 * Math.PI * v)
    const n1 = m * Math.sin(2 * Math.PI * v)
    pixels[i] = Math.max(0, Math.min(255, Math.round(pixels[i] + n0)))
    if (i + 1 < pixels.length) pixels[i + 1] = Math.max(0, Math.min(255, Math.round(pixels[i + 1] + n1)))
  }
}

async function renderOne(shape: Shape, size: number, random: () => number, asJpeg: boolean): Promise<Buffer> {
  const svg = drawSvg(shape, size, random)
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  addNoise(data, random, NOISE_SIGMA)
  const image = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
  return asJpeg ? image.jpeg({ quality: 88 }).toBuffer() : image.png().toBuffer()
}

/**
 * Writes a shapes dataset into `dir`: one sub-folder per class, `perClass` images each (default 40) of
 * `size` × `size` pixels (default 96), every third one JPEG and the rest PNG. Deterministic for a seed.
 * Existing files of the same names are overwritten.
 */
export async function makeSyntheticDataset(
  dir: string,
  opts: SyntheticOptions = {},
): Promise<{ dir: string; files: number }> {
  const perClass = opts.perClass ?? 40
  const size = opts.size ?? 96
  const seed = opts.seed ?? 1
  const classes = opts.classes ?? ['circle', 'square', 'triangle', 'star']
  if (new Set(classes).size !== classes.length) throw new RangeError('makeSyntheticDataset: class names must be unique')
  if (!Number.isInteger(size) || size < 8) throw new RangeError('makeSyntheticDataset: size must be an integer >= 8')
  const shapes = shapesFor(classes)

  const jobs: { path: string; shape: Shape; seed: number; jpeg: boolean }[] = []
  for (const [c, name] of classes.entries()) {
    await mkdir(join(dir, name), { recursive: true })
    for (let i = 0; i < perClass; i++) {
      const jpeg = i % 3 === 2
      jobs.push({
        path: join(dir, name, `${name}-${String(i).padStart(3, '0')}.${jpeg ? 'jpg' : 'png'}`),
        shape: shapes[c],
        // Mixed so neighbouring images do not get correlated streams.
        seed: (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(c + 1, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0,
        jpeg,
      })
    }
  }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]
      await writeFile(job.path, await renderOne(job.shape, size, mulberry32(job.seed), job.jpeg))
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return { dir, files: jobs.length }
}
