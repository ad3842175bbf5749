import { describe, expect, it } from 'vitest'
import {
  estimateRun,
  extractionSpeedup,
  extractionWorkerCount,
  splitCounts,
  type EstimateFacts,
} from '../../src/shared/estimate'
import { defaultRunConfig } from '../../src/shared/run-config'

const facts: EstimateFacts = {
  images: 400,
  secondsPerImage: 0.1,
  extractionWorkers: 2,
  headSecondsPerExample: 0.0002,
  tapeShare: 0.2,
}
const sum = (e: ReturnType<typeof estimateRun>): number => e.parts.reduce((s, p) => s + p.seconds, 0)

describe('estimateRun', () => {
  it('adds its parts up to the total for every strategy', () => {
    for (const preset of ['feature-extraction', 'top-blocks', 'lora', 'loreft', 'full'] as const) {
      const config = defaultRunConfig('m', 'd', 'x')
      config.freeze.preset = preset
      config.phase2.enabled = preset !== 'feature-extraction'
      const e = estimateRun(config, facts)
      expect(sum(e)).toBeCloseTo(e.totalSeconds, 9)
      expect(e.parts.some((p) => p.key === 'phase2')).toBe(preset !== 'feature-extraction')
    }
  })

  it('reads every image once, sharded, and nothing when the cache already holds them', () => {
    const config = defaultRunConfig('m', 'd', 'x')
    const cold = estimateRun(config, facts)
    const { speedup, shards } = extractionSpeedup(400, 2)
    expect(shards).toBe(2)
    expect(cold.extractionSeconds).toBeCloseTo((400 * 0.1 * 1.2) / speedup + 3, 9)
    const warm = estimateRun(config, { ...facts, cachedShare: 1 })
    expect(warm.extractionSeconds).toBe(0)
    expect(warm.parts.some((p) => p.key === 'extract')).toBe(false)
    expect(warm.totalSeconds).toBeCloseTo(cold.totalSeconds - cold.extractionSeconds, 9)
  })

  it('charges a base pass per training image and epoch when augmentation is on', () => {
    const config = defaultRunConfig('m', 'd', 'x')
    const plain = estimateRun(config, facts)
    config.augment.enabled = true
    const augmented = estimateRun(config, facts)
    const n = splitCounts(config, 400)
    expect(augmented.secondsPerEpoch - plain.secondsPerEpoch).toBeCloseTo(n.train * 0.1 * 1.2, 9)
    // Only validation and test images are cached up front.
    expect(augmented.extractionSeconds).toBeLessThan(plain.extractionSeconds)
  })

  it('costs more phase 2 the more of the base is on the tape, and scales with its epochs', () => {
    const config = defaultRunConfig('m', 'd', 'x')
    config.freeze.preset = 'top-blocks'
    config.phase2.enabled = true
    const phase2 = (share: number, epochs: number): number => {
      config.phase2.epochs = epochs
      return estimateRun(config, { ...facts, tapeShare: share }).parts.find((p) => p.key === 'phase2')!.seconds
    }
    expect(phase2(0.5, 5)).toBeGreaterThan(phase2(0.1, 5))
    expect(phase2(0.2, 10) - phase2(0.2, 5)).toBeCloseTo(phase2(0.2, 5) - phase2(0.2, 0.0), 9)
  })

  it('splits like the split step and shards like the engine', () => {
    expect(splitCounts(defaultRunConfig('m', 'd', 'x'), 100)).toEqual({ train: 70, val: 15, test: 15 })
    expect(extractionWorkerCount('wasm', 2, false)).toBe(2)
    expect(extractionWorkerCount('wasm', 16, false)).toBe(4)
    expect(extractionWorkerCount('tensorflow', 8, false)).toBe(1)
    expect(extractionWorkerCount('wasm', 8, true)).toBe(1)
    // Fewer than 64 images a shard is not worth a worker's start-up.
    expect(extractionSpeedup(100, 4).shards).toBe(1)
  })
})
