/**
 * A seeded two-block conv + BatchNorm network (block names like MobileNet's) that stands in for a
 * real base in tests: small, but with the layer kinds MobileNetV2's base has.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs'
import { getTf } from '../../src/main/ml/backend'

export function tinyConvNet(opts: { pool?: boolean; name?: string } = {}): LayersModel {
  const tf = getTf()
  const input = tf.input({ shape: [32, 32, 3] })
  let x: SymbolicTensor = input
  for (const b of [1, 2]) {
    x = tf.layers
      .conv2d({
        filters: 8,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        name: `block_${b}_conv`,
        kernelInitializer: tf.initializers.heNormal({ seed: b }),
      })
      .apply(x) as SymbolicTensor
    x = tf.layers.batchNormalization({ name: `block_${b}_bn` }).apply(x) as SymbolicTensor
    x = tf.layers.reLU({ name: `block_${b}_relu` }).apply(x) as SymbolicTensor
  }
  if (opts.pool) x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as SymbolicTensor
  return tf.model({ inputs: input, outputs: x, name: opts.name ?? 'tiny' })
}
