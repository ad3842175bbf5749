/**
 * Plain words first, terms second, in Chromium against the built app: a technical term explains itself
 * from the glossary on keyboard focus and on hover (Escape hides it), and the Freeze step's layer table
 * is closed until asked for and, open, is one stop for the Tab key that the arrow keys move inside.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { glossary, type GlossaryKey } from '../../src/shared/glossary'
import { launchBrowser, openPage, requireBuild, startServe, type App } from './harness'

let browser: Browser
let app: App
let page: Page

/** What has the focus: its tag, classes, data-term / data-cell, and whether it is inside the layer table. */
const focused = (p: Page) =>
  p.evaluate(() => {
    const el = document.activeElement as HTMLElement | null
    const grid = document.querySelector('[data-testid="layer-grid"]')
    return {
      tag: el?.tagName ?? '',
      term: el?.dataset.term ?? null,
      cell: el?.dataset.cell ?? null,
      checked: el instanceof HTMLInputElement ? el.checked : null,
      inGrid: !!grid && !!el && grid.contains(el),
      afterGrid: !!grid && !!el && !!(grid.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING),
    }
  })

/** The tooltip a term points to: shown or not, its text, and whether it lies inside the window. */
const tooltipOf = (p: Page, selector: string) =>
  p.evaluate((sel) => {
    const term = document.querySelector(sel)
    const tip = document.getElementById(term?.getAttribute('aria-describedby') ?? '')
    const r = tip?.getBoundingClientRect()
    const shown = !!tip && getComputedStyle(tip).display !== 'none' && !!r && r.width > 0
    return {
      role: tip?.getAttribute('role') ?? null,
      text: tip?.textContent ?? '',
      shown,
      inside: !!r && r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight,
    }
  }, selector)

beforeAll(async () => {
  requireBuild()
  ;[browser, app] = await Promise.all([launchBrowser(), startServe()])
  page = await openPage(browser, app.url)
})

afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

