import { beforeAll, describe, expect, it } from 'vitest'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { buildHead, makeOptimizer } from '../../src/main/ml/train/head'
import { LrSchedule } from '../../src/main/ml/train/schedule'
import { evaluatePredictions } from '../../src/main/ml/eval/evaluate'
import { defaultHyper } from '../../src/shared/run-config'
import type { HyperParams } from '../../src/shared/types'

beforeAll(async () => {
  await initBackend('cpu')
})

const hyper = (patch: Partial<HyperParams> = {}): HyperParams => ({ ...structuredClone(defaultHyper), ...patch })

describe('buildHead', () => {
  it('builds dropout/dense layers with softmax, seeded initialisers and regularisers', () => {
    const cfg = { units: [8], dropout: 0.2, initializer: 'he' as const, l1: 0, l2: 1e-3 }
    const a = buildHead(5, 3, cfg, 7)
    const b = buildHead(5, 3, cfg, 7)
    const c = buildHead(5, 3, cfg, 8)
    expect(a.layers.map((l) => l.getClassName())).toEqual(['Dropout', 'Dense', 'Dropout', 'Dense'])
    expect(a.outputs[0].shape).toEqual([null, 3])
    const ka = a.layers[1].getWeights()[0].dataSync()
    expect(Array.from(ka)).toEqual(Array.from(b.layers[1].getWeights()[0].dataSync()))
    expect(Array.from(ka)).not.toEqual(Array.from(c.layers[1].getWeights()[0].dataSync()))
    const cfgJson = a.layers[3].getConfig() as { activation: string; kernelRegularizer: { config: { l2: number } } }
    expect(cfgJson.activation).toBe('softmax')
    expect(cfgJson.kernelRegularizer.config.l2).toBeCloseTo(1e-3)
    expect(buildHead(5, 2, { ...cfg, units: [], dropout: 0 }, 1).layers.map((l) => l.getClassName())).toEqual(['Dense'])
  })

  it('dropout masks are reproducible for a seed and differ between batches', () => {
    const tf = getTf()
    const masks = (seed: number) => {
      const head = buildHead(64, 2, { units: [], dropout: 0.5, initializer: 'glorot', l1: 0, l2: 0 }, seed)
      const dropout = head.layers[0]
      const x = tf.ones([1, 64])
      const out = [0, 1].map(() => {
        const y = dropout.apply(x, { training: true }) as ReturnType<typeof tf.ones>
        const v = Array.from(y.dataSync())
        y.dispose()
        return v
      })
      x.dispose()
      return out
    }
    const [first, second] = masks(3)
    expect(first).not.toEqual(second)
    expect(first.some((v) => v === 0)).toBe(true)
    expect(masks(3)).toEqual([first, second])
    expect(masks(4)[0]).not.toEqual(first)
  })

  it('makes every optimizer', () => {
    for (const name of ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad'] as const) {
      expect(
        makeOptimizer(hyper({ optimizer: name }))
          .getClassName()
          .toLowerCase(),
      ).toContain(name === 'sgd' ? 'sgd' : name)
    }
  })
})

describe('LrSchedule', () => {
  const rates = (kind: HyperParams['schedule']['kind'], losses: number[] = []) => {
    const opt = getTf().train.sgd(0.1)
    const s = new LrSchedule({ kind, stepEvery: 2, gamma: 0.5, patience: 2 }, 0.1, 4, opt)
    return [0, 1, 2, 3].map((e) => {
      const lr = s.onEpochBegin(e)
      expect((opt as unknown as { learningRate: number }).learningRate).toBe(lr)
      s.onEpochEnd(losses[e] ?? 1)
      return lr
    })
  }
  it('constant, step, cosine and plateau', () => {
    expect(rates('constant')).toEqual([0.1, 0.1, 0.1, 0.1])
    expect(rates('step')).toEqual([0.1, 0.1, 0.05, 0.05])
    const cos = rates('cosine')
    expect(cos[0]).toBeCloseTo(0.1)
    expect(cos[2]).toBeCloseTo(0.05)
    expect(cos[3]).toBeLessThan(cos[2])
    // Improves, then stalls twice: the rate halves from the next epoch.
    expect(rates('plateau', [1, 1, 1, 1])).toEqual([0.1, 0.1, 0.1, 0.05])
  })
})

describe('evaluatePredictions', () => {
  it('computes accuracy, loss, confusion, per-class metrics and sorted mistakes', () => {
    const labels = ['a', 'b']
    const probs = [0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7]
    const ev = evaluatePredictions(
      probs,
      [
        { file: 'a1', label: 0 },
        { file: 'a2', label: 0 },
        { file: 'b1', label: 1 },
        { file: 'b2', label: 1 },
      ],
      labels,
      'test',
    )
    expect(ev.accuracy).toBe(0.5)
    expect(ev.confusion).toEqual([
      [1, 1],
      [1, 1],
    ])
    expect(ev.loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.2) + Math.log(0.4) + Math.log(0.7)) / 4, 6)
    expect(ev.perClass[0]).toEqual({ label: 'a', precision: 0.5, recall: 0.5, f1: 0.5, support: 2 })
    expect(ev.misclassified.map((m) => m.file)).toEqual(['a2', 'b1'])
    expect(ev.misclassified[0]).toMatchObject({ trueLabel: 'a', predicted: 'b' })
    expect(ev.misclassified[0].confidence).toBeCloseTo(0.8)
    expect(ev.predictions).toHaveLength(4)
  })
})
