import { createRequire } from 'node:module'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { registerWasmGradKernels } from '../../src/main/ml/wasm-kernels'

type Shape4 = [number, number, number, number]
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]]

/** Deterministic inputs, so a failure reproduces. */
function randomValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1
  }
  return out
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1)

/** Runs `fn` on one backend and brings the results back as plain arrays. */
async function on(backend: 'wasm' | 'cpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend)
  const outs = tf.tidy(fn)
  const values = outs.map((t) => t.dataSync() as Float32Array)
  tf.dispose(outs)
  return values
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length)
  let scale = 1
  for (const v of expected) scale = Math.max(scale, Math.abs(v))
  let maxDiff = 0
  for (let i = 0; i < actual.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]))
  expect(maxDiff).toBeLessThanOrEqual(1e-4 * scale)
}

interface Case {
  label: string
  x: Shape4
  filter: Shape4
  strides: number
  pad: Pad
}

/** Output shape of the forward conv, so dy can be random rather than all ones. */
function outShape(c: Case, depthwise: boolean): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, undefined, depthwise)
  return info.outShape
}

/** Gradients of sum(conv(x, filter) · dy) w.r.t. x and filter, computed the way layers training computes them. */
function gradients(c: Case, depthwise: boolean): () => tf.Tensor[] {
  const dyShape = outShape(c, depthwise)
  return () => {
    const x = tf.tensor4d(randomValues(size(c.x), 1), c.x)
    const filter = tf.tensor4d(randomValues(size(c.filter), 2), c.filter)
    const dy = tf.tensor4d(randomValues(size(dyShape), 3), dyShape)
    const conv = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
      depthwise
        ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad)
        : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad)
    return tf.grads(conv)([x, filter], dy)
  }
}

beforeAll(async () => {
  registerWasmGradKernels()
  const require = createRequire(import.meta.url)
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep)
  expect(await tf.setBackend('wasm')).toBe(true)
  expect(await tf.setBackend('cpu')).toBe(true)
})

