/**
 * The model card of a trained run: the README.md every export writes (Hugging Face model-card form: YAML front
 * matter, then sections) and the card the app shows, drawn from the same blocks. Pure TypeScript over shared
 * types: no TF.js, no file system, so main builds it for the viewer and the export worker for the README.
 *
 * Every score carries its 95 % Wilson interval (`src/shared/stats.ts`), the one definition Results uses.
 */
import { defaultRunConfig, field, fieldList, getPath } from '../../../shared/run-config'
import { describeStrategy } from '../../../shared/run-rules'
import { describeInterval, type Interval } from '../../../shared/stats'
import { accuracyOf, precisionsOf, recallsOf } from '../../../shared/scores'
import type { ExportCardFacts } from '../../../shared/tasks'
import type { CardBlock, CardSection, Evaluation, ExportFormat, RunCard, RunDetail } from '../../../shared/types'
import type { AudioInputSpec } from '../audio/source'
import { type SoundPreprocess, SNIPPET_MAX_CLIPS, soundClipFunction, soundSnippetNumbers } from './sound-snippet'

/** How the exported files were loaded back and compared with the run's own answers. */
export interface ExportCheck {
  /** Share of test images whose top class is the same. */
  agreement: number
  /** Largest difference in a probability. */
  maxDifference: number
  count: number
  /** ISO 8601. */
  checkedAt: string
  /** For the Teachable Machine folder: agreement when images are fed the way its library crops them. */
  teachableAgreement?: number
}

/** Per class, how many images went where; `train` is null when the split could not be recovered. */
export type SplitCount = NonNullable<ExportCardFacts['splitCounts']>[number]

/** Everything a run's card is built from: the facts main gathers, plus what the export itself knows. */
export interface RunCardInput extends ExportCardFacts {
  parameters: { total: number; trainable: number } | null
  inputSize: [number, number]
  /** Preprocessing of the exported graph's input, in words. */
  preprocessingDescription: string
  format: ExportFormat
  check: ExportCheck | null
  /** Test images whose pixels were all grey (R = G = B), when the export counted them. */
  grayscale?: { gray: number; total: number } | null
  tfjsVersion: string
  /**
   * Sound models only: how a recording became the model's input (metadata.json's `audio`, the settings the run
   * trained with). Its presence makes the card speak of clips and recordings and adds the sound settings.
   */
  audio?: AudioInputSpec | null
}

export const CONFUSION_IMAGE = 'confusion-matrix.png'

const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)} %`
const plural = (n: number, word: string, many = `${word}s`): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`

const backendNames: Record<string, string> = {
  wasm: 'WebAssembly (CPU)',
  cpu: 'plain JavaScript (CPU)',
  tensorflow: 'native TensorFlow (CPU)',
  'tensorflow-gpu': 'native TensorFlow (GPU)',
}

function duration(ms: number | null): string {
  if (ms === null) return 'not recorded'
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`
}

/** The evaluation the card reports: test when the run has a test split, else validation. */
export function reportedEvaluation(run: Pick<RunDetail, 'evaluations'>): Evaluation | null {
  return run.evaluations.find((e) => e.split === 'test') ?? run.evaluations.find((e) => e.split === 'val') ?? null
}

/** Hugging Face's license id for a base model's license ("MIT" → "mit"); "unknown" or "other" otherwise. */
export function hfLicense(base: RunCardInput['base']): { license: string; name?: string; link?: string } {
  const info = base.card.licenseInfo
  const spdx = info?.spdx ?? base.license
  if (!spdx || /^unknown/i.test(spdx)) return { license: 'unknown' }
  const id = spdx.toLowerCase()
  if (['mit', 'apache-2.0', 'bsd-3-clause', 'cc-by-4.0', 'cc0-1.0', 'cc-by-nc-4.0'].includes(id)) return { license: id }
  return { license: 'other', name: spdx, link: info?.url }
}

/** Settings whose value differs from the defaults, labelled from the field table. */
export function changedSettings(
  config: RunCardInput['run']['config'],
): { label: string; value: string; default: string }[] {
  const defaults = defaultRunConfig(config.modelId, config.datasetId, config.name)
  const show = (v: unknown): string => (Array.isArray(v) ? (v.length ? v.join(', ') : 'none') : String(v))
  return fieldList
    .filter((f) => f.path !== 'name')
    .filter((f) => JSON.stringify(getPath(config, f.path)) !== JSON.stringify(getPath(defaults, f.path)))
    .map((f) => {
      const spec = field(f.path)
      const unit = spec.kind === 'number' && spec.unit ? ` ${spec.unit}` : ''
      const label = (v: unknown): string =>
        spec.kind === 'choice' ? (spec.options.find((o) => o.value === v)?.label ?? show(v)) : `${show(v)}${unit}`
      return {
        label: `${spec.label} (${f.path})`,
        value: label(getPath(config, f.path)),
        default: label(f.spec.default),
      }
    })
}

/** The score and its interval in one phrase: "87.5 % (35 of 40), 95 % interval between 73 % and 95 %". */
function scored(i: Interval, many = 'images'): string {
  if (i.trials === 0) return `no ${many}`
  const units = i.clustered ? ` from ${plural(i.clustered.units, 'recording')}` : ''
  return `${pct(i.successes / i.trials)} (${i.successes} of ${i.trials}${units}), 95 % interval ${describeInterval(i)}`
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)
}

/**
 * The confusion matrix as an SVG image: rows are the true class, columns the predicted one, each cell shaded by
 * its share of the row and labelled with its count. Text uses DejaVu Sans (what librsvg finds on Linux).
 */
export function confusionSvg(labels: string[], matrix: number[][]): string {
  const cell = 44
  const charW = 7.2
  const left = 34 + Math.min(220, 10 + Math.max(...labels.map((l) => l.length)) * charW)
  const top = Math.min(220, 40 + Math.max(...labels.map((l) => l.length)) * charW * 0.72)
  const n = labels.length
  // The last column's label leans right, out past the grid.
  const width = Math.max(left + n * cell + 16 + Math.min(160, top - 40), 330)
  const height = top + n * cell + 52
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${left + (n * cell) / 2}" y="16" text-anchor="middle" font-weight="bold">Predicted class</text>`,
    `<text x="14" y="${top + (n * cell) / 2}" text-anchor="middle" font-weight="bold" transform="rotate(-90 14 ${top + (n * cell) / 2})">True class</text>`,
  ]
  labels.forEach((label, j) => {
    const x = left + j * cell + cell / 2
    parts.push(
      `<text x="${x}" y="${top - 6}" transform="rotate(-45 ${x} ${top - 6})" text-anchor="start">${xml(label)}</text>`,
    )
  })
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0)
    const y = top + i * cell
    parts.push(`<text x="${left - 6}" y="${y + cell / 2 + 4}" text-anchor="end">${xml(labels[i])}</text>`)
    row.forEach((count, j) => {
      const share = total ? count / total : 0
      const x = left + j * cell
      // Correct answers in blue, mistakes in red; stronger for a larger share of the row.
      const fill =
        i === j ? `rgba(37, 99, 235, ${0.08 + 0.82 * share})` : `rgba(220, 38, 38, ${count ? 0.1 + 0.8 * share : 0})`
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#d0d5dd"/>`)
      parts.push(
        `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.55 ? '#ffffff' : '#111827'}">${count}</text>`,
      )
    })
  })
  parts.push(
    `<text x="8" y="${height - 26}" fill="#4b5563">Rows: the true class. Columns: what the model said.</text>`,
    `<text x="8" y="${height - 10}" fill="#4b5563">The diagonal holds the right answers.</text>`,
  )
  parts.push('</svg>')
  return parts.join('\n')
}

