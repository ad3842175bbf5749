/** The feature-cache key: one function, and every input that changes the vectors changes the key. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { baseFeaturesKey, featureCacheKey, networkKey, type InputRecipe } from '../../src/main/ml/data/cache-key'
import { openFeatureSpace } from '../../src/main/ml/data/feature-cache'
import { hashFile } from '../../src/main/ml/data/decode'
import { RESIZE_FIT } from '../../src/main/ml/data/resize'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { extractFeatures } from '../../src/main/ml/train/features'
import { tinyConvNet } from '../helpers/tiny-model'

const root = mkdtempSync(join(tmpdir(), 'tw-cache-key-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

beforeAll(async () => {
  await initBackend('cpu')
})

const recipe: InputRecipe = { inputSize: [32, 32], preprocess: 'rgb/255', resize: 'fill' }
const key = (patch: Partial<InputRecipe> = {}, modelKey = 'm', content = 'c') =>
  featureCacheKey(modelKey, { ...recipe, ...patch }, content)

describe('featureCacheKey', () => {
  it('changes with the resize policy, the input size, the preprocessing, the network and the image', () => {
    const keys = [
      key(),
      key({ resize: 'cover' }),
      key({ resize: 'contain' }),
      key({ inputSize: [32, 48] }),
      key({ inputSize: [48, 32] }),
      key({ preprocess: 'rgb/127.5-1' }),
      key({}, 'other-network'),
      key({}, 'm', 'other-bytes'),
    ]
    expect(new Set(keys).size).toBe(keys.length)
    expect(key()).toBe(key())
  })

  it('defaults to the policy the decoder uses', () => {
    expect(featureCacheKey('m', { inputSize: [32, 32], preprocess: 'rgb/255' }, 'c')).toBe(key({ resize: RESIZE_FIT }))
  })

  it('is the key extractFeatures stores under', async () => {
    await makeSyntheticDataset(join(root, 'shapes'), { perClass: 1, size: 32, seed: 2, classes: ['a', 'b'] })
    const cacheDir = join(root, 'cache')
    const file = 'a/a-000.png'
    await extractFeatures(tinyConvNet({ pool: true }), [file], {
      root: join(root, 'shapes'),
      inputSize: [32, 32],
      preprocess: 'rgb/255',
      cacheDir,
      modelKey: 'tiny',
    })
    const content = await hashFile(join(root, 'shapes', file))
    const stored = async (resize: InputRecipe['resize']) => {
      const space = await openFeatureSpace(cacheDir, 'tiny', { ...recipe, resize }, 8)
      return space.has(featureCacheKey('tiny', { ...recipe, resize }, content))
    }
    expect(await stored(RESIZE_FIT)).toBe(true)
    expect(await stored(RESIZE_FIT === 'cover' ? 'fill' : 'cover')).toBe(false)
  })
})

describe('networkKey', () => {
  it('is stable across loads of the same weights and changes when a weight or the label does', () => {
    const a = tinyConvNet({ pool: true })
    const b = tinyConvNet({ pool: true })
    expect(networkKey(a, 'x')).toBe(networkKey(b, 'x'))
    expect(networkKey(a, 'x')).not.toBe(networkKey(a, 'y'))
    expect(baseFeaturesKey(a, 'tiny')).toBe(baseFeaturesKey(b, 'tiny'))
    const tf = getTf()
    const [kernel, ...rest] = b.layers[1].getWeights()
    const nudged = tf.tidy(() => kernel.add(1e-3))
    b.layers[1].setWeights([nudged, ...rest])
    expect(networkKey(a, 'x')).not.toBe(networkKey(b, 'x'))
    tf.dispose([nudged])
    a.dispose()
    b.dispose()
  })
})
