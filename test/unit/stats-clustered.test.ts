/**
 * Intervals for clips of recordings: ten clips of one recording are not ten independent checks, so the
 * interval must count recordings' worth of evidence (`clusteredWilson`), and every score function (accuracy,
 * recall, precision) uses it when an evaluation's examples share recordings. A seeded simulation shows the
 * plain interval on clips would miss the true accuracy far more often than its stated 5 %.
 */
import { describe, expect, it } from 'vitest'
import {
  accuracyOf,
  exampleUnit,
  pairedDifference,
  precisionsOf,
  recallsOf,
  uncertaintyText,
} from '../../src/shared/scores'
import { clusteredMcnemar, clusteredWilson, mcnemar, wilson } from '../../src/shared/stats'
import type { Evaluation } from '../../src/shared/types'
import { mulberry32 } from '../../src/main/ml/data/split'

describe('clusteredWilson', () => {
  it('is Wilson when every unit holds one trial', () => {
    const units = Array.from({ length: 30 }, (_, i) => ({ successes: i < 26 ? 1 : 0, trials: 1 }))
    expect(clusteredWilson(units)).toEqual(wilson(26, 30))
  })

  it('counts recordings, not clips, when each recording is all right or all wrong', () => {
    // Three recordings of ten clips, all right: three checks, not thirty.
    const allRight = clusteredWilson(Array.from({ length: 3 }, () => ({ successes: 10, trials: 10 })))
    expect(allRight).toMatchObject({ value: 1, successes: 30, trials: 30, high: 1 })
    expect(allRight.clustered).toEqual({ units: 3, effectiveTrials: 3 })
    expect(allRight.low).toBeCloseTo(wilson(3, 3).low, 10)
    expect(allRight.low).toBeLessThan(wilson(30, 30).low - 0.3)
    // Ten recordings of five clips, seven all right and three all wrong: about nine recordings' evidence.
    const split = clusteredWilson([
      ...Array.from({ length: 7 }, () => ({ successes: 5, trials: 5 })),
      ...Array.from({ length: 3 }, () => ({ successes: 0, trials: 5 })),
    ])
    expect(split.value).toBe(0.7)
    expect(split.clustered!.effectiveTrials).toBeCloseTo(9, 9)
    expect(split.high - split.low).toBeGreaterThan(2 * (wilson(35, 50).high - wilson(35, 50).low) - 0.1)
  })

  it('keeps every clip as evidence when recordings do not differ from each other', () => {
    const even = clusteredWilson(Array.from({ length: 10 }, () => ({ successes: 4, trials: 5 })))
    expect(even.clustered!.effectiveTrials).toBe(50)
    expect(even.low).toBeCloseTo(wilson(40, 50).low, 10)
    expect(clusteredWilson([{ successes: 7, trials: 10 }]).clustered!.effectiveTrials).toBe(1)
    expect(clusteredWilson([]).trials).toBe(0)
  })

  it('covers the true accuracy about 95 % of the time on clustered data, where the plain interval does not', () => {
    // Twelve recordings of eight clips; a recording is easy (each clip right with 0.95) or hard (0.4).
    const next = mulberry32(7)
    const runs = 2000
    let clustered = 0
    let plain = 0
    const truth = 0.7 * 0.95 + 0.3 * 0.4
    for (let r = 0; r < runs; r++) {
      const units = Array.from({ length: 12 }, () => {
        const p = next() < 0.7 ? 0.95 : 0.4
        let successes = 0
        for (let c = 0; c < 8; c++) if (next() < p) successes++
        return { successes, trials: 8 }
      })
      const c = clusteredWilson(units)
      const w = wilson(c.successes, c.trials)
      if (c.low <= truth && truth <= c.high) clustered++
      if (w.low <= truth && truth <= w.high) plain++
    }
    expect(clustered / runs).toBeGreaterThan(0.9)
    expect(plain / runs).toBeLessThan(0.85)
  })
})

/** An evaluation from (file, true, predicted) triples, with its confusion matrix. */
function evaluation(rows: [string, string, string][]): Evaluation {
  const labels = ['no', 'yes']
  const confusion = labels.map(() => labels.map(() => 0))
  for (const [, t, p] of rows) confusion[labels.indexOf(t)]![labels.indexOf(p)]!++
  return {
    split: 'test',
    accuracy: 0,
    loss: 0,
    labels,
    perClass: [],
    confusion,
    misclassified: [],
    predictions: rows.map(([file, trueLabel, predicted]) => ({ file, trueLabel, predicted, confidence: 0.9 })),
  }
}

