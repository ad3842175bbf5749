/**
 * Model cards in Chromium against the built app: the catalogue's cards in plain words, the card drafted for an
 * imported model ("unknown" and a license warning), and on Results the run's card and an export that asks
 * before replacing files. A run is made with the CLI on the same data directory first.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SymbolicTensor } from '@tensorflow/tfjs'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { saveModelFolder } from '../../src/main/ml/export/export'
import { launchBrowser, openPage, requireBuild, root, startServe, type App } from './harness'

const dataDir = mkdtempSync(join(tmpdir(), 'tw-cards-'))
const scratch = mkdtempSync(join(tmpdir(), 'tw-cards-scratch-'))
let browser: Browser
let app: App
let page: Page
let runId = 0

function cli(...args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [join(root, 'out', 'main', 'cli.js'), ...args], {
      cwd: root,
      env: { ...process.env, TUNEWISE_HOME: dataDir, TUNEWISE_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    child.once('error', fail)
    child.once('close', (code) =>
      code === 0 ? ok(out) : fail(new Error(`cli ${args.join(' ')} exited ${code}:\n${out}`)),
    )
  })
}

const $ = (testid: string) => page.locator(`[data-testid="${testid}"]`)

beforeAll(async () => {
  requireBuild()
  const config = join(dataDir, 'short.json')
  writeFileSync(config, JSON.stringify({ name: 'Shapes card', hyper: { epochs: 3 } }))
  const lines = (await cli('demo', '--config', config, '--json')).trim().split('\n')
  const run = JSON.parse(lines[lines.length - 1]!) as { runId: number; status: string }
  expect(run.status).toBe('succeeded')
  runId = run.runId
  // A small model folder with no card, license or metadata of its own, to import.
  await initBackend('cpu')
  const tf = getTf()
  const input = tf.input({ shape: [32, 32, 3] })
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }).apply(input) as SymbolicTensor
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as SymbolicTensor
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'head' }).apply(x) as SymbolicTensor
  await saveModelFolder(tf.model({ inputs: input, outputs: out }), join(scratch, 'mystery-model'))
  ;[browser, app] = await Promise.all([launchBrowser(), startServe({ dataDir })])
  page = await openPage(browser, app.url)
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await app?.stop()
  rmSync(dataDir, { recursive: true, force: true })
  rmSync(scratch, { recursive: true, force: true })
})

describe('cards in', () => {
  it("the bundled model's card tells its story plainly and answers the license questions", async () => {
    await page.locator('[data-step="model"][aria-current="step"]').waitFor()
    const v2 = page.locator('li.model', { has: page.locator('[data-model-id="mobilenet-v2-nsfwjs"]') })
    await v2.locator('[data-testid="show-card"]').click()
    const card = v2.locator('[data-testid="model-card-view"]')
    await card.waitFor()
    const text = (await card.textContent()) ?? ''
    expect(text).toContain('ImageNet')
    expect(text).toContain('removes that rating layer')
    expect(text).toContain('general image features')
    expect(await card.locator('[data-testid="license-sell"]').textContent()).toMatch(/sell.*Yes/)
    expect(await card.locator('[data-testid="license-credit"]').textContent()).toMatch(/credit.*Yes/)
    expect(await card.locator('[data-testid="card-unknown"]').count()).toBe(0)
  })

  it('an imported model gets a card drafted from its files: unknowns marked, the license warned about', async () => {
    await $('import-model').click()
    // Browser mode has no folder dialog: the path field opens with a listing of the home folder.
    await $('model-import-pick').click()
    await page.locator('.browser-path').waitFor()
    await $('model-import-path').fill(join(scratch, 'mystery-model'))
    await $('model-import-submit').click()
    // Imported, it is selected and its card opens by itself.
    const card = page.locator(
      'li.model.selected [data-testid="model-card-view"][data-model-id^="imported-mystery-model-"]',
    )
    await card.waitFor({ timeout: 120_000 })
    expect(await card.locator('[data-testid="card-unknown"]').count()).toBeGreaterThanOrEqual(3)
    expect(await card.locator('[data-testid="card-warning"]').textContent()).toMatch(/license is unknown/)
    expect(await card.locator('[data-testid="license-sell"]').textContent()).toMatch(/Unknown/)
  })
})

describe('cards out', () => {
  it("Results previews the run's card with every section", async () => {
    await page.locator('[data-step="history"]').click()
    await page.locator(`[data-testid="history-row"][data-run-id="${runId}"] [data-testid="open-results"]`).click()
    await $('test-accuracy').waitFor({ timeout: 60_000 })
    await $('export-intended-use').fill('A demo on drawn shapes.')
    await $('preview-card').click()
    const card = $('run-card')
    await card.waitFor({ timeout: 60_000 })
    const sections = await card.locator('section').evaluateAll((els) => els.map((e) => e.getAttribute('data-section')))
    expect(sections).toEqual([
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
    expect(await card.locator('[data-section="intended-use"]').textContent()).toContain('A demo on drawn shapes.')
    // The confusion matrix picture loads (an SVG the export writes as PNG).
    const img = card.locator('[data-section="confusion-matrix"] img')
    await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(100)
    // Results' accuracy is the card's.
    const value = Number(await $('test-accuracy').getAttribute('data-value'))
    expect(await card.locator('[data-section="results"]').textContent()).toContain(`${(value * 100).toFixed(1)} %`)
    await $('card-dialog-close').click()
    await card.waitFor({ state: 'detached' })
  })

  it('asks before replacing files; cancelling writes nothing; confirming replaces only the export files', async () => {
    const dir = join(scratch, 'export-here')
    mkdirSync(dir)
    writeFileSync(join(dir, 'README.md'), 'my own notes')
    writeFileSync(join(dir, 'keep.txt'), 'keep me')
    await $('export-dir').fill(dir)
    await $('export').click()
    const dialog = $('confirm-dialog')
    await dialog.waitFor({ timeout: 60_000 })
    expect(await dialog.textContent()).toMatch(/already holds 2 files.*README\.md would be replaced; the other 1 stay/)
    await $('confirm-cancel').click()
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'keep.txt'])
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('my own notes')

    await $('export').click()
    await dialog.waitFor({ timeout: 60_000 })
    await $('confirm-ok').click()
    await $('export-result').waitFor({ timeout: 120_000 })
    expect(await $('export-agreement').textContent()).toMatch(/100(\.0)?\s?% agreement/)
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('keep me')
    const readme = readFileSync(join(dir, 'README.md'), 'utf8')
    expect(readme).toMatch(/^---\nlicense: "mit"/)
    expect(readme).toContain('A demo on drawn shapes.')
    expect(existsSync(join(dir, 'confusion-matrix.png'))).toBe(true)
    // The card it wrote records the check.
    await $('show-run-card').click()
    expect(await page.locator('[data-testid="run-card"] [data-section="check"]').textContent()).toMatch(
      /agreed on 100\.0 %/,
    )
    await $('card-dialog-close').click()
  })

  it('exports a Teachable Machine–compatible .zip', async () => {
    await $('export-format-tm').check()
    await $('export-zip').check()
    const base = join(scratch, 'tm-export')
    await $('export-dir').fill(base)
    await $('export').click()
    await $('export-result').waitFor({ timeout: 120_000 })
    expect(await $('export-result').textContent()).toContain(`${base}.zip`)
    expect(existsSync(`${base}.zip`)).toBe(true)
    expect((page as Page & { errors?: string[] }).errors ?? []).toEqual([])
  })
})
