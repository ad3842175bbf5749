/**
 * An unfinished wizard survives an app restart (the draft lives in the database), and the wizard
 * can be driven from the keyboard.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, openPage, startServe, type App } from './harness'

let browser: Browser
beforeAll(async () => {
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
})

describe('the wizard draft', () => {
  it('restores the chosen data, step and settings after the app restarts', async () => {
    let app: App = await startServe()
    const dataDir = app.dataDir
    try {
      let page = await openPage(browser, app.url)
      await page.locator('[data-testid="next"]').click()
      await page.locator('[data-testid="use-sample"]').click()
      await page.locator('[data-testid="data-report"]').waitFor({ timeout: 60_000 })
      await page.locator('[data-step="hyper"]').click()
      await page.locator('[data-testid="run-name"]').fill('Draft survives')
      await page.locator('[data-testid="run-name"]').blur()
      await page.close()
      await app.stop()

      // Wait for the server's copy, then restart on the same data directory.
      const { default: Database } = await import('better-sqlite3')
      const deadline = Date.now() + 10_000
      for (;;) {
        const db = new Database(`${dataDir}/tunewise.db`, { readonly: true })
        const row = db.prepare("SELECT json FROM drafts WHERE key = 'wizard'").get() as { json: string } | undefined
        db.close()
        if (row?.json.includes('Draft survives')) break
        if (Date.now() > deadline) throw new Error('The draft was never saved.')
        await new Promise((ok) => setTimeout(ok, 100))
      }

      app = await startServe({ dataDir })
      page = await openPage(browser, app.url)
      await page.locator('[data-testid="run-name"]').waitFor({ timeout: 30_000 })
      expect(await page.locator('[data-step="hyper"]').getAttribute('aria-current')).toBe('step')
      expect(await page.locator('[data-testid="run-name"]').inputValue()).toBe('Draft survives')
      await page.locator('[data-step="data"]').click()
      await expect(page.locator('[data-testid="data-total"]').textContent()).resolves.toContain('160')
    } finally {
      await app.stop()
    }
  })

  it('moves between steps with the keyboard', async () => {
    const app = await startServe()
    try {
      const page = await openPage(browser, app.url)
      // Once the catalogue has loaded, the preselected model unlocks the Data step.
      await page.locator('[data-step="data"]:not([disabled])').waitFor()
      await page.locator('[data-step="model"]').focus()
      await page.keyboard.press('ArrowDown')
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-step'))).toBe('data')
      await page.keyboard.press('Enter')
      await expect(page.locator('[data-step="data"]').getAttribute('aria-current')).resolves.toBe('step')
      // Every visible control has an accessible name.
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll('input, select, textarea, button')]
          .filter((el) => (el as HTMLElement).offsetParent !== null)
          .filter((el) => {
            const e = el as HTMLInputElement
            const labelled = e.labels && e.labels.length > 0
            return (
              !labelled && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !e.textContent?.trim()
            )
          })
          .map((el) => el.outerHTML.slice(0, 80)),
      )
      expect(unnamed).toEqual([])
    } finally {
      await app.stop()
    }
  })
})