describe('registerWasmGradKernels', () => {
  it('registers the three kernels and is idempotent', () => {
    const names = [
      tf.Conv2DBackpropFilter,
      tf.DepthwiseConv2dNativeBackpropFilter,
      tf.DepthwiseConv2dNativeBackpropInput,
    ]
    const before = names.map((n) => tf.getKernel(n, 'wasm'))
    expect(before.every((k) => k != null)).toBe(true)
    // tfjs does not throw on a second registration: it warns and replaces the kernel. Neither may happen.
    const warn = vi.spyOn(console, 'warn')
    try {
      registerWasmGradKernels()
      expect(warn).not.toHaveBeenCalled()
    } finally {
      warn.mockRestore()
    }
    names.forEach((n, i) => expect(tf.getKernel(n, 'wasm')).toBe(before[i]))
  })

  const convCases: Case[] = [
    { label: '1x1 stride 1 (pointwise)', x: [2, 6, 6, 8], filter: [1, 1, 8, 16], strides: 1, pad: 'same' },
    { label: '1x1 stride 2', x: [1, 7, 7, 8], filter: [1, 1, 8, 16], strides: 2, pad: 'valid' },
    { label: '3x3 stride 1 same', x: [1, 7, 7, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
    {
      label: '3x3 stride 2 same, even input (MobileNetV2 stem)',
      x: [2, 8, 8, 3],
      filter: [3, 3, 3, 16],
      strides: 2,
      pad: 'same',
    },
    { label: '3x3 stride 2 same, odd input', x: [1, 9, 9, 4], filter: [3, 3, 4, 8], strides: 2, pad: 'same' },
    { label: '3x3 stride 1 valid, non-square', x: [1, 7, 6, 4], filter: [3, 3, 4, 8], strides: 1, pad: 'valid' },
    { label: '3x3 stride 2 valid (last row unused)', x: [1, 8, 9, 4], filter: [3, 3, 4, 8], strides: 2, pad: 'valid' },
    {
      label: '3x3 stride 2 explicit padding',
      x: [1, 8, 8, 4],
      filter: [3, 3, 4, 8],
      strides: 2,
      pad: [
        [0, 0],
        [1, 0],
        [0, 2],
        [0, 0],
      ],
    },
  ]
  for (const c of convCases) {
    it(`conv2d filter gradient on wasm matches cpu: ${c.label}`, async () => {
      const [wasmDx, wasmDf] = await on('wasm', gradients(c, false))
      const [cpuDx, cpuDf] = await on('cpu', gradients(c, false))
      expectClose(wasmDf, cpuDf)
      expectClose(wasmDx, cpuDx)
    })
  }

  const depthwiseCases: Case[] = [
    { label: '3x3 stride 1 same, batch 2', x: [2, 7, 7, 16], filter: [3, 3, 16, 1], strides: 1, pad: 'same' },
    { label: '3x3 stride 2 same, even input', x: [2, 8, 8, 8], filter: [3, 3, 8, 1], strides: 2, pad: 'same' },
    { label: '3x3 stride 2 same, odd input', x: [1, 9, 9, 8], filter: [3, 3, 8, 1], strides: 2, pad: 'same' },
    { label: '3x3 stride 1 valid, non-square', x: [1, 6, 7, 8], filter: [3, 3, 8, 1], strides: 1, pad: 'valid' },
    { label: '3x3 stride 2 valid', x: [1, 9, 8, 4], filter: [3, 3, 4, 1], strides: 2, pad: 'valid' },
    { label: '5x5 stride 2 same', x: [1, 10, 11, 4], filter: [5, 5, 4, 1], strides: 2, pad: 'same' },
    { label: 'channel multiplier 2, stride 1 same', x: [1, 6, 6, 4], filter: [3, 3, 4, 2], strides: 1, pad: 'same' },
    { label: 'channel multiplier 3, stride 2 same', x: [2, 8, 8, 4], filter: [3, 3, 4, 3], strides: 2, pad: 'same' },
    { label: 'explicit padding 1, stride 2', x: [1, 8, 8, 4], filter: [3, 3, 4, 1], strides: 2, pad: 1 },
  ]
  for (const c of depthwiseCases) {
    it(`depthwise input and filter gradients on wasm match cpu: ${c.label}`, async () => {
      const [wasmDx, wasmDf] = await on('wasm', gradients(c, true))
      const [cpuDx, cpuDf] = await on('cpu', gradients(c, true))
      expectClose(wasmDx, cpuDx)
      expectClose(wasmDf, cpuDf)
    })
  }

  it('leaves inputs alive and tensor counts flat across repeated gradient calls', async () => {
    await tf.setBackend('wasm')
    const x = tf.tensor4d(randomValues(2 * 8 * 8 * 8, 4), [2, 8, 8, 8])
    const filter = tf.tensor4d(randomValues(3 * 3 * 8 * 1, 5), [3, 3, 8, 1])
    const pointwise = tf.tensor4d(randomValues(8 * 4, 6), [1, 1, 8, 4])
    const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar =>
      tf.sum(tf.conv2d(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), c as tf.Tensor4D, 1, 'same'))
    const step = (): void => tf.dispose(tf.grads(loss)([x, filter, pointwise]))
    step()
    const before = tf.memory()
    // The engine's own leak check (on in test mode) throws if a kernel leaves backend data behind.
    tf.env().set('IS_TEST', true)
    try {
      for (let i = 0; i < 5; i++) step()
    } finally {
      tf.env().set('IS_TEST', false)
    }
    const after = tf.memory()
    expect(after.numTensors).toBe(before.numTensors)
    expect(after.numDataBuffers).toBe(before.numDataBuffers)
    // The kernels borrow their inputs; reading them afterwards proves the borrowed references were returned intact.
    expect(x.dataSync()).toEqual(randomValues(2 * 8 * 8 * 8, 4))
    expect(filter.dataSync()).toEqual(randomValues(3 * 3 * 8 * 1, 5))
    tf.dispose([x, filter, pointwise])
  })

  it('adds exactly one tensor per kernel call when run outside any tidy scope', async () => {
    await tf.setBackend('wasm')
    const x = tf.tensor4d(randomValues(1 * 8 * 8 * 4, 8), [1, 8, 8, 4])
    const dy = tf.tensor4d(randomValues(1 * 4 * 4 * 4, 9), [1, 4, 4, 4])
    const filter = tf.tensor4d(randomValues(3 * 3 * 4, 10), [3, 3, 4, 1])
    const common = { strides: 2, pad: 'same', dilations: 1, dataFormat: 'NHWC' }
    const calls: Array<[string, tf.NamedTensorMap, object, number[]]> = [
      [tf.Conv2DBackpropFilter, { x, dy }, { ...common, filterShape: [3, 3, 4, 4] }, [3, 3, 4, 4]],
      [tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...common, filterShape: [3, 3, 4, 1] }, [3, 3, 4, 1]],
      [tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, { ...common, inputShape: [1, 8, 8, 4] }, [1, 8, 8, 4]],
    ]
    for (const [kernel, inputs, attrs, shape] of calls) {
      const before = tf.memory()
      const out = tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor
      expect(out.shape).toEqual(shape)
      expect(tf.memory().numTensors).toBe(before.numTensors + 1)
      expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers + 1)
      out.dispose()
      expect(tf.memory().numTensors).toBe(before.numTensors)
    }
    tf.dispose([x, dy, filter])
  })

  it('rejects NCHW and dilation > 1 with a clear message', async () => {
    await tf.setBackend('wasm')
    const x = tf.zeros([1, 6, 6, 4])
    const dy = tf.zeros([1, 6, 6, 4])
    const filter = tf.zeros([3, 3, 4, 1])
    const common = { strides: 1, pad: 'same', dimRoundingMode: undefined }
    expect(() =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
        ...common,
        dataFormat: 'NCHW',
        filterShape: [3, 3, 4, 4],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/NHWC.*NCHW/)
    expect(() =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
        ...common,
        dilations: 2,
        filterShape: [3, 3, 4, 1],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dilation 1 only/)
    expect(() =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, {
        ...common,
        dilations: [1, 2],
        inputShape: [1, 6, 6, 4],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dilation 1 only/)
    tf.dispose([x, dy, filter])
  })

  it('lets a conv 1x1 + depthwise 3x3 stride 2 + dense model fit on wasm', async () => {
    await tf.setBackend('wasm')
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 8, kernelSize: 1, activation: 'relu' }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    })
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' })
    const xs = tf.tensor4d(randomValues(8 * 8 * 8 * 3, 7), [8, 8, 8, 3])
    const ys = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1], 'int32'), 2)
    const weightsBefore = model.getWeights().map((w) => w.dataSync().slice())
    const history = await model.fit(xs, ys, { epochs: 2, batchSize: 4, verbose: 0 })
    expect(history.history.loss).toHaveLength(2)
    for (const loss of history.history.loss) expect(Number.isFinite(loss as number)).toBe(true)
    // Every weight, including the conv and depthwise kernels, must have moved: their gradients reached the optimiser.
    const weightsAfter = model.getWeights().map((w) => w.dataSync())
    const names = model.weights.map((w) => w.name)
    names.forEach((weightName, i) => {
      const moved = weightsAfter[i].some((v, j) => Math.abs(v - weightsBefore[i][j]) > 1e-7)
      expect({ weightName, moved }).toEqual({ weightName, moved: true })
    })
    tf.dispose([xs, ys])
    model.dispose()
  })
})

