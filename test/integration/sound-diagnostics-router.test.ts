/**
 * The learning-rate finder and the mislabel search on a sound dataset through the router and the built task
 * worker, as the app and the CLI call them: the config says nothing of sound (its kind defaults to images), the
 * handlers give the task the dataset's kind and its clips, and the worker extracts the clips as spectrograms.
 * Needs `npm run build` (npm test does it), like the other tests on the real services.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { DatasetReport } from '../../src/shared/types'
import { parseWindowId } from '../../src/main/ml/audio'
import { startTinyServices, type TinyServices } from '../helpers/tiny-services'
import { tone, wav16 } from '../fixtures/audio/synth'

const root = mkdtempSync(join(tmpdir(), 'tw-sound-diag-router-'))
let tiny: TinyServices
let sounds: DatasetReport

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const r = await tiny.svc.router.call(channel, payload)
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`)
  return r.value as T
}

function write(file: string, content: Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

beforeAll(async () => {
  tiny = await startTinyServices(root)
  // Two classes of 1 s tones and one 2 s low recording (two clips), plus a high tone filed as low.
  const dir = join(root, 'tones')
  for (let i = 0; i < 8; i++) {
    write(join(dir, 'low', `low-${i}.wav`), wav16(tone(250 + 25 * i, 16000, 1), 16000))
    write(join(dir, 'high', `high-${i}.wav`), wav16(tone(3000 + 150 * i, 16000, 1), 16000))
  }
  write(join(dir, 'low', 'long.wav'), wav16(tone(330, 16000, 2), 16000))
  write(join(dir, 'low', 'odd.wav'), wav16(tone(3600, 16000, 1), 16000))
  sounds = await call<DatasetReport>('datasets:import', { path: dir })
}, 60_000)

afterAll(() => {
  tiny?.svc.close()
  rmSync(root, { recursive: true, force: true })
})

describe('diagnostics on sound through the router', () => {
  it('the learning-rate finder answers with a curve and a suggested rate', async () => {
    expect(sounds.kind).toBe('audio')
    const config = defaultRunConfig(tiny.modelId, sounds.id)
    expect(config.dataKind).toBe('image')
    const lr = await call<{ points: { lr: number; loss: number }[]; suggestion: number }>('runs:lr-find', { config })
    expect(lr.points.length).toBeGreaterThan(10)
    expect(lr.points[lr.points.length - 1]!.lr).toBeGreaterThan(lr.points[0]!.lr)
    expect(lr.suggestion).toBeGreaterThan(0)
    expect(lr.suggestion).toBeLessThanOrEqual(1)
  }, 60_000)

  it('the mislabel search runs on the clips (before, sound was refused) and names clips of this dataset', async () => {
    // The services' tiny model pools its 4 channels away, so which clips rank first is left to
    // sound-diagnostics.test.ts (a MobileNet-like base); here: the task runs and answers in clip ids.
    const config = defaultRunConfig(tiny.modelId, sounds.id)
    const suspects = await call<{ file: string; label: string; suggested: string }[]>('datasets:suspects', { config })
    const clips = new Set(['low', 'high'])
    for (const s of suspects) {
      // Clip ids (`file#t=a,b`) of recordings in the folder, never a recording read as an image.
      expect(parseWindowId(s.file), s.file).not.toBeNull()
      expect(s.file.startsWith(`${s.label}/`)).toBe(true)
      expect(clips.has(s.suggested)).toBe(true)
      expect(s.suggested).not.toBe(s.label)
    }
  }, 60_000)
})
