/**
 * LoRA adapters and LoReFT interventions on a small conv net, on the WASM backend the app trains with:
 * a fresh adapter is the identity bit for bit, training moves only the adapter's numbers, R stays
 * orthonormal, and the merged export computes what the adapter model computes.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { applyFreeze } from '../../src/main/ml/models/freeze'
import { adapterEdits, adapterWeights, buildAdapters, type AdapterSet } from '../../src/main/ml/adapters/adapters'
import { makeLora } from '../../src/main/ml/adapters/lora'
import {
  makeReft,
  OrthonormalRows,
  orthonormalityError,
  orthonormalRows,
  reftApply,
} from '../../src/main/ml/adapters/loreft'
import { rebuildBase } from '../../src/main/ml/models/graph'
import { mergeAdapters, FOLDED_REFT_PREFIX } from '../../src/main/ml/export/merge'
import { CallbackList } from '../../src/main/ml/train/callbacks'

beforeAll(async () => {
  await initBackend('wasm')
})

/** 3×3 conv → BN → ReLU → 1×1 conv → BN → ReLU → 3×3 stride-2 conv → GAP → dense(relu) → dense: every kind LoRA adapts. */
function net(seed = 1): LayersModel {
  const tf = getTf()
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 10 + k })
  const input = tf.input({ shape: [8, 8, 3] })
  let x = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'block_1_conv', kernelInitializer: init(1) })
    .apply(input) as SymbolicTensor
  x = tf.layers.batchNormalization({ name: 'block_1_bn' }).apply(x) as SymbolicTensor
  x = tf.layers.reLU({ name: 'block_1_relu' }).apply(x) as SymbolicTensor
  x = tf.layers
    .conv2d({ filters: 8, kernelSize: 1, name: 'block_2_project', kernelInitializer: init(2) })
    .apply(x) as SymbolicTensor
  x = tf.layers.batchNormalization({ name: 'block_2_bn' }).apply(x) as SymbolicTensor
  x = tf.layers.reLU({ name: 'block_2_relu' }).apply(x) as SymbolicTensor
  x = tf.layers
    .conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      name: 'block_3_conv',
      kernelInitializer: init(3),
    })
    .apply(x) as SymbolicTensor
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as SymbolicTensor
  x = tf.layers
    .dense({ units: 6, activation: 'relu', name: 'fc', kernelInitializer: init(4) })
    .apply(x) as SymbolicTensor
  const out = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'out', kernelInitializer: init(5) })
    .apply(x) as SymbolicTensor
  return tf.model({ inputs: input, outputs: out })
}

const bytes = (t: Tensor): Buffer => Buffer.from((t.dataSync() as Float32Array).slice().buffer)
const layerBytes = (m: LayersModel, name: string): Buffer[] => m.getLayer(name).weights.map((w) => bytes(w.read()))

function batch(n = 6, seed = 3): Tensor {
  const tf = getTf()
  return tf.add(tf.mul(tf.randomNormal([n, 8, 8, 3], 0, 1, 'float32', seed), 2), 0.5)
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.dataSync()
  const y = b.dataSync()
  let m = 0
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!))
  return m
}

/** Random values into every B (and W, b), so merging has something to merge. */
function perturb(set: AdapterSet, scale = 0.3): void {
  const tf = getTf()
  let seed = 100
  const jiggle = (v: { read(): Tensor; write(t: Tensor): unknown }) => {
    const t = tf.tidy(() => tf.add(v.read(), tf.randomNormal(v.read().shape, 0, scale, 'float32', seed++)))
    v.write(t)
    t.dispose()
  }
  for (const l of set.lora.values()) jiggle(l.b)
  for (const r of set.reft.values()) {
    jiggle(r.w)
    jiggle(r.b)
  }
}

