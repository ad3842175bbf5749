/**
 * Sound as a kind of dataset in the app: the kind is told from the files, the dataset store keeps a sound
 * folder's report and clips, splits by recording (with the run's clip length), draws spectrogram thumbnails of
 * clips by id, and prepares a job whose examples are clips; Compare refuses runs of different kinds.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import { configConflicts, featureCacheServes } from '../../src/shared/run-rules'
import { dataKindOf } from '../../src/shared/types'
import { DatasetStore } from '../../src/main/api/dataset-store'
import { openDatabase } from '../../src/main/db/database'
import { dataKindConflict } from '../../src/main/db/compare'
import { createRepositories } from '../../src/main/db/repositories'
import { AppError } from '../../src/main/errors'
import { EventHub } from '../../src/main/ipc'
import { parseWindowId } from '../../src/main/ml/audio'
import { detectDataKind } from '../../src/main/ml/audio/folder'
import { audioAugmentationOf, clipSettingsOf, spectrogramSettingsOf } from '../../src/main/ml/audio/settings'
import { clipSamples } from '../../src/main/ml/audio/source'
import { tone, wav16 } from '../fixtures/audio/synth'

let base: string
let store: DatasetStore

function write(file: string, content: string | Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

/** `low/` holds 300 Hz tones, `high/` 3 kHz ones; each class one 3.2 s recording (3 clips of 1 s) and five of 1 s. */
function soundFolder(root: string): void {
  for (const [label, freq] of [
    ['low', 300],
    ['high', 3000],
  ] as const) {
    write(join(root, label, 'long.wav'), wav16(tone(freq, 16000, 3.2), 16000))
    for (let i = 0; i < 5; i++) write(join(root, label, `s${i}.wav`), wav16(tone(freq + 10 * i, 16000, 1), 16000))
  }
  write(join(root, 'low', 'cover.png'), 'not looked at: one picture among recordings')
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tw-sound-ds-'))
  soundFolder(join(base, 'sounds'))
  write(join(base, 'pictures', 'a', '1.png'), 'x')
  write(join(base, 'pictures', 'a', '2.jpg'), 'x')
  write(join(base, 'pictures', 'b', '3.wav'), 'x')
  mkdirSync(join(base, 'empty'))
  const db = openDatabase(':memory:')
  store = new DatasetStore(join(base, 'data'), createRepositories(db), new EventHub())
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

describe('the kind of a folder', () => {
  it('is sound when recordings outnumber pictures, else images (an empty folder too)', async () => {
    expect(await detectDataKind(join(base, 'sounds'))).toEqual({ kind: 'audio', images: 1, sounds: 12 })
    expect(await detectDataKind(join(base, 'pictures'))).toEqual({ kind: 'image', images: 2, sounds: 1 })
    expect((await detectDataKind(join(base, 'empty'))).kind).toBe('image')
  })

  it('is an image dataset for reports saved before sound existed', () => {
    expect(dataKindOf({})).toBe('image')
    expect(dataKindOf({ kind: 'audio' })).toBe('audio')
    expect(dataKindOf(null)).toBe('image')
  })
})

describe('a sound dataset in the store', () => {
  it('is read as sound, with clips per class, and the picture among the recordings is reported, not used', async () => {
    const report = await store.import(join(base, 'sounds'))
    expect(report.kind).toBe('audio')
    expect(report.total).toBe(12)
    expect(report.classes.map((c) => [c.name, c.count, c.windows])).toEqual([
      ['high', 6, 8],
      ['low', 6, 8],
    ])
    expect(report.sound).toMatchObject({ windows: 16, sampleRates: [{ rate: 16000, count: 12 }] })
    expect(report.unreadable.map((u) => u.file)).toEqual(['low/cover.png'])
    expect(report.blockers).toEqual([])
    expect(report.classes[0]!.thumbnails[0]!.dataUrl).toMatch(/^data:image\/png;base64,/)
    // The clips a run would use, not the files.
    expect(store.usableCount(report.id)).toBe(16)
  })

  it('is read as images when the user says so, whatever the files are', async () => {
    const report = await store.import(join(base, 'sounds'), 'image')
    expect(report.kind).toBe('image')
    expect(report.total).toBe(0)
    expect(report.blockers.length).toBeGreaterThan(0)
  })

  it('splits clips so that no recording straddles two splits, and the run’s clip length decides the clips', async () => {
    const report = await store.import(join(base, 'sounds'))
    const ratios = { train: 0.5, val: 0.25, test: 0.25, seed: 5 }
    const oneSecond = store.split(report.id, ratios)
    expect(oneSecond.assignment).toHaveLength(16)
    const twoSeconds = store.split(report.id, ratios, clipSettingsOf({ sound: { ...soundDefaults(), clipSeconds: 2 } }))
    // 3.2 s at 2 s clips: two clips (the second padded), 1 s recordings: one each.
    expect(twoSeconds.assignment).toHaveLength(14)
    expect(twoSeconds.id).not.toBe(oneSecond.id)
    for (const split of [oneSecond, twoSeconds]) {
      const where = new Map<string, Set<string>>()
      for (const a of split.assignment) {
        const file = parseWindowId(a.file)!.file
        where.set(file, (where.get(file) ?? new Set()).add(a.split))
      }
      expect(where.size).toBe(12)
      for (const splits of where.values()) expect(splits.size).toBe(1)
    }
    expect(oneSecond.warnings.join(' ')).not.toMatch(/\bimages?\b/)
  })

  it('excludes a named clip as its whole recording, and restores it the same way', async () => {
    const report = await store.import(join(base, 'sounds'))
    const ratios = { train: 0.5, val: 0.25, test: 0.25, seed: 5 }
    const clips = store.split(report.id, ratios).assignment.map((a) => a.file)
    const longClip = clips.find((f) => f.startsWith('low/long.wav#t=1,'))!
    expect(longClip).toBeDefined()
    const excluded = store.exclude(report.id, [longClip], [], false)
    expect(excluded.excludedFiles).toEqual(['low/long.wav'])
    // All three clips of the recording leave the split, nothing else does.
    const left = store.split(report.id, ratios).assignment.map((a) => a.file)
    expect(left).toHaveLength(clips.length - 3)
    expect(left.filter((f) => f.startsWith('low/long.wav'))).toEqual([])
    expect(store.exclude(report.id, ['low/long.wav#t=0,1'], [], true).excludedFiles).toEqual([])
  })

  it('draws a clip by id as a spectrogram picture, and only clips of its own recordings', async () => {
    const report = await store.import(join(base, 'sounds'))
    const [first, third, stranger, escape] = await store.thumbnails(report.id, [
      'low/long.wav#t=0,1',
      'low/long.wav#t=2,3',
      'other/x.wav#t=0,1',
      '../pictures/b/3.wav',
    ])
    expect(first!.dataUrl).toMatch(/^data:image\/png;base64,/)
    expect(third!.dataUrl).toMatch(/^data:image\/png;base64,/)
    expect(stranger!.dataUrl).toBeNull()
    expect(escape!.dataUrl).toBeNull()
    const meta = await sharp(Buffer.from(first!.dataUrl!.split(',')[1]!, 'base64')).metadata()
    expect([meta.width, meta.height]).toEqual([96, 64])
  })

  it('cuts the clip an id names, padded with silence past the end of the recording', async () => {
    const root = join(base, 'sounds')
    const last = await clipSamples(root, 'low/long.wav#t=3,4')
    expect(last).toHaveLength(16000)
    // 0.2 s of tone, then silence.
    expect(Math.max(...last.subarray(0, 3000).map(Math.abs))).toBeGreaterThan(0.4)
    expect(Math.max(...last.subarray(3400).map(Math.abs))).toBeLessThan(1e-3)
    const missing = await clipSamples(root, 'low/gone.wav#t=0,1').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(AppError)
    expect((missing as AppError).message).toMatch(/Could not read 'low\/gone.wav'/)
  })

  it('prepares a job of clips, with the run config saying it is sound', async () => {
    const report = await store.import(join(base, 'sounds'))
    const config = store.withDataKind(defaultRunConfig('m', report.id))
    expect(config.dataKind).toBe('audio')
    const job = store.prepareJob(config)
    expect(job.labels).toEqual(['high', 'low'])
    expect(job.examples).toHaveLength(16)
    for (const e of job.examples) expect(parseWindowId(e.file), e.file).not.toBeNull()
  })

  it('refuses spectrogram settings the filterbank cannot draw, before a job starts', async () => {
    const report = await store.import(join(base, 'sounds'))
    const given = store.withDataKind(defaultRunConfig('m', report.id))
    const config = { ...given, sound: { ...given.sound, windowMs: 5, melBands: 256 } }
    expect(() => store.prepareJob(config)).toThrow(AppError)
    expect(() => store.prepareJob(config)).toThrow(/band/i)
  })
})

describe('sound settings', () => {
  it('map the field table onto the engine: clip hop from the overlap, spectrogram, augmentation off unless on', () => {
    const sound = { ...soundDefaults(), clipSeconds: 2, clipOverlap: 0.5, topDb: 50 }
    expect(clipSettingsOf({ sound })).toEqual({ sampleRate: 16000, clipSeconds: 2, hopSeconds: 1 })
    expect(clipSettingsOf({})).toEqual({ sampleRate: 16000, clipSeconds: 1, hopSeconds: 1 })
    expect(spectrogramSettingsOf({ sound })).toMatchObject({ sampleRate: 16000, topDb: 50, melBands: 64, fMax: 8000 })
    expect(audioAugmentationOf({ sound }).timeShift).toBe(0)
    const on = { ...sound, augment: { ...sound.augment, enabled: true } }
    expect(audioAugmentationOf({ sound: on })).toMatchObject({ timeShift: 0.1, gainDb: 6, noiseSnrDb: [10, 30] })
  })

  it('turn the feature cache off only for the augmentation of their own kind', () => {
    const c = defaultRunConfig('m', 'd')
    const soundOn = { ...c.sound, augment: { ...c.sound.augment, enabled: true } }
    expect(featureCacheServes({ ...c, dataKind: 'audio', sound: soundOn })).toBe(false)
    expect(featureCacheServes({ ...c, dataKind: 'image', sound: soundOn })).toBe(true)
    expect(featureCacheServes({ ...c, dataKind: 'audio', augment: { ...c.augment, enabled: true } })).toBe(true)
    expect(featureCacheServes({ augment: c.augment })).toBe(true)
  })

  it('refuse a pitch range upside down for sound runs only', () => {
    const c = defaultRunConfig('m', 'd')
    const upside = { ...c.sound, fMin: 5000, fMax: 4000 }
    expect(configConflicts({ ...c, dataKind: 'audio', sound: upside }).map((x) => x.path)).toEqual(['sound.fMin'])
    expect(configConflicts({ ...c, dataKind: 'image', sound: upside })).toEqual([])
  })
})

describe('comparing runs', () => {
  it('refuses runs of different kinds of data, naming them; old runs count as images', () => {
    const image = { dataKind: 'image' as const }
    const audio = { dataKind: 'audio' as const }
    expect(
      dataKindConflict([
        { id: 1, config: image },
        { id: 2, config: {} },
      ]),
    ).toBeNull()
    expect(
      dataKindConflict([
        { id: 3, config: audio },
        { id: 4, config: audio },
      ]),
    ).toBeNull()
    expect(
      dataKindConflict([
        { id: 1, config: {} },
        { id: 3, config: audio },
      ]),
    ).toMatch(/^Run 3 trained on sound recordings and run 1 on images/)
    expect(
      dataKindConflict([
        { id: 1, config: {} },
        { id: 3, config: audio },
        { id: 4, config: image },
        { id: 5, config: audio },
        { id: 6, config: audio },
      ]),
    ).toMatch(/^Runs 3, 5 and 6 trained on sound recordings and runs 1 and 4 on images/)
  })
})

function soundDefaults() {
  return defaultRunConfig('m', 'd').sound
}
