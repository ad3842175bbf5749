/**
 * The strategy rules (src/shared/run-rules.ts) on the bundled MobileNetV2's real layer list: the default LoRA
 * targets and LoReFT site, the numbers each strategy trains (as the engine counts them), the part of the base
 * on the gradient tape, and the one-line descriptions History shows.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LayerInfo, RunConfig } from '../../src/shared/types'
import { defaultRunConfig } from '../../src/shared/run-config'
import {
  defaultReftLayer,
  describeStrategy,
  loraTargetNames,
  phase2TapeShare,
  reftLayerNames,
  strategyParameters,
} from '../../src/shared/run-rules'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { listLayers, loadBaseModel, type LoadedModel } from '../../src/main/ml/models/load'
import { applyFreeze } from '../../src/main/ml/models/freeze'
import { adapterEdits, buildAdapters } from '../../src/main/ml/adapters/adapters'
import { splitAtBoundary } from '../../src/main/ml/train/boundary'
import { buildHead } from '../../src/main/ml/train/head'
import { applyChain } from '../../src/main/ml/export/export'
import { countTrainable } from '../../src/main/ml/train/phase'
import { phase2Plan } from '../../src/main/ml/train/run-job'

const tmp = mkdtempSync(join(tmpdir(), 'tw-rules-'))
let loaded: LoadedModel
let layers: LayerInfo[]

beforeAll(async () => {
  await initBackend('wasm')
  loaded = await loadBaseModel('mobilenet-v2-nsfwjs', tmp)
  layers = listLayers(loaded)
}, 120_000)

afterAll(() => {
  loaded?.model.dispose()
  rmSync(tmp, { recursive: true, force: true })
})

function config(patch: (c: RunConfig) => void): RunConfig {
  const c = defaultRunConfig('mobilenet-v2-nsfwjs', 'd')
  patch(c)
  return c
}

/** The phase-2 model the engine would build (base top + adapters + a 5-class head), to count its weights. */
function phase2Model(c: RunConfig) {
  const tf = getTf()
  const plan = phase2Plan(c, layers)
  applyFreeze(loaded.base, plan.trainable)
  const adapters = buildAdapters(loaded.base, {
    lora: plan.lora,
    loraRank: c.adapters.loraRank,
    loraAlpha: c.adapters.loraAlpha,
    reft: plan.reft,
    reftRank: c.adapters.reftRank,
    seed: 1,
  })
  const split = splitAtBoundary(loaded.base, plan.trainable, adapterEdits(adapters))
  const head = buildHead(loaded.featureDim, 5, c.head, 1)
  const model = tf.model({ inputs: split.inputs, outputs: applyChain(head.layers, split.features) })
  // Counted while the base is unfrozen, as during phase 2 (trainable weights follow the layers' flags).
  const trainable = countTrainable(model)
  applyFreeze(loaded.base, new Set())
  return { trainable, head, adapters, boundary: split.boundaryNames }
}

