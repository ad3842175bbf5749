/**
 * The model card of a trained run (README.md of every export) and the drafted card of an imported model.
 * The run here is built by hand so each section can be checked against numbers worked out independently;
 * test/integration/export-formats.test.ts checks the same sections on a real run.
 */
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import {
  buildRunCard,
  changedSettings,
  confusionSvg,
  mdText,
  type RunCardInput,
} from '../../src/main/ml/export/model-card'
import { clipSettingsOf, spectrogramSettingsOf } from '../../src/main/ml/audio/settings'
import { catalogue, licenseFromName } from '../../src/main/ml/models/catalogue'
import { draftImportedCard, frontMatterScalars, type ImportFacts } from '../../src/main/ml/models/import'
import { completeCard } from '../../src/main/ml/models/load'
import { defaultRunConfig } from '../../src/shared/run-config'
import { accuracyOf } from '../../src/shared/scores'
import { describeInterval, wilson } from '../../src/shared/stats'
import type { Evaluation, ModelCard, RunCard } from '../../src/shared/types'

const labels = ['cat', 'dog', 'fox']
// confusion[true][predicted]: cat 9/10 right, dog 6/10 (4 taken for cat), fox 10/10.
const confusion = [
  [9, 1, 0],
  [4, 6, 0],
  [0, 0, 10],
]
const evaluation: Evaluation = {
  split: 'test',
  accuracy: 25 / 30,
  loss: 0.4,
  labels,
  perClass: [
    { label: 'cat', precision: 9 / 13, recall: 0.9, f1: 0.78, support: 10 },
    { label: 'dog', precision: 6 / 7, recall: 0.6, f1: 0.71, support: 10 },
    { label: 'fox', precision: 1, recall: 1, f1: 1, support: 10 },
  ],
  confusion,
  misclassified: [],
  predictions: [],
}
const base = catalogue.find((e) => e.card.id === 'mobilenet-v2-nsfwjs')!.card
const config = defaultRunConfig('mobilenet-v2-nsfwjs', 'ds_1', 'Pets v1')
config.hyper.learningRate = 0.003
config.hyper.epochs = 20

function input(over: Partial<RunCardInput> = {}): RunCardInput {
  return {
    run: {
      id: 7,
      name: 'Pets v1',
      config,
      evaluations: [evaluation],
      backend: 'wasm',
      backendReason: 'wasm (skipped tensorflow: not installed)',
      durationMs: 83_000,
      finishedAt: '2026-11-30T10:00:00.000Z',
      testAccuracy: 25 / 30,
    },
    base,
    datasetName: 'pets',
    splitCounts: [
      { label: 'cat', train: 40, val: 10, test: 10 },
      { label: 'dog', train: 40, val: 10, test: 10 },
      { label: 'fox', train: 40, val: 10, test: 10 },
    ],
    dataset: {
      warnings: ['3 images are smaller than 32 pixels.'],
      tinyClasses: [],
      sizes: { minWidth: 56, maxWidth: 56, minHeight: 56, maxHeight: 56, medianWidth: 56, medianHeight: 56 },
      duplicates: [{ hash: 'x', files: ['cat/a.png', 'dog/a.png'], crossClass: true }],
    },
    parameters: { total: 2_261_827, trainable: 3_843 },
    inputSize: [224, 224],
    preprocessingDescription: 'RGB, each value divided by 255 (range 0 to 1), no mean subtraction.',
    format: 'tfjs',
    intendedUse: 'Sorting my own pet photos.',
    check: { agreement: 1, maxDifference: 2e-7, count: 30, checkedAt: '2026-11-30T10:05:00.000Z' },
    grayscale: { gray: 30, total: 30 },
    tfjsVersion: '4.22.0',
    ...over,
  }
}

function section(card: RunCard, id: string): string {
  const s = card.sections.find((x) => x.id === id)
  expect(s, id).toBeDefined()
  return JSON.stringify(s!.blocks)
}

function frontMatter(markdown: string): Record<string, unknown> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(markdown)
  expect(m).not.toBeNull()
  return parseYaml(m![1]) as Record<string, unknown>
}