/** The model's input scaling, read from its description in metadata.json (the words name 127.5 or 255). */
function preprocessOf(input: Pick<RunCardInput, 'preprocessingDescription'>): SoundPreprocess {
  return /127\.5/.test(input.preprocessingDescription) ? 'rgb/127.5-1' : 'rgb/255'
}

function usageBlocks(input: RunCardInput, labels: string[]): CardBlock[] {
  if (input.audio) return soundUsageBlocks(input, input.audio, labels)
  const [h, w] = input.inputSize
  const tm = input.format === 'teachable-machine'
  const scale = tm
    ? '(v) => v / 127 - 1'
    : /127\.5/.test(input.preprocessingDescription)
      ? '(v) => v / 127.5 - 1'
      : '(v) => v / 255'
  const tfScale = tm
    ? '.div(127).sub(1)'
    : /127\.5/.test(input.preprocessingDescription)
      ? '.div(127.5).sub(1)'
      : '.div(255)'
  const web = tm
    ? [
        `<script src="https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@${input.tfjsVersion}/dist/tf.min.js"></script>`,
        '<script src="https://cdn.jsdelivr.net/npm/@teachablemachine/image@0.8.5/dist/teachablemachine-image.min.js"></script>',
        '<img id="photo" src="photo.jpg" />',
        '<script>',
        "  // Teachable Machine's library crops the image to a centre square and scales it itself.",
        "  tmImage.load('model.json', 'metadata.json').then(async (model) => {",
        "    const answers = await model.predict(document.getElementById('photo'))",
        '    console.log(answers) // [{ className, probability }, ...]',
        '  })',
        '</script>',
      ]
    : [
        `<script src="https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@${input.tfjsVersion}/dist/tf.min.js"></script>`,
        '<img id="photo" src="photo.jpg" />',
        '<script>',
        `  const labels = ${JSON.stringify(labels)}`,
        "  tf.loadLayersModel('model.json').then((model) => {",
        "    const img = tf.browser.fromPixels(document.getElementById('photo'))",
        `    const x = tf.tidy(() => tf.image.resizeBilinear(img, [${h}, ${w}])${tfScale}.expandDims(0))`,
        '    const p = model.predict(x).dataSync()',
        '    console.log(labels.map((label, i) => `${label}: ${(p[i] * 100).toFixed(1)} %`))',
        '  })',
        '</script>',
      ]
  const fit = tm ? "{ fit: 'cover' }" : "{ fit: 'fill' }"
  const node = [
    '// Save as predict.mjs next to model.json; npm install @tensorflow/tfjs sharp; node predict.mjs photo.jpg',
    "import * as tf from '@tensorflow/tfjs'",
    "import sharp from 'sharp'",
    "import { readFileSync } from 'node:fs'",
    'const read = (name) => readFileSync(new URL(name, import.meta.url))',
    "const json = JSON.parse(read('model.json')), bin = read('weights.bin')",
    'const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length)',
    'const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }))',
    `const pixels = await sharp(process.argv[2]).rotate().flatten({ background: '#ffffff' }).resize(${w}, ${h}, ${fit}).removeAlpha().raw().toBuffer()`,
    `const p = model.predict(tf.tensor4d(Float32Array.from(pixels, ${scale}), [1, ${h}, ${w}, 3])).dataSync()`,
    "console.log(JSON.stringify(JSON.parse(read('metadata.json')).labels.map((label, i) => ({ label, probability: p[i] }))))",
  ]
  return [
    {
      kind: 'paragraph',
      text: tm
        ? `Input: a ${w}×${h} colour image cropped to a centre square, each value / 127 - 1 (what Teachable Machine's library feeds its models). metadata.json says so too.`
        : `Input: a ${w}×${h} colour image, squashed to that size (not cropped), ${input.preprocessingDescription} metadata.json says so too. Output: one probability per class, in the order of metadata.json's labels.`,
    },
    { kind: 'code', language: 'html', title: 'In a web page', code: web.join('\n') },
    { kind: 'code', language: 'js', title: 'In Node (plain @tensorflow/tfjs)', code: node.join('\n') },
  ]
}