describe('scores of clips', () => {
  const clips = (rec: string, n: number, t: string, p: string): [string, string, string][] =>
    Array.from({ length: n }, (_, i) => [`${t}/${rec}.wav#t=${i},${i + 1}`, t, p])

  it('name a clip’s recording as its unit, and an image as its own', () => {
    expect(exampleUnit('yes/a b.wav#t=1.5,2.5')).toBe('yes/a b.wav')
    expect(exampleUnit('cats/1.jpg')).toBe('cats/1.jpg')
  })

  it('give accuracy, recall and precision intervals over recordings', () => {
    const ev = evaluation([
      ...clips('y1', 6, 'yes', 'yes'),
      ...clips('y2', 6, 'yes', 'yes'),
      ...clips('n1', 6, 'no', 'no'),
      ...clips('n2', 6, 'no', 'yes'),
    ])
    const acc = accuracyOf(ev)
    expect(acc).toMatchObject({ successes: 18, trials: 24, value: 0.75 })
    expect(acc.clustered!.units).toBe(4)
    expect(acc.low).toBeLessThan(wilson(18, 24).low - 0.1)
    expect(uncertaintyText(acc)).toMatch(/more test recordings would narrow it/)
    const yes = recallsOf(ev).find((r) => r.label === 'yes')!.recall
    expect(yes).toMatchObject({ successes: 12, trials: 12 })
    expect(yes.clustered!.units).toBe(2)
    expect(yes.low).toBeCloseTo(wilson(2, 2).low, 10)
    const saidYes = precisionsOf(ev).find((r) => r.label === 'yes')!.precision
    expect(saidYes).toMatchObject({ successes: 12, trials: 18 })
    expect(saidYes.clustered!.units).toBe(3)
  })

  it('stay plain Wilson for images, and without predictions', () => {
    const ev = evaluation([
      ['yes/1.jpg', 'yes', 'yes'],
      ['yes/2.jpg', 'yes', 'no'],
      ['no/3.jpg', 'no', 'no'],
      ['no/4.jpg', 'no', 'no'],
    ])
    expect(accuracyOf(ev)).toEqual(wilson(3, 4))
    expect(accuracyOf({ confusion: ev.confusion })).toEqual(wilson(3, 4))
    expect(uncertaintyText(accuracyOf(ev))).toMatch(/more test images/)
    expect(uncertaintyText(wilson(3, 4), { split: 'validation', examples: 'clips' })).toMatch(
      /— more validation clips would narrow it$/,
    )
  })
})

describe('two runs on the same clips', () => {
  it('is McNemar’s exact test when no recording holds two differing clips', () => {
    expect(pairedDifference(['a.jpg'], ['b.jpg', 'c.jpg', 'd.jpg'])).toEqual(mcnemar(1, 3))
    expect(pairedDifference(['a.wav#t=0,1'], ['a.wav#t=1,2', 'b.wav#t=0,1'])).toMatchObject({
      onlyFirst: 1,
      onlySecond: 2,
    })
    expect(
      clusteredMcnemar([
        { onlyFirst: 0, onlySecond: 1 },
        { onlyFirst: 1, onlySecond: 0 },
      ]),
    ).toEqual(mcnemar(1, 1))
  })

  it('gives Durkalski’s clustered statistic when clips of one recording differ together', () => {
    // Ten clips fixed, all in two recordings: two recordings' evidence, not ten independent clips'.
    const fixed = [
      ...Array.from({ length: 5 }, (_, i) => `a.wav#t=${i},${i + 1}`),
      ...Array.from({ length: 5 }, (_, i) => `b.wav#t=${i},${i + 1}`),
    ]
    const together = pairedDifference([], fixed)
    expect(together.clustered).toEqual({ units: 2 })
    // X² = 10² / (5² + 5²) = 2: p = P(χ²₁ > 2) = 0.1573.
    expect(together.p).toBeCloseTo(0.1573, 4)
    expect(together.significant).toBe(false)
    expect(mcnemar(0, 10).significant).toBe(true)
    // Spread over ten recordings the same ten clips are ten checks: X² = 10, p = 0.00157.
    const spread = pairedDifference(
      [],
      Array.from({ length: 10 }, (_, i) => `r${i}.wav#t=0,1`),
    )
    expect(spread).toEqual(mcnemar(0, 10))
    const mixed = clusteredMcnemar([
      { onlyFirst: 0, onlySecond: 3 },
      { onlyFirst: 1, onlySecond: 2 },
      { onlyFirst: 0, onlySecond: 2 },
    ])
    // X² = (1 − 7)² / (9 + 1 + 4) = 36 / 14: p = 0.1088.
    expect(mixed.p).toBeCloseTo(0.1088, 3)
    expect(clusteredMcnemar([{ onlyFirst: 2, onlySecond: 2 }]).p).toBe(1)
  })
})
