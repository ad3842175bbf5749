/**
 * The fine-tuning strategies in Chromium against the built app: the Freeze step offers them in plain words
 * with what each trains and costs; a LoRA run chosen there trains, and its strategy shows on Results, in
 * History and in Compare next to a head-only run made with the CLI on the same data folder.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliJson, launchBrowser, openPage, requireBuild, startServe, type App } from './harness'

const TRAINING_MS = 300_000

/** The exact number behind a short count ("37.1 K"), from the element's data-value. */
const valueOf = async (page: Page, selector: string): Promise<number> =>
  Number(await page.locator(selector).getAttribute('data-value'))

const dataDir = mkdtempSync(join(tmpdir(), 'tw-strategies-e2e-'))
let browser: Browser
let app: App
let page: Page
let headRun: number
let loraRun = 0

beforeAll(async () => {
  requireBuild()
  const config = join(dataDir, 'head.json')
  writeFileSync(config, JSON.stringify({ name: 'head only', hyper: { epochs: 3 } }))
  // The app's sample data, and a head-only run on it to compare with (its base features are then cached).
  const head = await cliJson<{ runId: number; status: string }>(dataDir, 'demo', '--config', config, '--json')
  expect(head.status).toBe('succeeded')
  headRun = head.runId
  ;[browser, app] = await Promise.all([launchBrowser(), startServe({ dataDir })])
  page = await openPage(browser, app.url)
}, TRAINING_MS)

