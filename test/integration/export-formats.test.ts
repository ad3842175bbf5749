/**
 * Exports of a real run through the real services (training and export in child processes): the model card on
 * every export, the README's Node snippet in a fresh process, the Teachable Machine–compatible folder fed the
 * way TM's library feeds it, one .zip, and never a lost file. Needs `npm run build` (the job worker).
 */
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { SymbolicTensor } from '@tensorflow/tfjs'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import yauzl from 'yauzl'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { saveModelFolder } from '../../src/main/ml/export/export'
import { exportModel } from '../../src/main/ml/export/export-run'
import { createServices, type Services } from '../../src/main/services'
import { forkLauncher } from '../../src/main/tasks/worker-process'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { ExportOutput } from '../../src/shared/tasks'
import type { DatasetReport, ModelCard, RunCard, RunDetail } from '../../src/shared/types'
import { workerScript } from '../helpers/tiny-services'

const root = mkdtempSync(join(tmpdir(), 'tw-export-formats-'))
const dataDir = join(root, 'home')
const shapes = join(root, 'shapes')
const labels = ['circle', 'square']
let svc: Services
let run: RunDetail

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const r = await svc.router.call(channel, payload)
  if (!r.ok) throw Object.assign(new Error(r.error.message), { code: r.error.code })
  return r.value as T
}

function frontMatter(markdown: string): Record<string, unknown> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(markdown)
  if (!m) throw new Error('README.md has no YAML front matter')
  return parseYaml(m[1]) as Record<string, unknown>
}

async function loadFolder(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[]
  }
  const bin = readFileSync(join(dir, 'weights.bin'))
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
    }),
  )
}

/** Every file in `dir` with its bytes, for "nothing changed" checks. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]))
}

/** Hidden folders an export leaves beside its target while it works; none may remain. */
function leftovers(parent: string): string[] {
  return readdirSync(parent).filter((f) => f.includes('tunewise-export') || f.includes('tunewise-copy'))
}

beforeAll(async () => {
  if (!existsSync(workerScript)) throw new Error('Build first: npm run build (npm test does).')
  await initBackend('cpu')
  const t = getTf()
  const input = t.input({ shape: [32, 32, 3] })
  let x = t.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: 'conv' }).apply(input) as SymbolicTensor
  x = t.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as SymbolicTensor
  x = t.layers.dense({ units: 8, activation: 'relu', name: 'features' }).apply(x) as SymbolicTensor
  const out = t.layers.dense({ units: 2, activation: 'softmax', name: 'old_head' }).apply(x) as SymbolicTensor
  await saveModelFolder(t.model({ inputs: input, outputs: out }), join(root, 'tiny-model'))
  svc = createServices({ dataDir, mode: 'browser', launcher: forkLauncher, workerScript, log: () => {} })
  const modelId = (await call<ModelCard>('models:import', { path: join(root, 'tiny-model') })).id
  // 48-pixel images: the model takes 32, so every path below resizes.
  await makeSyntheticDataset(shapes, { perClass: 20, size: 48, seed: 3, classes: labels })
  const report = await call<DatasetReport>('datasets:import', { path: shapes })
  const config = defaultRunConfig(modelId, report.id, 'Shapes for export')
  config.hyper.epochs = 4
  const { runId } = await call<{ runId: number }>('runs:start', { config })
  await svc.jobs.whenIdle()
  run = await call<RunDetail>('runs:get', { runId })
  expect(run.status).toBe('succeeded')
}, 180_000)

afterAll(() => {
  svc?.close()
  rmSync(root, { recursive: true, force: true })
})

