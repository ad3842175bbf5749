/**
 * Sound through the wizard in Chromium against the built app and the real engine: a folder of recordings is read
 * as sound (detected from its files), a recording plays on the Data step, the run trains on spectrograms of its
 * clips, Results plays a clip from the mistakes gallery and tells a recording chosen there, and Compare refuses to
 * put the sound run next to an image run made with the CLI on the same data folder. The Model step says how the
 * image networks take sound once the folder is known to hold recordings.
 *
 * The folder gives its own split (train/ val/ test/), and test/low/ holds one recording of a high tone: the model
 * learns low and high tones, so that recording's clips are mistakes, whatever the seed.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { noise, tone, wav16 } from '../fixtures/audio/synth'
import { launchBrowser, openPage, requireBuild, root, startServe, type App } from './harness'

const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'tw-sound-e2e-')))
const dataDir = join(scratch, 'home')
const sounds = join(scratch, 'tones')
let browser: Browser
let app: App
let page: Page
let imageRunId = 0
let soundRunId = 0

/** A WAV of a tone with a little noise. */
function toneWav(freq: number, seconds: number, seed: number): Buffer {
  const t = tone(freq, 16000, seconds, 0.4)
  const n = noise(t.length, seed, 0.01)
  return wav16(
    t.map((v, i) => v + n[i]),
    16000,
  )
}

function recording(file: string, freq: number, seconds: number, seed: number): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, toneWav(freq, seconds, seed))
}

/** Runs the built CLI on the data folder; resolves with its last JSON line. */
function cli(...args: string[]): Promise<{ runId: number; status: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [join(root, 'out', 'main', 'cli.js'), ...args], {
      cwd: root,
      env: { ...process.env, TUNEWISE_HOME: dataDir, TUNEWISE_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    child.once('close', (code) => {
      const lines = out.trim().split('\n')
      if (code === 0) ok(JSON.parse(lines[lines.length - 1]!))
      else fail(new Error(`cli exited ${code}:\n${out}`))
    })
  })
}

