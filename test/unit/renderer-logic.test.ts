import { describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { DatasetReport, LayerInfo, MetricPoint, ModelCard, SplitSummary } from '../../src/shared/types'
import {
  alignCurves,
  epochCurves,
  epochsPerPhase,
  metricKey,
  smooth,
  visibleRange,
} from '../../src/renderer/src/lib/core/chart-data'
import {
  defaultRunName,
  formatCount,
  formatDuration,
  formatEstimate,
  formatPercent,
  joinPath,
  slug,
} from '../../src/renderer/src/lib/core/format'
import {
  baseBlocks,
  countParameters,
  freezeUpTo,
  headParameters,
  linkSplit,
  readDraft,
  stepBlockers,
  toPercents,
  trainableLayerNames,
} from '../../src/renderer/src/lib/core/wizard-logic'

function layer(index: number, name: string, block: string, params: number, inBase = true): LayerInfo {
  return {
    index,
    name,
    type: params ? 'Conv2D' : 'ReLU',
    outputShape: [null, 7, 7, 8],
    params,
    hasWeights: params > 0,
    inBase,
    block,
  }
}

const layers: LayerInfo[] = [
  layer(0, 'input', 'stem', 0),
  layer(1, 'conv1', 'stem', 100),
  layer(2, 'b1_conv', 'block_1', 200),
  layer(3, 'b1_relu', 'block_1', 0),
  layer(4, 'b2_conv', 'block_2', 300),
  layer(5, 'b3_conv', 'block_3', 400),
  layer(6, 'old_head', 'head', 50, false),
]

describe('format', () => {
  it('writes counts, percentages, durations and estimates the way the UI shows them', () => {
    expect(formatCount(2_619_461)).toBe('2.6 M')
    expect(formatCount(476_000)).toBe('476 K')
    expect(formatCount(950)).toBe('950')
    expect(formatPercent(0.9234)).toBe('92.3%')
    expect(formatPercent(1)).toBe('100%')
    expect(formatPercent(null)).toBe('—')
    expect(formatDuration(127_000)).toBe('2 min 7 s')
    expect(formatDuration(3_840_000)).toBe('1 h 4 min')
    expect(formatEstimate(95)).toBe('about 2 min')
    expect(formatEstimate(20)).toBe('under a minute')
  })

  it('builds default names and export paths', () => {
    expect(defaultRunName('MobileNetV2', '/data/shapes/', 0.001)).toBe('MobileNetV2 · shapes · lr 0.001')
    expect(slug('MobileNetV2 · shapes · lr 0.001')).toBe('MobileNetV2-shapes-lr-0.001')
    expect(joinPath('/home/me/Tunewise/', 'exports', 'x')).toBe('/home/me/Tunewise/exports/x')
    expect(joinPath('C:\\Users\\me\\Tunewise', 'exports')).toBe('C:\\Users\\me\\Tunewise\\exports')
  })
})

describe('linked split', () => {
  it('keeps the three shares at 100 whichever one moves', () => {
    const start = { train: 70, val: 15, test: 15 }
    expect(linkSplit(start, 'train', 80)).toEqual({ train: 80, val: 10, test: 10 })
    expect(linkSplit(start, 'val', 20)).toEqual({ train: 70, val: 20, test: 10 })
    // Val grows past what test can give: train gives the rest.
    expect(linkSplit(start, 'val', 40)).toEqual({ train: 60, val: 40, test: 0 })
    expect(linkSplit(start, 'test', 150)).toEqual({ train: 0, val: 0, test: 100 })
    for (const key of ['train', 'val', 'test'] as const) {
      for (const v of [0, 13, 55, 99]) {
        const p = linkSplit({ train: 60, val: 25, test: 15 }, key, v)
        expect(p.train + p.val + p.test).toBe(100)
        expect(p[key]).toBe(v)
      }
    }
  })

  it('turns fractions into whole percents that add to 100', () => {
    expect(toPercents({ train: 0.7, val: 0.15, test: 0.15 })).toEqual({ train: 70, val: 15, test: 15 })
  })
})

describe('freeze presets', () => {
  it('lists the trainable base layers for each preset, never the cut-away top', () => {
    const f = { topBlocks: 2, trainableLayers: [] as string[] }
    expect([...trainableLayerNames({ ...f, preset: 'feature-extraction' }, layers)]).toEqual([])
    expect([...trainableLayerNames({ ...f, preset: 'full' }, layers)]).toEqual([
      'conv1',
      'b1_conv',
      'b2_conv',
      'b3_conv',
    ])
    expect(baseBlocks(layers)).toEqual(['stem', 'block_1', 'block_2', 'block_3'])
    expect([...trainableLayerNames({ ...f, preset: 'top-blocks' }, layers)]).toEqual(['b2_conv', 'b3_conv'])
    expect([
      ...trainableLayerNames({ ...f, preset: 'custom', trainableLayers: ['b1_conv', 'old_head', 'nope'] }, layers),
    ]).toEqual(['b1_conv'])
  })

  it('"freeze up to here" trains only the weighted base layers above the row', () => {
    expect(freezeUpTo(layers, 3)).toEqual(['b2_conv', 'b3_conv'])
  })

  it('counts head parameters and splits trainable from frozen', () => {
    // 1280 features -> 128 -> 4 classes.
    expect(headParameters(1280, [128], 4)).toBe(1280 * 128 + 128 + 128 * 4 + 4)
    const counts = countParameters(layers, new Set(['b3_conv']), 10)
    expect(counts).toEqual({ trainable: 410, frozen: 600, head: 10 })
  })
})

describe('step reachability', () => {
  const model = { id: 'm', supported: true, available: true } as ModelCard
  const report = { id: 'd', blockers: [] as string[] } as DatasetReport
  const split = { id: 's' } as SplitSummary
  const base = { model, report, split, invalidFields: 0, hasRun: false, hasResults: false }

  it('opens each step only when the ones before it are complete', () => {
    expect(stepBlockers(base)).toMatchObject({ data: null, split: null, freeze: null, hyper: null, train: null })
    expect(stepBlockers({ ...base, model: null }).data).toBe('Choose a model first.')
    expect(stepBlockers({ ...base, report: null }).split).toBe('Choose a dataset first.')
    expect(stepBlockers({ ...base, report: { ...report, blockers: ['Only one class.'] } }).split).toBe(
      'Fix the dataset problems first.',
    )
    expect(stepBlockers({ ...base, split: null }).freeze).toBe('Check the split first.')
    expect(stepBlockers({ ...base, invalidFields: 1 }).train).toBe('Fix the highlighted settings first.')
    expect(stepBlockers({ ...base, invalidFields: 1, hasRun: true }).train).toBeNull()
    expect(stepBlockers(base).results).not.toBeNull()
    expect(stepBlockers({ ...base, hasResults: true }).results).toBeNull()
  })
})

describe('drafts', () => {
  it('restores a saved draft and fills fields an older draft lacks from the defaults', () => {
    const defaults = defaultRunConfig('', '')
    const saved = {
      version: 1,
      step: 'hyper',
      nameEdited: true,
      resultsRunId: 3,
      config: { name: 'Mine', modelId: 'm', datasetId: 'd', hyper: { learningRate: 0.01, epochs: 'many' } },
    }
    const d = readDraft(saved, defaults)!
    expect(d.step).toBe('hyper')
    expect(d.config.name).toBe('Mine')
    expect(d.config.hyper.learningRate).toBe(0.01)
    // A wrong type falls back to the default.
    expect(d.config.hyper.epochs).toBe(defaults.hyper.epochs)
    expect(d.config.split).toEqual(defaults.split)
    expect(d.resultsRunId).toBe(3)
    expect(readDraft({ version: 1, step: 'nowhere', config: {} }, defaults)!.step).toBe('model')
    expect(readDraft(null, defaults)).toBeNull()
    expect(readDraft({ version: 2, config: {} }, defaults)).toBeNull()
  })
})

describe('chart data', () => {
  const pt = (
    phase: number,
    epoch: number,
    name: string,
    split: 'train' | 'val',
    value: number,
    step: number | null = null,
  ): MetricPoint => ({
    phase,
    epoch,
    step,
    split,
    name,
    value,
    t: (phase * 10 + epoch) * 1000,
  })

  it('numbers epochs across phases and marks where phase 2 starts', () => {
    const points = [
      pt(1, 0, 'loss', 'train', 1),
      pt(1, 1, 'loss', 'train', 0.8),
      pt(2, 0, 'loss', 'train', 0.5),
      pt(1, 0, 'loss', 'val', 1.1),
      pt(1, 0, 'loss', 'train', 9, 3),
    ]
    const { curves, phase2At } = epochCurves(points)
    expect(curves.get('train:loss')).toEqual({ x: [1, 2, 3], y: [1, 0.8, 0.5] })
    expect(curves.get('val:loss')).toEqual({ x: [1], y: [1.1] })
    expect(phase2At).toBe(2.5)
    expect(epochsPerPhase(points)).toEqual({ 1: 2, 2: 1 })
    expect(metricKey({ split: 'val', name: 'acc' })).toBe('val:acc')
  })

  it('aligns curves with different x values, leaving gaps as null', () => {
    const aligned = alignCurves([
      { x: [1, 2], y: [10, 20] },
      { x: [1.5, 2], y: [5, 6] },
    ])
    expect(aligned).toEqual([
      [1, 1.5, 2],
      [10, null, 20],
      [null, 5, 6],
    ])
  })

  it('smooths with a bias-corrected moving average', () => {
    expect(smooth([4, 4, 4], 0.9)).toEqual([4, 4, 4].map(() => expect.closeTo(4, 10)))
    const s = smooth([0, 10], 0.5)
    expect(s[0]).toBe(0)
    expect(s[1]).toBeCloseTo((10 * 0.5) / 0.75, 10)
  })

  it('renders only the rows in view plus overscan', () => {
    expect(visibleRange(0, 420, 36, 162, 6)).toEqual({ start: 0, end: 19 })
    expect(visibleRange(36 * 100, 420, 36, 162, 6)).toEqual({ start: 94, end: 119 })
    expect(visibleRange(36 * 200, 420, 36, 162, 6)).toEqual({ start: 162, end: 162 })
  })
})
