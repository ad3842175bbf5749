/**
 * History and Compare in Chromium against the built app. Two real runs on the sample data that
 * differ only in learning rate are made with the CLI on the same data directory first (it shares
 * the database with the server), then the History step is driven like a user would.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatPercent } from '../../src/renderer/src/lib/core/format'
import { launchBrowser, openPage, requireBuild, root, startServe, type App } from './harness'

interface TrainOutput {
  runId: number
  status: string
  metrics: { val: { accuracy: number; best: number | null } | null; test: { accuracy: number } | null }
}

const EPOCHS = 5

/** Runs the built CLI on `dataDir`; resolves with stdout, rejects with the output on a non-zero exit. */
function cli(dataDir: string, ...args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [join(root, 'out', 'main', 'cli.js'), ...args], {
      cwd: root,
      env: { ...process.env, TUNEWISE_HOME: dataDir, TUNEWISE_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    child.once('error', fail)
    child.once('close', (code) =>
      code === 0 ? ok(out) : fail(new Error(`cli ${args.join(' ')} exited ${code}:\n${out}\n${err}`)),
    )
  })
}

function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]!) as T
}

const dataDir = mkdtempSync(join(tmpdir(), 'tw-history-'))
let browser: Browser
let app: App
let page: Page
let a: TrainOutput
let b: TrainOutput

beforeAll(async () => {
  requireBuild()
  const config = (name: string, learningRate: number): string => {
    const file = join(dataDir, `${name}.json`)
    writeFileSync(file, JSON.stringify({ name, hyper: { epochs: EPOCHS, learningRate } }))
    return file
  }
  // `demo` makes the app's sample dataset in dataDir/sample-data/shapes and trains on it; the second
  // run uses the same folder, so it reuses the cached base features.
  a = lastJson<TrainOutput>(await cli(dataDir, 'demo', '--config', config('lr 0.001', 0.001), '--json'))
  b = lastJson<TrainOutput>(
    await cli(
      dataDir,
      'train',
      '--data',
      join(dataDir, 'sample-data', 'shapes'),
      '--config',
      config('lr 0.003', 0.003),
      '--json',
    ),
  )
  expect([a.status, b.status]).toEqual(['succeeded', 'succeeded'])
  ;[browser, app] = await Promise.all([launchBrowser(), startServe({ dataDir })])
  page = await openPage(browser, app.url)
  await page.locator('[data-step="history"]').click()
})

