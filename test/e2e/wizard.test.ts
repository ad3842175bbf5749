/**
 * The wizard end to end in Chromium against the built app and the real engine (WASM): sample data with
 * every default to Results in a handful of clicks, a reload mid-run, export, cancel, and a dataset
 * with a single class. One data directory for the file; the tests run in order and share one run.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Browser, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { conditionHolds, defaultRunConfig, fieldList, numberField, numberMessage } from '../../src/shared/run-config'
import { formatNumber } from '../../src/renderer/src/lib/core/format'
import { launchBrowser, openPage, startServe, type App } from './harness'

const TRAINING_MS = 240_000

/**
 * Waits until the Train screen's progress passes `above` and returns it. Progress is one number that
 * grows as a run advances: the stage times 1000, plus the progress bar's percentage within it
 * (extraction images, or epochs and batches while training). A function, not a string: the page's
 * CSP forbids string predicates.
 */
async function progressAbove(p: Page, above: number, timeout: number): Promise<number> {
  const handle = await p.waitForFunction(
    (min) => {
      const stages = ['loading', 'extracting', 'training', 'evaluating', 'exporting']
      const stage = document.querySelector('[data-testid="stage"]')?.getAttribute('data-value') ?? ''
      const bar = document.querySelector('[data-testid="train-progress"] [role="progressbar"]')
      const key = stages.indexOf(stage) * 1000 + Number(bar?.getAttribute('aria-valuenow') ?? 0)
      return key > min ? key : false
    },
    above,
    { timeout, polling: 100 },
  )
  return (await handle.jsonValue()) as number
}

let browser: Browser
let app: App
let page: Page
let clicks = 0
let runId = ''
const scratch = mkdtempSync(join(tmpdir(), 'tunewise-wizard-e2e-'))

/** Every click of the main flow goes through here, so the count below is the count a user makes. */
async function click(target: Locator): Promise<void> {
  clicks++
  await target.click()
}

function pageErrors(p: Page): string[] {
  return (p as Page & { errors?: string[] }).errors ?? []
}

beforeAll(async () => {
  // The fixture folders live in the scratch folder: typed paths may only name folders Tunewise may browse.
  ;[browser, app] = await Promise.all([launchBrowser(), startServe({ env: { TUNEWISE_BROWSE_ROOTS: scratch } })])
  page = await openPage(browser, app.url)
})

