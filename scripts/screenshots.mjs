#!/usr/bin/env node
// `npm run screenshots`: starts browser mode on a fresh data directory, walks every screen of the
// wizard in Chromium at 1280×800 with the real engine (two training runs on the sample data, the
// second with a lower learning rate), then the sound walk (the sample spoken words, one run) and writes
// docs/screenshots/<n>-<screen>.png. `--sound` takes the sound walk's screenshots only.
// Needs the built app (`npm run screenshots` builds first) and Chromium (CHROMIUM_PATH or
// /usr/bin/chromium).
import { spawn, spawnSync } from 'node:child_process'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = join(root, 'docs', 'screenshots')
const TRAINING_MS = 600_000

/** Starts `serve.js` on a free port and resolves with its URL and a stop function. */
function startServe(dataDir) {
  const proc = spawn(process.execPath, [join(root, 'out', 'main', 'serve.js'), '--port', '0'], {
    cwd: root,
    env: { ...process.env, TUNEWISE_HOME: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Tunewise printed no URL within 120 s:\n${out}`)), 120_000)
    const onData = (chunk) => {
      out += chunk.toString()
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      resolve({
        url: m[1],
        stop: () =>
          new Promise((done) => {
            if (proc.exitCode !== null) return done()
            proc.once('exit', () => done())
            try {
              process.kill(-proc.pid, 'SIGTERM')
            } catch {
              done()
            }
          }),
      })
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`Tunewise exited with ${code} before printing a URL:\n${out}`))
    })
  })
}

const dataDir = mkdtempSync(join(tmpdir(), 'tunewise-screenshots-'))
mkdirSync(outDir, { recursive: true })
const app = await startServe(dataDir)
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: JSON.parse(readFileSync(new URL('./chromium-args.json', import.meta.url), 'utf8')),
})

const errors = []
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' })
  page.on('pageerror', (e) => errors.push(e.message))
  const $ = (testid) => page.locator(`[data-testid="${testid}"]`)
  const onStep = (step) => page.locator(`[data-step="${step}"][aria-current="step"]`).waitFor()
  const next = () => page.locator('[data-testid="next"]:enabled').click()

  /** Writes one screenshot of the viewport, scrolled to the top. */
  async function shoot(name) {
    await page.evaluate(() => {
      window.scrollTo(0, 0)
      document.querySelector('.content')?.scrollTo(0, 0)
    })
    // Let charts lay out and the focus ring of the heading go.
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur())
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    const file = join(outDir, `${name}.png`)
    await page.screenshot({ path: file })
    console.log(`wrote ${file}`)
  }

  /** Writes one screenshot of the viewport with `locator` scrolled to its top. */
  async function shootAt(locator, name) {
    await locator.waitFor({ timeout: 60_000 })
    await locator.evaluate((el) => el.scrollIntoView({ block: 'start' }))
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur())
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    const file = join(outDir, `${name}.png`)
    await page.screenshot({ path: file })
    console.log(`wrote ${file}`)
  }

  /** Writes one screenshot of the viewport with a modal dialog scrolled to one of its sections. */
  async function shootCard(dialog, name, section) {
    await dialog.waitFor({ timeout: 60_000 })
    await dialog.evaluate(
      (el, id) => el.querySelector(`[data-section="${id}"]`)?.scrollIntoView({ block: 'start' }),
      section,
    )
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur())
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    const file = join(outDir, `${name}.png`)
    await page.screenshot({ path: file })
    console.log(`wrote ${file}`)
  }

  /**
   * Starts a run on the Train screen and waits for its Results. Takes the Train shot mid-run when asked: a
   * quarter into `stage` (a head on cached features trains in a second, too fast to catch: its shot is taken
   * while the features are extracted).
   */
  async function train(trainShot, stage = 'training') {
    await page.locator('[data-testid="start-training"]:enabled').click()
    await page.locator('[data-testid="run-status"][data-value="running"]').waitFor({ timeout: 60_000 })
    if (trainShot && stage === 'finished') {
      // The Train screen of the finished run: its whole curves, and the way to a second run.
      await onStep('results')
      await $('test-accuracy').waitFor({ timeout: TRAINING_MS })
      await page.locator('[data-step="train"]').click()
      await onStep('train')
      await $('new-run').waitFor()
      await shoot(trainShot)
      await page.locator('[data-step="results"]').click()
    } else if (trainShot) {
      // Mid-run: some epochs on the charts, the progress bar part-way.
      await page.waitForFunction(
        (wanted) => {
          const stage = document.querySelector('[data-testid="stage"]')?.getAttribute('data-value')
          const bar = document.querySelector('[data-testid="train-progress"] [role="progressbar"]')
          return stage === wanted && Number(bar?.getAttribute('aria-valuenow') ?? 0) >= 25
        },
        stage,
        { timeout: TRAINING_MS, polling: 'raf' },
      )
      await shoot(trainShot)
    }
    await onStep('results')
    await $('test-accuracy').waitFor({ timeout: TRAINING_MS })
  }

  await page.goto(app.url)
  const soundOnly = process.argv.includes('--sound')
  if (!soundOnly) await imageWalk()
  await soundWalk(soundOnly)
  if (errors.length) throw new Error(`The page reported errors:\n${errors.join('\n')}`)

  /** Every screen with the sample shapes: two runs, History, Compare and a messy folder's report. */
  async function imageWalk() {
    // 1. Model
    await onStep('model')
    await page.locator('[data-testid="model-card"][aria-pressed="true"]').waitFor()
    await shoot('1-model')

    // 1b. The bundled model's card, opened
    const selectedModel = page.locator('li.model.selected')
    await selectedModel.locator('[data-testid="show-card"]').click()
    await selectedModel.locator('[data-testid="model-card-view"]').waitFor()
    await shootAt(selectedModel, '1b-model-card')
    await selectedModel.locator('[data-testid="show-card"]').click()

    // 2. Data, with the sample report
    await next()
    await onStep('data')
    await $('use-sample').click()
    await $('data-report').waitFor({ timeout: 120_000 })
    await shoot('2-data')

    // 3. Split
    await next()
    await $('split-table').waitFor()
    await shoot('3-split')

    // 4. Freeze
    await next()
    await onStep('freeze')
    await $('layers-toggle').waitFor({ timeout: 60_000 })
    await page.getByText('Counting parameters').waitFor({ state: 'detached', timeout: 120_000 })
    await shoot('4-freeze')

    // 5. Hyperparameters
    await next()
    await onStep('hyper')
    await page.getByText('Estimated time:').waitFor({ timeout: 60_000 })
    await $('advanced-toggle').click()
    await shoot('5-hyperparameters')

    // 6. Train during the run, 7. Results after it
    await next()
    await onStep('train')
    // A head on cached features trains in about a second: too fast to catch mid-run, so the finished run.
    await train('6-train', 'finished')
    await shoot('7-results')

    // 7b. The card every export writes as README.md, previewed in the app
    await $('export-intended-use').fill('Sorting drawings of simple shapes; a demo of Tunewise.')
    // Results may still be settling after the run: open the viewer until it stays open.
    for (let i = 0; i < 5 && !(await $('run-card').isVisible()); i++) {
      if (!(await $('card-dialog').evaluate((d) => d.open))) await $('preview-card').click()
      await $('run-card')
        .waitFor({ timeout: 10_000 })
        .catch(() => {})
    }
    await shootCard($('card-dialog'), '7b-model-card-out', 'results')
    await $('card-dialog-close').click()

    // A second run with a lower learning rate, for History and Compare.
    await $('train-again').click()
    await onStep('hyper')
    if ((await $('advanced-toggle').getAttribute('aria-expanded')) !== 'true') await $('advanced-toggle').click()
    await $('field-hyper-learning-rate').fill('0.0003')
    await next()
    await onStep('train')
    await train(null)

    // 8. History with two runs
    await page.locator('[data-step="history"]').click()
    await onStep('history')
    await page.locator('[data-testid="history-row"]').nth(1).waitFor()
    await shoot('8-history')

    // 9. Compare the two runs
    const boxes = page.locator('[data-testid="run-select"]')
    for (let i = 0; i < 2; i++) await boxes.nth(i).check()
    await $('compare').click()
    await $('compare-view').waitFor()
    await $('metrics-table').waitFor()
    await shoot('9-compare')

    // 2b. A messy folder's data report, grouped by reason (copies, a damaged file, a text file, a FIFO,
    // a link leading outside, OS litter).
    const messy = join(dataDir, 'messy')
    const sample = join(dataDir, 'sample-data', 'shapes')
    for (const label of ['circle', 'square', 'star']) {
      mkdirSync(join(messy, label), { recursive: true })
      for (const f of readdirSync(join(sample, label)).slice(0, 12))
        copyFileSync(join(sample, label, f), join(messy, label, f))
      for (const f of readdirSync(join(sample, label)).slice(0, 3))
        copyFileSync(join(sample, label, f), join(messy, label, `copy of ${f}`))
    }
    writeFileSync(join(messy, 'circle', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2]))
    writeFileSync(join(messy, 'square', 'notes.png'), 'not an image')
    writeFileSync(join(messy, 'star', '.DS_Store'), '')
    symlinkSync('/etc', join(messy, 'star', 'system'))
    spawnSync('mkfifo', [join(messy, 'circle', 'pipe.png')])
    await page.locator('[data-step="data"]').click()
    await onStep('data')
    await $('dataset-path').fill(messy)
    await $('dataset-submit').click()
    await $('data-flags').waitFor({ timeout: 120_000 })
    await shootAt(page.locator('h3', { hasText: 'Flagged files' }), '2b-data-problems')
  }

  /** The sample spoken words through the wizard: the report, the Model step for sound, Results, Compare. */
  async function soundWalk(fresh) {
    if (!fresh) await page.locator('[data-step="model"]').click()
    await onStep('model')
    await next()
    await onStep('data')
    await $('use-sample-sounds').click()
    await page.locator('[data-testid="data-kind"][data-kind="audio"]').waitFor({ timeout: 300_000 })
    await shootAt($('data-report'), '10-sound-data')
    await shootAt($('sound-examples'), '10b-sound-examples')

    // The Model step once the data are sound.
    await page.locator('[data-step="model"]').click()
    await onStep('model')
    await shoot('11-sound-model')

    await next()
    await onStep('data')
    await next()
    await $('split-table').waitFor()
    await next()
    await onStep('freeze')
    await next()
    await onStep('hyper')
    await next()
    await onStep('train')
    await train('12-sound-train', 'extracting')
    await shoot('13-sound-results')
    // Try your own sound: a "yes" the model never heard (a new voice, speed and pitch from espeak-ng).
    const own = join(dataDir, 'own-yes.wav')
    spawnSync('espeak-ng', ['-v', 'en-us+f4', '-s', '165', '-p', '58', '-w', own, 'yes'])
    await $('predict-file').setInputFiles(own)
    await page.locator('[data-testid="predictions"] li').first().waitFor({ timeout: 120_000 })
    await shootAt(page.locator('h2', { hasText: 'Try your own sound' }), '13b-sound-try')

    if (fresh) return
    // Compare refuses a sound run beside an image run.
    await page.locator('[data-step="history"]').click()
    await onStep('history')
    const rows = page.locator('[data-testid="history-row"]')
    await rows.nth(2).waitFor()
    await rows.nth(0).locator('[data-testid="run-select"]').check()
    await rows.nth(1).locator('[data-testid="run-select"]').check()
    await $('compare').click()
    await page.locator('[data-testid="compare-view"] [role="alert"]').waitFor()
    await shoot('14-sound-compare')
  }
} finally {
  await browser.close()
  await app.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