beforeAll(async () => {
  requireBuild()
  let seed = 1
  for (const [split, count] of [
    ['train', 8],
    ['val', 2],
    ['test', 2],
  ] as const) {
    for (let i = 0; i < count; i++) {
      recording(join(sounds, split, 'low', `low-${i}.wav`), 250 + 20 * i, 1, seed++)
      recording(join(sounds, split, 'high', `high-${i}.wav`), 2500 + 200 * i, 1, seed++)
    }
  }
  recording(join(sounds, 'test', 'low', 'odd-one.wav'), 3000, 2, seed++)

  // An image run on the same data folder, for Compare.
  const shapes = join(scratch, 'shapes')
  await makeSyntheticDataset(shapes, { perClass: 6, size: 48, seed: 4, classes: ['circle', 'square'] })
  const settings = join(scratch, 'settings.json')
  writeFileSync(settings, JSON.stringify({ name: 'shapes', hyper: { epochs: 2 } }))
  const image = await cli('train', '--data', shapes, '--config', settings, '--json')
  expect(image.status).toBe('succeeded')
  imageRunId = image.runId
  // Browser mode opens typed folders only under the roots it may browse.
  ;[browser, app] = await Promise.all([
    launchBrowser(),
    startServe({ dataDir, env: { TUNEWISE_BROWSE_ROOTS: scratch } }),
  ])
  page = await openPage(browser, app.url)
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await app?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

const errors = (): string[] => (page as Page & { errors?: string[] }).errors ?? []

/** Whether an audio element can play its source: its length is known (a blocked or unreadable source never says). */
function playable(audio: Locator): Promise<boolean> {
  return audio.evaluate(
    (a: HTMLAudioElement) =>
      new Promise<boolean>((ok) => {
        const done = (): void => ok(a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 0)
        if (a.readyState >= 1 || a.error) return done()
        a.addEventListener('loadedmetadata', done, { once: true })
        a.addEventListener('error', done, { once: true })
        setTimeout(done, 10_000)
      }),
  )
}

describe('a folder of recordings through the wizard', () => {
  it('is read as sound, with clips counted and a recording that plays', async () => {
    await page.locator('[data-step="model"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="model-card"][aria-pressed="true"]').waitFor()
    // No data chosen yet: nothing about sound.
    expect(await page.locator('[data-testid="model-sound-note"]').count()).toBe(0)
    expect(await page.locator('[data-testid="sound-fit"]').count()).toBe(0)
    await page.locator('[data-testid="next"]').click()
    await page.locator('[data-step="data"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="dataset-path"]').fill(sounds)
    await page.locator('[data-testid="dataset-path"]').press('Enter')
    await page.locator(`[data-testid="data-path"][data-value="${sounds}"]`).waitFor({ timeout: 120_000 })
    // Detected from the files: nobody said it was sound.
    await page.locator('[data-testid="data-kind"][data-kind="audio"]').waitFor()
    // 25 recordings; the 2 s one gives two clips.
    await expect(page.locator('[data-testid="data-total"]').textContent()).resolves.toBe('25')
    await expect(page.locator('[data-testid="sound-clips"]').textContent()).resolves.toBe('26')
    // The spectrogram settings are offered for sound data.
    await page.locator('[data-testid="field-sound-mel-bands"]').waitFor()
    await page.locator('[data-testid="sound-examples"] [data-testid="clip-play"]').first().click()
    const audio = page.locator('[data-testid="sound-examples"] [data-testid="clip-audio"]').first()
    await audio.waitFor()
    expect(await audio.getAttribute('src')).toMatch(/^data:audio\/wav;base64,/)
    expect(await playable(audio)).toBe(true)
    // Only recordings in the folder: nothing to read as images instead.
    expect(await page.locator('[data-testid="data-kind-switch"]').count()).toBe(0)
    expect(errors()).toEqual([])
  })

  it('says on the Model step that the image networks take the recordings as spectrograms', async () => {
    await page.locator('[data-step="model"]').click()
    await page.locator('[data-step="model"][aria-current="step"]').waitFor()
    const note = (await page.locator('[data-testid="model-sound-note"]').textContent())!.replace(/\s+/g, ' ')
    expect(note).toMatch(/recordings.*spectrogram pictures/)
    // The bundled networks are marked as suiting sound; the unsupported "Audio models" card is not.
    await page
      .locator(
        '[data-testid="model-card"][data-model-id="mobilenet-v2-nsfwjs"] [data-testid="sound-fit"][data-fit="yes"]',
      )
      .waitFor()
    expect(
      await page
        .locator('[data-testid="model-card"][data-model-id="unsupported-audio"] [data-testid="sound-fit"]')
        .count(),
    ).toBe(0)
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-step="data"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="data-kind"][data-kind="audio"]').waitFor()
    expect(errors()).toEqual([])
  })

  it('trains on the clips and plays a mistake on Results', async () => {
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-testid="split-table"]').waitFor()
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-step="freeze"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-step="hyper"][aria-current="step"]').waitFor()
    await page.locator('[data-testid="next"]:enabled').click()
    await page.locator('[data-testid="start-training"]:enabled').click()
    await page.locator('[data-testid="run-status"][data-value="running"]').waitFor({ timeout: 60_000 })
    soundRunId = Number(await page.locator('[data-testid="run-id"]').getAttribute('data-value'))
    await page.locator('[data-step="results"][aria-current="step"]').waitFor({ timeout: 300_000 })
    await page.locator('[data-testid="test-accuracy"]').waitFor()

    // Six test clips, the 2 s recording's two among them: the interval counts five recordings.
    await page.getByText('on 6 clips from 5 recordings the model never saw while training').waitFor()
    const mistakes = page.locator('[data-testid="misclassified"]')
    await mistakes.waitFor()
    // The odd recording's clips are named by their span, and have a spectrogram and a ▶.
    await expect(mistakes.locator('[title*="odd-one.wav#t="]').count()).resolves.toBeGreaterThan(0)
    await mistakes.locator('img').first().waitFor()
    await mistakes.locator('[data-testid="clip-play"]').first().click()
    const audio = mistakes.locator('[data-testid="clip-audio"]').first()
    await audio.waitFor()
    expect(await audio.getAttribute('src')).toMatch(/^data:audio\/wav;base64,/)
    expect(await playable(audio)).toBe(true)
    expect(errors()).toEqual([])
  })

  it('tells a recording chosen on Results, and plays it', async () => {
    await expect(page.locator('h2', { hasText: 'Try your own sound' }).count()).resolves.toBe(1)
    // The mislabel search works on clips: the high tone filed under low/ is the one it names.
    await page.locator('[data-testid="suspects-find"]').click()
    const suspects = page.locator('[data-testid="suspect-thumbs"]')
    await suspects.waitFor({ timeout: 120_000 })
    await expect(suspects.locator('[title*="odd-one.wav#t="]').count()).resolves.toBeGreaterThan(0)
    await expect(page.locator('[data-testid="suspects"] h2').textContent()).resolves.toMatch(/^Clips that may be/)
    const input = page.locator('[data-testid="predict-file"]')
    expect(await input.getAttribute('accept')).toBe('audio/*,.wav,.flac,.mp3,.ogg')
    const pick = async (name: string, mimeType: string, buffer: Buffer): Promise<string> => {
      await input.setInputFiles({ name, mimeType, buffer })
      // The player shows the new recording at once (the last answer goes with it), then the answer comes.
      await page.locator('[data-testid="predict-recording"]', { hasText: name }).waitFor()
      const audio = page.locator('[data-testid="predict-audio"]')
      expect(await audio.getAttribute('src')).toMatch(/^blob:/)
      expect(await playable(audio)).toBe(true)
      const first = page.locator('[data-testid="predictions"] li').first()
      await first.waitFor({ timeout: 120_000 })
      return (await first.locator('.pred-label').textContent()) ?? ''
    }
    // Clear tones, not in the data: one high, and one low labelled the way some systems label sound files.
    expect(await pick('whistle.wav', 'audio/wav', toneWav(3200, 1, 901))).toBe('high')
    expect(await pick('hum.wav', 'application/octet-stream', toneWav(320, 2.5, 902))).toBe('low')
    // A FLAC the browser gives no type (440 Hz, nearest the low tones): sent as audio/flac all the same.
    const flac = readFileSync(join(root, 'test', 'fixtures', 'audio', 'tone-44100-stereo-16.flac'))
    expect(await pick('a440.flac', '', flac)).toBe('low')
    // Not a recording: a plain sentence, and the last recording and its answer stay.
    await input.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') })
    await expect(page.locator('[role="alert"]', { hasText: 'is not a recording' }).textContent()).resolves.toBe(
      '“notes.txt” is not a recording. Choose a WAV, FLAC, MP3 or OGG file.',
    )
    await page.locator('[data-testid="predictions"]').waitFor()
    expect(errors()).toEqual([])
  })

  it('exports a model that re-predicts the test clips from its spectrogram settings alone', async () => {
    await page.locator('[data-testid="export"]').click()
    await page.locator('[data-testid="export-result"]').waitFor({ timeout: 120_000 })
    expect(await page.locator('[data-testid="export-agreement"]').textContent()).toMatch(/100(\.0)?\s?% agreement/)
  })

  it('is not compared with an image run', async () => {
    expect(imageRunId).toBeGreaterThan(0)
    expect(soundRunId).toBeGreaterThan(0)
    await page.locator('[data-step="history"]').click()
    for (const id of [imageRunId, soundRunId]) {
      const row = page.locator(`[data-testid="history-row"][data-run-id="${id}"]`)
      await row.waitFor()
      await row.locator('[data-testid="run-select"]').check()
    }
    // History says which run trained on sound.
    const badge = (id: number) =>
      page.locator(`[data-testid="history-row"][data-run-id="${id}"] [data-testid="data-kind-badge"]`)
    await expect(badge(soundRunId).textContent()).resolves.toBe('Sound')
    await expect(badge(imageRunId).count()).resolves.toBe(0)
    await page.locator('[data-testid="compare"]').click()
    const refusal = page.locator('[data-testid="compare-view"] [role="alert"]')
    await refusal.waitFor()
    await expect(refusal.textContent()).resolves.toMatch(/sound recordings .* images/)
  })
})
