/**
 * The JavaScript a sound model's card hands out (`clipToInput`, `recordingToInput`, `readWav`) is taken out of the
 * card as text, run under Node with plain @tensorflow/tfjs, and compared with the engine's own pictures: the path
 * training takes (`clipImage` on a file in a folder) and the path "try your own sound" takes
 * (`recordingPictures`), both followed by `picturesToInput`.
 *
 * Bound: the snippet is a line-for-line port in the same float widths and operation order, so in one JavaScript
 * engine the pictures should agree to the last bit (measured: 0). The assertion allows 1e-5 after scaling, room
 * for a few float32 rounding steps should another engine's Math.sin or Math.log10 differ in the last place, yet
 * 400× below a step of one grey level (1/255 ≈ 4e-3): anything the bound lets through is invisible in the
 * picture the network sees. Near misses differ by far more (checked below): one dB more range moves a pixel by
 * 0.024, a linear-interpolation resampler from 48 kHz by 0.33 (noise above 8 kHz folds down); a cut-off of 0.94
 * instead of 0.945 in the snippet's resampler, or dropping the quiet-clip rule, each failed this file when tried.
 * SNIPPET_DIFFS=1 prints every measured difference.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeAudio } from '../../src/main/ml/audio/decode'
import { resample } from '../../src/main/ml/audio/resample'
import { clipSettingsOf, spectrogramSettingsOf } from '../../src/main/ml/audio/settings'
import {
  type AudioInputSpec,
  clipImage,
  clearClipCache,
  picturesToInput,
  recordingPictures,
} from '../../src/main/ml/audio/source'
import { clipToImage, type ImageSize } from '../../src/main/ml/audio/spectrogram'
import { CLIP_FUNCTION_TITLE, buildRunCard, type RunCardInput } from '../../src/main/ml/export/model-card'
import { catalogue } from '../../src/main/ml/models/catalogue'
import { defaultRunConfig, type RunConfig } from '../../src/shared/run-config'
import type { CardBlock, RunCard } from '../../src/shared/types'
import { chirp, encodeWav, noise, tone } from '../fixtures/audio/synth'

const BOUND = 1e-5
const base = catalogue.find((e) => e.card.id === 'mobilenet-v2-nsfwjs')!.card

type Preprocess = 'rgb/255' | 'rgb/127.5-1'
const descriptions: Record<Preprocess, string> = {
  'rgb/255': 'RGB, each value divided by 255 (range 0 to 1), no mean subtraction.',
  'rgb/127.5-1': 'RGB, each value divided by 127.5 then minus 1 (range -1 to 1).',
}

function soundConfig(sound: Partial<RunConfig['sound']> = {}): RunConfig {
  const config = defaultRunConfig('mobilenet-v2-nsfwjs', 'ds_s', 'Words v1')
  config.dataKind = 'audio'
  config.sound = { ...config.sound, ...sound }
  return config
}

const specOf = (config: RunConfig): AudioInputSpec => ({
  clip: clipSettingsOf(config),
  spectrogram: spectrogramSettingsOf(config),
})

function soundCard(config: RunConfig, size: [number, number], preprocess: Preprocess): RunCard {
  const input: RunCardInput = {
    run: {
      id: 3,
      name: 'Words v1',
      config,
      evaluations: [
        {
          split: 'test',
          accuracy: 0.75,
          loss: 0.5,
          labels: ['no', 'yes'],
          perClass: [
            { label: 'no', precision: 0.75, recall: 0.75, f1: 0.75, support: 4 },
            { label: 'yes', precision: 0.75, recall: 0.75, f1: 0.75, support: 4 },
          ],
          confusion: [
            [3, 1],
            [1, 3],
          ],
          misclassified: [],
          predictions: [],
        },
      ],
      backend: 'wasm',
      backendReason: null,
      durationMs: 41_000,
      finishedAt: '2026-12-01T10:00:00.000Z',
      testAccuracy: 0.75,
    },
    base,
    datasetName: 'spoken-words',
    splitCounts: [
      { label: 'no', train: 20, val: 4, test: 4 },
      { label: 'yes', train: 22, val: 4, test: 4 },
    ],
    dataset: {
      warnings: [],
      tinyClasses: [],
      sizes: { minWidth: 0, maxWidth: 0, minHeight: 0, maxHeight: 0, medianWidth: 0, medianHeight: 0 },
      duplicates: [],
    },
    parameters: { total: 2_261_827, trainable: 2_562 },
    inputSize: size,
    preprocessingDescription: descriptions[preprocess],
    format: 'tfjs',
    check: { agreement: 1, maxDifference: 1e-7, count: 8, checkedAt: '2026-12-01T10:05:00.000Z' },
    grayscale: null,
    tfjsVersion: '4.22.0',
    audio: specOf(config),
  }
  return buildRunCard(input)
}

function codeBlock(card: RunCard, title: string | RegExp): string {
  const blocks = card.sections.flatMap((s) => s.blocks) as CardBlock[]
  const code = blocks.find(
    (b): b is Extract<CardBlock, { kind: 'code' }> =>
      b.kind === 'code' && (typeof title === 'string' ? b.title === title : title.test(b.title)),
  )
  expect(code, String(title)).toBeDefined()
  // What a reader copies is the README: the block must be there verbatim.
  expect(card.markdown).toContain(code!.code)
  return code!.code
}

interface Snippet {
  clipToInput: (samples: Float32Array, rate: number, startSeconds?: number) => tf.Tensor4D
  recordingToInput: (samples: Float32Array, rate: number) => tf.Tensor4D
}

/** Runs the card's function text with `tf` as its only outside name. */
function loadSnippet(card: RunCard): Snippet {
  const source = codeBlock(card, CLIP_FUNCTION_TITLE)
  return new Function('tf', `${source}\nreturn { clipToInput, recordingToInput }`)(tf) as Snippet
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let d = 0
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]))
  if (process.env.SNIPPET_DIFFS) console.log('max |difference|', a.length, d)
  return d
}