/** Title of the code block holding `clipToInput`: the browser and Node snippets refer to it by this name. */
export const CLIP_FUNCTION_TITLE = 'clipToInput: a recording as the model’s input (paste it before the code below)'

/** Node: a WAV file's samples, mixed to mono, as the app reads them (PCM 8/16/24/32-bit and float 32/64). */
const READ_WAV = [
  'function readWav(buf) {',
  "  if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') throw new Error('not a WAV file')",
  '  let fmt = null',
  '  for (let at = 12; at + 8 <= buf.length; ) {',
  "    const id = buf.toString('latin1', at, at + 4)",
  '    const size = buf.readUInt32LE(at + 4)',
  "    if (id === 'fmt ') {",
  '      let format = buf.readUInt16LE(at + 8)',
  '      if (format === 0xfffe) format = buf.readUInt16LE(at + 32) // WAVE_FORMAT_EXTENSIBLE: the sub-format',
  '      fmt = { format, channels: buf.readUInt16LE(at + 10), rate: buf.readUInt32LE(at + 12), bits: buf.readUInt16LE(at + 22) }',
  "    } else if (id === 'data' && fmt) {",
  '      const { format, channels, rate, bits } = fmt',
  '      const bytes = bits / 8',
  '      const frames = Math.floor(Math.min(size, buf.length - at - 8) / (bytes * channels))',
  '      const read = (o) =>',
  '        format === 3',
  '          ? bits === 64 ? buf.readDoubleLE(o) : buf.readFloatLE(o)',
  '          : bits === 8 ? (buf[o] - 128) / 128',
  '          : bits === 16 ? buf.readInt16LE(o) / 32768',
  '          : bits === 24 ? buf.readIntLE(o, 3) / 8388608',
  '          : buf.readInt32LE(o) / 2147483648',
  '      const samples = new Float32Array(frames)',
  '      for (let i = 0; i < frames; i++) {',
  '        let sum = 0',
  '        for (let c = 0; c < channels; c++) sum += read(at + 8 + (i * channels + c) * bytes)',
  '        samples[i] = sum / channels',
  '      }',
  '      return { samples, sampleRate: rate }',
  '    }',
  '    at += 8 + size + (size % 2)',
  '  }',
  "  throw new Error('no sound data in this WAV file')",
  '}',
].join('\n')

