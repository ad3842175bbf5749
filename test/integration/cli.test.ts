/**
 * The built command line (`out/main/cli.js`) as a user runs it: a child process with its own
 * TUNEWISE_HOME, the real engine on WASM, the synthetic sample data.
 */
import { spawn } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRunConfig, numberField, numberMessage } from '../../src/shared/run-config'
import { wilson } from '../../src/shared/stats'
import type { RunConfig, RunSummary } from '../../src/shared/types'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'

const root = resolve(__dirname, '..', '..')
const cli = join(root, 'out', 'main', 'cli.js')
const home = mkdtempSync(join(tmpdir(), 'tw-cli-'))
const sample = join(home, 'shapes')
const labels = ['circle', 'square', 'triangle', 'star']

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function run(...args: string[]): Promise<Result> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: root,
      env: { ...process.env, TUNEWISE_HOME: home, TUNEWISE_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', fail)
    child.once('close', (code) => ok({ code, stdout, stderr }))
  })
}

function lastJsonLine<T>(r: Result): T {
  const lines = r.stdout.trim().split('\n')
  try {
    return JSON.parse(lines[lines.length - 1]!) as T
  } catch {
    throw new Error(`The last line of stdout is not JSON (exit ${r.code}).\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
  }
}

function writeConfig(name: string, config: unknown): string {
  const file = join(home, name)
  writeFileSync(file, JSON.stringify(config))
  return file
}

interface TrainOutput {
  runId: number
  status: string
  backend: string
  error: string | null
  config: RunConfig
  dataWarnings: string[]
  epochs: { run: number; phase1: number; phase2: number; phase1Planned: number; stoppedEarly: boolean }
  durationMs: number | null
  metrics: {
    val: { accuracy: number; loss: number; best: number | null } | null
    test: {
      accuracy: number
      loss: number
      perClass: { label: string; precision: number; recall: number; f1: number; support: number }[]
      confusion: { labels: string[]; matrix: number[][] }
      interval: { low: number; high: number; correct: number; images: number }
      recallIntervals: { label: string; low: number; high: number }[]
    } | null
  }
  findings: { code: string; title: string; fix?: { changes: { path: string; value: unknown }[] } }[]
}

interface ErrorOutput {
  error: { code: string; message: string }
}

/** Copies the first `n` images of a sample class into `dir` (made if needed), as `name(i)`. */
function copyImages(label: string, dir: string, n: number, name = (i: number) => `${label}-${i}.png`): void {
  mkdirSync(dir, { recursive: true })
  readdirSync(join(sample, label))
    .slice(0, n)
    .forEach((f, i) => copyFileSync(join(sample, label, f), join(dir, name(i))))
}

interface CompareOutput {
  runIds: number[]
  differingSettings: { field: string; values: unknown[]; differs: boolean }[]
  metrics: { name: string; values: (number | null)[] }[]
  exampleDiff: { fixed: number; broken: number; bothWrong: number } | null
}

beforeAll(async () => {
  if (!existsSync(cli))
    throw new Error(`${cli} is missing: build the app first (\`npx electron-vite build\` or \`npm run build\`).`)
  // The same sample the app offers (datasets:sample): 4 classes of 40 drawn shapes.
  await makeSyntheticDataset(sample, { seed: 7, classes: labels })
})
afterAll(() => rmSync(home, { recursive: true, force: true }))

describe('tunewise CLI', () => {
  it('lists the bundled MobileNetV2 as ready', async () => {
    const r = await run('models', '--json')
    expect(r.code).toBe(0)
    const models = lastJsonLine<{ id: string; available: boolean; supported: boolean }[]>(r)
    const m = models.find((x) => x.id === 'mobilenet-v2-nsfwjs')
    expect(m).toMatchObject({ available: true, supported: true })
    const text = await run('models')
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/mobilenet-v2-nsfwjs\s+MobileNetV2.*ready/)
  })

  it('inspect reports a corrupt file and exits 0', async () => {
    const dir = join(home, 'small')
    for (const label of ['circle', 'star']) {
      mkdirSync(join(dir, label), { recursive: true })
      for (const f of readdirSync(join(sample, label)).slice(0, 5))
        copyFileSync(join(sample, label, f), join(dir, label, f))
    }
    writeFileSync(join(dir, 'star', 'broken.jpg'), 'this is not a picture')
    const r = await run('inspect', dir)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/10 images in 2 classes/)
    // One line per kind of problem, naming the file.
    expect(r.stdout).toMatch(/^ {2}1 file: .+ \(star\/broken\.jpg\)\./m)
    const json = lastJsonLine<{ total: number; unreadable: { file: string }[]; blockers: string[] }>(
      await run('inspect', dir, '--json'),
    )
    expect(json.total).toBe(10)
    expect(json.unreadable.map((u) => u.file)).toEqual(['star/broken.jpg'])
    expect(json.blockers).toEqual([])
  })

  it('refuses a single-class folder with a message, not a stack trace', async () => {
    const dir = join(home, 'one-class')
    mkdirSync(join(dir, 'cats'), { recursive: true })
    for (const f of readdirSync(join(sample, 'circle')).slice(0, 6))
      copyFileSync(join(sample, 'circle', f), join(dir, 'cats', f))
    const r = await run('train', '--data', dir, '--json')
    expect(r.code).not.toBe(0)
    // With --json the error is JSON too: one line on stdout.
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(lastJsonLine<ErrorOutput>(r)).toEqual({
      error: { code: 'invalid_input', message: expect.stringMatching(/one class.*cats/i) },
    })
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /)
    const runs = lastJsonLine<RunSummary[]>(await run('runs', '--json'))
    expect(runs).toEqual([])
  })

  it('refuses a config file with an unknown setting and names it', async () => {
    const file = writeConfig('typo.json', { hyper: { epoch: 3 } })
    const r = await run('train', '--data', sample, '--config', file)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/hyper/)
    expect(r.stderr).toMatch(/epoch/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('refuses a learning rate above the field table limit with the same sentence the wizard shows', async () => {
    const r = await run(
      'train',
      '--data',
      sample,
      '--config',
      writeConfig('lr10.json', { hyper: { learningRate: 10 } }),
    )
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('hyper.learningRate')
    expect(r.stderr).toContain(numberMessage(numberField('hyper.learningRate')))
  })

  describe('output for people and for scripts', () => {
    const messy = join(home, 'messy')

    beforeAll(() => {
      copyImages('circle', join(messy, 'circle'), 8)
      copyImages('star', join(messy, 'star'), 8)
      // A name with a line break and one with a terminal escape (it would turn the terminal red).
      copyImages('square', join(messy, 'circle'), 1, () => 'two\nlines.png')
      copyImages('triangle', join(messy, '\u001b[31mred'), 4)
      // Hundreds of problems of two kinds, and 30 more classes than a table should show.
      for (let i = 0; i < 300; i++) writeFileSync(join(messy, 'star', `notes-${i}.txt`), 'x')
      for (let i = 0; i < 40; i++) writeFileSync(join(messy, 'star', `broken-${i}.jpg`), 'not a picture')
      for (let c = 0; c < 30; c++) copyImages('square', join(messy, `extra-${String(c).padStart(2, '0')}`), 2)
    })

    it('--json prints errors as one line of {"error":{"code","message"}} and exits non-zero', async () => {
      for (const [args, code, exit] of [
        [['train', '--data', join(home, 'no-such-folder'), '--json'], 'bad_data', 1],
        [['inspect', 'no-such-model', '--json'], 'not_found', 1],
        [['predict', '12345', join(sample, 'star'), '--json'], 'not_found', 1],
        [['frobnicate', '--json'], 'invalid_input', 2],
      ] as const) {
        const r = await run(...args)
        expect(r.code, args.join(' ')).toBe(exit)
        expect(r.stdout.trim().split('\n'), args.join(' ')).toHaveLength(1)
        const out = lastJsonLine<ErrorOutput>(r)
        expect(Object.keys(out)).toEqual(['error'])
        expect(Object.keys(out.error).sort()).toEqual(['code', 'message'])
        expect(out.error.code, args.join(' ')).toBe(code)
        expect(out.error.message.length).toBeGreaterThan(10)
        expect(r.stderr).toBe('')
      }
      // A message that names a file with a line break still makes one JSON line.
      const bad = await run('train', '--data', join(home, 'no\nsuch'), '--json')
      expect(bad.stdout.trim().split('\n')).toHaveLength(1)
      expect(lastJsonLine<ErrorOutput>(bad).error.message).toContain('no\nsuch')
    })

    it('words errors for the command line, not for the wizard', async () => {
      const r = await run('train', '--data', messy, '--model', 'no-such-model')
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(
        /'no-such-model' is not in the catalogue\. Run `npm run tunewise -- models` to list them\./,
      )
      expect(r.stderr).not.toMatch(/Model step/)
      const json = lastJsonLine<ErrorOutput>(await run('train', '--data', messy, '--model', 'no-such-model', '--json'))
      expect(json.error).toMatchObject({
        code: 'not_found',
        message: expect.stringContaining('npm run tunewise -- models'),
      })
      expect(json.error.message).not.toMatch(/step/i)
    })

    it('inspect MODEL_ID prints the model card and its layers block by block', async () => {
      const r = await run('inspect', 'mobilenet-v2-nsfwjs')
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/^mobilenet-v2-nsfwjs: MobileNetV2.*image-classification, ready$/m)
      expect(r.stdout).toMatch(/^ {2}Trained on: .*ImageNet/m)
      // FINDINGS.md: 162 layers, 2,619,461 parameters; the base up to flatten_1 has 2,257,984.
      expect(r.stdout).toMatch(
        /^Layers: 162 layers, 2,619,461 parameters\. The base \(up to flatten_1\) keeps .* 2,257,984 parameters/m,
      )
      expect(r.stdout).toMatch(/^block_16\s+8\s+[\d,]+\s+7×7×320$/m)
      expect(r.stdout).toMatch(/^old-head\s+5\s+361,477\s+5\s+replaced by the new head$/m)
      expect(r.stdout.split('\n').length).toBeLessThan(40)

      const json = lastJsonLine<{
        model: { id: string; featureLayer: string }
        layers: { count: number; parameters: number; base: { parameters: number }; blocks: { name: string }[] }
        layerList: { name: string }[]
      }>(await run('inspect', 'mobilenet-v2-nsfwjs', '--json'))
      expect(json.model).toMatchObject({ id: 'mobilenet-v2-nsfwjs', featureLayer: 'flatten_1' })
      expect(json.layers).toMatchObject({ count: 162, parameters: 2_619_461, base: { parameters: 2_257_984 } })
      expect(json.layers.blocks.map((b) => b.name)).toContain('block_0')
      expect(json.layerList).toHaveLength(162)

      // A model that is not on this machine: its card, and why its layers are not listed.
      const online = await run('inspect', 'mobilenet-v1-025-224')
      expect(online.code, online.stderr).toBe(0)
      expect(online.stdout).toMatch(/^mobilenet-v1-025-224: .*not on this machine yet$/m)
      expect(online.stdout).toMatch(/^Layers: listed once the model is on this machine/m)
    })

    it('escapes control characters in file and class names, so a table keeps its rows', async () => {
      const r = await run('inspect', messy)
      expect(r.code, r.stderr).toBe(0)
      // eslint-disable-next-line no-control-regex -- looking for the raw escape character
      expect(r.stdout).not.toMatch(/\u001b/)
      expect(r.stdout).toMatch(/^\\x1b\[31mred\s+4$/m)
      expect(r.stdout).toContain('circle/two\\nlines.png')
      expect(r.stdout).not.toMatch(/^lines\.png/m)
      // The class table: a header and one row a class shown, each `name  count`.
      const lines = r.stdout.split('\n')
      const header = lines.findIndex((l) => /^class\s+images$/.test(l))
      for (const row of lines.slice(header + 1, header + 21)) expect(row).toMatch(/^\S+\s+\d+$/)
    })

    it('summarises long lists: problems grouped with a few examples, the class table capped', async () => {
      const r = await run('inspect', messy)
      expect(r.code, r.stderr).toBe(0)
      const lines = r.stdout.trimEnd().split('\n')
      // 340 problems, 33 classes, copies: a few dozen lines, not one per file.
      expect(lines.length).toBeLessThan(40)
      const notImages = lines.filter((l) => /^ {2}300 files: Not an image file/.test(l))
      expect(notImages).toHaveLength(1)
      expect(notImages[0]).toMatch(/\(star\/notes-0\.txt, star\/notes-1\.txt, star\/notes-10\.txt and 297 more\)/)
      expect(lines.filter((l) => /^ {2}40 files: /.test(l))).toHaveLength(1)
      expect(r.stdout).not.toMatch(/notes-(2|5|99)\.txt/)
      // Classes by name: the last 12 extra-NN (2 images each) and star (8) are not shown.
      expect(r.stdout).toMatch(/^… and 13 more classes with 32 images \(--json lists them all\)$/m)
      expect(r.stdout).toMatch(/^Files skipped or noted: 340$/m)
      // --json keeps every file.
      const json = lastJsonLine<{ unreadable: unknown[]; classes: unknown[] }>(await run('inspect', messy, '--json'))
      expect(json.unreadable).toHaveLength(340)
      expect(json.classes).toHaveLength(33)
    })
  })

  describe('train, compare, export, predict', () => {
    let a: TrainOutput
    let b: TrainOutput

    it('trains with a partial config merged onto the defaults and prints one JSON object', async () => {
      const r = await run(
        'train',
        '--data',
        sample,
        '--config',
        writeConfig('a.json', { hyper: { epochs: 3 } }),
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      a = lastJsonLine<TrainOutput>(r)
      expect(r.stdout.trim().split('\n')).toHaveLength(1)
      expect(a).toMatchObject({ status: 'succeeded', backend: 'wasm', error: null })
      expect(a.runId).toBeGreaterThan(0)
      // Only hyper.epochs changed: every other field, in hyper and elsewhere, keeps its default.
      const defaults = defaultRunConfig('mobilenet-v2-nsfwjs', a.config.datasetId, a.config.name)
      expect(a.config).toEqual({ ...defaults, hyper: { ...defaults.hyper, epochs: 3 } })
      expect(a.metrics.val).toMatchObject({ accuracy: expect.any(Number), loss: expect.any(Number) })
      const test = a.metrics.test!
      expect(test.accuracy).toBeGreaterThanOrEqual(0)
      expect(test.accuracy).toBeLessThanOrEqual(1)
      expect(Number.isFinite(test.loss)).toBe(true)
      expect(test.perClass.map((c) => c.label).sort()).toEqual([...labels].sort())
      // Every score with its 95 % interval, computed as the app does, and the coach's findings.
      expect(test.interval).toEqual(
        expect.objectContaining({ images: test.confusion.matrix.flat().reduce((x, y) => x + y, 0) }),
      )
      const w = wilson(test.interval.correct, test.interval.images)
      expect([test.interval.low, test.interval.high]).toEqual([w.low, w.high])
      expect(test.interval.correct / test.interval.images).toBeCloseTo(test.accuracy, 10)
      expect(test.recallIntervals.map((r) => r.label).sort()).toEqual([...labels].sort())
      expect(Array.isArray(a.findings)).toBe(true)
      for (const f of a.findings) expect(f.code).toMatch(/^[a-z-]+$/)

      const runs = lastJsonLine<RunSummary[]>(await run('runs', '--json'))
      expect(runs.map((x) => x.id)).toEqual([a.runId])
      expect(runs[0]).toMatchObject({ status: 'succeeded', backend: 'wasm', testAccuracy: test.accuracy })
    })

    it('compares two runs that differ only in learning rate', async () => {
      const r = await run(
        'train',
        '--data',
        sample,
        '--config',
        writeConfig('b.json', { hyper: { epochs: 3, learningRate: 0.003 } }),
        '--json',
      )
      expect(r.code, r.stderr).toBe(0)
      b = lastJsonLine<TrainOutput>(r)
      expect(b.status).toBe('succeeded')
      expect(b.config.hyper.learningRate).toBe(0.003)

      const c = await run('compare', String(a.runId), String(b.runId), '--json')
      expect(c.code, c.stderr).toBe(0)
      const cmp = lastJsonLine<CompareOutput>(c)
      expect(cmp.runIds).toEqual([a.runId, b.runId])
      expect(cmp.differingSettings).toEqual([{ field: 'hyper.learningRate', values: [0.001, 0.003], differs: true }])
      const testAcc = cmp.metrics.find((m) => m.name === 'Test accuracy')
      expect(testAcc?.values).toEqual([a.metrics.test!.accuracy, b.metrics.test!.accuracy])
      // The per-example counts agree with each run's own test accuracy.
      const n = a.metrics.test!.perClass.reduce((s, x) => s + x.support, 0)
      const d = cmp.exampleDiff!
      expect(d).not.toBeNull()
      expect(d.fixed + d.bothWrong).toBe(Math.round((1 - a.metrics.test!.accuracy) * n))
      expect(d.broken + d.bothWrong).toBe(Math.round((1 - b.metrics.test!.accuracy) * n))

      const text = await run('compare', String(a.runId), String(b.runId))
      expect(text.code).toBe(0)
      expect(text.stdout).toMatch(/hyper\.learningRate\s+0\.001\s+0\.003/)
      expect(text.stdout).not.toMatch(/^name\s/m)
    })

    it('exports the model files', async () => {
      // Inside the data folder only its exports folder takes an export.
      const out = join(home, 'exports', 'cli')
      const r = await run('export', String(b.runId), out, '--json')
      expect(r.code, r.stderr).toBe(0)
      // The written model, loaded again, gives the run's own test predictions.
      const res = lastJsonLine<{ files: string[]; agreement: number; maxDifference: number }>(r)
      expect(res.files.sort()).toEqual([
        'README.md',
        'confusion-matrix.png',
        'metadata.json',
        'model.json',
        'weights.bin',
      ])
      expect(res.agreement).toBe(1)
      expect(res.maxDifference).toBeLessThan(1e-4)
      for (const f of ['model.json', 'weights.bin', 'metadata.json']) expect(existsSync(join(out, f)), f).toBe(true)
      const meta = JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8')) as { labels: string[] }
      expect([...meta.labels].sort()).toEqual([...labels].sort())
      const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { weightsManifest: unknown[] }
      expect(model.weightsManifest.length).toBeGreaterThan(0)
    })

    it('predicts one image with confidences that sum to 1', async () => {
      const image = join(sample, 'star', readdirSync(join(sample, 'star'))[0]!)
      const r = await run('predict', String(b.runId), image, '--json')
      expect(r.code, r.stderr).toBe(0)
      const preds = lastJsonLine<{ label: string; confidence: number }[]>(r)
      expect(preds.map((p) => p.label).sort()).toEqual([...labels].sort())
      expect(preds.reduce((s, p) => s + p.confidence, 0)).toBeCloseTo(1, 4)
      for (const p of preds) expect(p.confidence).toBeGreaterThanOrEqual(0)

      const bad = await run('predict', 'nope', image)
      expect(bad.code).not.toBe(0)
      expect(bad.stderr).toMatch(/not a run number/)
    })
  })

  // Last: it adds a run to the shared history.
  it('refuses settings that cannot act together, with the reason: phase 2 on under "Train only a new head"', async () => {
    const r = await run(
      'train',
      '--data',
      sample,
      '--config',
      writeConfig('p2.json', { hyper: { epochs: 1 }, phase2: { enabled: true } }),
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /phase2\.enabled: Phase 2 is on, but “Train only a new head” leaves nothing else to train\. Turn phase 2 off/,
    )
    // …and top blocks without phase 2, which would leave the unfrozen layers untrained.
    const top = await run(
      'train',
      '--data',
      sample,
      '--config',
      writeConfig('top.json', { freeze: { preset: 'top-blocks' } }),
    )
    expect(top.code).toBe(1)
    expect(top.stderr).toMatch(/phase2\.enabled: “Also adjust the top blocks” trains in phase 2, but phase 2 is off/)
  })

  // After the others: it adds a run to the shared history.
  it('train --json gives epochs run, duration, the confusion matrix and the data warnings', async () => {
    const dir = join(home, 'warned')
    copyImages('circle', join(dir, 'circle'), 12)
    copyImages('star', join(dir, 'star'), 3)
    writeFileSync(join(dir, 'star', 'broken.jpg'), 'not a picture')
    const r = await run('train', '--data', dir, '--config', writeConfig('w.json', { hyper: { epochs: 2 } }), '--json')
    expect(r.code, r.stderr).toBe(0)
    const out = lastJsonLine<TrainOutput>(r)
    expect(out.status).toBe('succeeded')
    expect(out.epochs).toEqual({ run: 2, phase1: 2, phase2: 0, phase1Planned: 2, stoppedEarly: false })
    expect(out.durationMs).toBeGreaterThan(0)
    // The scan's warning about the skipped file, and the split's about a class too small to validate.
    expect(out.dataWarnings.some((w) => /1 file could not be used.*star\/broken\.jpg/.test(w))).toBe(true)
    expect(out.dataWarnings.some((w) => /Class 'star' gets (only 1|no) validation image/.test(w))).toBe(true)
    const test = out.metrics.test!
    expect(test.confusion.labels).toEqual(['circle', 'star'])
    // Rows are true classes: each row sums to that class's test images, the diagonal to the correct ones.
    const { labels: order, matrix } = test.confusion
    for (const [i, label] of order.entries())
      expect(matrix[i]!.reduce((s, n) => s + n, 0)).toBe(test.perClass.find((c) => c.label === label)!.support)
    const total = matrix.flat().reduce((s, n) => s + n, 0)
    expect(order.reduce((s, _, i) => s + matrix[i]![i]!, 0) / total).toBeCloseTo(test.accuracy, 10)

    // The same for people: the split's warning, the epochs and the time, the matrix as a table.
    const text = await run('train', '--data', dir, '--config', writeConfig('w1.json', { hyper: { epochs: 1 } }))
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^ {2}warning: Class 'star' gets (only 1|no) validation image/m)
    expect(text.stdout).toMatch(/^Trained 1 epoch \(phase 1: 1 of 1\) in \d+ (ms|s|min \d+ s)\.$/m)
    expect(text.stdout).toMatch(/^Confusion matrix on the test images/m)
    // A header of the labels, then one row a true class, counts in the cells.
    expect(text.stdout).toMatch(/^\s+circle\s+star$/m)
    expect(text.stdout).toMatch(/^circle\s+\d+\s+\d+$/m)
    expect(text.stdout).toMatch(/^star\s+\d+\s+\d+$/m)
  })

  it('lr-find suggests a learning rate from the range test', async () => {
    const r = await run('lr-find', '--data', sample, '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = lastJsonLine<{ points: { lr: number; loss: number }[]; suggestion: number }>(r)
    expect(out.points.length).toBeGreaterThan(10)
    expect(out.suggestion).toBeGreaterThan(0)
    expect(out.suggestion).toBeLessThanOrEqual(1)
  })
})
