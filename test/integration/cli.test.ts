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
  metrics: {
    val: { accuracy: number; loss: number; best: number | null } | null
    test: {
      accuracy: number
      loss: number
      perClass: { label: string; precision: number; recall: number; f1: number; support: number }[]
    } | null
  }
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
    expect(r.stdout).toMatch(/unreadable: star\/broken\.jpg/)
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
    expect(r.stderr).toMatch(/one class.*cats/i)
    expect(r.stderr).not.toMatch(/\n\s+at /)
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
      const out = join(home, 'export')
      const r = await run('export', String(b.runId), out, '--json')
      expect(r.code, r.stderr).toBe(0)
      // The written model, loaded again, gives the run's own test predictions.
      const res = lastJsonLine<{ files: string[]; agreement: number; maxDifference: number }>(r)
      expect(res.files.sort()).toEqual(['metadata.json', 'model.json', 'weights.bin'])
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
  it('says when a setting does nothing: phase 2 on under "new head only"', async () => {
    const r = await run(
      'train',
      '--data',
      sample,
      '--config',
      writeConfig('p2.json', { hyper: { epochs: 1 }, phase2: { enabled: true } }),
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/note: Phase 2 is on, but .* phase 2 will not run/)
  })
})
