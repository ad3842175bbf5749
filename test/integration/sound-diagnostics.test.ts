/**
 * The learning-rate finder and the mislabel search on a sound dataset: generated tones (low ones in `low/`,
 * high ones in `high/`, and one high tone planted in `low/`), read by the dataset store, handed to the
 * diagnostics as the app's handlers do (`diagnosticsInput`: the dataset's kind, clip ids), on a tiny
 * MobileNet-like base. A training run of the same settings extracts the clips first; the diagnostics then read
 * every vector from its feature cache (same keys) instead of running the network again.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FromJob } from '../../src/shared/job-messages'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { DatasetReport, RunConfig } from '../../src/shared/types'
import { diagnosticsInput } from '../../src/main/api/diagnostics-input'
import { DatasetStore } from '../../src/main/api/dataset-store'
import { openDatabase } from '../../src/main/db/database'
import { createRepositories } from '../../src/main/db/repositories'
import { EventHub } from '../../src/main/ipc'
import { parseWindowId } from '../../src/main/ml/audio'
import { initBackend } from '../../src/main/ml/backend'
import { prepareLoaded, type LoadedModel } from '../../src/main/ml/models/load'
import { cachedFeatures, lrRangeTest, suspectLabels } from '../../src/main/ml/train/diagnostics'
import { featureStats } from '../../src/main/ml/train/features'
import { runInProcess } from '../../src/main/ml/train/run-job'
import { noise, tone, wav16 } from '../fixtures/audio/synth'
import { tinyMobileNet, tinyMobileNetCard } from '../helpers/tiny-mobilenet'

const RATE = 16000
const PLANTED = 'low/odd.wav'
let base: string
let store: DatasetStore
let report: DatasetReport
let config: RunConfig

const loadTiny = async (): Promise<LoadedModel> => prepareLoaded(tinyMobileNetCard, tinyMobileNet(), 'rgb/255')

function write(file: string, content: Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

/** A one-second tone of `freq` Hz with a little seeded noise, as a 16-bit WAV. */
function recording(freq: number, seed: number): Buffer {
  const t = tone(freq, RATE, 1, 0.4)
  const n = noise(t.length, seed, 0.02)
  return wav16(
    t.map((v, i) => v + n[i]!),
    RATE,
  )
}

beforeAll(async () => {
  await initBackend('wasm')
  base = mkdtempSync(join(tmpdir(), 'tw-sound-diag-'))
  const root = join(base, 'tones')
  // 14 recordings a class, each a different pitch within its band; and one high tone filed as low.
  for (let i = 0; i < 14; i++) {
    write(join(root, 'low', `low-${i}.wav`), recording(250 + 20 * i, i))
    write(join(root, 'high', `high-${i}.wav`), recording(3000 + 100 * i, 100 + i))
  }
  write(join(root, PLANTED), recording(3550, 999))
  store = new DatasetStore(join(base, 'data'), createRepositories(openDatabase(':memory:')), new EventHub())
  report = await store.import(root)
  // As the wizard or the CLI may send it: built without the dataset's kind (the default is images).
  config = defaultRunConfig(tinyMobileNetCard.id, report.id)
  config.hyper.epochs = 2
  config.hyper.batchSize = 8
  config.hyper.earlyStopping.enabled = false
}, 60_000)

afterAll(() => rmSync(base, { recursive: true, force: true }))

