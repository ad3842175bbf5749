import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { FromJob, JobStart } from '../../src/shared/job-messages'
import { defaultRunConfig } from '../../src/shared/run-config'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { splitDataset } from '../../src/main/ml/data/split'
import { runDir as runDirOf } from '../../src/main/ml/layout'
import { runInProcess } from '../../src/main/ml/train/run-job'
import type { RunPredictions } from '../../src/main/ml/train/finish'
import { exportRun, verifyExport } from '../../src/main/ml/export/export'
import { predictImage } from '../../src/main/ml/eval/predict'

const root = mkdtempSync(join(tmpdir(), 'tw-e2e-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('end to end on the bundled MobileNetV2', () => {
  it('learns the synthetic shapes (test accuracy >= 0.9) and the export predicts the same', async () => {
    const datasetPath = join(root, 'shapes')
    const labels = ['circle', 'square', 'triangle', 'star']
    await makeSyntheticDataset(datasetPath, { perClass: 40, size: 96, seed: 11, classes: labels })
    const files = labels.flatMap((label) =>
      readdirSync(join(datasetPath, label)).map((f) => ({ file: `${label}/${f}`, label, hash: f })),
    )
    const config = defaultRunConfig('mobilenet-v2-nsfwjs', 'shapes')
    const split = splitDataset(files, config.split)
    const job: JobStart = {
      type: 'start',
      runId: 1,
      config,
      dataDir: join(root, 'data'),
      datasetPath,
      examples: split.assignment.map((a) => ({ file: a.file, label: a.label, split: a.split })),
      labels,
    }
    const { messages, final } = await runInProcess(job)
    const errors = messages.filter((m): m is Extract<FromJob, { type: 'error' }> => m.type === 'error')
    expect(errors).toEqual([])
    expect(final?.type).toBe('done')
    if (final?.type !== 'done') return
    expect(final.status).toBe('succeeded')
    expect(final.testAccuracy).toBeGreaterThanOrEqual(0.9)

    const runDir = runDirOf(job.dataDir, 1)
    const out = join(root, 'exported')
    expect(await exportRun(runDir, out)).toEqual(['metadata.json', 'model.json', 'weights.bin'])
    const preds = JSON.parse(readFileSync(join(runDir, 'predictions.json'), 'utf8')) as RunPredictions
    expect(preds.test.length).toBeGreaterThanOrEqual(20)
    const check = await verifyExport(out, datasetPath, preds.test)
    expect(check.agreement).toBe(1)
    expect(check.maxDifference).toBeLessThan(1e-4)

    const first = preds.test[0]
    const tried = await predictImage(runDir, readFileSync(join(datasetPath, first.file)))
    expect(tried[0].confidence).toBeCloseTo(Math.max(...first.probabilities), 4)
  })
})