function soundUsageBlocks(input: RunCardInput, audio: AudioInputSpec, labels: string[]): CardBlock[] {
  const [h, w] = input.inputSize
  const clipFunction = soundClipFunction(audio, input.inputSize, preprocessOf(input))
  const clip = `${audio.clip.clipSeconds} s`
  const web = [
    `<script src="https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@${input.tfjsVersion}/dist/tf.min.js"></script>`,
    '<input id="recording" type="file" accept="audio/*" />',
    '<script>',
    '  // … the clipToInput code from above goes here …',
    `  const labels = ${JSON.stringify(labels)}`,
    "  const model = tf.loadLayersModel('model.json')",
    "  document.getElementById('recording').addEventListener('change', async (event) => {",
    '    // The browser decodes the file at its own rate (often 48 kHz); clipToInput resamples that as training did.',
    '    const audio = await new AudioContext().decodeAudioData(await event.target.files[0].arrayBuffer())',
    '    const mono = new Float32Array(audio.length)',
    '    for (let c = 0; c < audio.numberOfChannels; c++)',
    '      audio.getChannelData(c).forEach((v, i) => (mono[i] += v / audio.numberOfChannels))',
    `    // Every ${clip} clip of the recording, its probabilities averaged (as the app does); clipToInput gives the first one only.`,
    '    const x = recordingToInput(mono, audio.sampleRate)',
    '    const m = await model',
    '    const p = tf.tidy(() => m.predict(x).mean(0)).dataSync()',
    '    x.dispose()',
    '    console.log(labels.map((label, i) => `${label}: ${(p[i] * 100).toFixed(1)} %`))',
    '  })',
    '</script>',
  ]
  const node = [
    '// Save as predict.mjs next to model.json; npm install @tensorflow/tfjs; node predict.mjs recording.wav',
    '// Reads WAV (PCM 8/16/24/32-bit or float); convert other formats first, e.g. ffmpeg -i sound.mp3 sound.wav',
    "import * as tf from '@tensorflow/tfjs'",
    "import { readFileSync } from 'node:fs'",
    '// … the clipToInput code from above goes here …',
    READ_WAV,
    'const read = (name) => readFileSync(new URL(name, import.meta.url))',
    "const json = JSON.parse(read('model.json')), bin = read('weights.bin')",
    'const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length)',
    'const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }))',
    'const { samples, sampleRate } = readWav(readFileSync(process.argv[2]))',
    `// Every ${clip} clip of the recording, probabilities averaged; use clipToInput(samples, sampleRate) for the first clip only.`,
    'const p = model.predict(recordingToInput(samples, sampleRate)).mean(0).dataSync()',
    "console.log(JSON.stringify(JSON.parse(read('metadata.json')).labels.map((label, i) => ({ label, probability: p[i] }))))",
  ]
  return [
    {
      kind: 'paragraph',
      text:
        `Input: one ${clip} clip of sound drawn as a ${w}×${h} grey spectrogram picture (see Sound settings), ` +
        `${input.preprocessingDescription} Output: one probability per class, in the order of metadata.json's labels. ` +
        'The function below makes that input from mono samples at any sample rate exactly as Tunewise did in ' +
        'training (same resampling, spectrogram and scaling, the settings written in); it needs only ' +
        `@tensorflow/tfjs. recordingToInput cuts a longer recording into clips the way the app does (at most ${SNIPPET_MAX_CLIPS}, spread evenly). ` +
        "A web page gets a file's samples at the browser's own rate (often 48 kHz), so the sound is resampled twice; " +
        'with a good resampler that moves the picture by far less than one grey level, but for exactly the numbers ' +
        'Tunewise computed, read the file at its own rate as the Node example does.',
    },
    { kind: 'code', language: 'js', title: CLIP_FUNCTION_TITLE, code: clipFunction },
    { kind: 'code', language: 'html', title: 'In a web page', code: web.join('\n') },
    {
      kind: 'code',
      language: 'js',
      title: 'In Node (plain @tensorflow/tfjs, a WAV file read by hand)',
      code: node.join('\n'),
    },
  ]
}

/** A frequency in plain words: "8 kHz", "125 Hz". */
const hz = (f: number): string => (f >= 1000 && f % 100 === 0 ? `${f / 1000} kHz` : `${f} Hz`)
const seconds = (s: number): string => `${Number(s.toFixed(3))} s`

/** The "Sound settings" section: every number that turns a recording into the model's input, in plain words. */
function soundSettingsBlocks(audio: AudioInputSpec, inputSize: [number, number]): CardBlock[] {
  const n = soundSnippetNumbers(audio)
  const [h, w] = inputSize
  const step = n.stepSamples / n.rate
  const overlap = 1 - n.stepSamples / n.clipSamples
  return [
    {
      kind: 'paragraph',
      text:
        'The model hears through pictures: each clip of sound is turned into a log-mel spectrogram (time left to ' +
        'right, pitch from low at the bottom to high at the top, loudness as brightness) and shown to the image ' +
        'network. These are the settings this run trained with; metadata.json holds the same values under "audio".',
    },
    {
      kind: 'table',
      header: ['Setting', 'Value', 'What it means'],
      rows: [
        [
          'Sample rate',
          `${hz(n.rate)} (${n.rate.toLocaleString('en-US')} samples a second), mono`,
          `Every recording is mixed to one channel and resampled to this first, so only sound up to ${hz(n.rate / 2)} reaches the model.`,
        ],
        [
          'Clip length',
          `${seconds(audio.clip.clipSeconds)} (${n.clipSamples.toLocaleString('en-US')} samples)`,
          'The model judges one clip at a time. A shorter recording is padded with silence at the end.',
        ],
        [
          'Clip step (overlap)',
          `${seconds(step)} (${Math.round(overlap * 100)} % overlap)`,
          `A longer recording gives one clip every ${seconds(step)}, the last one only if at least ${seconds(n.minTailSamples / n.rate)} of sound is left.`,
        ],
        [
          'Analysis window',
          `${audio.spectrogram.windowMs} ms (${n.windowSamples} samples, Hann-shaped, FFT of ${n.nFft})`,
          'The slice of sound each column of the spectrogram measures.',
        ],
        [
          'Window step (hop)',
          `${audio.spectrogram.hopMs} ms (${n.hopSamples} samples)`,
          `Time from one column to the next: ${n.frames} columns a clip.`,
        ],
        [
          'Pitch bands',
          `${n.bands} mel bands`,
          'Rows of the spectrogram, spaced as hearing is (HTK mel scale): fine at low pitch, coarse at high pitch.',
        ],
        ['Frequency range', `${hz(n.fMin)} to ${hz(n.fMax)}`, 'Sound outside this range is left out.'],
        [
          'Loudness range',
          `${n.topDb} dB`,
          `Each clip is scaled on its own: its loudest point is white, ${n.topDb} dB below it and anything quieter black ` +
            '(for a very quiet clip, the floor of −100 dB is black instead), so a soft and a loud recording of one sound look alike.',
        ],
        [
          'Picture',
          `${w}×${h} pixels, grey`,
          'The spectrogram stretched to the network’s input (bilinear), the same value in red, green and blue.',
        ],
      ],
    },
  ]
}