afterAll(async () => {
  await browser?.close()
  await app?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('fine-tuning strategies', () => {
  it('the Freeze step offers every strategy in plain words, with the numbers it trains and its estimate', async () => {
    await page.locator('[data-testid="model-card"][aria-pressed="true"]').waitFor()
    await page.locator('[data-testid="next"]').click()
    await page.locator('[data-testid="use-sample"]').click()
    await page.locator('[data-testid="data-report"]').waitFor({ timeout: 120_000 })
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-testid="split-table"]').waitFor()
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-step="freeze"][aria-current="step"]').waitFor()

    const labels = await page.locator('.presets .preset strong').allTextContents()
    expect(labels).toEqual([
      'Train only a new head',
      'Also adjust the top blocks',
      'Adapters (LoRA): small add-ons to many layers',
      'Representation tuning (LoReFT): a tiny nudge inside the model',
      'Everything',
      'Custom',
    ])
    await page.locator('[data-testid="strategy-params-lora"]').waitFor({ timeout: 60_000 })
    const params = (preset: string) => valueOf(page, `[data-testid="strategy-params-${preset}"]`)
    const head = await params('feature-extraction')
    const top = await params('top-blocks')
    const lora = await params('lora')
    const reft = await params('loreft')
    expect(head).toBeGreaterThan(0)
    expect(lora).toBeGreaterThan(head)
    expect(lora).toBeLessThan(top / 10)
    expect(reft).toBeGreaterThan(head)
    expect(reft).toBeLessThan(lora)
    expect(await params('full')).toBeGreaterThan(top)
    // Where LoReFT acts is said on the screen.
    await expect(page.locator('.presets').textContent()).resolves.toContain('It acts at block_14_add.')
    // Every strategy that can run has an estimate.
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="strategy-estimate-lora"]')?.textContent ?? '').trim() !== '',
      undefined,
      { timeout: 60_000 },
    )
    await expect(page.locator('[data-testid="strategy-estimate-lora"]').textContent()).resolves.toMatch(/minute|min|h/)

    await page.locator('[data-testid="freeze-lora"]').check()
    expect(await valueOf(page, '[data-testid="trainable-params"]')).toBe(lora)
    await expect(page.locator('[data-testid="lora-where"]').textContent()).resolves.toContain(
      'block_16_expand, block_16_project, Conv_1',
    )
    // Advanced: rank and α from the field table; α follows the rank while it is 2 × rank.
    await page.locator('[data-testid="freeze-advanced-toggle"]').click()
    await page.locator('[data-testid="field-adapters-lora-rank"]').fill('4')
    await expect(page.locator('[data-testid="field-adapters-lora-alpha"]').inputValue()).resolves.toBe('8')
    expect(await params('lora')).toBeLessThan(lora)
    await page.locator('[data-testid="field-adapters-lora-rank"]').fill('8')
    await expect(page.locator('[data-testid="field-adapters-lora-alpha"]').inputValue()).resolves.toBe('16')
    // A target picked in the layer list (closed until asked for): the adapter count follows.
    await page.locator('[data-testid="layers-toggle"]').click()
    await page.locator('[data-testid="layer-list"]').evaluate((el) => (el.scrollTop = el.scrollHeight))
    await page.locator('input[aria-label="Adapter Conv_1"]').uncheck()
    await expect(page.locator('[data-testid="lora-where"]').textContent()).resolves.toContain(
      'Adapters on 2 layers you chose: block_16_expand, block_16_project.',
    )
    await page.locator('[data-testid="adapter-default"]').click()
    await expect(page.locator('[data-testid="lora-where"]').textContent()).resolves.toContain('Adapters on 3 layers')
    expect(await page.locator('[data-testid="config-conflict"]').count()).toBe(0)
    // A short phase 2 keeps the test quick.
    await page.locator('[data-testid="field-phase2-epochs"]').fill('1')
  })

  it('trains with LoRA and shows the strategy on Results', async () => {
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="advanced-toggle"]').click()
    await page.locator('[data-testid="field-hyper-epochs"]').fill('3')
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-testid="start-training"]:enabled').click()
    await page.locator('[data-testid="run-status"][data-value="running"]').waitFor({ timeout: 60_000 })
    loraRun = Number(await page.locator('[data-testid="run-id"]').getAttribute('data-value'))
    await page.locator('[data-step="results"][aria-current="step"]').waitFor({ timeout: TRAINING_MS })
    await expect(page.locator('[data-testid="results-strategy"]').textContent()).resolves.toBe(
      'LoRA r=8, α=16 on the top 2 blocks',
    )
    expect((page as Page & { errors?: string[] }).errors ?? []).toEqual([])
  })

  it('History and Compare show the strategy and the trainable parameters of both runs', async () => {
    expect(loraRun).toBeGreaterThan(0)
    await page.locator('[data-step="history"]').click()
    const row = (id: number) => page.locator(`[data-testid="history-row"][data-run-id="${id}"]`)
    await row(loraRun).waitFor()
    await expect(row(headRun).locator('[data-testid="run-strategy"]').textContent()).resolves.toContain('New head only')
    await expect(row(loraRun).locator('[data-testid="run-strategy"]').textContent()).resolves.toContain(
      'LoRA r=8, α=16 on the top 2 blocks',
    )
    const rowSelector = (id: number) => `[data-testid="history-row"][data-run-id="${id}"] [data-testid="run-trainable"]`
    const headParams = await valueOf(page, rowSelector(headRun))
    const loraParams = await valueOf(page, rowSelector(loraRun))
    expect(headParams).toBeGreaterThan(0)
    expect(loraParams).toBeGreaterThan(headParams)

    await row(headRun).locator('[data-testid="run-select"]').check()
    await row(loraRun).locator('[data-testid="run-select"]').check()
    await page.locator('[data-testid="compare"]').click()
    await page.locator('[data-testid="compare-view"]').waitFor()
    const strategy = page.locator('[data-testid="settings-diff"] tr[data-field="Strategy"] td')
    await strategy.first().waitFor()
    expect((await strategy.allTextContents()).map((t) => t.trim())).toEqual([
      'New head only',
      'LoRA r=8, α=16 on the top 2 blocks',
    ])
    const trainable = page.locator('[data-testid="metrics-table"] tr[data-metric="Trainable parameters"] td')
    // Compare shows numbers to 4 significant digits.
    expect((await trainable.allTextContents()).map((t) => Number(t.trim()))).toEqual(
      [headParams, loraParams].map((n) => Number(n.toPrecision(4))),
    )
  })
})