describe('LoRA', () => {
  it('with B = 0 gives the base output bit for bit, for 1×1, k×k (LoCon) and dense layers', () => {
    const tf = getTf()
    const model = net()
    applyFreeze(model, new Set())
    const set = buildAdapters(model, {
      lora: ['block_1_conv', 'block_2_project', 'block_3_conv', 'fc', 'out'],
      loraRank: 4,
      loraAlpha: 8,
      reft: [],
      reftRank: 1,
      seed: 7,
    })
    const adapted = rebuildBase(model, adapterEdits(set), 'adapted')
    const x = batch()
    const plain = model.predict(x) as Tensor
    const withLora = adapted.predict(x) as Tensor
    expect(bytes(withLora).equals(bytes(plain))).toBe(true)
    // A is He-uniform, not zero: the identity comes from B alone.
    for (const l of set.lora.values()) expect(Math.max(...Array.from(l.a.read().abs().dataSync()))).toBeGreaterThan(0)
    tf.dispose([x, plain, withLora])
    model.dispose()
  })

  it('trains only A and B (the frozen kernels stay bit for bit) and merges into plain layers to 1e-5', async () => {
    const tf = getTf()
    const model = net(2)
    applyFreeze(model, new Set())
    const names = ['block_2_project', 'block_3_conv', 'fc']
    const set = buildAdapters(model, { lora: names, loraRank: 2, loraAlpha: 4, reft: [], reftRank: 1, seed: 3 })
    const adapted = rebuildBase(model, adapterEdits(set), 'adapted')
    const frozen = Object.fromEntries(model.layers.map((l) => [l.name, layerBytes(model, l.name)]))
    expect(adapted.trainableWeights.map((w) => /lora_[ab]/.exec(w.name)?.[0]).sort()).toEqual(
      ['lora_a', 'lora_a', 'lora_a', 'lora_b', 'lora_b', 'lora_b'].sort(),
    )
    const x = batch(12, 5)
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3)
    adapted.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' })
    const before = adapterWeights(set)
    await adapted.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 })
    for (const l of model.layers) {
      const now = layerBytes(model, l.name)
      now.forEach((b, i) => expect(b.equals(frozen[l.name]![i]!), `${l.name} weight ${i}`).toBe(true))
    }
    const after = adapterWeights(set)
    after.lora.forEach((l, i) => expect(Array.from(l.b)).not.toEqual(Array.from(before.lora[i]!.b)))

    const merged = mergeAdapters(model, after)
    // The export has the base's architecture: the same layers, by name and type, no custom class.
    expect(merged.layers.map((l) => `${l.name}:${l.getClassName()}`)).toEqual(
      model.layers.map((l) => `${l.name}:${l.getClassName()}`),
    )
    const a = adapted.predict(x) as Tensor
    const m = merged.predict(x) as Tensor
    expect(maxAbsDiff(a, m)).toBeLessThan(1e-5)
    // The merge made new layers: the model's own kernels are untouched.
    expect(layerBytes(model, 'fc')[0]!.equals(frozen.fc![0]!)).toBe(true)
    expect(layerBytes(merged, 'fc')[0]!.equals(frozen.fc![0]!)).toBe(false)
    tf.dispose([x, y, a, m])
    model.dispose()
  })

  it('refuses a layer it cannot adapt, with a sentence', () => {
    const model = net()
    expect(() => makeLora(model.getLayer('block_1_bn'), 4, 8, 1)).toThrow(/adapts only Conv2D and Dense/)
    model.dispose()
  })
})