const values = (t: tf.Tensor): Float32Array => {
  const v = t.dataSync() as Float32Array
  t.dispose()
  return v
}

const mix = (...parts: Float32Array[]): Float32Array => {
  const out = new Float32Array(Math.max(...parts.map((p) => p.length)))
  for (const p of parts) for (let i = 0; i < p.length; i++) out[i] += p[i]
  return out
}

/** Float WAV of the samples: decoding gives them back bit for bit, so both sides start from the same numbers. */
const floatWav = (samples: Float32Array, rate: number): Buffer =>
  encodeWav([samples], { sampleRate: rate, encoding: 'float32' })

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tunewise-snippet-'))
  await mkdir(join(root, 'a'))
})
afterAll(async () => {
  clearClipCache()
  await rm(root, { recursive: true, force: true })
})

const clips: { name: string; rate: number; samples: () => Float32Array }[] = [
  {
    name: 'tone + noise at 8 kHz, 0.4 s (short: padded)',
    rate: 8000,
    samples: () => mix(tone(440, 8000, 0.4), noise(3200, 1, 0.05)),
  },
  {
    name: 'tone + noise at 16 kHz, 1 s (no resampling)',
    rate: 16000,
    samples: () => mix(tone(1000, 16000, 1), noise(16000, 2, 0.1)),
  },
  {
    name: 'chirp + noise at 44.1 kHz, 2.7 s (long: 3 clips)',
    rate: 44100,
    samples: () => mix(chirp(200, 7000, 44100, 2.7), noise(119070, 3, 0.02)),
  },
  {
    name: 'tones at 48 kHz, 1.3 s, one above 8 kHz (removed)',
    rate: 48000,
    samples: () => mix(tone(3000, 48000, 1.3, 0.3), tone(12000, 48000, 1.3, 0.3)),
  },
  { name: 'a quiet tone at 16 kHz (the floor sets black)', rate: 16000, samples: () => tone(500, 16000, 1, 1e-4) },
  { name: 'silence at 22.05 kHz', rate: 22050, samples: () => new Float32Array(22050) },
]

