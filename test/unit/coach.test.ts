/** The coach's rules on recorded curves and evaluations: one case per finding, and the fixes it offers. */
import { describe, expect, it } from 'vitest'
import { applyFix, coachFindings, type CoachInput } from '../../src/shared/coach'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { Evaluation, MetricPoint } from '../../src/shared/types'

const labels = ['cat', 'dog', 'fox']

/** Curves from per-epoch values: { loss: [...], acc: [...] } for train and val. */
function curves(train: { loss: number[]; acc: number[] }, val: { loss: number[]; acc: number[] }): MetricPoint[] {
  const out: MetricPoint[] = []
  const add = (split: 'train' | 'val', name: string, values: number[]) =>
    values.forEach((value, i) => out.push({ phase: 1, epoch: i + 1, step: null, split, name, value, t: i * 100 }))
  add('train', 'loss', train.loss)
  add('train', 'acc', train.acc)
  add('val', 'loss', val.loss)
  add('val', 'acc', val.acc)
  return out
}

function evaluation(confusion: number[][], split: Evaluation['split'] = 'test'): Evaluation {
  return { split, accuracy: 0, loss: 0, labels, perClass: [], confusion, misclassified: [], predictions: [] }
}

const good = evaluation([
  [18, 1, 1],
  [1, 18, 1],
  [1, 1, 18],
])

function input(over: Partial<CoachInput> = {}): CoachInput {
  const config = defaultRunConfig('m', 'd')
  config.hyper.epochs = 5
  return {
    config,
    status: 'succeeded',
    errorCode: null,
    points: curves(
      { loss: [1, 0.6, 0.4, 0.35, 0.33], acc: [0.6, 0.8, 0.88, 0.9, 0.9] },
      { loss: [1, 0.7, 0.5, 0.48, 0.49], acc: [0.6, 0.78, 0.85, 0.88, 0.88] },
    ),
    evaluations: [good],
    ...over,
  }
}

const codes = (i: CoachInput): string[] => coachFindings(i).map((f) => f.code)