describe('the run card (README.md)', () => {
  const card = buildRunCard(input())

  it('opens with Hugging Face front matter that parses: license inherited, base model, tags, datasets, model-index', () => {
    const fm = frontMatter(card.markdown)
    expect(fm.license).toBe('mit')
    expect(fm.base_model).toBe('mobilenet-v2-nsfwjs')
    expect(fm.tags).toEqual(expect.arrayContaining(['image-classification', 'tfjs', 'tunewise']))
    expect(fm.datasets).toEqual(['pets'])
    expect(fm.metrics).toEqual(['accuracy'])
    const index = fm['model-index'] as {
      name: string
      results: {
        task: { type: string }
        dataset: { name: string; split: string }
        metrics: { type: string; value: number }[]
      }[]
    }[]
    expect(index[0].name).toBe('Pets v1')
    expect(index[0].results[0].task.type).toBe('image-classification')
    expect(index[0].results[0].dataset).toMatchObject({ name: 'pets', split: 'test' })
    expect(index[0].results[0].metrics[0]).toEqual({ type: 'accuracy', value: 25 / 30, name: 'Test accuracy' })
  })

  it('has every section, in order, each as a Markdown heading', () => {
    const ids = card.sections.map((s) => s.id)
    expect(ids).toEqual([
      'what-it-does',
      'classes',
      'training',
      'results',
      'confusion-matrix',
      'weakest-classes',
      'data-warnings',
      'intended-use',
      'limitations',
      'license',
      'check',
      'usage',
    ])
    for (const s of card.sections) expect(card.markdown).toContain(`\n## ${s.title}\n`)
  })

  it('what it does: the classes, the base model and the dataset', () => {
    const text = card.sections[0].blocks.map((b) => (b.kind === 'paragraph' ? b.text : '')).join(' ')
    expect(text).toMatch(/3 classes: cat, dog, fox.*MobileNetV2 \(bundled\).*"pets" \(run #7/)
  })

  it('classes: images per class and split with a total row', () => {
    const t = card.sections.find((s) => s.id === 'classes')!.blocks[0]
    expect(t).toMatchObject({ kind: 'table' })
    if (t.kind !== 'table') return
    expect(t.rows).toContainEqual(['cat', '40', '10', '10', '60'])
    expect(t.rows.at(-1)).toEqual(['All', '120', '30', '30', '180'])
  })

  it('training: strategy, trainable parameters, backend, duration and only the settings that differ', () => {
    const text = section(card, 'training')
    expect(text).toContain('Strategy: New head only.')
    expect(text).toContain('Trainable parameters: 3,843 of 2,261,827')
    expect(text).toContain('WebAssembly')
    expect(text).toContain('Duration: 1 min 23 s')
    const changed = changedSettings(config).map((c) => c.label)
    expect(changed).toHaveLength(2)
    expect(changed.join()).toMatch(/hyper\.learningRate/)
    expect(changed.join()).toMatch(/hyper\.epochs/)
    expect(text).toContain('0.003')
  })

  it('results: every score with its Wilson interval from shared/stats', () => {
    const text = section(card, 'results')
    expect(text).toContain(`83.3 % (25 of 30), 95 % interval ${describeInterval(wilson(25, 30))}`)
    // dog: recall 6 of 10, precision 6 of 7 (predicted dog: 1 + 6).
    expect(text).toContain(describeInterval(wilson(6, 10)))
    expect(text).toContain(describeInterval(wilson(6, 7)))
    // cat: precision 9 of 13 (9 + 4 predicted cat).
    expect(text).toContain('(9/13)')
  })

  it('confusion matrix: an image file the export writes, and the counts as a table', async () => {
    const blocks = card.sections.find((s) => s.id === 'confusion-matrix')!.blocks
    expect(blocks[0]).toMatchObject({ kind: 'image', file: 'confusion-matrix.png' })
    expect(card.markdown).toContain('](confusion-matrix.png)')
    const png = await sharp(Buffer.from(card.confusionSvg!)).png().toBuffer()
    const meta = await sharp(png).metadata()
    expect(meta.format).toBe('png')
    expect(meta.width).toBeGreaterThan(3 * 44)
    expect(JSON.stringify(blocks[1])).toContain('["dog","4","6","0"]')
  })

  it('weakest classes: lowest recall first, with what it is taken for', () => {
    const text = section(card, 'weakest-classes')
    expect(text.indexOf('dog')).toBeLessThan(text.indexOf('cat'))
    expect(text).toContain('most often taken for cat (4 of 10)')
    expect(text).not.toMatch(/fox: found/)
  })

  it('data warnings: the report, duplicates across classes', () => {
    const text = section(card, 'data-warnings')
    expect(text).toContain('3 images are smaller than 32 pixels.')
    expect(text).toContain('1 group of identical images in the folder, some filed under different classes')
  })

  it('intended use: the words typed on export, or a plain "not stated"', () => {
    expect(section(card, 'intended-use')).toContain('Sorting my own pet photos.')
    expect(section(buildRunCard(input({ intendedUse: '  ' })), 'intended-use')).toContain('Not stated')
  })

  it('limitations: drafted from the data (images per class, grayscale, size), closed set, base model', () => {
    const text = section(card, 'limitations')
    expect(text).toContain('It saw only 40 images per class while training.')
    expect(text).toContain('Every image was grayscale 56×56 pixels, squashed to 224×224')
    expect(text).toContain('always answers one of its 3 classes')
    expect(text).toContain('From the base model:')
  })

  it('license: inherited from the base, with the plain summary and a link', () => {
    const text = section(card, 'license')
    expect(text).toContain('Inherited from the base model MobileNetV2 (bundled): MIT.')
    expect(text).toContain('inside a paid app')
    expect(text).toContain('https://github.com/infinitered/nsfwjs/blob/master/LICENSE')
  })

  it('check on export: the result recorded, and "not checked yet" without one', () => {
    expect(section(card, 'check')).toMatch(/agreed on 100\.0 % .*2\.0e-7: the export gives the same answers/)
    const bad = buildRunCard(input({ check: { agreement: 0.9, maxDifference: 0.3, count: 30, checkedAt: 'x' } }))
    expect(section(bad, 'check')).toContain('does NOT give the same answers')
    expect(section(buildRunCard(input({ check: null })), 'check')).toContain('Not checked yet')
  })

  it('usage: a web page and a Node snippet of about ten lines each, with the scaling of this model', () => {
    const blocks = card.sections.find((s) => s.id === 'usage')!.blocks.filter((b) => b.kind === 'code')
    expect(blocks).toHaveLength(2)
    for (const b of blocks) if (b.kind === 'code') expect(b.code.split('\n').length).toBeLessThanOrEqual(12)
    expect(JSON.stringify(blocks)).toContain('.div(255)')
    expect(JSON.stringify(blocks)).toContain('[1, 224, 224, 3]')
  })

  it('an unknown base license stays unknown in the front matter and warns', () => {
    const tmBase = catalogue.find((e) => e.card.id === 'mobilenet-v2-tm-224')!.card
    const c = buildRunCard(input({ base: tmBase }))
    expect(frontMatter(c.markdown).license).toBe('unknown')
    expect(section(c, 'license')).toContain('Warning: the base model states no license')
  })

  it('the Teachable Machine flavour says how TM crops, and uses its library in the web snippet', () => {
    const c = buildRunCard(input({ format: 'teachable-machine' }))
    expect(frontMatter(c.markdown).tags).toContain('teachable-machine')
    expect(section(c, 'limitations')).toContain('centre square')
    expect(section(c, 'usage')).toContain('tmImage.load')
  })

  it('escapes Markdown in class names and keeps URLs whole', () => {
    expect(mdText('a_b *c* <d> see https://x.org/a_b')).toBe('a\\_b \\*c\\* \\<d\\> see https://x.org/a_b')
    const svg = confusionSvg(
      ['<cat>', 'dog'],
      [
        [1, 0],
        [0, 1],
      ],
    )
    expect(svg).toContain('&lt;cat&gt;')
  })
})

describe('the card of a sound run', () => {
  const soundConfig = defaultRunConfig('mobilenet-v2-nsfwjs', 'ds_2', 'Words v1')
  soundConfig.dataKind = 'audio'
  // Not the defaults, so every number shown is seen to come from the run's settings.
  soundConfig.sound = {
    ...soundConfig.sound,
    clipSeconds: 1.5,
    clipOverlap: 0.5,
    windowMs: 40,
    hopMs: 15,
    melBands: 48,
    fMin: 125,
    fMax: 6000,
    topDb: 55,
  }
  const audio = { clip: clipSettingsOf(soundConfig), spectrogram: spectrogramSettingsOf(soundConfig) }
  const soundInput = (over: Partial<RunCardInput> = {}): RunCardInput =>
    input({
      run: { ...input().run, name: 'Words v1', config: soundConfig },
      datasetName: 'spoken-words',
      dataset: {
        warnings: [],
        tinyClasses: ['fox'],
        sizes: { minWidth: 0, maxWidth: 0, minHeight: 0, maxHeight: 0, medianWidth: 0, medianHeight: 0 },
        duplicates: [{ hash: 'x', files: ['cat/a.wav', 'dog/a.wav'], crossClass: true }],
      },
      grayscale: null,
      intendedUse: 'Telling spoken commands apart.',
      audio,
      ...over,
    })
  const card = buildRunCard(soundInput())

  it('is tagged and titled as a sound classifier', () => {
    const fm = frontMatter(card.markdown)
    expect(fm.pipeline_tag).toBe('audio-classification')
    expect(fm.tags).toEqual(expect.arrayContaining(['audio-classification', 'spectrogram']))
    const result = (fm['model-index'] as { results: { task: { type: string }; dataset: { type: string } }[] }[])[0]
      .results[0]
    expect(result.task.type).toBe('audio-classification')
    expect(result.dataset.type).toBe('audiofolder')
    expect(card.title).toContain('sound classifier')
  })

  it('lists the sound settings the run used, with units, right after the classes', () => {
    expect(card.sections.map((s) => s.id).slice(0, 3)).toEqual(['what-it-does', 'classes', 'sound-settings'])
    const text = section(card, 'sound-settings')
    for (const shown of [
      '16 kHz',
      '1.5 s (24,000 samples)',
      '0.75 s (50 % overlap)',
      '40 ms (640 samples, Hann-shaped, FFT of 1024)',
      '15 ms (240 samples)',
      '48 mel bands',
      '125 Hz to 6 kHz',
      '55 dB',
      '224×224 pixels',
    ])
      expect(text).toContain(shown)
    expect(card.markdown).toContain('## Sound settings')
  })

  it('counts clips and recordings, and names what differs in sound (microphones, background noise)', () => {
    expect(section(card, 'classes')).toContain('Training clips')
    expect(section(card, 'what-it-does')).toContain('sorts sounds into 3 classes')
    expect(section(card, 'results')).toContain('on test clips the model never learned from')
    expect(section(card, 'data-warnings')).toContain('Classes with very few recordings: fox.')
    expect(section(card, 'limitations')).toContain('It heard only 40 clips per class')
    expect(section(card, 'limitations')).toMatch(/microphone[\s\S]*background noise/)
    expect(section(card, 'check')).toContain('re-predicted the 30 test clips')
  })

  it("never calls its input a photo or an image (the base model's own story aside)", () => {
    const prose = card.sections
      .flatMap((s) => s.blocks)
      .filter((b) => b.kind !== 'code')
      // The words a reader sees (a picture block's alt text, not its kind).
      .map((b) => (b.kind === 'image' ? b.alt : JSON.stringify(b)))
      .join('\n')
      .replace(base.card.trainedOn, '')
      .replace(base.card.limitations, '')
      .replace(/an image network|the image network/g, '')
      // The settings table: dataKind is "Sound recordings" where the default is "Images".
      .replace('"Sound recordings","Images"', '')
    expect(prose).not.toMatch(/photo|\bimages?\b/i)
    expect(card.markdown).not.toMatch(/photo\.jpg|sharp|fromPixels/)
  })

  it("usage: the clip function, a web page and a Node snippet, written with the run's numbers", () => {
    const blocks = card.sections.find((s) => s.id === 'usage')!.blocks.filter((b) => b.kind === 'code')
    expect(blocks.map((b) => b.kind === 'code' && b.language)).toEqual(['js', 'html', 'js'])
    const fn = blocks[0].kind === 'code' ? blocks[0].code : ''
    for (const line of ['const CLIP = 24000', 'const STEP = 12000', 'const WINDOW = 640', 'const HOP = 240'])
      expect(fn).toContain(line)
    expect(fn).toContain('const TOP_DB = 55')
    expect(fn).not.toMatch(/require\(|import /)
    expect(section(card, 'usage')).toContain('decodeAudioData')
    expect(section(card, 'usage')).toContain('readWav')
  })

  it('states the intervals over recordings when clips share them', () => {
    // The same confusion matrix, each class's 10 clips from 2 recordings of 5: far less evidence than 30 clips.
    const predictions = labels.flatMap((t, i) =>
      labels
        .flatMap((p, j) =>
          Array.from({ length: confusion[i]![j]! }, () => ({ trueLabel: t, predicted: p, confidence: 0.9 })),
        )
        .map((x, k) => ({ ...x, file: `${t}/rec${k < 5 ? 1 : 2}.wav#t=${k % 5},${(k % 5) + 1}` })),
    )
    const run = { ...soundInput().run, evaluations: [{ ...evaluation, predictions }] }
    const clustered = buildRunCard(soundInput({ run }))
    const results = section(clustered, 'results')
    expect(results).toContain('(25 of 30 from 6 recordings)')
    expect(results).toContain('counts the recordings, not the clips')
    const interval = accuracyOf(run.evaluations[0]!)
    expect(interval.clustered!.units).toBe(6)
    expect(results).toContain(describeInterval(interval))
    expect(describeInterval(interval)).not.toBe(describeInterval(wilson(25, 30)))
    // Without shared recordings the card keeps the plain interval.
    expect(section(card, 'results')).toContain(`(25 of 30), 95 % interval ${describeInterval(wilson(25, 30))}`)
  })

  it('is always the TF.js card: Teachable Machine cannot carry a sound model', () => {
    const c = buildRunCard(soundInput({ format: 'teachable-machine' }))
    expect(c.markdown).not.toMatch(/Teachable Machine|tmImage/)
    expect(c.markdown).toContain('clipToInput')
  })

  it("an image run's card has no sound section and no clips", () => {
    const image = buildRunCard(input())
    expect(image.sections.some((s) => s.id === 'sound-settings')).toBe(false)
    expect(image.markdown).not.toMatch(/\bclips?\b|recording/i)
    expect(frontMatter(image.markdown).pipeline_tag).toBe('image-classification')
  })
})

describe('catalogue cards in plain words', () => {
  it('every supported model has every field, a license summary saying whether it may be sold, and a source', () => {
    for (const e of catalogue.filter((x) => x.card.supported)) {
      const c = e.card.card
      for (const f of [c.summary, c.trainedOn, c.input, c.preprocessing, c.size, c.limitations, c.origin])
        expect(f?.length ?? 0, `${e.card.id}`).toBeGreaterThan(10)
      expect(c.licenseInfo?.summary.length).toBeGreaterThan(20)
      expect(['yes', 'no', 'unknown']).toContain(c.licenseInfo?.commercialUse)
      expect(c.origin).toMatch(/https:\/\//)
    }
  })

  it('tells the nsfwjs story plainly: ImageNet, then a content rating, rating head removed, general features', () => {
    const v2 = catalogue.find((e) => e.card.id === 'mobilenet-v2-nsfwjs')!.card.card
    expect(v2.trainedOn).toMatch(/ImageNet/)
    expect(v2.trainedOn).toMatch(/nsfwjs project/)
    expect(v2.trainedOn).toMatch(/removes that rating layer/)
    expect(v2.trainedOn).toMatch(/general image features/)
    expect(v2.licenseInfo).toMatchObject({ spdx: 'MIT', commercialUse: 'yes', attribution: 'yes' })
  })

  it('license names map to summaries; anything unrecognised stays unknown', () => {
    expect(licenseFromName('Apache License 2.0').info.spdx).toBe('Apache-2.0')
    expect(licenseFromName('mit').kind).toBe('permissive')
    expect(licenseFromName('cc-by-nc-4.0')).toMatchObject({ kind: 'non-commercial', info: { commercialUse: 'no' } })
    expect(licenseFromName('My Own License')).toMatchObject({ kind: 'unknown', info: { commercialUse: 'unknown' } })
  })
})

describe('the drafted card of an imported model', () => {
  const facts = (over: Partial<ImportFacts> = {}): ImportFacts => ({
    folder: '/home/me/models/plants',
    json: {
      modelTopology: { model_config: { class_name: 'Model', config: { name: 'plants' } } },
      generatedBy: 'keras v2.4',
    } as never,
    meta: {},
    hasMetadata: false,
    readme: {},
    inputSize: [160, 160],
    parameters: 1_000_000,
    weightBytes: 4_000_000,
    featureLayer: 'pool',
    featureDim: 576,
    preprocess: 'rgb/255',
    ...over,
  })

  it('marks what the files do not say as unknown and warns on an unknown license', () => {
    const card = draftImportedCard(facts())
    expect(card.card.unknown).toEqual(expect.arrayContaining(['trainedOn', 'preprocessing', 'license', 'limitations']))
    expect(card.card.trainedOn).toMatch(/^unknown/)
    expect(card.licenseKind).toBe('unknown')
    expect(card.card.warnings?.[0]).toMatch(/license is unknown/)
    expect(card.card.size).toBe('1,000,000 parameters, 4.0 MB of weights.')
    expect(card.card.input).toContain('160×160')
    expect(card.card.origin).toContain('keras v2.4')
  })

  it('reads the license from a README front matter or a LICENSE file, and labels from metadata.json', () => {
    const fromReadme = draftImportedCard(
      facts({ readme: frontMatterScalars('---\nlicense: apache-2.0\nbase_model: "google/x"\n---\n# hi') }),
    )
    expect(fromReadme).toMatchObject({ licenseKind: 'permissive', license: 'Apache-2.0 (from its README.md)' })
    expect(fromReadme.card.warnings).toEqual([])
    expect(fromReadme.card.origin).toContain('google/x')
    const fromFile = draftImportedCard(facts({ licenseFile: { file: 'LICENSE', name: 'MIT' } }))
    expect(fromFile.license).toBe('MIT (from LICENSE)')
    const unreadable = draftImportedCard(facts({ licenseFile: { file: 'LICENSE.txt' } }))
    expect(unreadable.card.warnings?.[0]).toMatch(/LICENSE\.txt Tunewise cannot summarise/)
    const tm = draftImportedCard(
      facts({ hasMetadata: true, meta: { labels: ['a', 'b'], modelName: 'tm-my-model', tmVersion: '2.4.7' } }),
    )
    expect(tm.card.summary).toMatch(/Teachable Machine image model .*2 classes/)
    expect(tm.card.trainedOn).toContain('a, b')
  })

  it('a Tunewise export imported back inherits its base license', () => {
    const card = draftImportedCard(
      facts({
        hasMetadata: true,
        meta: {
          packageName: 'tunewise',
          preprocessing: 'rgb/255',
          sourceModel: { name: 'MobileNetV2', license: 'MIT' },
          runId: 3,
        },
      }),
    )
    expect(card.license).toMatch(/^MIT \(from its metadata\.json/)
    expect(card.card.unknown).not.toContain('preprocessing')
  })

  it('a card saved before cards had license summaries is completed on reading', () => {
    const old: ModelCard = {
      ...base,
      id: 'imported-x',
      license: 'unknown (imported by you)',
      licenseKind: 'unknown',
      card: { summary: 's', trainedOn: 't', input: 'i', preprocessing: 'p', limitations: 'l' },
    }
    const done = completeCard(old)
    expect(done.card.licenseInfo?.spdx).toBe('unknown')
    expect(done.card.unknown).toContain('license')
    expect(done.card.warnings?.[0]).toMatch(/license is unknown/)
  })
})
