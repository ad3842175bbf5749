/**
 * A second run starts cleanly: Train shows a finished run only while the wizard holds the settings
 * it trained with (`sameSettings`), and when training cannot start, the Train screen points to the
 * step to fix from the same blockers the rail uses (`stepToFix`), never "Everything is ready."
 */
import { describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { DatasetReport, ModelCard, SplitSummary } from '../../src/shared/types'
import { sameSettings, stepBlockers, stepToFix } from '../../src/renderer/src/lib/core/wizard-logic'

describe('sameSettings', () => {
  const run = defaultRunConfig('mobilenet', 'ds-1', 'MobileNetV2 · shapes · lr 0.001')

  it('is true for the settings a run trained with, whatever its name and key order', () => {
    expect(sameSettings(run, structuredClone(run))).toBe(true)
    expect(sameSettings(run, { ...structuredClone(run), name: 'MobileNetV2 · shapes · lr 0.001 (2)' })).toBe(true)
    // Keys in the opposite order at every level (a config read back from the database may differ so).
    const reversed = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v)
              .reverse()
              .map(([k, x]) => [k, reversed(x)]),
          )
        : v
    const backwards = reversed(run) as typeof run
    expect(Object.keys(backwards)).not.toEqual(Object.keys(run))
    expect(sameSettings(run, backwards)).toBe(true)
  })

  it('is false after any change to a setting, however deep', () => {
    const changed = (edit: (c: typeof run) => void): boolean => {
      const c = structuredClone(run)
      edit(c)
      return sameSettings(run, c)
    }
    expect(changed((c) => (c.hyper.epochs += 1))).toBe(false)
    expect(changed((c) => (c.hyper.learningRate = 0.002))).toBe(false)
    expect(changed((c) => (c.datasetId = 'ds-2'))).toBe(false)
    expect(changed((c) => (c.split.seed += 1))).toBe(false)
    expect(changed((c) => c.freeze.trainableLayers.push('Conv_1'))).toBe(false)
  })
})

describe('stepToFix', () => {
  const model = { id: 'm', supported: true, available: true } as ModelCard
  const report = { id: 'd', blockers: [] as string[] } as DatasetReport
  const split = { id: 's' } as SplitSummary
  const base = { model, report, split, invalidFields: 0, hasRun: false, hasResults: false }

  it('names the step that unblocks training, from the rail blockers', () => {
    expect(stepToFix(stepBlockers(base), 0)).toBeNull()
    expect(stepToFix(stepBlockers({ ...base, model: null }), 0)).toBe('model')
    const blocked = { ...report, blockers: ['Only one class.'] }
    expect(stepToFix(stepBlockers({ ...base, report: blocked }), 0)).toBe('data')
    expect(stepToFix(stepBlockers({ ...base, split: null }), 0)).toBe('split')
    expect(stepToFix(stepBlockers({ ...base, invalidFields: 2 }), 2)).toBe('hyper')
  })

  it('a blocked dataset keeps Train closed unless Train shows a run (active, or finished with these settings)', () => {
    const blocked = { ...base, report: { ...report, blockers: ['Only one class.'] } }
    expect(stepBlockers(blocked).train).toBe('Fix the dataset problems first.')
    expect(stepBlockers({ ...blocked, hasRun: true }).train).toBeNull()
  })
})