afterAll(async () => {
  await browser?.close()
  await app?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

describe('sample data with every default', () => {
  it('gets from a fresh start to a running training with the defaults', async () => {
    await page.locator('[data-step="model"][aria-current="step"]').waitFor()
    // The bundled model is preselected: Next goes straight on.
    await page.locator('[data-testid="model-card"][aria-pressed="true"]').waitFor()
    await expect(page.locator('[data-testid="model-card"][aria-pressed="true"]').count()).resolves.toBe(1)
    await click(page.locator('[data-testid="next"]'))

    await click(page.locator('[data-testid="use-sample"]'))
    await page.locator('[data-testid="data-report"]').waitFor({ timeout: 120_000 })
    expect(Number(await page.locator('[data-testid="data-total"]').textContent())).toBe(160)
    expect(Number(await page.locator('[data-testid="data-classes"]').textContent())).toBeGreaterThanOrEqual(2)
    await click(page.locator('[data-testid="next"]:enabled'))

    await page.locator('[data-testid="split-table"]').waitFor()
    await click(page.locator('[data-testid="next"]:enabled'))
    await page.locator('[data-step="freeze"][aria-current="step"]').waitFor()
    await click(page.locator('[data-testid="next"]:enabled'))
    await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
    await click(page.locator('[data-testid="next"]:enabled'))

    await click(page.locator('[data-testid="start-training"]:enabled'))
    await page.locator('[data-testid="run-status"][data-value="running"]').waitFor({ timeout: 60_000 })
    runId = (await page.locator('[data-testid="run-id"]').getAttribute('data-value')) ?? ''
    expect(Number(runId)).toBeGreaterThan(0)
  })

  it('shows the same run still progressing after a page reload', async () => {
    expect(runId).not.toBe('')
    // Wait for real progress (extraction images counted, or epochs under way) before reloading.
    await progressAbove(page, 1000, 120_000)
    await page.reload()

    await page.locator('[data-step="train"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="run-status"][data-value="running"]').waitFor()
    expect(await page.locator('[data-testid="run-id"]').getAttribute('data-value')).toBe(runId)
    // The reloaded page picks up the run's last progress from main, then follows new events.
    const afterReload = await progressAbove(page, 1000, 60_000)
    await progressAbove(page, afterReload, 120_000)
  })

  it('opens Results with a test accuracy and a confusion matrix, at most 8 clicks from the start', async () => {
    expect(runId).not.toBe('')
    await page.locator('[data-step="results"][aria-current="step"]').waitFor({ timeout: TRAINING_MS })
    const accuracy = page.locator('[data-testid="test-accuracy"]')
    await accuracy.waitFor()
    await expect(page.locator('.step-lead').textContent()).resolves.toContain(`run #${runId}`)
    const value = Number(await accuracy.getAttribute('data-value'))
    expect(value).toBeGreaterThanOrEqual(0)
    expect(value).toBeLessThanOrEqual(1)
    expect(await accuracy.textContent()).toMatch(/\d+(\.\d+)?\s?%/)

    const classes = Number(await page.locator('[data-testid="per-class"] tbody tr').count())
    const cells = page.locator('[data-testid="confusion-matrix"] .cm-cell')
    expect(classes).toBeGreaterThanOrEqual(2)
    expect(await cells.count()).toBe(classes * classes)
    // The matrix and the headline agree: accuracy is the diagonal's share of the test images.
    const counts = (await cells.allTextContents()).map(Number)
    const total = counts.reduce((a, b) => a + b, 0)
    const diagonal = counts.filter((_, k) => k % (classes + 1) === 0).reduce((a, b) => a + b, 0)
    expect(total).toBeGreaterThan(0)
    expect(value).toBeCloseTo(diagonal / total, 6)
    // The headline carries its 95 % interval, and it contains the value.
    const interval = page.locator('[data-testid="test-interval"]')
    const [low, high] = [
      Number(await interval.getAttribute('data-low')),
      Number(await interval.getAttribute('data-high')),
    ]
    expect(low).toBeLessThanOrEqual(value)
    expect(high).toBeGreaterThanOrEqual(value)

    expect(clicks).toBeLessThanOrEqual(8)
    // The mislabel search answers on the run's own cached features (not counted: not on the defaults path).
    await page.locator('[data-testid="suspects-find"]').click()
    await page
      .locator('[data-testid="suspects-none"], [data-testid="suspect-thumbs"]')
      .first()
      .waitFor({ timeout: 120_000 })
    expect(pageErrors(page)).toEqual([])
  })

  it('exports a model folder that re-evaluates to the same answers', async () => {
    expect(runId).not.toBe('')
    const dir = await page.locator('[data-testid="export-dir"]').inputValue()
    expect(dir.startsWith(app.dataDir)).toBe(true)
    await page.locator('[data-testid="export"]').click()
    const result = page.locator('[data-testid="export-result"]')
    await result.waitFor({ timeout: 120_000 })
    for (const f of ['model.json', 'weights.bin', 'metadata.json']) {
      expect(existsSync(join(dir, f)), f).toBe(true)
      expect(statSync(join(dir, f)).size, f).toBeGreaterThan(0)
    }
    expect(await page.locator('[data-testid="export-agreement"]').textContent()).toMatch(/100(\.0)?\s?% agreement/)
  })
})

describe('try your own image', () => {
  it('classifies a chosen image and leaves the window and the step rail where they were', async () => {
    const image = join(scratch, 'mine.png')
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 60, b: 60 } } })
      .png()
      .toFile(image)
    const where = () =>
      page.evaluate(() => ({
        window: document.scrollingElement?.scrollTop ?? 0,
        rail: Math.round(document.querySelector('.rail')?.getBoundingClientRect().top ?? -1),
      }))
    const before = await where()
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      page.locator('label[for="predict-file"]').click(),
    ])
    await chooser.setFiles(image)
    await page.locator('[data-testid="predictions"] li').first().waitFor({ timeout: 60_000 })
    expect(await where()).toEqual(before)
    expect(before.window).toBe(0)
    expect(pageErrors(page)).toEqual([])
  })
})