describe('strategy rules on MobileNetV2', () => {
  it('LoRA adapts the 1×1 convolutions of the top blocks plus Conv_1 by default; LoReFT nudges block_14_add', () => {
    const lora = config((c) => (c.freeze.preset = 'lora'))
    expect(loraTargetNames(lora, layers)).toEqual(['block_16_expand', 'block_16_project', 'Conv_1'])
    lora.freeze.topBlocks = 4
    // The depthwise convolutions are not Conv2D: they are left out.
    expect(loraTargetNames(lora, layers)).toEqual([
      'block_14_expand',
      'block_14_project',
      'block_15_expand',
      'block_15_project',
      'block_16_expand',
      'block_16_project',
      'Conv_1',
    ])
    lora.adapters.loraTargets = ['block_10_project', 'block_10_depthwise', 'nope']
    expect(loraTargetNames(lora, layers)).toEqual(['block_10_project'])
    expect(defaultReftLayer(layers)).toBe('block_14_add')
    const reft = config((c) => (c.freeze.preset = 'loreft'))
    expect(reftLayerNames(reft, layers)).toEqual(['block_14_add'])
    reft.adapters.reftLayers = ['block_12_add', 'nope']
    expect(reftLayerNames(reft, layers)).toEqual(['block_12_add'])
  })

  it('counts what each strategy trains exactly as the engine does, and LoRA trains far fewer numbers than top blocks', () => {
    const counts: Record<string, number> = {}
    const presets: [string, RunConfig['freeze']['preset']][] = [
      ['top', 'top-blocks'],
      ['lora', 'lora'],
      ['loreft', 'loreft'],
    ]
    for (const [name, preset] of presets) {
      const c = config((x) => {
        x.freeze.preset = preset
        x.phase2.enabled = true
      })
      const { trainable, head, boundary } = phase2Model(c)
      const predicted = strategyParameters(c, layers, head.countParams())
      expect(predicted.trainable, name).toBe(trainable)
      counts[name] = predicted.trainable
      if (name === 'lora') expect(boundary).toEqual(['block_15_add'])
      if (name === 'loreft') expect(boundary).toEqual(['block_14_add'])
    }
    const head = 1280 * 5 + 5
    // Rank 8: block_16_expand 160→960, block_16_project 960→320, Conv_1 320→1280.
    expect(counts.lora! - head).toBe(8 * (160 + 960) + 8 * (960 + 320) + 8 * (320 + 1280))
    // Rank 4 at block_14_add (160 channels): R and W (4×160) and b (4).
    expect(counts.loreft! - head).toBe(2 * 4 * 160 + 4)
    expect(counts.lora!).toBeLessThan(counts.top! / 10)
  })

  it('the share of the base on the gradient tape starts at the lowest adapted layer', () => {
    const share = (patch: (c: RunConfig) => void) =>
      phase2TapeShare(
        config((c) => {
          patch(c)
          c.phase2.enabled = true
        }),
        layers,
      )
    expect(share((c) => (c.freeze.preset = 'feature-extraction'))).toBe(0)
    const top = share((c) => (c.freeze.preset = 'top-blocks'))
    const lora = share((c) => (c.freeze.preset = 'lora'))
    const reft = share((c) => (c.freeze.preset = 'loreft'))
    expect(top).toBeGreaterThan(0)
    expect(lora).toBeCloseTo(top, 10)
    expect(reft).toBeGreaterThan(top)
    expect(share((c) => (c.freeze.preset = 'full'))).toBeGreaterThan(0.98)
  })

  it('describes each strategy in one line, from the config alone or with the layer list', () => {
    const d = (patch: (c: RunConfig) => void) =>
      config((c) => {
        patch(c)
        c.phase2.enabled = c.freeze.preset !== 'feature-extraction'
      })
    expect(describeStrategy(d(() => undefined))).toBe('New head only')
    expect(describeStrategy(d((c) => (c.freeze.preset = 'lora')))).toBe('LoRA r=8, α=16 on the top 2 blocks')
    expect(
      describeStrategy(
        d((c) => (c.freeze.preset = 'lora')),
        layers,
      ),
    ).toBe('LoRA r=8, α=16 on 3 layers')
    expect(
      describeStrategy(
        d((c) => (c.freeze.preset = 'loreft')),
        layers,
      ),
    ).toBe('LoReFT r=4 at block_14_add')
    expect(describeStrategy(d((c) => (c.freeze.preset = 'loreft')))).toBe('LoReFT r=4 three blocks from the top')
    expect(describeStrategy(d((c) => (c.freeze.preset = 'full')))).toBe('Everything + phase 2')
    // A config stored before adapters existed still reads.
    const old = d((c) => (c.freeze.preset = 'top-blocks')) as Partial<RunConfig>
    delete old.adapters
    expect(describeStrategy(old as RunConfig)).toBe('Top 2 blocks + phase 2')
  })
})