afterAll(async () => {
  await browser?.close()
  await app?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const row = (id: number): string => `[data-testid="history-row"][data-run-id="${id}"]`

async function listedRunIds(): Promise<number[]> {
  const ids = await page
    .locator('[data-testid="history-row"]')
    .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-run-id'))))
  return ids.sort((x, y) => x - y)
}

/** Waits until the table lists exactly `ids` (the list reloads asynchronously after each change). */
async function waitForRows(ids: number[]): Promise<void> {
  const want = [...ids].sort((x, y) => x - y).join(',')
  await page.waitForFunction(
    (w) =>
      Array.from(document.querySelectorAll('[data-testid="history-row"]'))
        .map((r) => Number(r.getAttribute('data-run-id')))
        .sort((x, y) => x - y)
        .join(',') === w,
    want,
  )
  expect(await listedRunIds()).toEqual([...ids].sort((x, y) => x - y))
}

describe('History and Compare', () => {
  it('lists both runs', async () => {
    await waitForRows([a.runId, b.runId])
    await expect(page.locator(row(a.runId)).locator('.run-name').textContent()).resolves.toBe('lr 0.001')
    await expect(page.locator(row(b.runId)).locator('.run-name').textContent()).resolves.toBe('lr 0.003')
  })

  it('shows one validation and one test accuracy per run: the CLI, History, Compare and Results agree', async () => {
    for (const run of [a, b]) {
      const val = run.metrics.val!
      // The CLI's kept-weights validation accuracy is its validation evaluation, not a curve's maximum.
      expect(val.best).toBe(val.accuracy)
      const r = page.locator(row(run.runId))
      expect(Number(await r.locator('[data-testid="history-val"]').getAttribute('data-value'))).toBe(val.accuracy)
      expect(Number(await r.locator('[data-testid="history-test"]').getAttribute('data-value'))).toBe(
        run.metrics.test!.accuracy,
      )
    }
  })

  it('compares them: learning rate is the only differing setting, and two curves are drawn', async () => {
    await expect(page.locator('[data-testid="compare"]').isDisabled()).resolves.toBe(true)
    await page.locator(row(a.runId)).locator('[data-testid="run-select"]').check()
    await page.locator(row(b.runId)).locator('[data-testid="run-select"]').check()
    await page.locator('[data-testid="compare"]').click()
    await page.locator('[data-testid="compare-view"]').waitFor()

    const diffRows = page.locator('[data-testid="settings-diff"] tr[data-field]')
    await diffRows.first().waitFor()
    // The names differ too, but a run's name is not a setting.
    expect(await diffRows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-field')))).toEqual([
      'hyper.learningRate',
    ])
    const cells = await diffRows.first().locator('td').allTextContents()
    expect(cells.map((c) => Number(c.trim()))).toEqual([0.001, 0.003])

    // With every setting shown, the shared ones are there and marked the same; name still is not.
    await page.locator('[data-testid="settings-show-all"]').check()
    await page.locator('[data-testid="settings-diff"] tr[data-field="hyper.epochs"]').waitFor()
    const fields = await diffRows.evaluateAll((rs) =>
      rs.map((r) => ({ field: r.getAttribute('data-field'), same: r.classList.contains('same') })),
    )
    expect(fields.filter((f) => !f.same).map((f) => f.field)).toEqual(['hyper.learningRate'])
    expect(fields.map((f) => f.field)).not.toContain('name')
    expect(fields.length).toBeGreaterThan(10)

    const curves = page.locator('[data-testid="compare-curves"]')
    await page.waitForFunction(
      () => document.querySelector('[data-testid="compare-curves"]')?.getAttribute('data-series-count') === '2',
    )
    expect(await curves.getAttribute('data-x-count')).toBe(String(EPOCHS))
    // uPlot's legend (not live, so without the x series): one entry per run, labelled with its name.
    const legend = await curves.locator('.u-legend .u-series').allTextContents()
    expect(legend).toHaveLength(2)
    expect(legend.map((t) => t.trim())).toEqual([
      expect.stringContaining('lr 0.001'),
      expect.stringContaining('lr 0.003'),
    ])
    expect(await curves.locator('canvas').count()).toBeGreaterThan(0)

    // Scores side by side, and the image-by-image panel for a pair.
    const testAcc = page.locator('[data-testid="metrics-table"] tr[data-metric="Test accuracy"] td')
    await expect(testAcc.count()).resolves.toBe(2)
    // Older run first; the same numbers as History and the CLI, formatted the same way.
    const shown = (await testAcc.allTextContents()).map((t) => t.replace('★', '').replace('(best)', '').trim())
    expect(shown).toEqual([a, b].map((run) => formatPercent(run.metrics.test!.accuracy)))
    await page.locator('[data-testid="example-diff"]').waitFor()
    // Whether the two runs differ beyond noise, from the images only one of them got right.
    await expect(page.locator('[data-testid="compare-significance"]').textContent()).resolves.toMatch(
      /McNemar|exactly the same images/,
    )

    await page.locator('[data-testid="compare-close"]').click()
    await waitForRows([a.runId, b.runId])
  })

  it('renames a run, tags it, adds a note, and finds it by the note', async () => {
    await page.locator(row(a.runId)).locator('[data-testid="edit"]').click()
    await page.locator('[data-testid="edit-name"]').fill('baseline')
    await page.locator('[data-testid="edit-tags"]').fill('slow-lr, keep')
    await page.locator('[data-testid="edit-notes"]').fill('steady zebra curve')
    await page.locator('[data-testid="edit-save"]').click()
    await page.locator('[data-testid="edit-name"]').waitFor({ state: 'detached' })

    const r = page.locator(row(a.runId))
    await expect(r.locator('.run-name').textContent()).resolves.toBe('baseline')
    expect((await r.locator('.tags .badge').allTextContents()).sort()).toEqual(['keep', 'slow-lr'])
    await expect(r.locator('.notes').textContent()).resolves.toBe('steady zebra curve')

    await page.locator('[data-testid="history-search"]').fill('zebra')
    await waitForRows([a.runId])
    await page.locator('[data-testid="history-search"]').fill('no such words')
    await waitForRows([])
    await page.locator('[data-testid="history-search"]').fill('')
    await waitForRows([a.runId, b.runId])

    // Stored, not only shown: a fresh load of the list (through the CLI, same database) has it.
    const runs = JSON.parse(await cli(dataDir, 'runs', '--json')) as { id: number; name: string; tags: string[] }[]
    expect(runs.find((x) => x.id === a.runId)).toMatchObject({
      name: 'baseline',
      tags: expect.arrayContaining(['slow-lr', 'keep']),
    })
  })

  it('deletes a run only after confirmation; the other run stays and its results still open', async () => {
    const dialog = page.locator('[data-testid="confirm-dialog"]')
    await page.locator(row(b.runId)).locator('[data-testid="delete"]').click()
    await dialog.waitFor({ state: 'visible' })
    await expect(dialog.textContent()).resolves.toContain('lr 0.003')
    await page.locator('[data-testid="confirm-cancel"]').click()
    await dialog.waitFor({ state: 'hidden' })
    await waitForRows([a.runId, b.runId])

    await page.locator(row(b.runId)).locator('[data-testid="delete"]').click()
    await dialog.waitFor({ state: 'visible' })
    await page.locator('[data-testid="confirm-ok"]').click()
    await dialog.waitFor({ state: 'hidden' })
    await waitForRows([a.runId])
    const runs = JSON.parse(await cli(dataDir, 'runs', '--json')) as { id: number }[]
    expect(runs.map((x) => x.id)).toEqual([a.runId])

    await page.locator(row(a.runId)).locator('[data-testid="open-results"]').click()
    const acc = page.locator('[data-testid="test-accuracy"]')
    await acc.waitFor()
    expect(Number(await acc.getAttribute('data-value'))).toBeCloseTo(a.metrics.test!.accuracy, 10)
    expect(Number(await page.locator('[data-testid="val-accuracy"]').getAttribute('data-value'))).toBe(
      a.metrics.val!.accuracy,
    )
    // Every score carries its uncertainty.
    await expect(page.locator('[data-testid="test-interval"]').textContent()).resolves.toMatch(
      /Likely between \d+ % and \d+ %/,
    )
    await expect(page.locator('[data-testid="per-class"]').isVisible()).resolves.toBe(true)
    expect((page as unknown as { errors: string[] }).errors).toEqual([])
  })
})
