import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, openPage, root, startApp, startServe, type App } from './harness'

let browser: Browser

beforeAll(async () => {
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
})

describe('browser mode', () => {
  let app: App
  beforeAll(async () => {
    app = await startServe()
  })
  afterAll(async () => {
    await app?.stop()
  })

  it('opens the wizard, walks the step rail and shows the schema version', async () => {
    const page = await openPage(browser, app.url)
    const steps = ['model', 'data', 'split', 'freeze', 'hyper', 'train', 'results', 'history']
    await page.locator('[data-step="model"]').waitFor()
    for (const step of steps) await expect(page.locator(`[data-step="${step}"]`).count()).resolves.toBe(1)
    // Reachable steps can be visited; the current one is marked.
    await page.locator('[data-step="history"]').click()
    await expect(page.locator('[data-step="history"]').getAttribute('aria-current')).resolves.toBe('step')
    await page.locator('[data-step="model"]').click()
    await expect(page.locator('[data-step="model"]').getAttribute('aria-current')).resolves.toBe('step')

    const schema = page.locator('[data-testid="status-schema"]')
    await schema.waitFor()
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="status-schema"]')?.getAttribute('data-value'),
    )
    const dbSchema = spawnSync(
      process.execPath,
      [
        '-e',
        `const D=require('better-sqlite3');const d=new D(process.argv[1],{readonly:true});console.log(d.pragma('user_version',{simple:true}))`,
        join(app.dataDir, 'tunewise.db'),
      ],
      { cwd: root, encoding: 'utf8' },
    ).stdout.trim()
    expect(await schema.getAttribute('data-value')).toBe(dbSchema)
    expect(Number(dbSchema)).toBeGreaterThanOrEqual(1)
    await expect(page.locator('[data-testid="status-datadir"]').textContent()).resolves.toContain(app.dataDir)
    expect((page as unknown as { errors: string[] }).errors).toEqual([])
  })

  it('gives nothing to a page opened with a wrong token', async () => {
    const wrong = app.url.replace(/token=[0-9a-f]+/, 'token=deadbeef')
    const page = await browser.newPage()
    const res = await page.goto(wrong)
    expect(res?.status()).toBe(403)
    expect(await page.locator('[data-step]').count()).toBe(0)
    await page.close()
  })
})

describe('npm start without the Electron binary', () => {
  it('says so in one sentence, prints a URL, and the URL serves the wizard', async () => {
    const app = await startApp('npm', ['start', '--silent'], { env: { TUNEWISE_SKIP_BUILD: '1' } })
    try {
      expect(app.output()).toMatch(/Electron [\d.]* is not installed.*browser mode/)
      const page = await openPage(browser, app.url)
      await page.locator('[data-step="model"]').waitFor()
      expect(await page.title()).toMatch(/Tunewise/)
      await page.close()
    } finally {
      await app.stop()
    }
  })
})