describe('cancelling', () => {
  it('stops a running training and says it was cancelled', async () => {
    // A run that cannot finish by itself before the cancel: many epochs, no early stopping.
    await page.locator('[data-testid="train-again"]').click()
    await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="advanced-toggle"]').click()
    // Every setting shown comes from the field table: its label, and its default in the help.
    const c = defaultRunConfig('m', 'd')
    const shown = fieldList.filter(
      (f) =>
        ['optimiser', 'schedule', 'length', 'early-stopping', 'loss', 'augment'].includes(f.spec.group) &&
        !f.spec.custom &&
        conditionHolds(f.spec.visibleWhen, c),
    )
    expect(shown.map((f) => f.path)).toContain('hyper.labelSmoothing')
    for (const f of shown) {
      const id = f.path.replace(/\./g, '-').replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)
      const field = page.locator(`[data-testid="field-${id}"]`)
      await expect(field.count(), f.path).resolves.toBe(1)
      const help = (await page.locator(`#${id}-help`).textContent()) ?? ''
      expect(help, f.path).toContain(f.spec.help)
      expect(help, f.path).toMatch(/Default /)
      if (f.spec.kind === 'number') expect(help, f.path).toContain(`Default ${formatNumber(f.spec.default, 6)}.`)
    }
    // A value outside the table's limits is refused with the table's sentence.
    await page.locator('[data-testid="field-hyper-learning-rate"]').fill('5')
    await expect(page.locator('#hyper-learning-rate-error').textContent()).resolves.toBe(
      numberMessage(numberField('hyper.learningRate')),
    )
    await page.locator('[data-testid="field-hyper-learning-rate"]').fill('0.001')
    await page.locator('[data-testid="field-hyper-epochs"]').fill('1000')
    await page.locator('[data-testid="field-hyper-early-stopping-enabled"]').uncheck()
    // Augmented epochs run the base on every image: 1,000 of them cannot end before the cancel, however fast
    // the head trains on cached features (the linear-head kernel does a tiny set's 1,000 epochs in seconds).
    await page.locator('[data-testid="field-augment-enabled"]').check()
    await page.locator('[data-testid="next"]:enabled').click()
    // Changed settings: Train offers the new run at once, never the finished one.
    await page.locator('[data-testid="start-training"]:enabled').click()

    await page.locator('[data-testid="run-status"][data-value="running"]').waitFor({ timeout: 60_000 })
    const id = await page.locator('[data-testid="run-id"]').getAttribute('data-value')
    expect(id).not.toBe(runId)
    await progressAbove(page, 1000, 120_000)
    // The status bar lists the running task with its own Cancel.
    await page.locator('[data-testid="task-tray"] [data-kind="train"]').waitFor()
    await page.locator('[data-testid="cancel-training"]').click()

    await page.locator('[data-testid="run-status"][data-value="cancelled"]').waitFor({ timeout: 60_000 })
    await expect(page.locator('[data-testid="run-status"]').textContent()).resolves.toBe('Cancelled')
    await expect(page.getByText('Training was cancelled.').count()).resolves.toBe(1)
    expect(await page.locator('[data-testid="run-id"]').getAttribute('data-value')).toBe(id)
  })
})

