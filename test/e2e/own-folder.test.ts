/**
 * One's own folder, the way a first-time user meets it (issue 13): from a fresh start to Results
 * with a typed folder path in at most 8 clicks and no scrolling; a second run that never shows the
 * stale one; History that fits a 1024 px window; and the Data step's ways to name a folder (a typed
 * path refused or missing, recent folders, a dropped folder in browser mode).
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Browser, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, openPage, startServe, type App } from './harness'

const TRAINING_MS = 300_000
const VIEWPORT = { width: 1280, height: 800 }

const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'tunewise-own-folder-')))
const clothes = join(scratch, 'clothes')
const pets = join(scratch, 'pets')
const gone = join(scratch, 'gone soon')
const single = join(scratch, 'only-cats')

/** A folder of small noisy PNGs, one sub-folder per class, each image different (no copies flagged). */
async function makeFolder(root: string, classes: Record<string, [number, number, number]>, n: number): Promise<void> {
  let seed = 7
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1
  for (const [label, [r, g, b]] of Object.entries(classes)) {
    mkdirSync(join(root, label), { recursive: true })
    for (let i = 0; i < n; i++) {
      const size = 32
      const px = Buffer.alloc(size * size * 3)
      for (let p = 0; p < size * size; p++) {
        px[p * 3] = Math.max(0, Math.min(255, r + rand() * 70))
        px[p * 3 + 1] = Math.max(0, Math.min(255, g + rand() * 70))
        px[p * 3 + 2] = Math.max(0, Math.min(255, b + rand() * 70))
      }
      await sharp(px, { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toFile(join(root, label, `${label}-${i}.png`))
    }
  }
}

let browser: Browser
let app: App
let page: Page
let firstRunId = 0
let firstRunName = ''

function pageErrors(p: Page): string[] {
  return (p as Page & { errors?: string[] }).errors ?? []
}

/** Waits until the Data step reports `folder`. */
async function reportOf(folder: string): Promise<void> {
  await page.locator(`[data-testid="data-path"][data-value="${folder}"]`).waitFor({ timeout: 60_000 })
}

/** Where the window and the step pane are scrolled to. */
function scrolled(p: Page): Promise<{ window: number; pane: number }> {
  return p.evaluate(() => ({ window: window.scrollY, pane: document.querySelector('.content')?.scrollTop ?? -1 }))
}

beforeAll(async () => {
  await makeFolder(clothes, { shirts: [200, 60, 60], shoes: [60, 60, 200], hats: [60, 170, 60] }, 12)
  await makeFolder(pets, { cats: [220, 200, 60], dogs: [120, 60, 160] }, 8)
  await makeFolder(gone, { a: [10, 10, 10], b: [240, 240, 240] }, 6)
  // Typed paths may only name folders Tunewise may browse: the fixtures' folder is one.
  ;[browser, app] = await Promise.all([launchBrowser(), startServe({ env: { TUNEWISE_BROWSE_ROOTS: scratch } })])
  page = await openPage(browser, app.url)
})

afterAll(async () => {
  await browser?.close()
  await app?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

describe('the defaults path with a typed folder path', () => {
  it('reaches Results in at most 8 clicks, each on something already in view, without scrolling', async () => {
    expect(page.viewportSize()).toEqual(VIEWPORT)
    let clicks = 0
    /** Every click of the path goes through here: it must be in view and unscrolled before it happens. */
    const click = async (target: Locator): Promise<void> => {
      await target.waitFor({ state: 'visible' })
      const box = (await target.boundingBox())!
      expect(box, 'the target has a box').not.toBeNull()
      expect(box.x).toBeGreaterThanOrEqual(0)
      expect(box.y).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width).toBeLessThanOrEqual(VIEWPORT.width)
      expect(box.y + box.height).toBeLessThanOrEqual(VIEWPORT.height)
      // Nothing (a sticky bar, a notice) lies over its middle.
      const onTop = await target.evaluate(
        (el, [x, y]) => el.contains(document.elementFromPoint(x!, y!)),
        [box.x + box.width / 2, box.y + box.height / 2],
      )
      expect(onTop, 'the target is not covered').toBe(true)
      expect(await scrolled(page)).toEqual({ window: 0, pane: 0 })
      clicks++
      await target.click()
    }

    await page.locator('[data-testid="model-card"][aria-pressed="true"]').waitFor()
    await click(page.locator('[data-testid="next"]:enabled'))

    await page.locator('[data-step="data"][aria-current="step"]').waitFor()
    await click(page.locator('[data-testid="dataset-path"]'))
    await page.keyboard.type(clothes)
    // Enter opens the folder: no extra click.
    await page.keyboard.press('Enter')
    await page.locator('[data-testid="data-report"]').waitFor({ timeout: 60_000 })
    expect(Number(await page.locator('[data-testid="data-total"]').textContent())).toBe(36)
    // Pictures only: no offer to read them as sound recordings.
    expect(await page.locator('[data-testid="data-kind"][data-kind="image"]').count()).toBe(1)
    expect(await page.locator('[data-testid="data-kind-switch"]').count()).toBe(0)
    await click(page.locator('[data-testid="next"]:enabled'))

    await page.locator('[data-testid="split-table"]').waitFor()
    await click(page.locator('[data-testid="next"]:enabled'))
    await page.locator('[data-step="freeze"][aria-current="step"]').waitFor()
    await click(page.locator('[data-testid="next"]:enabled'))
    await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
    await click(page.locator('[data-testid="next"]:enabled'))
    await page.locator('[data-step="train"][aria-current="step"]').waitFor()
    await expect(page.locator('[data-testid="train-ready"]').textContent()).resolves.toMatch(/Everything is ready/)
    expect(await page.locator('[data-testid="train-not-ready"]').count()).toBe(0)

    // Every text an empty chart shows during the run, caught as it changes.
    await page.evaluate(() => {
      const seen = new Set<string>()
      ;(window as unknown as { chartNotes: Set<string> }).chartNotes = seen
      const note = (): void => {
        for (const el of document.querySelectorAll('[data-testid="loss-chart"] [data-testid="chart-empty"]'))
          seen.add(el.textContent ?? '')
      }
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true })
    })
    await click(page.locator('[data-testid="start-training"]:enabled'))
    await page.locator('[data-testid="run-status"]').waitFor({ timeout: 60_000 })
    firstRunId = Number(await page.locator('[data-testid="run-id"]').getAttribute('data-value'))
    firstRunName = (await page.locator('[data-testid="train-run-name"]').textContent()) ?? ''
    expect(firstRunName).toMatch(/clothes/)

    await page.locator('[data-step="results"][aria-current="step"]').waitFor({ timeout: TRAINING_MS })
    await page.locator('[data-testid="test-accuracy"]').waitFor()
    expect(clicks).toBeLessThanOrEqual(8)
    expect(await scrolled(page)).toEqual({ window: 0, pane: 0 })

    // While the base model read the images, the charts said why they were empty, with the count.
    const notes = await page.evaluate(() => [...(window as unknown as { chartNotes: Set<string> }).chartNotes])
    expect(
      notes.some((n) => /^Curves appear after the features are extracted \(image \d+ of \d+\)\.$/.test(n)),
      notes.join(' | '),
    ).toBe(true)
    expect(pageErrors(page)).toEqual([])
  })
})

describe('a second run', () => {
  it('offers "Start a new run with these settings" for the finished run, in view in the footer', async () => {
    expect(firstRunId).toBeGreaterThan(0)
    await page.locator('[data-step="train"]').click()
    await page.locator('[data-testid="run-status"][data-value="succeeded"]').waitFor()
    const again = page.locator('[data-testid="new-run"]')
    await expect(again.textContent()).resolves.toBe('Start a new run with these settings')
    const box = (await again.boundingBox())!
    expect(box.y + box.height).toBeLessThanOrEqual(VIEWPORT.height)
    await expect(again.evaluate((el) => el.classList.contains('primary'))).resolves.toBe(true)
  })

  it('after a changed setting and Next, Train shows the new run to start: no stale run, curves or result', async () => {
    /** The epochs field on Hyperparameters (under Advanced, which each visit opens afresh). */
    const epochsField = async (): Promise<Locator> => {
      await page.locator('[data-step="hyper"]').click()
      await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
      if ((await page.locator('[data-testid="field-hyper-epochs"]').count()) === 0)
        await page.locator('[data-testid="advanced-toggle"]').click()
      return page.locator('[data-testid="field-hyper-epochs"]')
    }
    const epochs = await epochsField()
    const original = await epochs.inputValue()
    await epochs.fill(String(Number(original) + 1))
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-step="train"][aria-current="step"]').waitFor()

    await page.locator('[data-testid="start-training"]:enabled').waitFor()
    await expect(page.locator('[data-testid="start-training"]').textContent()).resolves.toBe('Start training')
    for (const stale of ['run-status', 'run-id', 'loss-chart', 'acc-chart', 'train-val-accuracy', 'new-run'])
      expect(await page.locator(`[data-testid="${stale}"]`).count(), stale).toBe(0)
    await page.locator('[data-testid="preflight"]').waitFor()

    // The same settings again: the finished run is the one they made, so Train shows it once more.
    await (await epochsField()).fill(original)
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-testid="run-status"][data-value="succeeded"]').waitFor()
    expect(Number(await page.locator('[data-testid="run-id"]').getAttribute('data-value'))).toBe(firstRunId)
  })

  it('starts a new run with the same settings in one click, under a name of its own', async () => {
    await page.locator('[data-testid="new-run"]').click()
    await page.waitForFunction(
      (first) => Number(document.querySelector('[data-testid="run-id"]')?.getAttribute('data-value')) > first,
      firstRunId,
    )
    // The suggested name is the same as the first run's: the second is numbered.
    await page.locator('[data-testid="train-run-name"]', { hasText: `${firstRunName} (2)` }).waitFor()
    await page.locator('[data-testid="cancel-training"]').click()
    await page.locator('[data-testid="run-status"][data-value="cancelled"]').waitFor({ timeout: 60_000 })
    expect(pageErrors(page)).toEqual([])
  })
})