describe("the card's clipToInput gives the engine's pictures", () => {
  const cases: { label: string; config: RunConfig; size: [number, number]; preprocess: Preprocess }[] = [
    { label: 'default settings, 224×224, RGB/255', config: soundConfig(), size: [224, 224], preprocess: 'rgb/255' },
    {
      label: 'every setting changed, 96×128, RGB/127.5 − 1',
      config: soundConfig({
        clipSeconds: 0.7,
        clipOverlap: 0.5,
        windowMs: 40,
        hopMs: 15,
        melBands: 40,
        fMin: 100,
        fMax: 6000,
        topDb: 60,
      }),
      size: [96, 128],
      preprocess: 'rgb/127.5-1',
    },
  ]

  for (const c of cases) {
    describe(c.label, () => {
      const card = soundCard(c.config, c.size, c.preprocess)
      const spec = specOf(c.config)
      const snippet = loadSnippet(card)

      for (const clip of clips) {
        it(clip.name, async () => {
          const samples = clip.samples()
          const wav = floatWav(samples, clip.rate)
          // Every clip of the recording, the way "try your own sound" cuts it.
          const engine = picturesToInput(await recordingPictures(wav, spec, c.size), c.preprocess)
          const mine = values(snippet.recordingToInput(samples, clip.rate))
          expect(maxAbsDiff(mine, engine)).toBeLessThanOrEqual(BOUND)

          // The first clip alone, through the training path (a file in a dataset folder, read by id).
          const file = `a/${clip.name.replace(/[^a-z0-9]+/gi, '-')}-${c.size[1]}.wav`
          await writeFile(join(root, file), wav)
          const trained = picturesToInput([await clipImage(root, file, spec, c.size)], c.preprocess)
          const first = values(snippet.clipToInput(samples, clip.rate))
          expect(maxAbsDiff(first, trained)).toBeLessThanOrEqual(BOUND)

          // Not a vacuous match: sound shows, silence stays black (the lowest input value).
          const lowest = c.preprocess === 'rgb/255' ? 0 : -1
          const brightest = first.reduce((a, b) => Math.max(a, b), -Infinity)
          if (/silence/.test(clip.name)) expect(brightest).toBe(lowest)
          else expect(brightest).toBeGreaterThan(lowest + 0.9 * (1 - lowest))
        })
      }

      it('a later clip by its start time equals the training picture of that window', async () => {
        const samples = mix(chirp(300, 5000, 44100, 3), noise(132300, 9, 0.05))
        const file = `a/long-${c.size[1]}.wav`
        await writeFile(join(root, file), floatWav(samples, 44100))
        const start = spec.clip.hopSeconds!
        const id = `${file}#t=${start},${start + spec.clip.clipSeconds}`
        const trained = picturesToInput([await clipImage(root, id, spec, c.size)], c.preprocess)
        expect(maxAbsDiff(values(snippet.clipToInput(samples, 44100, start)), trained)).toBeLessThanOrEqual(BOUND)
      })
    })
  }

  it('a recording of more than 30 clips is thinned evenly, as the app does', async () => {
    const config = soundConfig()
    const size: ImageSize = [32, 32]
    const snippet = loadSnippet(soundCard(config, [32, 32], 'rgb/255'))
    const samples = mix(chirp(100, 3900, 8000, 33), noise(8000 * 33, 4, 0.05))
    const engine = await recordingPictures(floatWav(samples, 8000), specOf(config), size)
    expect(engine).toHaveLength(30)
    const x = snippet.recordingToInput(samples, 8000)
    expect(x.shape).toEqual([30, 32, 32, 3])
    expect(maxAbsDiff(values(x), picturesToInput(engine, 'rgb/255'))).toBeLessThanOrEqual(BOUND)
  })

  it('the bound tells near misses apart: one dB more range, or a linear resampler, differ by far more', () => {
    const settings = specOf(soundConfig()).spectrogram
    const samples = mix(tone(1000, 48000, 1, 0.3), tone(2500, 48000, 1, 0.2), noise(48000, 5, 0.05))
    const sinc = resample(samples, 48000, 16000).subarray(0, 16000)
    const exact = clipToImage(sinc, [224, 224], settings)
    const otherRange = clipToImage(sinc, [224, 224], { ...settings, topDb: settings.topDb + 1 })
    const linear = clipToImage(resampleLinear(samples, 48000), [224, 224], settings)
    expect(maxAbsDiff(exact, otherRange)).toBeGreaterThan(100 * BOUND)
    expect(maxAbsDiff(exact, linear)).toBeGreaterThan(100 * BOUND)
  })
})

/** The resampler the card could have used instead: straight lines between samples, no low-pass. */
function resampleLinear(x: Float32Array, rate: number): Float32Array {
  const out = new Float32Array(16000)
  for (let j = 0; j < out.length; j++) {
    const pos = (j * rate) / 16000
    const i = Math.floor(pos)
    const t = pos - i
    out[j] = (x[i] ?? 0) * (1 - t) + (x[i + 1] ?? 0) * t
  }
  return out
}

describe("the Node snippet's readWav reads WAV files as the app does", () => {
  const card = soundCard(soundConfig(), [224, 224], 'rgb/255')
  const node = codeBlock(card, /^In Node/)
  const start = node.indexOf('function readWav(buf) {')
  const end = node.indexOf('\n}\n', start)
  expect(start).toBeGreaterThanOrEqual(0)
  const readWav = new Function(`${node.slice(start, end + 2)}\nreturn readWav`)() as (buf: Buffer) => {
    samples: Float32Array
    sampleRate: number
  }

  const left = mix(tone(440, 22050, 0.3, 0.6), noise(6615, 6, 0.2))
  const right = tone(880, 22050, 0.3, 0.4)
  for (const encoding of ['u8', 'pcm16', 'pcm24', 'pcm32', 'float32', 'float64'] as const) {
    for (const extensible of [false, true]) {
      it(`${encoding}${extensible ? ', WAVE_FORMAT_EXTENSIBLE' : ''}, stereo mixed to mono`, async () => {
        const wav = encodeWav([left, right], {
          sampleRate: 22050,
          encoding,
          extensible,
          extraChunks: [['LIST', new Uint8Array(5)]],
        })
        const app = await decodeAudio(wav)
        const mine = readWav(wav)
        expect(mine.sampleRate).toBe(app.sampleRate)
        expect(maxAbsDiff(mine.samples, app.samples)).toBe(0)
      })
    }
  }
})

