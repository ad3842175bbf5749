/**
 * Sound end to end on the engine: words spoken by eSpeak NG (generated here, as the app's "Use sample sounds"
 * does), read as a sound dataset, split by recording, and trained with the default settings on the bundled
 * MobileNetV2 as log-mel spectrogram pictures. Needs `espeak-ng` (installed by .ci/run).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FromJob, JobStart } from '../../src/shared/job-messages'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { Evaluation } from '../../src/shared/types'
import { parseWindowId, splitAudioDataset } from '../../src/main/ml/audio'
import { scanFolder } from '../../src/main/ml/audio/folder'
import { makeSampleSounds } from '../../src/main/ml/audio/sample-sounds'
import { clipSettingsOf } from '../../src/main/ml/audio/settings'
import type { DatasetScan } from '../../src/main/ml/data/scan'
import { predictImage } from '../../src/main/ml/eval/predict'
import { exportRun, readMetadata, verifyExport } from '../../src/main/ml/export/export'
import { runDir as runDirOf } from '../../src/main/ml/layout'
import type { RunPredictions } from '../../src/main/ml/train/finish'
import { featureStats } from '../../src/main/ml/train/features'
import { runInProcess } from '../../src/main/ml/train/run-job'

const root = mkdtempSync(join(tmpdir(), 'tw-sound-'))
const datasetPath = join(root, 'words')
const words = ['yes', 'no', 'up', 'down']
let scan: DatasetScan

beforeAll(async () => {
  // 32 one-second recordings and 2 two-second ones (two clips each) per word: 144 clips.
  await makeSampleSounds(datasetPath, { words, perWord: 32, longPerWord: 2, seed: 3 })
  scan = await scanFolder(datasetPath)
}, 300_000)
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** The split of the scanned recordings a run of `config` trains on. */
function jobFor(config: ReturnType<typeof defaultRunConfig>, runId: number): JobStart {
  const refs = scan.files.map((f) => ({ ...f, frames: f.sound!.frames, sampleRate: f.sound!.sampleRate }))
  const split = splitAudioDataset(refs, config.split, { clip: clipSettingsOf(config) })
  return {
    type: 'start',
    runId,
    config,
    dataDir: join(root, 'data'),
    datasetPath,
    examples: split.assignment.map((a) => ({ file: a.file, label: a.label, split: a.split })),
    labels: [...words].sort(),
  }
}

describe('sound on the bundled MobileNetV2', () => {
  it('detects a folder of recordings as sound and counts its clips', () => {
    expect(scan.report.kind).toBe('audio')
    expect(scan.report.total).toBe(136)
    expect(scan.report.sound?.windows).toBe(144)
    expect(scan.report.classes.map((c) => [c.name, c.count, c.windows])).toEqual(
      [...words].sort().map((w) => [w, 34, 36]),
    )
    expect(scan.report.unreadable).toEqual([])
    expect(scan.report.blockers).toEqual([])
    expect(scan.files.every((f) => f.sound?.sampleRate === 16000)).toBe(true)
  })

  it('keeps every clip of a recording in one split', () => {
    const config = { ...defaultRunConfig('mobilenet-v2-nsfwjs', 'words'), dataKind: 'audio' as const }
    const job = jobFor(config, 1)
    expect(job.examples).toHaveLength(144)
    const splitOf = new Map<string, Set<string>>()
    for (const e of job.examples) {
      const file = parseWindowId(e.file)!.file
      splitOf.set(file, (splitOf.get(file) ?? new Set()).add(e.split))
    }
    expect(splitOf.size).toBe(136)
    for (const [file, splits] of splitOf) expect([file, splits.size]).toEqual([file, 1])
    // The long recordings give two clips each, and both sit wherever their recording went.
    const long = job.examples.filter((e) => e.file.includes('-long-'))
    expect(long).toHaveLength(16)
  })

  it('trains with the defaults to at least 0.9 test accuracy, then serves a second run from the feature cache', async () => {
    const config = { ...defaultRunConfig('mobilenet-v2-nsfwjs', 'words'), dataKind: 'audio' as const }
    const job = jobFor(config, 1)
    const before = { ...featureStats }
    const { messages, final } = await runInProcess(job)
    const errors = messages.filter((m): m is Extract<FromJob, { type: 'error' }> => m.type === 'error')
    expect(errors).toEqual([])
    expect(final).toMatchObject({ type: 'done', status: 'succeeded' })
    if (final?.type !== 'done') return
    const test = messages
      .filter((m): m is Extract<FromJob, { type: 'evaluation' }> => m.type === 'evaluation')
      .map((m) => m.evaluation)
      .find((e: Evaluation) => e.split === 'test')!
    console.log(`sound test accuracy ${final.testAccuracy} on ${test.predictions.length} clips`)
    expect(final.testAccuracy).toBeGreaterThanOrEqual(0.9)
    // Results name clips: the recording and the span, which an <audio> element plays as exactly that clip.
    expect(test.predictions.length).toBeGreaterThanOrEqual(16)
    for (const p of test.predictions) expect(parseWindowId(p.file), p.file).not.toBeNull()
    const extracted = featureStats.baseForwardImages - before.baseForwardImages
    expect(extracted).toBe(144)

    // The export says how sound becomes its input, and re-predicts the run's test clips from that alone.
    const runDir = runDirOf(job.dataDir, 1)
    const out = join(root, 'exported')
    await exportRun(runDir, out)
    const meta = await readMetadata(out)
    expect(meta.audio?.clip).toMatchObject({ sampleRate: 16000, clipSeconds: 1 })
    expect(meta.audio?.spectrogram).toMatchObject({ windowMs: 25, hopMs: 10, melBands: 64, topDb: 40 })
    expect(meta.audio?.description).toMatch(/log-mel spectrogram/)
    const preds = JSON.parse(readFileSync(join(runDir, 'predictions.json'), 'utf8')) as RunPredictions
    const check = await verifyExport(out, datasetPath, preds.test)
    expect(check.agreement).toBe(1)
    expect(check.maxDifference).toBeLessThan(1e-4)
    // "Try your own sound" on a one-clip test recording gives that clip's answer.
    const one = preds.test.find((p) => p.file.endsWith('#t=0,1') && !p.file.includes('-long-'))!
    const tried = await predictImage(runDir, readFileSync(join(datasetPath, parseWindowId(one.file)!.file)))
    expect(tried[0]!.confidence).toBeCloseTo(Math.max(...one.probabilities), 4)

    // Same clips, same settings: every clip's vector comes from the cache, keyed by content and settings.
    const again = await runInProcess({ ...jobFor(config, 2) })
    expect(again.final).toMatchObject({ type: 'done', status: 'succeeded' })
    expect(featureStats.baseForwardImages - before.baseForwardImages).toBe(144)
  }, 600_000)
})