describe('the coach', () => {
  it('a run at learning rate 1 is called too high, and its fix opens the wizard with a smaller rate', async () => {
    // After the cancelled run: set up another with Adam at learning rate 1, briefly.
    await page.locator('[data-step="hyper"]').click()
    await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
    if ((await page.locator('[data-testid="field-hyper-learning-rate"]').count()) === 0)
      await page.locator('[data-testid="advanced-toggle"]').click()
    await page.locator('[data-testid="field-hyper-learning-rate"]').fill('1')
    await page.locator('[data-testid="field-hyper-epochs"]').fill('3')
    await page.locator('[data-testid="field-augment-enabled"]').uncheck()
    await page.locator('[data-testid="next"]:enabled').click()
    // The pre-flight panel names the baseline to beat.
    await expect(page.locator('[data-testid="chance-level"]').textContent()).resolves.toMatch(/Guessing would score/)
    await page.locator('[data-testid="start-training"]:enabled').click()
    // A finished run opens Results by itself; a failed one stays on Train with the coach.
    await page
      .locator(
        '[data-step="results"][aria-current="step"], [data-testid="run-status"][data-value="failed"], [data-testid="run-status"][data-value="succeeded"]',
      )
      .first()
      .waitFor({ timeout: TRAINING_MS })
    if ((await page.locator('[data-testid="run-status"][data-value="succeeded"]').count()) > 0) {
      await page.locator('[data-step="results"]').click()
      await page.locator('[data-step="results"][aria-current="step"]').waitFor()
    }
    const finding = page.locator(
      '[data-testid="finding"][data-code="learning-rate-high"], [data-testid="finding"][data-code="diverged"]',
    )
    await finding.first().waitFor({ timeout: 30_000 })
    await expect(finding.first().textContent()).resolves.toMatch(/learning rate is too high/i)
    await finding.first().locator('[data-testid="apply-fix"]').click()
    await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
    if ((await page.locator('[data-testid="field-hyper-learning-rate"]').count()) === 0)
      await page.locator('[data-testid="advanced-toggle"]').click()
    const lr = Number(await page.locator('[data-testid="field-hyper-learning-rate"]').inputValue())
    expect(lr).toBeLessThan(1)
    expect(lr).toBeGreaterThan(0)
    expect(pageErrors(page)).toEqual([])
  })
})

describe('a folder where half the images are copies (the false 100 %)', () => {
  it('warns on the Data step that the copies cannot inflate the test score (the split side is checked in data-folder.test.ts)', async () => {
    const root = join(scratch, 'copies')
    for (const [label, colour] of [
      ['red', { r: 220, g: 30, b: 30 }],
      ['blue', { r: 30, g: 30, b: 220 }],
    ] as const) {
      mkdirSync(join(root, label), { recursive: true })
      for (let i = 0; i < 8; i++) {
        const png = await sharp({
          create: { width: 48, height: 48, channels: 3, background: { ...colour, g: colour.g + i * 20 } },
        })
          .png()
          .toBuffer()
        writeFileSync(join(root, label, `${label}-${i}.png`), png)
        writeFileSync(join(root, label, `copy of ${label}-${i}.png`), png)
      }
    }
    await page.locator('[data-step="data"]').click()
    await page.locator('[data-step="data"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="dataset-path"]').fill(root)
    await page.locator('[data-testid="dataset-submit"]').click()
    const warnings = page.locator('[data-testid="data-warnings"]')
    await warnings.waitFor({ timeout: 60_000 })
    await expect(warnings.textContent()).resolves.toMatch(/16 images are exact copies.*cannot inflate the test score/)
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-testid="split-table"]').waitFor()
    expect(pageErrors(page)).toEqual([])
  })
})

describe('a dataset with one class', () => {
  it('says so and keeps Next disabled', async () => {
    const root = join(scratch, 'only-cats')
    mkdirSync(join(root, 'cats'), { recursive: true })
    for (let i = 0; i < 4; i++) {
      await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 40 * i, g: 120, b: 200 } } })
        .png()
        .toFile(join(root, 'cats', `cat-${i}.png`))
    }

    await page.locator('[data-step="data"]').click()
    await page.locator('[data-step="data"][aria-current="step"]').waitFor()
    // Browser mode has no native dialog: the path field is always there.
    await page.locator('[data-testid="dataset-path"]').fill(root)
    await page.locator('[data-testid="dataset-submit"]').click()

    const blockers = page.locator('[data-testid="data-blockers"]')
    await blockers.waitFor({ timeout: 60_000 })
    expect(await blockers.textContent()).toMatch(/only one class/i)
    await expect(page.locator('[data-testid="data-classes"]').textContent()).resolves.toBe('1')
    await expect(page.locator('[data-testid="next"]').isDisabled()).resolves.toBe(true)
    expect(pageErrors(page)).toEqual([])
  })
})