/**
 * Builds the card of a trained run from what Tunewise recorded: the same blocks become README.md and the in-app
 * card. Sections: what it does, classes, training, results, confusion matrix, weakest classes, data warnings,
 * intended use, limitations, license, check on export, how to use it.
 */
export function buildRunCard(input: RunCardInput): RunCard {
  const { run, base } = input
  const ev = reportedEvaluation(run)
  const labels = ev?.labels ?? input.splitCounts?.map((c) => c.label) ?? []
  const splitWord = ev?.split === 'val' ? 'validation' : 'test'
  const n = ev ? ev.confusion.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0) : 0
  const accuracy = run.testAccuracy ?? ev?.accuracy ?? null
  // One interval and one recall list for every section that shows them.
  const interval = ev ? accuracyOf(ev) : null
  const recalls = ev ? recallsOf(ev) : []
  // Teachable Machine's format cannot carry a sound model (the export refuses it): a sound card is always TF.js's.
  const tm = input.format === 'teachable-machine' && !input.audio
  const license = hfLicense(base)
  const sections: CardSection[] = []
  // A sound model's examples are clips of recordings; an image model's are images.
  const audio = input.audio ?? null
  const one = audio ? 'clip' : 'image'
  const many = audio ? 'clips' : 'images'
  const Many = audio ? 'Clips' : 'Images'

  sections.push({
    id: 'what-it-does',
    title: 'What it does',
    blocks: [
      {
        kind: 'paragraph',
        text: audio
          ? `${run.name} sorts sounds into ${plural(labels.length, 'class', 'classes')}: ${labels.join(', ')}. ` +
            `It listens to ${audio.clip.clipSeconds} s clips of a recording, each drawn as a spectrogram picture ` +
            `(see Sound settings). It is ${base.name}, an image network, fine-tuned with Tunewise on the sound folder ` +
            `"${input.datasetName}" (run #${run.id}${run.finishedAt ? `, ${run.finishedAt.slice(0, 10)}` : ''}).`
          : `${run.name} sorts images into ${plural(labels.length, 'class', 'classes')}: ${labels.join(', ')}. ` +
            `It is ${base.name} fine-tuned with Tunewise on the image folder "${input.datasetName}" (run #${run.id}` +
            `${run.finishedAt ? `, ${run.finishedAt.slice(0, 10)}` : ''}).`,
      },
      {
        kind: 'paragraph',
        text: tm
          ? "This folder follows Teachable Machine's image format (model.json, weights.bin, metadata.json): Teachable Machine's own library (@teachablemachine/image) loads it."
          : audio
            ? 'This folder is a TensorFlow.js layers model (model.json, weights.bin) with its labels, preprocessing and sound settings in metadata.json.'
            : 'This folder is a TensorFlow.js layers model (model.json, weights.bin) with its labels and preprocessing in metadata.json.',
      },
    ],
  })

  const counts = input.splitCounts
  sections.push({
    id: 'classes',
    title: 'Classes',
    blocks: counts
      ? [
          {
            kind: 'table',
            header: ['Class', `Training ${many}`, `Validation ${many}`, `Test ${many}`, 'Total'],
            numeric: [false, true, true, true, true],
            rows: [
              ...counts.map((c) => [
                c.label,
                c.train === null ? 'not recorded' : String(c.train),
                String(c.val),
                String(c.test),
                c.train === null ? '—' : String(c.train + c.val + c.test),
              ]),
              (() => {
                const sum = (k: 'val' | 'test') => counts.reduce((s, c) => s + c[k], 0)
                const train = counts.every((c) => c.train !== null)
                  ? counts.reduce((s, c) => s + (c.train ?? 0), 0)
                  : null
                return [
                  'All',
                  train === null ? '—' : String(train),
                  String(sum('val')),
                  String(sum('test')),
                  train === null ? '—' : String(train + sum('val') + sum('test')),
                ]
              })(),
            ],
          },
        ]
      : [{ kind: 'paragraph', text: 'The split of this run could not be recovered.' }],
  })

  const changed = changedSettings(run.config)
  const params = input.parameters
  if (audio)
    sections.push({
      id: 'sound-settings',
      title: 'Sound settings',
      blocks: soundSettingsBlocks(audio, input.inputSize),
    })

  sections.push({
    id: 'training',
    title: 'How it was trained',
    blocks: [
      {
        kind: 'list',
        items: [
          `Base model: ${base.name} (${base.id}). ${base.card.trainedOn}`,
          `Strategy: ${describeStrategy(run.config)}.`,
          params
            ? `Trainable parameters: ${params.trainable.toLocaleString('en-US')} of ${params.total.toLocaleString('en-US')} (${pct(params.total ? params.trainable / params.total : 0)}) at the end of training.`
            : 'Trainable parameters: not recorded.',
          `Backend: ${run.backend ? (backendNames[run.backend] ?? run.backend) : 'not recorded'}${run.backendReason ? ` (${run.backendReason})` : ''}.`,
          `Duration: ${duration(run.durationMs)}.`,
        ],
      },
      changed.length
        ? {
            kind: 'table',
            header: ['Setting that differs from the default', 'This run', 'Default'],
            rows: changed.map((c) => [c.label, c.value, c.default]),
          }
        : { kind: 'paragraph', text: 'Every setting was left at its default.' },
    ],
  })

  const resultBlocks: CardBlock[] = []
  if (ev && interval && accuracy !== null) {
    resultBlocks.push({
      kind: 'paragraph',
      text:
        `${splitWord === 'test' ? 'Test' : 'Validation'} accuracy: ${scored(interval, many)}, on ${splitWord} ${many} the model never learned from. ` +
        `The interval is where the accuracy on more ${many} like these most likely lies (95 % Wilson interval): ` +
        `with few ${many} it is wide.` +
        (interval.clustered
          ? ' Clips of one recording sound alike, so the interval counts the recordings, not the clips, as the evidence.'
          : ''),
    })
    const predicted = ev.labels.map((_, j) => ev.confusion.reduce((s, row) => s + (row[j] ?? 0), 0))
    const precisions = precisionsOf(ev)
    resultBlocks.push({
      kind: 'table',
      header: [
        'Class',
        'Recall (found)',
        'Recall 95 % interval',
        'Precision (right when said)',
        'Precision 95 % interval',
        'F1',
        Many,
      ],
      numeric: [false, true, false, true, false, true, true],
      rows: ev.labels.map((label, i) => {
        const tp = ev.confusion[i]?.[i] ?? 0
        const support = ev.confusion[i]?.reduce((a, b) => a + b, 0) ?? 0
        const r = recalls[i]!.recall
        const p = precisions[i]!.precision
        const f1 = ev.perClass.find((c) => c.label === label)?.f1 ?? 0
        return [
          label,
          r.value === null ? '—' : `${pct(r.value)} (${tp}/${support})`,
          r.value === null ? '—' : describeInterval(r),
          p.value === null ? '—' : `${pct(p.value)} (${tp}/${predicted[i]})`,
          p.value === null ? '—' : describeInterval(p),
          f1.toFixed(3),
          String(support),
        ]
      }),
    })
  } else {
    resultBlocks.push({ kind: 'paragraph', text: 'This run has no test or validation results.' })
  }
  sections.push({ id: 'results', title: 'Results', blocks: resultBlocks })

  sections.push({
    id: 'confusion-matrix',
    title: 'Confusion matrix',
    blocks: ev
      ? [
          {
            kind: 'image',
            file: CONFUSION_IMAGE,
            alt: `Confusion matrix on the ${n} ${splitWord} ${many}: rows are the true class, columns the predicted class`,
          },
          {
            kind: 'table',
            header: ['True \\ predicted', ...ev.labels],
            numeric: [false, ...ev.labels.map(() => true)],
            rows: ev.labels.map((l, i) => [l, ...(ev.confusion[i] ?? []).map(String)]),
          },
        ]
      : [{ kind: 'paragraph', text: 'No evaluation, so no confusion matrix.' }],
  })

  const weakest: string[] = []
  if (ev) {
    const rows = ev.labels
      .map((label, i) => {
        const row = ev.confusion[i] ?? []
        const support = row.reduce((a, b) => a + b, 0)
        const tp = row[i] ?? 0
        let worst = -1
        row.forEach((c, j) => {
          if (j !== i && c > 0 && (worst < 0 || c > row[worst])) worst = j
        })
        return { label, tp, support, share: support ? tp / support : 1, recall: recalls[i]!.recall, worst }
      })
      .filter((r) => r.support > 0)
      .sort((a, b) => a.share - b.share || a.label.localeCompare(b.label))
    const missed = rows.filter((r) => r.tp < r.support).slice(0, 3)
    for (const r of missed) {
      const row = ev.confusion[ev.labels.indexOf(r.label)] ?? []
      weakest.push(
        `${r.label}: found ${scored(r.recall, many)}` +
          (r.worst >= 0 ? `; most often taken for ${ev.labels[r.worst]} (${row[r.worst]} of ${r.support}).` : '.'),
      )
    }
    if (!missed.length && rows.length) {
      const lowest = Math.min(...rows.map((r) => r.recall.low))
      weakest.push(
        `None: every ${splitWord} ${one} of every class was right. With this few ${many} per class, a class's true ` +
          `recall could still be as low as ${pct(lowest, 0)}.`,
      )
    }
  }
  sections.push({
    id: 'weakest-classes',
    title: 'Weakest classes',
    blocks: [weakest.length ? { kind: 'list', items: weakest } : { kind: 'paragraph', text: 'No evaluation.' }],
  })

  const dataWarnings: string[] = [...(input.dataset?.warnings ?? [])]
  if (input.dataset?.tinyClasses.length)
    dataWarnings.push(
      `Classes with very few ${audio ? 'recordings' : 'images'}: ${input.dataset.tinyClasses.join(', ')}.`,
    )
  if (input.dataset?.duplicates.length)
    dataWarnings.push(
      `${plural(input.dataset.duplicates.length, 'group')} of identical ${audio ? 'recordings' : 'images'} in the folder` +
        `${input.dataset.duplicates.some((d) => d.crossClass) ? ', some filed under different classes' : ''}.`,
    )
  if (counts && counts.every((c) => c.train !== null)) {
    const trains = counts.map((c) => c.train ?? 0)
    const lo = Math.min(...trains)
    const hi = Math.max(...trains)
    if (lo > 0 && hi / lo >= 3)
      dataWarnings.push(
        `Unbalanced classes: from ${lo} to ${hi} training ${many} per class; the model leans towards the larger ones.`,
      )
  }
  sections.push({
    id: 'data-warnings',
    title: 'Data warnings',
    blocks: [
      dataWarnings.length
        ? { kind: 'list', items: dataWarnings }
        : {
            kind: 'paragraph',
            text: input.dataset
              ? 'None: the data report found nothing to warn about.'
              : 'The data report is no longer available.',
          },
    ],
  })

  sections.push({
    id: 'intended-use',
    title: 'Intended use',
    blocks: [
      {
        kind: 'paragraph',
        text: input.intendedUse?.trim()
          ? input.intendedUse.trim()
          : 'Not stated: the person who exported this model did not say what it is for.',
      },
    ],
  })

  const limits: string[] = []
  if (counts && counts.every((c) => c.train !== null)) {
    const trains = counts.map((c) => c.train ?? 0)
    const lo = Math.min(...trains)
    const hi = Math.max(...trains)
    limits.push(
      lo === hi
        ? `It ${audio ? 'heard' : 'saw'} only ${plural(lo, one)} per class while training.`
        : `It ${audio ? 'heard' : 'saw'} only ${lo} to ${hi} ${many} per class while training.`,
    )
  }
  const sizes = input.dataset?.sizes
  const [h, w] = input.inputSize
  const grey = input.grayscale
  const allGrey = grey && grey.total > 0 && grey.gray === grey.total
  if (audio) {
    limits.push(
      'Recordings unlike the training ones may fare worse: another microphone or phone, another room, more or ' +
        'different background noise, the sound nearer or further away, or louder sounds that distort.',
      `It hears only ${hz(audio.spectrogram.fMin)} to ${hz(audio.spectrogram.fMax ?? audio.clip.sampleRate / 2)}, ` +
        `${audio.clip.clipSeconds} s at a time: a sound told apart by higher pitches, or by a pattern longer than a clip, is beyond it.`,
      'Each clip is scaled to its own loudest point, so it cannot tell a loud sound from a soft one, and a clip ' +
        'of near silence shows its faint noise at full brightness.',
    )
  } else if (sizes && sizes.maxWidth > 0) {
    const same = sizes.minWidth === sizes.maxWidth && sizes.minHeight === sizes.maxHeight
    limits.push(
      (same
        ? `Every image was ${allGrey ? 'grayscale ' : ''}${sizes.minWidth}×${sizes.minHeight} pixels`
        : `Images were ${allGrey ? 'grayscale, ' : ''}from ${sizes.minWidth}×${sizes.minHeight} to ${sizes.maxWidth}×${sizes.maxHeight} pixels (median ${sizes.medianWidth}×${sizes.medianHeight})`) +
        `, squashed to ${w}×${h}: pictures unlike these (other sizes, framing${allGrey ? ', colour' : ''}) may fare worse.`,
    )
  } else if (allGrey) {
    limits.push('All test images were grayscale: it has not been checked on colour pictures.')
  }
  limits.push(
    `It always answers one of its ${plural(labels.length, 'class', 'classes')}, even for ${audio ? 'a sound' : 'a picture'} of something else${audio ? ' or silence' : ''}; a low top probability is a hint that it does not know.`,
  )
  if (interval && n > 0) {
    limits.push(
      `The ${splitWord} set has ${plural(n, one)}${audio ? ' (clips of one recording always share a split)' : ''}, so the accuracy above is only known to lie ${describeInterval(interval)}.`,
    )
  }
  if (tm)
    limits.push(
      "Teachable Machine's library crops every picture to a centre square before the model sees it, while Tunewise " +
        'trained on whole pictures squashed to a square: for wide or tall pictures, crop them to a square yourself or expect different answers.',
    )
  limits.push(`From the base model: ${base.card.limitations}`)
  sections.push({ id: 'limitations', title: 'Limitations', blocks: [{ kind: 'list', items: limits }] })

  const info = base.card.licenseInfo
  sections.push({
    id: 'license',
    title: 'License',
    blocks: [
      {
        kind: 'paragraph',
        text:
          `Inherited from the base model ${base.name}: ${info?.spdx && info.spdx !== 'unknown' ? info.spdx : base.license}. ` +
          `${info?.summary ?? ''}${info?.url ? ` License text: ${info.url}` : ''}`.trim(),
      },
      ...(license.license === 'unknown'
        ? [
            {
              kind: 'paragraph' as const,
              text: 'Warning: the base model states no license, so nobody can say yet who may use this model or how. Find out before you share or sell it.',
            },
          ]
        : []),
    ],
  })

  const check = input.check
  sections.push({
    id: 'check',
    title: 'Checked on export',
    blocks: [
      {
        kind: 'paragraph',
        text: check
          ? `On ${check.checkedAt.slice(0, 10)} Tunewise loaded these files back with plain @tensorflow/tfjs in a separate process and ` +
            `re-predicted the ${plural(check.count, `${splitWord} ${one}`)}: the top class agreed on ${pct(check.agreement)} of them ` +
            `and the largest difference in a probability was ${check.maxDifference.toExponential(1)}` +
            (check.agreement >= 0.999 && check.maxDifference < 1e-3
              ? ': the export gives the same answers as the app.'
              : ': the export does NOT give the same answers as the app; do not use it before finding out why.') +
            (check.teachableAgreement !== undefined
              ? ` Fed the way Teachable Machine's library prepares pictures (centre square), it agreed on ${pct(check.teachableAgreement)}.`
              : '')
          : "Not checked yet: Tunewise loads the exported files back and compares their answers with the run's when it exports them; the README in the export folder records the result.",
      },
    ],
  })

  sections.push({ id: 'usage', title: 'How to use it', blocks: usageBlocks(input, labels) })

  const frontMatter: Record<string, unknown> = {
    license: license.license,
    ...(license.name ? { license_name: license.name } : {}),
    ...(license.link ? { license_link: license.link } : {}),
    base_model: base.id,
    pipeline_tag: audio ? 'audio-classification' : 'image-classification',
    tags: [
      audio ? 'audio-classification' : 'image-classification',
      'tensorflowjs',
      'tfjs',
      'tunewise',
      ...(tm ? ['teachable-machine'] : []),
      ...(audio ? ['spectrogram'] : []),
    ],
    datasets: [input.datasetName],
    metrics: ['accuracy'],
    'model-index': [
      {
        name: run.name,
        results: ev
          ? [
              {
                task: audio
                  ? { type: 'audio-classification', name: 'Audio classification' }
                  : { type: 'image-classification', name: 'Image classification' },
                dataset: {
                  name: input.datasetName,
                  type: audio ? 'audiofolder' : 'imagefolder',
                  split: splitWord === 'test' ? 'test' : 'validation',
                },
                metrics: [
                  {
                    type: 'accuracy',
                    value: accuracy,
                    name: splitWord === 'test' ? 'Test accuracy' : 'Validation accuracy',
                  },
                ],
              },
            ]
          : [],
      },
    ],
  }
  const title = audio
    ? `${run.name}: a sound classifier fine-tuned from ${base.name}`
    : `${run.name}: an image classifier fine-tuned from ${base.name}`
  const card: Omit<RunCard, 'markdown'> = {
    title,
    frontMatter,
    sections,
    confusionSvg: ev ? confusionSvg(ev.labels, ev.confusion) : null,
  }
  return { ...card, markdown: renderMarkdown(card) }
}

