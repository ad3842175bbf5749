import { afterEach, describe, expect, it } from 'vitest'
import { getTf, initBackend } from '../../src/main/ml/backend'

describe('initBackend', () => {
  const saved = process.env.TUNEWISE_BACKEND
  afterEach(() => {
    if (saved === undefined) delete process.env.TUNEWISE_BACKEND
    else process.env.TUNEWISE_BACKEND = saved
  })

  it('walks the ladder to wasm here and says why tfjs-node(-gpu) were skipped', async () => {
    delete process.env.TUNEWISE_BACKEND
    const choice = await initBackend()
    expect(choice.backend).toBe('wasm')
    expect(getTf().getBackend()).toBe('wasm')
    expect(choice.tried.map((t) => t.name)).toEqual(['tensorflow-gpu', 'tensorflow'])
    expect(choice.tried[0].error).toBe('@tensorflow/tfjs-node-gpu is not installed')
    expect(choice.tried[1].error).toBe('@tensorflow/tfjs-node is not installed')
    expect(choice.reason).toContain('@tensorflow/tfjs-node is not installed')
    // The backend really computes.
    expect(
      Array.from(
        getTf()
          .add(getTf().tensor1d([1, 2]), 1)
          .dataSync(),
      ),
    ).toEqual([2, 3])
  })

  it('TUNEWISE_BACKEND=cpu forces the cpu backend', async () => {
    process.env.TUNEWISE_BACKEND = 'cpu'
    const choice = await initBackend()
    expect(choice.backend).toBe('cpu')
    expect(getTf().getBackend()).toBe('cpu')
    expect(choice.reason).toContain('TUNEWISE_BACKEND')
  })

  it('an explicit preference wins over the variable, and an unavailable one falls back with a reason', async () => {
    process.env.TUNEWISE_BACKEND = 'cpu'
    expect((await initBackend('wasm')).backend).toBe('wasm')
    const fallback = await initBackend('tensorflow')
    expect(fallback.backend).toBe('wasm')
    expect(fallback.tried).toEqual([{ name: 'tensorflow', error: '@tensorflow/tfjs-node is not installed' }])
  })
})