describe('the coach', () => {
  it('says nothing about a healthy run on enough images', () => {
    expect(codes(input())).toEqual([])
  })

  it('a NaN loss: the learning rate is too high, and the fix lowers it', () => {
    const i = input({ status: 'failed', errorCode: 'nan_loss' })
    i.config.hyper.learningRate = 1
    const [f] = coachFindings(i)
    expect(f).toMatchObject({ code: 'diverged', severity: 'problem' })
    const fixed = applyFix(i.config, f!.fix!)
    expect(fixed?.hyper.learningRate).toBe(0.01)
  })

  it('a loss stuck far above guessing with accuracy at chance (lr 10 with momentum in the old CLI)', () => {
    const i = input({
      points: curves(
        { loss: [12.9, 12.89, 12.89], acc: [0.33, 0.34, 0.33] },
        { loss: [12.9, 12.9, 12.9], acc: [0.33, 0.33, 0.33] },
      ),
      evaluations: [
        evaluation([
          [20, 0, 0],
          [20, 0, 0],
          [20, 0, 0],
        ]),
      ],
    })
    i.config.hyper.learningRate = 1
    const found = codes(i)
    expect(found[0]).toBe('diverged')
    expect(found).toContain('one-class-predicted')
  })

  it('Adam at learning rate 1 is called too high even when it did not diverge', () => {
    const i = input()
    i.config.hyper.learningRate = 1
    const [f] = coachFindings(i)
    expect(f?.code).toBe('learning-rate-high')
    expect(applyFix(i.config, f!.fix!)?.hyper.learningRate).toBe(0.001)
    i.config.hyper.optimizer = 'sgd'
    expect(codes(i)).not.toContain('learning-rate-high')
  })

  it('stuck at chance with a tiny learning rate: raise it', () => {
    const i = input({
      points: curves(
        { loss: [1.1, 1.099, 1.098], acc: [0.33, 0.34, 0.34] },
        { loss: [1.1, 1.1, 1.1], acc: [0.33, 0.33, 0.34] },
      ),
      evaluations: [
        evaluation([
          [7, 7, 6],
          [7, 7, 6],
          [6, 7, 7],
        ]),
      ],
    })
    i.config.hyper.learningRate = 1e-5
    const f = coachFindings(i).find((x) => x.code === 'stuck-at-chance')!
    expect(applyFix(i.config, f.fix!)?.hyper.learningRate).toBe(1e-4)
  })

  it('over-fitting: training far above validation and validation loss rising; the fix adds dropout', () => {
    const i = input({
      points: curves(
        { loss: [0.9, 0.4, 0.1, 0.05, 0.02], acc: [0.7, 0.9, 0.98, 1, 1] },
        { loss: [0.9, 0.7, 0.75, 0.9, 1.1], acc: [0.65, 0.75, 0.74, 0.72, 0.7] },
      ),
    })
    const f = coachFindings(i).find((x) => x.code === 'overfitting')!
    expect(f.detail).toMatch(/rose after epoch 2/)
    expect(applyFix(i.config, f.fix!)?.head.dropout).toBeCloseTo(0.4, 10)
  })

  it('under-fitting on a frozen base: the fix trains the top blocks in phase 2', () => {
    const i = input({
      points: curves(
        { loss: [1, 0.9, 0.85, 0.84, 0.84], acc: [0.5, 0.6, 0.62, 0.63, 0.63] },
        { loss: [1, 0.9, 0.88, 0.87, 0.87], acc: [0.5, 0.58, 0.6, 0.6, 0.6] },
      ),
    })
    const f = coachFindings(i).find((x) => x.code === 'underfitting')!
    const fixed = applyFix(i.config, f.fix!)!
    expect(fixed.freeze.preset).toBe('top-blocks')
    expect(fixed.phase2.enabled).toBe(true)
  })

  it('still improving at the last epoch of all it was allowed: the fix doubles the epochs', () => {
    const i = input({
      points: curves(
        { loss: [1, 0.8, 0.6, 0.5, 0.4], acc: [0.6, 0.7, 0.8, 0.85, 0.9] },
        { loss: [1, 0.85, 0.7, 0.6, 0.5], acc: [0.6, 0.7, 0.78, 0.82, 0.86] },
      ),
    })
    const f = coachFindings(i).find((x) => x.code === 'still-improving')!
    expect(applyFix(i.config, f.fix!)?.hyper.epochs).toBe(10)
  })

  it('one class predicted for everything, a class with too few images, imbalance, and a test set too small', () => {
    const i = input({
      evaluations: [
        evaluation([
          [30, 0, 0],
          [8, 0, 0],
          [2, 0, 0],
        ]),
      ],
    })
    i.config.hyper.classWeights = 'none'
    const found = coachFindings(i)
    expect(found.map((f) => f.code)).toEqual(
      expect.arrayContaining(['one-class-predicted', 'class-too-small', 'imbalance']),
    )
    expect(applyFix(i.config, found.find((f) => f.code === 'imbalance')!.fix!)?.hyper.classWeights).toBe('auto')
    const few = input({
      evaluations: [
        evaluation([
          [4, 1, 0],
          [0, 5, 0],
          [1, 0, 4],
        ]),
      ],
    })
    const small = coachFindings(few).find((f) => f.code === 'test-too-small')!
    expect(small.detail).toMatch(/15 test images/)
    const fixed = applyFix(few.config, small.fix!)!
    expect(fixed.split.test + fixed.split.val + fixed.split.train).toBeCloseTo(1, 10)
    expect(fixed.split.test).toBe(0.25)
  })

  it('a fix that would not be a valid config is refused', () => {
    const c = defaultRunConfig('m', 'd')
    expect(applyFix(c, { label: 'x', changes: [{ path: 'hyper.learningRate', value: 5 }] })).toBeNull()
  })
})
