import { describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { Evaluation } from '../../src/shared/types'
import { bestIndex, diffExamples, diffSettings } from '../../src/main/db/compare'
import { csvField, toCsv } from '../../src/main/db/csv'

function evaluation(split: 'val' | 'test', preds: [file: string, truth: string, predicted: string][]): Evaluation {
  const labels = [...new Set(preds.flatMap(([, t, p]) => [t, p]))].sort()
  const confusion = labels.map((t) => labels.map((p) => preds.filter(([, pt, pp]) => pt === t && pp === p).length))
  const correct = preds.filter(([, t, p]) => t === p).length
  return {
    split,
    accuracy: preds.length ? correct / preds.length : 0,
    loss: 0.5,
    labels,
    perClass: [],
    confusion,
    misclassified: [],
    predictions: preds.map(([file, trueLabel, predicted]) => ({ file, trueLabel, predicted, confidence: 0.9 })),
  }
}

describe('diffSettings', () => {
  it('finds exactly the learning rate when that is all that differs, ignoring the name', () => {
    const a = defaultRunConfig('mobilenet', 'ds', 'first')
    const b = defaultRunConfig('mobilenet', 'ds', 'second')
    b.hyper.learningRate = 3e-4
    const rows = diffSettings([a, b])
    expect(rows.filter((r) => r.differs)).toEqual([
      { field: 'hyper.learningRate', values: [1e-3, 3e-4], differs: true },
    ])
    expect(rows.some((r) => r.field === 'name')).toBe(false)
    // Every leaf is there as a dotted path, nested objects are not rows of their own.
    expect(rows.map((r) => r.field)).toContain('hyper.earlyStopping.patience')
    expect(rows.map((r) => r.field)).not.toContain('hyper')
  })

  it('compares arrays by their JSON and shows fields missing from older configs as null', () => {
    const a = defaultRunConfig('m', 'd')
    const b = defaultRunConfig('m', 'd')
    const c = defaultRunConfig('m', 'd')
    a.head.units = [128]
    b.head.units = [128]
    c.head.units = [128, 64]
    expect(diffSettings([a, b]).find((r) => r.field === 'head.units')?.differs).toBe(false)
    expect(diffSettings([a, c]).find((r) => r.field === 'head.units')).toEqual({
      field: 'head.units',
      values: [[128], [128, 64]],
      differs: true,
    })
    const old = structuredClone(a) as unknown as { augment?: unknown }
    delete old.augment
    const rows = diffSettings([a, old as never])
    expect(rows.find((r) => r.field === 'augment.flip')).toEqual({
      field: 'augment.flip',
      values: [true, null],
      differs: true,
    })
  })
})

describe('diffExamples', () => {
  it('sorts files into fixed, broken and bothWrong', () => {
    const a = evaluation('test', [
      ['1.jpg', 'cat', 'cat'], // right, right
      ['2.jpg', 'cat', 'dog'], // wrong -> right: fixed
      ['3.jpg', 'dog', 'dog'], // right -> wrong: broken
      ['4.jpg', 'dog', 'cat'], // wrong, wrong
      ['5.jpg', 'bird', 'cat'], // wrong, wrong (differently)
    ])
    const b = evaluation('test', [
      ['5.jpg', 'bird', 'dog'],
      ['4.jpg', 'dog', 'cat'],
      ['3.jpg', 'dog', 'bird'],
      ['2.jpg', 'cat', 'cat'],
      ['1.jpg', 'cat', 'cat'],
    ])
    expect(diffExamples(a, b)).toEqual({ fixed: ['2.jpg'], broken: ['3.jpg'], bothWrong: ['4.jpg', '5.jpg'] })
    expect(diffExamples(b, a)).toEqual({ fixed: ['3.jpg'], broken: ['2.jpg'], bothWrong: ['5.jpg', '4.jpg'] })
  })

  it('returns null when the evaluations cover different files', () => {
    const a = evaluation('test', [
      ['1.jpg', 'cat', 'cat'],
      ['2.jpg', 'cat', 'cat'],
    ])
    const b = evaluation('test', [
      ['1.jpg', 'cat', 'cat'],
      ['3.jpg', 'cat', 'cat'],
    ])
    const c = evaluation('test', [['1.jpg', 'cat', 'cat']])
    expect(diffExamples(a, b)).toBeNull()
    expect(diffExamples(a, c)).toBeNull()
  })
})

describe('bestIndex', () => {
  it('picks the highest or lowest value, skips nulls, and keeps the earlier run on ties', () => {
    expect(bestIndex([0.5, null, 0.9, 0.9], true)).toBe(2)
    expect(bestIndex([0.5, null, 0.2, 0.9], false)).toBe(2)
    expect(bestIndex([null, null], true)).toBeNull()
    expect(bestIndex([NaN, 3], false)).toBe(1)
  })
})

describe('csv', () => {
  it('quotes commas, quotes and line breaks and leaves plain cells alone', () => {
    expect(csvField('plain')).toBe('plain')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('two\nlines')).toBe('"two\nlines"')
    expect(csvField(null)).toBe('')
    expect(csvField(0.25)).toBe('0.25')
    expect(toCsv(['a', 'b'], [[1, 'x,y']])).toBe('a,b\r\n1,"x,y"\r\n')
  })
})
