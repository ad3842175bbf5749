/**
 * A seeded miniature of MobileNetV2 for strategy tests: a stem, three inverted-residual blocks (1×1 expand,
 * 3×3 depthwise, 1×1 project, each with BatchNorm; the last two with a residual add) and a 1×1 `Conv_1` top,
 * named as the real one is, so blocks, default LoRA targets (the 1×1 convolutions of the top blocks plus
 * `Conv_1`) and the default LoReFT site come out as they do on MobileNetV2. Input 32×32×3, 1,536 features.
 * Its weights are random (seeded), not pretrained: its features are generic, so adapting it has room to help.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs'
import { getTf } from '../../src/main/ml/backend'
import type { ModelCard } from '../../src/shared/types'

export function tinyMobileNet(seed = 1): LayersModel {
  const tf = getTf()
  let k = 0
  const init = () => tf.initializers.heNormal({ seed: seed * 100 + k++ })
  const conv = (x: SymbolicTensor, filters: number, size: number, strides: number, name: string) =>
    tf.layers
      .conv2d({ filters, kernelSize: size, strides, padding: 'same', useBias: false, name, kernelInitializer: init() })
      .apply(x) as SymbolicTensor
  const bn = (x: SymbolicTensor, name: string) =>
    tf.layers.batchNormalization({ name, momentum: 0.9 }).apply(x) as SymbolicTensor
  const relu6 = (x: SymbolicTensor, name: string) => tf.layers.reLU({ maxValue: 6, name }).apply(x) as SymbolicTensor

  const input = tf.input({ shape: [32, 32, 3], name: 'input_1' })
  let x = relu6(bn(conv(input, 16, 3, 2, 'Conv1'), 'bn_Conv1'), 'Conv1_relu')
  const blocks: [number, number, number][] = [
    [1, 24, 2],
    [2, 24, 1],
    [3, 24, 1],
  ]
  for (const [b, out, stride] of blocks) {
    const inChannels = x.shape[3] as number
    const start = x
    let y = relu6(
      bn(conv(x, inChannels * 3, 1, 1, `block_${b}_expand`), `block_${b}_expand_BN`),
      `block_${b}_expand_relu`,
    )
    y = tf.layers
      .depthwiseConv2d({
        kernelSize: 3,
        strides: stride,
        padding: 'same',
        useBias: false,
        name: `block_${b}_depthwise`,
        depthwiseInitializer: init(),
      })
      .apply(y) as SymbolicTensor
    y = relu6(bn(y, `block_${b}_depthwise_BN`), `block_${b}_depthwise_relu`)
    y = bn(conv(y, out, 1, 1, `block_${b}_project`), `block_${b}_project_BN`)
    x =
      stride === 1 && inChannels === out
        ? (tf.layers.add({ name: `block_${b}_add` }).apply([start, y]) as SymbolicTensor)
        : y
  }
  x = relu6(bn(conv(x, 96, 1, 1, 'Conv_1'), 'Conv_1_bn'), 'out_relu')
  // As in nsfwjs' MobileNetV2: an average pool and a flatten give the features (here 4×4×96), so where a
  // shape is in the image still counts.
  x = tf.layers.averagePooling2d({ poolSize: 2, name: 'average_pooling2d_1' }).apply(x) as SymbolicTensor
  x = tf.layers.flatten({ name: 'flatten_1' }).apply(x) as SymbolicTensor
  return tf.model({ inputs: input, outputs: x, name: 'tiny_mobilenet' })
}

export const tinyMobileNetCard: ModelCard = {
  id: 'tiny-mobilenet',
  name: 'Tiny MobileNet-like test CNN',
  task: 'image-classification',
  supported: true,
  inputSize: [32, 32],
  parameters: 0,
  license: 'MIT',
  licenseKind: 'permissive',
  source: { kind: 'bundled', description: 'test' },
  card: { summary: '', trainedOn: '', input: '', preprocessing: '', limitations: '' },
  featureLayer: 'flatten_1',
  available: true,
}