describe('LoReFT', () => {
  it('with W = R and b = 0 is the identity bit for bit', () => {
    const tf = getTf()
    const h = tf.randomNormal([5, 4, 4, 16], 0, 3, 'float32', 9)
    const r = tf.tensor2d(
      orthonormalRows(Array.from(tf.randomNormal([3, 16], 0, 1, 'float32', 2).dataSync()), 3, 16),
      [3, 16],
    )
    const out = reftApply(tf, h, r, r, tf.zeros([3]))
    expect(bytes(out).equals(bytes(h))).toBe(true)
    // A fresh intervention starts that way, so the model around it is unchanged.
    const model = net()
    applyFreeze(model, new Set())
    const set = buildAdapters(model, {
      lora: [],
      loraRank: 1,
      loraAlpha: 1,
      reft: ['block_2_relu'],
      reftRank: 4,
      seed: 1,
    })
    const adapted = rebuildBase(model, adapterEdits(set), 'adapted')
    const x = batch()
    expect(bytes(adapted.predict(x) as Tensor).equals(bytes(model.predict(x) as Tensor))).toBe(true)
    model.dispose()
  })

  it('edits only inside the span of R: h·(I − RᵀR) is unchanged', () => {
    const tf = getTf()
    const d = 12
    const rank = 2
    const r = tf.tensor2d(
      orthonormalRows(
        Array.from({ length: rank * d }, (_, i) => Math.sin(i + 1)),
        rank,
        d,
      ),
      [rank, d],
    )
    const w = tf.randomNormal([rank, d], 0, 1, 'float32', 4)
    const b = tf.tensor1d([0.5, -1])
    const h = tf.randomNormal([7, d], 0, 1, 'float32', 5)
    const out = reftApply(tf, h, r, w, b)
    const proj = tf.sub(tf.eye(d), tf.matMul(r, r, true, false))
    expect(maxAbsDiff(tf.matMul(out, proj), tf.matMul(h, proj))).toBeLessThan(1e-5)
    // Inside the span, R·Φ(h) = W·h + b.
    expect(maxAbsDiff(tf.matMul(out, r, false, true), tf.add(tf.matMul(h, w, false, true), b))).toBeLessThan(1e-5)
  })

  it('keeps R orthonormal while training (‖RRᵀ − I‖ < 1e-4) and folds into one 1×1 convolution to 1e-5', async () => {
    const tf = getTf()
    const model = net(3)
    applyFreeze(model, new Set())
    const set = buildAdapters(model, {
      lora: [],
      loraRank: 1,
      loraAlpha: 1,
      reft: ['block_2_relu'],
      reftRank: 3,
      seed: 4,
    })
    const adapted = rebuildBase(model, adapterEdits(set), 'adapted')
    const reft = set.reft.get('block_2_relu')!
    const x = batch(12, 6)
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3)
    adapted.compile({ optimizer: tf.train.adam(0.1), loss: 'categoricalCrossentropy' })
    const rBefore = Array.from(reft.r.read().dataSync())
    const list = new CallbackList([new OrthonormalRows([reft])])
    list.setModel(adapted)
    await adapted.fit(x, y, {
      epochs: 4,
      batchSize: 4,
      shuffle: false,
      verbose: 0,
      callbacks: { onBatchEnd: (batchIndex) => list.onBatchEnd(batchIndex) },
    })
    const rAfter = reft.r.read().dataSync()
    expect(Array.from(rAfter)).not.toEqual(rBefore)
    expect(orthonormalityError(rAfter, 3, 8)).toBeLessThan(1e-4)

    // Without the re-orthonormalisation the same steps leave R off the orthonormal rows.
    const model2 = net(3)
    applyFreeze(model2, new Set())
    const set2 = buildAdapters(model2, {
      lora: [],
      loraRank: 1,
      loraAlpha: 1,
      reft: ['block_2_relu'],
      reftRank: 3,
      seed: 4,
    })
    const adapted2 = rebuildBase(model2, adapterEdits(set2), 'adapted')
    adapted2.compile({ optimizer: tf.train.adam(0.1), loss: 'categoricalCrossentropy' })
    await adapted2.fit(x, y, { epochs: 4, batchSize: 4, shuffle: false, verbose: 0 })
    expect(orthonormalityError(set2.reft.get('block_2_relu')!.r.read().dataSync(), 3, 8)).toBeGreaterThan(1e-3)

    perturb(set)
    const merged = mergeAdapters(model, adapterWeights(set))
    const folded = merged.getLayer(`${FOLDED_REFT_PREFIX}block_2_relu`)
    expect(folded.getClassName()).toBe('Conv2D')
    expect(folded.weights.map((w) => w.shape)).toEqual([[1, 1, 8, 8], [8]])
    expect(merged.layers.length).toBe(model.layers.length + 1)
    const a = adapted.predict(x) as Tensor
    const m = merged.predict(x) as Tensor
    expect(maxAbsDiff(a, m)).toBeLessThan(1e-5)
    model.dispose()
    model2.dispose()
  })

  it('Gram–Schmidt gives orthonormal rows spanning the same space', () => {
    const m = [3, 1, 0, 0, 1, 2, 1, 0, 0, 0, 1, 5]
    const q = orthonormalRows(m, 3, 4)
    expect(orthonormalityError(q, 3, 4)).toBeLessThan(1e-6)
    // The first row keeps its direction (positive diagonal).
    expect(q[0]! * 3 + q[1]! * 1).toBeGreaterThan(0)
    // A rank-deficient input still comes out orthonormal.
    expect(orthonormalityError(orthonormalRows([1, 0, 0, 2, 0, 0], 2, 3), 2, 3)).toBeLessThan(1e-6)
  })

  it('an intervention has its own name and trains R, W and b only', () => {
    const r = makeReft('site', 2, 1)
    expect(r.name).toBe('site_loreft')
  })
})