describe('diagnostics on a sound dataset', () => {
  it('are given clip ids and the dataset kind, whatever kind the config said', () => {
    expect(report.kind).toBe('audio')
    expect(config.dataKind).toBe('image')
    const input = diagnosticsInput(store, config, join(base, 'home'), 'all')
    expect(input.config.dataKind).toBe('audio')
    expect(input.labels).toEqual(['high', 'low'])
    expect(input.examples).toHaveLength(29)
    for (const e of input.examples) expect(parseWindowId(e.file), e.file).toMatchObject({ start: 0, end: 1 })
    expect(input.examples.find((e) => e.file.startsWith(PLANTED))?.label).toBe('low')
    const train = diagnosticsInput(store, config, join(base, 'home'), 'train')
    expect(train.examples.length).toBeGreaterThan(0)
    expect(train.examples.length).toBeLessThan(input.examples.length)
  })

  it('read the clips a training run extracted from its cache, then suggest a rate and rank the planted label', async () => {
    const dataDir = join(base, 'home')
    const lrInput = diagnosticsInput(store, config, dataDir, 'train')
    const job = store.prepareJob(lrInput.config)
    const { final } = await runInProcess(
      {
        type: 'start',
        runId: 1,
        config: lrInput.config,
        dataDir,
        datasetPath: job.datasetPath,
        examples: job.examples,
        labels: job.labels,
      },
      { loadModel: loadTiny },
    )
    expect(final, JSON.stringify(final)).toMatchObject({ type: 'done', status: 'succeeded' } satisfies Partial<FromJob>)

    // Every split was extracted by the run: the diagnostics run the network on nothing.
    const before = { ...featureStats }
    const lrFeats = await cachedFeatures(lrInput, { shouldStop: () => false, loadModel: loadTiny })
    const suspectInput = diagnosticsInput(store, config, dataDir, 'all')
    const feats = await cachedFeatures(suspectInput, { shouldStop: () => false, loadModel: loadTiny })
    expect(featureStats.baseForwardImages - before.baseForwardImages).toBe(0)
    expect(featureStats.cacheMisses - before.cacheMisses).toBe(0)
    expect(featureStats.cacheHits - before.cacheHits).toBe(lrInput.examples.length + suspectInput.examples.length)
    expect(feats.y).toHaveLength(29)

    const lr = await lrRangeTest(lrFeats, lrInput.labels.length, lrInput.config)
    expect(lr.points.length).toBeGreaterThan(10)
    expect(lr.points[lr.points.length - 1]!.lr).toBeGreaterThan(lr.points[0]!.lr)
    for (const p of lr.points) expect(Number.isFinite(p.loss)).toBe(true)
    expect(lr.suggestion).toBeGreaterThan(0)
    expect(lr.suggestion).toBeLessThanOrEqual(1)

    const suspects = await suspectLabels(feats, suspectInput.labels.length, suspectInput.config, {
      folds: 5,
      epochs: 60,
    })
    const top = suspects.slice(0, 2).map((s) => suspectInput.examples[s.index]!.file)
    expect(
      top.some((f) => parseWindowId(f)?.file === PLANTED),
      JSON.stringify(top),
    ).toBe(true)
    const planted = suspects.find((s) => parseWindowId(suspectInput.examples[s.index]!.file)?.file === PLANTED)!
    expect(suspectInput.labels[planted.predicted]).toBe('high')
  }, 120_000)

  it('extract the clips themselves when no run did, and a second time read them from the cache', async () => {
    const dataDir = join(base, 'fresh-home')
    const input = diagnosticsInput(store, config, dataDir, 'all')
    const before = { ...featureStats }
    const first = await cachedFeatures(input, { shouldStop: () => false, loadModel: loadTiny })
    expect(featureStats.baseForwardImages - before.baseForwardImages).toBe(input.examples.length)
    const mid = { ...featureStats }
    const second = await cachedFeatures(input, { shouldStop: () => false, loadModel: loadTiny })
    expect(featureStats.baseForwardImages - mid.baseForwardImages).toBe(0)
    expect(featureStats.cacheHits - mid.cacheHits).toBe(input.examples.length)
    expect(second.x).toEqual(first.x)
    // Clips of different pitch give different vectors: the spectrograms were drawn, not blank pictures.
    const dim = first.dim
    const [i, j] = [first.y.indexOf(0), first.y.indexOf(1)]
    const a = first.x.subarray(i * dim, (i + 1) * dim)
    const b = first.x.subarray(j * dim, (j + 1) * dim)
    expect(a.some((v, i) => Math.abs(v - b[i]!) > 1e-4)).toBe(true)
  }, 60_000)
})
