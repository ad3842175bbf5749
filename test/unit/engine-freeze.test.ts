import { beforeAll, describe, expect, it } from 'vitest'
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { applyFreeze } from '../../src/main/ml/models/freeze'

beforeAll(async () => {
  // Conv filter gradients: the plain cpu backend has them all.
  await initBackend('cpu')
})

function convBnModel(): LayersModel {
  const tf = getTf()
  const input = tf.input({ shape: [8, 8, 3] })
  let x = tf.layers
    .conv2d({
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      name: 'c1',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    })
    .apply(input) as SymbolicTensor
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as SymbolicTensor
  x = tf.layers.reLU().apply(x) as SymbolicTensor
  x = tf.layers
    .conv2d({
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      name: 'c2',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
    })
    .apply(x) as SymbolicTensor
  x = tf.layers.batchNormalization({ name: 'bn2' }).apply(x) as SymbolicTensor
  x = tf.layers.globalAveragePooling2d({}).apply(x) as SymbolicTensor
  const out = tf.layers
    .dense({
      units: 2,
      activation: 'softmax',
      name: 'out',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
    })
    .apply(x) as SymbolicTensor
  return tf.model({ inputs: input, outputs: out })
}

/** Every weight of the named layer, as raw bytes (bit-for-bit comparisons). */
function snapshot(model: LayersModel, layer: string): Buffer[] {
  return model.getLayer(layer).weights.map((w) => {
    const v = w.read().dataSync() as Float32Array
    return Buffer.from(v.slice().buffer)
  })
}

async function fitTwoEpochs(model: LayersModel): Promise<void> {
  const tf = getTf()
  // Inputs far from zero mean/unit variance, so batch statistics differ from the moving ones.
  const x = tf.add(tf.mul(tf.randomNormal([16, 8, 8, 3], 0, 1, 'float32', 7), 3), 2)
  const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1], 'int32'), 2)
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' })
  await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 })
  tf.dispose([x, y])
}

describe('freezing', () => {
  it('keeps frozen conv and BatchNorm weights (incl. moving statistics) bit-for-bit, trains the rest', async () => {
    const model = convBnModel()
    applyFreeze(model, new Set(['c2', 'bn2', 'out']))
    const before = {
      c1: snapshot(model, 'c1'),
      bn1: snapshot(model, 'bn1'),
      c2: snapshot(model, 'c2'),
      bn2: snapshot(model, 'bn2'),
      out: snapshot(model, 'out'),
    }
    expect(before.bn1).toHaveLength(4) // gamma, beta, moving mean, moving variance
    await fitTwoEpochs(model)
    const after = {
      c1: snapshot(model, 'c1'),
      bn1: snapshot(model, 'bn1'),
      c2: snapshot(model, 'c2'),
      bn2: snapshot(model, 'bn2'),
      out: snapshot(model, 'out'),
    }
    after.c1.forEach((b, i) => expect(b.equals(before.c1[i])).toBe(true))
    after.bn1.forEach((b, i) => expect(b.equals(before.bn1[i])).toBe(true))
    expect(after.c2[0].equals(before.c2[0])).toBe(false)
    expect(after.out[0].equals(before.out[0])).toBe(false)
    // An unfrozen BN layer learns gamma and beta but, by default, stays in inference mode: its moving
    // statistics do not move (Keras' fine-tuning advice).
    expect(after.bn2[0].equals(before.bn2[0])).toBe(false)
    expect(after.bn2[1].equals(before.bn2[1])).toBe(false)
    expect(after.bn2[2].equals(before.bn2[2])).toBe(true)
    expect(after.bn2[3].equals(before.bn2[3])).toBe(true)
    model.dispose()
  })

  it('with batch statistics asked for, an unfrozen BatchNorm layer updates its moving statistics', async () => {
    const model = convBnModel()
    applyFreeze(model, new Set(['c2', 'bn2', 'out']), { batchNormStatistics: true })
    const bn1 = snapshot(model, 'bn1')
    const bn2 = snapshot(model, 'bn2')
    await fitTwoEpochs(model)
    expect(snapshot(model, 'bn2')[2].equals(bn2[2])).toBe(false)
    expect(snapshot(model, 'bn2')[3].equals(bn2[3])).toBe(false)
    // Frozen BN layers stay in inference mode whatever the option says.
    snapshot(model, 'bn1').forEach((b, i) => expect(b.equals(bn1[i])).toBe(true))
    model.dispose()
  })

  it('without the fix, a frozen BatchNorm layer still drifts (why the fix exists)', async () => {
    const model = convBnModel()
    for (const l of model.layers) l.trainable = ['c2', 'bn2', 'out'].includes(l.name)
    const before = snapshot(model, 'bn1')
    await fitTwoEpochs(model)
    const after = snapshot(model, 'bn1')
    // gamma/beta are not trained, but the moving mean is overwritten with batch statistics.
    expect(after[0].equals(before[0])).toBe(true)
    expect(after[2].equals(before[2])).toBe(false)
    model.dispose()
  })

  it('follows later trainable and batch-statistics changes without re-patching', async () => {
    const model = convBnModel()
    applyFreeze(model, new Set(['out']))
    applyFreeze(model, new Set(['bn1', 'out']), { batchNormStatistics: true })
    const before = snapshot(model, 'bn1')
    await fitTwoEpochs(model)
    expect(snapshot(model, 'bn1')[2].equals(before[2])).toBe(false)
    // Back to the default: the same layer, still unfrozen, keeps its statistics.
    applyFreeze(model, new Set(['bn1', 'out']))
    const mid = snapshot(model, 'bn1')
    await fitTwoEpochs(model)
    expect(snapshot(model, 'bn1')[2].equals(mid[2])).toBe(true)
    expect(snapshot(model, 'bn1')[0].equals(mid[0])).toBe(false)
    model.dispose()
  })
})