describe('BatchMatMul with transposed operands on wasm', () => {
  const cases: { label: string; a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { label: 'aᵀ·b (a dense weight gradient)', a: [40, 24], b: [40, 8], ta: true, tb: false },
    { label: 'a·bᵀ (a dense input gradient)', a: [40, 8], b: [24, 8], ta: false, tb: true },
    { label: 'aᵀ·bᵀ', a: [8, 40], b: [24, 8], ta: true, tb: true },
    { label: 'batched aᵀ·b', a: [3, 10, 6], b: [3, 10, 5], ta: true, tb: false },
    { label: 'plain a·b (untouched path)', a: [7, 9], b: [9, 4], ta: false, tb: false },
  ]

  it.each(cases)('matches cpu: $label', async (c) => {
    const fn = (): tf.Tensor[] => {
      const a: tf.Tensor = tf.tensor(randomValues(size(c.a), 7), c.a)
      const b: tf.Tensor = tf.tensor(randomValues(size(c.b), 8), c.b)
      return [tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, c.ta, c.tb)]
    }
    const [wasm] = await on('wasm', fn)
    const [cpu] = await on('cpu', fn)
    expectClose(wasm!, cpu!)
  })

  it('frees its transposed copies', async () => {
    await tf.setBackend('wasm')
    const a = tf.tensor2d(randomValues(40 * 24, 1), [40, 24])
    const b = tf.tensor2d(randomValues(40 * 8, 2), [40, 8])
    tf.matMul(a, b, true, false).dispose()
    const before = tf.memory()
    for (let i = 0; i < 5; i++) tf.matMul(a, b, true, false).dispose()
    expect(tf.memory().numTensors).toBe(before.numTensors)
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers)
    // Training through it works and leaves the inputs intact.
    const values = a.dataSync().slice()
    const g = tf.grad((x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, b, true, false).sum())(a)
    expect(g.shape).toEqual([40, 24])
    expect(Array.from(a.dataSync())).toEqual(Array.from(values))
    tf.dispose([a, b, g])
  })
})
