import { describe, expect, it } from 'vitest'
import { describeInterval, mcnemar, wilson } from '../../src/shared/stats'

describe('wilson', () => {
  it('matches published values', () => {
    // Agresti & Coull / Newcombe (1998): 81 of 263 -> 0.2553 to 0.3662.
    const a = wilson(81, 263)
    expect(a.low).toBeCloseTo(0.2553, 3)
    expect(a.high).toBeCloseTo(0.3662, 3)
    // 26 of 30 (86.7 %): roughly 70 % to 95 %, the honest spread of a 30-image test set.
    const b = wilson(26, 30)
    expect(b.low).toBeCloseTo(0.703, 2)
    expect(b.high).toBeCloseTo(0.947, 2)
    expect(describeInterval(b)).toBe('between 70 % and 95 %')
  })

  it('stays inside [0, 1] at 0 % and 100 % and narrows with more images', () => {
    expect(wilson(30, 30).high).toBe(1)
    expect(wilson(30, 30).low).toBeCloseTo(0.886, 2)
    expect(wilson(0, 10).low).toBe(0)
    expect(wilson(900, 1000).high - wilson(900, 1000).low).toBeLessThan(wilson(9, 10).high - wilson(9, 10).low)
    expect(wilson(0, 0)).toMatchObject({ value: null, low: 0, high: 1 })
  })
})

describe('mcnemar', () => {
  it('gives the exact two-sided binomial p-value on the discordant pairs', () => {
    // 1 vs 9 discordant: 2 · P(X ≤ 1 | n=10, p=.5) = 2 · 11/1024.
    expect(mcnemar(1, 9).p).toBeCloseTo(22 / 1024, 10)
    expect(mcnemar(1, 9).significant).toBe(true)
    expect(mcnemar(3, 5).significant).toBe(false)
    expect(mcnemar(5, 5).p).toBe(1)
    expect(mcnemar(0, 0)).toMatchObject({ p: 1, significant: false })
  })
})