// ---------------------------------------------------------------- YAML and Markdown

/** A YAML scalar: strings double-quoted as JSON (valid YAML), numbers and booleans bare. */
function yamlScalar(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(String(v))
}

/** Block-style YAML for the nested objects and arrays of a model card's metadata. */
export function toYaml(value: unknown, indent = 0): string {
  const pad = ' '.repeat(indent)
  if (Array.isArray(value)) {
    if (!value.length) return `${pad}[]`
    return value
      .map((item) => {
        if (item !== null && typeof item === 'object') {
          const body = toYaml(item, indent + 2).trimStart()
          return `${pad}- ${body}`
        }
        return `${pad}- ${yamlScalar(item)}`
      })
      .join('\n')
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => {
        if (Array.isArray(v) && !v.length) return `${pad}${k}: []`
        if (v !== null && typeof v === 'object') return `${pad}${k}:\n${toYaml(v, indent + 2)}`
        return `${pad}${k}: ${yamlScalar(v)}`
      })
      .join('\n')
  }
  return `${pad}${yamlScalar(value)}`
}

const URL_RE = /(https?:\/\/[^\s)]+)/g

/** Escapes Markdown's inline syntax in plain text, leaving URLs whole so they stay links. */
export function mdText(text: string): string {
  return text
    .split(URL_RE)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/([\\`*_[\]<>#|])/g, '\\$1')))
    .join('')
}

function mdBlock(b: CardBlock): string {
  switch (b.kind) {
    case 'paragraph':
      return mdText(b.text)
    case 'list':
      return b.items.map((i) => `- ${mdText(i)}`).join('\n')
    case 'table': {
      const cell = (t: string) => mdText(t.replace(/\r?\n/g, ' '))
      const align = b.header.map((_, i) => (b.numeric?.[i] ? '---:' : '---'))
      return [
        `| ${b.header.map(cell).join(' | ')} |`,
        `| ${align.join(' | ')} |`,
        ...b.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
      ].join('\n')
    }
    case 'image':
      return `![${mdText(b.alt)}](${b.file})`
    case 'code': {
      const fence = b.code.includes('```') ? '~~~~' : '```'
      return `**${mdText(b.title)}**\n\n${fence}${b.language}\n${b.code}\n${fence}`
    }
  }
}

/** README.md: the front matter, the title, then every section. */
export function renderMarkdown(card: Omit<RunCard, 'markdown'>): string {
  const parts = [`---\n${toYaml(card.frontMatter)}\n---`, `# ${mdText(card.title)}`]
  for (const s of card.sections) parts.push(`## ${mdText(s.title)}`, ...s.blocks.map(mdBlock))
  parts.push(
    '_Written by Tunewise. Sections follow the Hugging Face model card; the figures come from the run itself._',
  )
  return `${parts.join('\n\n')}\n`
}