describe('History in a 1024 px window', () => {
  it('fits the table with every action in view, and the delete dialog keeps box and label on one line', async () => {
    await page.setViewportSize({ width: 1024, height: 700 })
    try {
      await page.locator('[data-step="history"]').click()
      await page.locator('[data-testid="history-row"]').nth(1).waitFor()
      const names = await page.locator('[data-testid="history-row"] .run-name').allTextContents()
      expect(new Set(names).size).toBe(names.length)
      const wrap = await page
        .locator('.table-wrap')
        .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right }))
      expect(wrap.scroll).toBeLessThanOrEqual(wrap.client)
      for (const action of await page.locator('[data-testid="run-actions"] button').all()) {
        const box = (await action.boundingBox())!
        expect(box.x + box.width).toBeLessThanOrEqual(Math.min(wrap.right, 1024))
      }

      await page.locator('[data-testid="delete"]').first().click()
      const box = (await page.locator('[data-testid="keep-artifacts"]').boundingBox())!
      const text = await page.locator('[data-testid="keep-artifacts-text"]').evaluate((el) => {
        const r = el.getBoundingClientRect()
        return {
          left: r.left,
          top: r.top,
          lines: el.getClientRects().length,
          lineHeight: parseFloat(getComputedStyle(el).lineHeight),
        }
      })
      // The text starts right of the box and its first line sits level with the box.
      expect(text.left).toBeGreaterThanOrEqual(box.x + box.width)
      expect(Math.abs(box.y + box.height / 2 - (text.top + text.lineHeight / 2))).toBeLessThan(text.lineHeight / 2)
      await page.locator('[data-testid="confirm-cancel"]').click()
    } finally {
      await page.setViewportSize(VIEWPORT)
    }
  })
})