describe('the Node snippet runs as written', () => {
  it('loads a model, reads a WAV and prints one probability per label, averaged over the clips', async () => {
    const config = soundConfig()
    const size: [number, number] = [32, 32]
    const card = soundCard(config, size, 'rgb/255')
    const dir = await mkdtemp(join(tmpdir(), 'tunewise-node-snippet-'))
    try {
      // A tiny model with the sound model's input: mean over the picture, then 2 classes.
      const model = tf.sequential({
        layers: [
          tf.layers.globalAveragePooling2d({ inputShape: [...size, 3] }),
          tf.layers.dense({
            units: 2,
            activation: 'softmax',
            kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 3, seed: 1 }),
          }),
        ],
      })
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          const weights = tf.io.CompositeArrayBuffer.join(a.weightData!)
          await writeFile(
            join(dir, 'model.json'),
            JSON.stringify({
              modelTopology: a.modelTopology,
              weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
            }),
          )
          await writeFile(join(dir, 'weights.bin'), Buffer.from(weights))
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
        }),
      )
      await writeFile(join(dir, 'metadata.json'), JSON.stringify({ labels: ['no', 'yes'] }))
      const samples = mix(chirp(200, 3000, 16000, 2.2), noise(35200, 7, 0.05))
      const wavBytes = encodeWav([samples], { sampleRate: 16000, encoding: 'pcm16' })
      await writeFile(join(dir, 'recording.wav'), wavBytes)

      // The module as a reader assembles it: the function pasted where the snippet says, imports provided.
      const program = codeBlock(card, /^In Node/)
        .replace('// … the clipToInput code from above goes here …', codeBlock(card, CLIP_FUNCTION_TITLE))
        .replace(/^import .*$/gm, '')
        .replace(/import\.meta\.url/g, 'baseUrl')
      const printed: string[] = []
      const { readFileSync } = await import('node:fs')
      const run = new Function(
        'tf',
        'readFileSync',
        'process',
        'console',
        'baseUrl',
        `return (async () => {\n${program}\n})()`,
      ) as (...args: unknown[]) => Promise<void>
      await run(
        tf,
        readFileSync,
        { argv: ['node', 'predict.mjs', join(dir, 'recording.wav')] },
        { log: (s: string) => printed.push(s) },
        `file://${dir}/`,
      )
      expect(printed).toHaveLength(1)
      const answer = JSON.parse(printed[0]) as { label: string; probability: number }[]
      expect(answer.map((a) => a.label)).toEqual(['no', 'yes'])
      // What the app's "try your own sound" answers with this model: its clips' probabilities averaged.
      const pictures = await recordingPictures(wavBytes, specOf(config), size)
      const expected = tf.tidy(() =>
        (model.predict(tf.tensor4d(picturesToInput(pictures, 'rgb/255'), [pictures.length, ...size, 3])) as tf.Tensor)
          .mean(0)
          .arraySync(),
      ) as number[]
      expect(pictures.length).toBe(2)
      expect(Math.abs(expected[0] - expected[1])).toBeGreaterThan(0.01)
      answer.forEach((a, i) => expect(Math.abs(a.probability - expected[i])).toBeLessThan(1e-6))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('the web page snippet', () => {
  it('is valid JavaScript once the function is pasted in, and decodes, mixes and averages the clips', () => {
    const card = soundCard(soundConfig(), [224, 224], 'rgb/255')
    const html = codeBlock(card, 'In a web page')
    const script = html.slice(html.lastIndexOf('<script>') + 8, html.lastIndexOf('</script>'))
    const program = script.replace(
      '// … the clipToInput code from above goes here …',
      codeBlock(card, CLIP_FUNCTION_TITLE),
    )
    expect(() => new Function('tf', 'document', 'AudioContext', program)).not.toThrow()
    expect(script).toMatch(/decodeAudioData/)
    expect(script).toMatch(/numberOfChannels/)
    expect(script).toMatch(/recordingToInput\(mono, audio\.sampleRate\)/)
    expect(script).toMatch(/\.mean\(0\)/)
  })
})