describe('terms', () => {
  it('a term explains itself from the glossary on keyboard focus, without moving the page, and Escape hides it', async () => {
    await page.locator('[data-step="model"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="model-card"][aria-pressed="true"]').waitFor()
    const lead = page.locator('.step-lead')
    const before = await lead.boundingBox()
    // From the heading, the next Tab reaches the first term of the lead.
    await page.locator('#step-heading').focus()
    await page.keyboard.press('Tab')
    const f = await focused(page)
    expect(f.term).toBe('pretrained-model')
    const selector = `.step-lead [data-term="${f.term}"]`
    const tip = await tooltipOf(page, selector)
    expect(tip).toEqual({
      role: 'tooltip',
      text: glossary[f.term as GlossaryKey].explain,
      shown: true,
      inside: true,
    })
    // The tooltip floats: the text around the term has not moved.
    expect(await lead.boundingBox()).toEqual(before)

    await page.keyboard.press('Escape')
    expect((await tooltipOf(page, selector)).shown).toBe(false)
    expect((await focused(page)).term).toBe('pretrained-model')
    // Leaving and coming back shows it again.
    await page.keyboard.press('Shift+Tab')
    expect((await tooltipOf(page, selector)).shown).toBe(false)
    await page.keyboard.press('Tab')
    expect((await tooltipOf(page, selector)).shown).toBe(true)
    await page.keyboard.press('Shift+Tab')
  })

  it('a term explains itself on hover too', async () => {
    const selector = '.step-lead [data-term="fine-tuning"]'
    await page.locator(selector).hover()
    await page.waitForFunction(
      (sel) => {
        const tip = document.getElementById(document.querySelector(sel)?.getAttribute('aria-describedby') ?? '')
        return !!tip && getComputedStyle(tip).display !== 'none'
      },
      selector,
      { timeout: 5_000 },
    )
    const tip = await tooltipOf(page, selector)
    expect(tip.text).toBe(glossary['fine-tuning'].explain)
    expect(tip.inside).toBe(true)
    await page.mouse.move(0, 0)
  })

  it('on Freeze, the layer table is closed until “Choose layers yourself” opens it', async () => {
    await page.locator('[data-testid="next"]').click()
    await page.locator('[data-testid="use-sample"]').click()
    await page.locator('[data-testid="data-report"]').waitFor({ timeout: 120_000 })
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-testid="split-table"]').waitFor()
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-step="freeze"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="trainable-params"]').waitFor({ timeout: 60_000 })

    const toggle = page.locator('[data-testid="layers-toggle"]')
    await expect(toggle.getAttribute('aria-expanded')).resolves.toBe('false')
    await expect(toggle.textContent()).resolves.toContain('Choose layers yourself')
    expect(await page.locator('[data-testid="layer-row"]').count()).toBe(0)
    // The head and the base are named in plain words first.
    await expect(page.locator('.step-lead').textContent()).resolves.toMatch(/new output layer \(the head\)/)

    await toggle.focus()
    await page.keyboard.press('Enter')
    await expect(toggle.getAttribute('aria-expanded')).resolves.toBe('true')
    await page.locator('[data-testid="layer-row"]').first().waitFor()
  })

  it('the open table is one Tab stop; arrows, Home, End and the page keys move inside it; Space ticks a layer', async () => {
    const rows = await page.locator('[data-testid="layer-grid"]').getAttribute('aria-rowcount')
    const layerCount = Number(rows) - 1
    expect(layerCount).toBeGreaterThan(100)

    // Tab from the toggle enters the table at one cell; the next Tab leaves it, past every row.
    await page.keyboard.press('Tab')
    let f = await focused(page)
    expect(f.inGrid).toBe(true)
    expect(f.cell).toBe('0-0')
    await page.keyboard.press('Tab')
    f = await focused(page)
    expect(f.inGrid).toBe(false)
    expect(f.afterGrid).toBe(true)
    // Shift+Tab comes back to the same cell.
    await page.keyboard.press('Shift+Tab')
    expect((await focused(page)).cell).toBe('0-0')

    await page.keyboard.press('ArrowDown')
    expect((await focused(page)).cell).toBe('1-0')
    await page.keyboard.press('PageDown')
    const paged = Number((await focused(page)).cell!.split('-')[0])
    expect(paged).toBeGreaterThan(5)
    await page.keyboard.press('PageUp')
    expect((await focused(page)).cell).toBe('1-0')
    // End reaches the last layer, far below the scrolled view (the list draws only what is in view).
    await page.keyboard.press('End')
    expect((await focused(page)).cell).toBe(`${layerCount - 1}-0`)
    const visible = await page.evaluate(() => {
      const el = document.activeElement!.getBoundingClientRect()
      const box = document.querySelector('[data-testid="layer-list"]')!.getBoundingClientRect()
      return el.top >= box.top && el.bottom <= box.bottom
    })
    expect(visible).toBe(true)
    await page.keyboard.press('Home')
    expect((await focused(page)).cell).toBe('0-0')
    // Right and Left move between a row's tick and its "freeze up to here".
    await page.keyboard.press('ArrowRight')
    expect((await focused(page)).cell).toBe('0-1')
    await page.keyboard.press('ArrowLeft')
    expect((await focused(page)).cell).toBe('0-0')

    // Down to the first layer that can be ticked, and Space ticks it.
    for (let i = 0; i < 20 && (await focused(page)).tag !== 'INPUT'; i++) await page.keyboard.press('ArrowDown')
    f = await focused(page)
    expect(f.tag).toBe('INPUT')
    expect(f.checked).toBe(false)
    const trainableBefore = Number(await page.locator('[data-testid="trainable-params"]').getAttribute('data-value'))
    await page.keyboard.press('Space')
    f = await focused(page)
    expect(f.checked).toBe(true)
    expect(f.inGrid).toBe(true)
    await expect(page.locator('[data-testid="freeze-custom"]').isChecked()).resolves.toBe(true)
    const trainableAfter = Number(await page.locator('[data-testid="trainable-params"]').getAttribute('data-value'))
    expect(trainableAfter).toBeGreaterThan(trainableBefore)
    // Still one stop from deep inside: Tab leaves the table at once.
    await page.keyboard.press('Tab')
    expect((await focused(page)).afterGrid).toBe(true)
    await page.keyboard.press('Shift+Tab')
    f = await focused(page)
    expect(f.tag).toBe('INPUT')
    await page.keyboard.press('Space')
    expect((await focused(page)).checked).toBe(false)
    expect((page as Page & { errors?: string[] }).errors ?? []).toEqual([])
  })
})
