/** Measured amounts read as numbers, never as "0.0e+0" or "3.1e-7". */
import { describe, expect, it } from 'vitest'
import { formatMeasure } from '../../src/renderer/src/lib/core/format'

describe('formatMeasure', () => {
  it('writes 0 as 0 and anything tinier than the floor as "< 0.001"', () => {
    expect(formatMeasure(0)).toBe('0')
    expect(formatMeasure(-0)).toBe('0')
    expect(formatMeasure(3.1e-7)).toBe('< 0.001')
    expect(formatMeasure(2e-7, 2)).toBe('< 0.001')
    expect(formatMeasure(-4e-6)).toBe('> -0.001')
    expect(formatMeasure(0.00004, 2, 0.0001)).toBe('< 0.0001')
  })

  it('keeps the significant digits asked for, without float noise or an exponent', () => {
    expect(formatMeasure(0.45678)).toBe('0.457')
    expect(formatMeasure(12.345)).toBe('12.3')
    expect(formatMeasure(0.001)).toBe('0.001')
    expect(formatMeasure(0.0012345)).toBe('0.00123')
    expect(formatMeasure(0.1 + 0.2)).toBe('0.3')
    expect(formatMeasure(2_259_264, 4)).toBe('2259000')
    for (const x of [1e-9, 5e-5, 0.03, 1, 987.6, 123_456])
      expect(formatMeasure(x, 2), String(x)).not.toMatch(/e[+-]?\d/i)
  })

  it('says nothing it does not know', () => {
    expect(formatMeasure(null)).toBe('—')
    expect(formatMeasure(undefined)).toBe('—')
    expect(formatMeasure(Number.NaN)).toBe('—')
    expect(formatMeasure(Number.POSITIVE_INFINITY)).toBe('—')
  })
})