describe('naming a folder on the Data step', () => {
  it('says plainly why a typed path cannot be opened', async () => {
    await page.locator('[data-step="data"]').click()
    const field = page.locator('[data-testid="dataset-path"]')
    const error = (text: RegExp): Promise<void> =>
      page.locator('[data-testid="dataset-error"]', { hasText: text }).waitFor()
    await field.fill('/etc')
    await field.press('Enter')
    await error(/may only open folders inside .* and '\/etc' is not/)
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true')
    await field.fill(join(scratch, 'no such folder'))
    await field.press('Enter')
    await error(/There is no folder .*no such folder.*Check the spelling/)
    await field.fill(join(clothes, 'hats', 'hats-0.png'))
    await field.press('Enter')
    await error(/is a file, not a folder/)
  })

  it('a dataset that cannot train keeps Train closed, even with a finished run in the session', async () => {
    await makeFolder(single, { cats: [200, 120, 40] }, 6)
    await page.locator('[data-testid="dataset-path"]').fill(single)
    await page.locator('[data-testid="dataset-path"]').press('Enter')
    await page.locator('[data-testid="data-blockers"]').waitFor({ timeout: 60_000 })
    await expect(page.locator('[data-step="train"]').isDisabled()).resolves.toBe(true)
    await expect(page.locator('[data-step="train"]').getAttribute('title')).resolves.toBe(
      'Fix the dataset problems first.',
    )
  })

  it('lists recent folders newest first, only those still there, and opens one in one click', async () => {
    for (const folder of [gone, pets]) {
      await page.locator('[data-testid="dataset-path"]').fill(folder)
      await page.locator('[data-testid="dataset-path"]').press('Enter')
      await reportOf(folder)
    }
    rmSync(gone, { recursive: true, force: true })
    await page.reload()
    await page.locator('[data-step="data"]').click()
    const recent = page.locator('[data-testid="recent-folder"]')
    await recent.first().waitFor()
    // The folder that is gone is left out; the others come newest first.
    expect(await recent.evaluateAll((els) => els.map((e) => e.getAttribute('data-path')))).toEqual([
      pets,
      single,
      clothes,
    ])

    await page.locator(`[data-testid="recent-folder"][data-path="${clothes}"]`).click()
    await reportOf(clothes)
    await expect(page.locator('[data-testid="data-total"]').textContent()).resolves.toBe('36')
  })

  it('a folder dropped in a browser has no path: it says so, points to paste, and offers the recent one of that name', async () => {
    await page.locator('[data-testid="data-step"]').evaluate((el) => {
      const dt = new DataTransfer()
      dt.items.add(new File([''], 'pets'))
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }))
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    })
    const note = page.locator('[data-testid="drop-note"]')
    await expect(note.textContent()).resolves.toMatch(/does not say where a dropped folder is.*Paste its path/s)
    await page.locator('[data-testid="drop-match"]').click()
    await reportOf(pets)
    expect(pageErrors(page)).toEqual([])
  })
})