describe('the model card on every export, on a real run', () => {
  let out: ExportOutput
  const dir = join(root, 'out', 'tfjs')

  it('writes README.md and confusion-matrix.png beside the model, and says it re-checked', async () => {
    out = await call<ExportOutput>('runs:export', {
      runId: run.id,
      dir,
      intendedUse: 'Telling circles from squares in drawings.',
    })
    expect(out.files).toEqual(['README.md', 'confusion-matrix.png', 'metadata.json', 'model.json', 'weights.bin'])
    expect(readdirSync(dir).sort()).toEqual(out.files)
    expect(out.agreement).toBe(1)
    expect(out.maxDifference).toBeLessThan(1e-4)
    expect(leftovers(dirname(dir))).toEqual([])
  })

  it("front matter parses; its model-index carries the test accuracy Results shows (the run's testAccuracy)", () => {
    const fm = frontMatter(readFileSync(join(dir, 'README.md'), 'utf8'))
    const index = fm['model-index'] as { results: { metrics: { type: string; value: number }[] }[] }[]
    const test = run.evaluations.find((e) => e.split === 'test')!
    expect(run.testAccuracy).not.toBeNull()
    expect(index[0].results[0].metrics[0].value).toBe(run.testAccuracy)
    expect(index[0].results[0].metrics[0].value).toBe(test.accuracy)
    // The imported tiny model names no license: the export says unknown rather than guessing.
    expect(fm.license).toBe('unknown')
    expect(fm.datasets).toEqual(['shapes'])
  })

  it('classes: per-split counts add up to the folder, and test counts are what the run was tested on', () => {
    const t = out.card.sections.find((s) => s.id === 'classes')!.blocks[0]
    if (t.kind !== 'table') throw new Error('classes is not a table')
    const test = run.evaluations.find((e) => e.split === 'test')!
    for (const label of labels) {
      const row = t.rows.find((r) => r[0] === label)!
      expect(Number(row[1]) + Number(row[2]) + Number(row[3])).toBe(20)
      expect(Number(row[3])).toBe(test.perClass.find((c) => c.label === label)!.support)
    }
  })

  it('training, results, weakest classes, data warnings, limitations, check: each drawn from this run', () => {
    const text = (id: string) => JSON.stringify(out.card.sections.find((s) => s.id === id)!.blocks)
    const test = run.evaluations.find((e) => e.split === 'test')!
    const n = test.predictions.length
    const right = test.predictions.filter((p) => p.predicted === p.trueLabel).length
    // The base (conv 3×3×3×4 + 4 = 112, cut at the pooling: 4 features) is frozen; the new head 4 → 2 trains.
    expect(text('training')).toContain('Trainable parameters: 10 of 122 ')
    expect(text('training')).toContain('["Epochs (hyper.epochs)","4 epochs","50 epochs"]')
    expect(text('results')).toContain(`(${right} of ${n}), 95 % interval between`)
    expect(text('weakest-classes').length).toBeGreaterThan(20)
    expect(text('data-warnings').length).toBeGreaterThan(10)
    expect(text('intended-use')).toContain('Telling circles from squares in drawings.')
    expect(text('limitations')).toMatch(/It saw only \d+ images per class while training/)
    expect(text('limitations')).toContain('48×48 pixels, squashed to 32×32')
    expect(text('check')).toContain(`re-predicted the ${n} test images: the top class agreed on 100.0 %`)
    const png = readFileSync(join(dir, 'confusion-matrix.png'))
    expect(png.subarray(1, 4).toString()).toBe('PNG')
  })

  it('the in-app card (runs:card) has the same sections and front matter, with the check still to come', async () => {
    const card = await call<RunCard>('runs:card', { runId: run.id })
    expect(card.sections.map((s) => s.id)).toEqual(out.card.sections.map((s) => s.id))
    expect(frontMatter(card.markdown)).toEqual(frontMatter(out.card.markdown))
    expect(JSON.stringify(card.sections.find((s) => s.id === 'check'))).toContain('Not checked yet')
  })

  it("the README's Node snippet, run in a fresh node process with plain @tensorflow/tfjs, agrees with the app", () => {
    const usage = out.card.sections.find((s) => s.id === 'usage')!.blocks
    const node = usage.find((b) => b.kind === 'code' && b.language === 'js')
    if (node?.kind !== 'code') throw new Error('no Node snippet')
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(node.code)
    writeFileSync(join(dir, 'predict.mjs'), node.code)
    // The snippet imports @tensorflow/tfjs and sharp as an installed project would.
    symlinkSync(resolve(__dirname, '../../node_modules'), join(dirname(dir), 'node_modules'))
    const test = run.evaluations.find((e) => e.split === 'test')!
    for (const p of test.predictions) {
      const r = spawnSync(process.execPath, [join(dir, 'predict.mjs'), join(shapes, p.file)], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
      const answers = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { label: string; probability: number }[]
      const top = answers.reduce((a, b) => (b.probability > a.probability ? b : a))
      expect(top.label).toBe(p.predicted)
      expect(Math.abs(top.probability - p.confidence)).toBeLessThan(1e-4)
    }
    rmSync(join(dir, 'predict.mjs'))
  })
})

describe('the Teachable Machine–compatible folder', () => {
  const dir = join(root, 'out', 'tm')

  /**
   * The fields @teachablemachine/image 0.8.5 reads from metadata.json, from its source src/custom-mobilenet.ts:
   * the `Metadata` interface's required fields (tfjsVersion, packageVersion, packageName, labels) and every field
   * `fillMetadata`, `isMetadata`, `predict` and `predictTopK` read (packageVersion, packageName, timeStamp,
   * userMetadata, modelName, labels, imageSize, grayscale). `tmVersion` is declared but never read, and names
   * the Teachable Machine web app's version, which this export did not come from.
   */
  const TM_METADATA_FIELDS = [
    'tfjsVersion',
    'packageVersion',
    'packageName',
    'modelName',
    'timeStamp',
    'labels',
    'userMetadata',
    'grayscale',
    'imageSize',
  ]

  /**
   * An image the way @teachablemachine/image 0.8.5 prepares it before `model.predict`:
   * src/utils/canvas.ts `cropTo(image, size)`: scale = size / min(width, height), drawn at
   * ceil(width·scale) × ceil(height·scale), offset by -floor(dx / 2), -floor(dy / 2) on a size×size canvas;
   * src/utils/tf.ts `capture`: fromPixels (RGB), centre square, batch of one, value / 127 - 1.
   * sharp resamples where the browser's canvas would; the geometry and the scaling are TM's.
   */
  async function teachableInput(file: string, size: number): Promise<tf.Tensor4D> {
    const meta = await sharp(file).metadata()
    const w = meta.width!
    const h = meta.height!
    const scale = size / Math.min(w, h)
    const scaledW = Math.ceil(w * scale)
    const scaledH = Math.ceil(h * scale)
    const raw = await sharp(file)
      .resize(scaledW, scaledH, { fit: 'fill' })
      .extract({
        left: Math.floor((scaledW - size) / 2),
        top: Math.floor((scaledH - size) / 2),
        width: size,
        height: size,
      })
      .removeAlpha()
      .raw()
      .toBuffer()
    return tf.tensor4d(
      Float32Array.from(raw, (v) => v / 127 - 1),
      [1, size, size, 3],
    )
  }

  it("metadata.json has every field TM's image library reads, and says how to feed the model", async () => {
    const out = await call<ExportOutput>('runs:export', { runId: run.id, dir, format: 'teachable-machine' })
    expect(out.format).toBe('teachable-machine')
    expect(out.agreement).toBe(1)
    const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as Record<string, unknown>
    for (const f of TM_METADATA_FIELDS) expect(meta, f).toHaveProperty(f)
    expect(meta).toMatchObject({ packageName: '@teachablemachine/image', imageSize: 32, grayscale: false })
    expect(meta.labels).toEqual(run.evaluations.find((e) => e.split === 'test')!.labels)
    expect(JSON.stringify(meta.userMetadata)).toContain('value / 127 - 1')
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain('tmImage.load')
  })

  it("fed images the way TM's library prepares them, it gives Tunewise's classes on the test images", async () => {
    const model = await loadFolder(dir)
    const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as { labels: string[]; imageSize: number }
    expect(model.inputs[0].shape).toEqual([null, meta.imageSize, meta.imageSize, 3])
    const test = run.evaluations.find((e) => e.split === 'test')!
    expect(test.predictions.length).toBeGreaterThanOrEqual(4)
    for (const p of test.predictions) {
      const x = await teachableInput(join(shapes, p.file), meta.imageSize)
      const probs = (model.predict(x) as tf.Tensor).dataSync()
      const top = probs.indexOf(Math.max(...probs))
      expect(meta.labels[top], p.file).toBe(p.predicted)
      // Square images: TM's crop is the whole image, scaled like Tunewise's; only the input's scaling differs
      // (/127 - 1 here), which the graph's first layer undoes.
      expect(Math.abs(probs[top] - p.confidence)).toBeLessThan(1e-4)
      x.dispose()
    }
    model.dispose()
  })
})

describe('one .zip file', () => {
  it('holds the export files, byte for byte, and is written as <dir>.zip', async () => {
    const dir = join(root, 'out', 'zipped')
    const out = await call<ExportOutput>('runs:export', { runId: run.id, dir, zip: true })
    expect(out.dir).toBe(`${dir}.zip`)
    expect(existsSync(dir)).toBe(false)
    const entries = await new Promise<Record<string, Buffer>>((ok, fail) => {
      const found: Record<string, Buffer> = {}
      yauzl.open(`${dir}.zip`, { lazyEntries: true }, (err, zip) => {
        if (err || !zip) return fail(err)
        zip.on('entry', (entry: yauzl.Entry) =>
          zip.openReadStream(entry, (e, stream) => {
            if (e || !stream) return fail(e)
            const chunks: Buffer[] = []
            stream.on('data', (c: Buffer) => chunks.push(c))
            stream.on('end', () => {
              found[entry.fileName] = Buffer.concat(chunks)
              zip.readEntry()
            })
          }),
        )
        zip.on('end', () => ok(found))
        zip.on('error', fail)
        zip.readEntry()
      })
    })
    expect(Object.keys(entries).sort()).toEqual(out.files)
    const runModel = run.artifacts.find((a) => a.kind === 'model')!.path
    expect(entries['weights.bin'].equals(readFileSync(join(runModel, 'weights.bin')))).toBe(true)
    expect(entries['model.json'].equals(readFileSync(join(runModel, 'model.json')))).toBe(true)
    expect(entries['README.md'].toString()).toMatch(/^---\nlicense:/)
    // A second zip to the same name needs a confirmation.
    await expect(call('runs:export', { runId: run.id, dir, zip: true })).rejects.toMatchObject({ code: 'conflict' })
  })
})

describe('never lose a file', () => {
  it('refuses a folder holding files unless confirmed; confirmed, replaces only the export files', async () => {
    const dir = join(root, 'out', 'mine')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'notes.txt'), 'my notes')
    writeFileSync(join(dir, 'model.json'), '{"old": true}')
    const before = snapshot(dir)
    await expect(call('runs:export', { runId: run.id, dir })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/already holds 2 files.*model\.json would be replaced; the other 1 stay/),
    })
    expect(snapshot(dir)).toEqual(before)
    const out = await call<ExportOutput>('runs:export', { runId: run.id, dir, overwrite: true })
    expect(out.replaced).toEqual(['model.json'])
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('my notes')
    expect(readFileSync(join(dir, 'model.json'), 'utf8')).not.toContain('"old"')
    expect(leftovers(dirname(dir))).toEqual([])
  })

  it('an export that fails part-way leaves the target as it was and no temporary folder', async () => {
    const dir = join(root, 'out', 'fails')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'keep.txt'), 'keep')
    const test = run.evaluations.find((e) => e.split === 'test')!
    const broken = { ...test, predictions: [{ ...test.predictions[0], file: 'circle/gone.png' }] }
    const runModel = run.artifacts.find((a) => a.kind === 'model')!.path
    await initBackend('cpu')
    await expect(
      exportModel(runModel, dir, {
        format: 'tfjs',
        zip: false,
        overwrite: true,
        datasetPath: shapes,
        evaluation: broken,
        card: {
          run,
          base: { ...(await call<ModelCard[]>('models:list', {}))[0] },
          datasetName: 'shapes',
          splitCounts: null,
          dataset: null,
        },
        exportedBy: 'test',
      }),
    ).rejects.toMatchObject({ code: 'bad_data' })
    expect(snapshot(dir)).toEqual({ 'keep.txt': Buffer.from('keep').toString('base64') })
    expect(leftovers(dirname(dir))).toEqual([])
  })

  it('the CLI refuses a non-empty folder without --force and changes nothing; with --force it replaces', () => {
    // One app per data folder: the CLI needs this test's services closed.
    svc.close()
    const dir = join(root, 'out', 'cli')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'README.md'), 'my own readme')
    const cli = resolve(__dirname, '../../out/main/cli.js')
    const env = { ...process.env, TUNEWISE_HOME: dataDir }
    const refused = spawnSync(process.execPath, [cli, 'export', String(run.id), dir], { encoding: 'utf8', env })
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toMatch(/already holds 1 file.*--force/s)
    expect(snapshot(dir)).toEqual({ 'README.md': Buffer.from('my own readme').toString('base64') })
    const forced = spawnSync(
      process.execPath,
      [cli, 'export', String(run.id), dir, '--force', '--format', 'teachable-machine', '--json'],
      { encoding: 'utf8', env },
    )
    expect(forced.status, forced.stderr).toBe(0)
    const res = JSON.parse(forced.stdout.trim().split('\n').at(-1)!) as ExportOutput
    expect(res.replaced).toEqual(['README.md'])
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/^---\n/)
    expect(statSync(join(dir, 'weights.bin')).size).toBeGreaterThan(0)
  })
})
