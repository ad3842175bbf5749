import type { Tensor } from '@tensorflow/tfjs'
import { getTf, initBackend } from '../src/main/ml/backend'
import { listLayers, loadBaseModel } from '../src/main/ml/models/load'
import { applyFreeze, resolveTrainable } from '../src/main/ml/train/freeze'
import { buildHead, compileHead } from '../src/main/ml/train/head'
import { splitAtBoundary } from '../src/main/ml/train/train'
import { applyChain } from '../src/main/ml/export/export'
import { defaultRunConfig } from '../src/shared/defaults'
async function main() {
  await initBackend('wasm')
  const tf = getTf()
  const loaded = await loadBaseModel('mobilenet-v2-nsfwjs', '/tmp')
  const trainable = resolveTrainable(listLayers(loaded), { preset: 'top-blocks', topBlocks: 2, trainableLayers: [] })
  console.log([...trainable].join(','))
  applyFreeze(loaded.base, trainable)
  const { lower, inputs, features } = splitAtBoundary(loaded.base, trainable)
  const cfg = defaultRunConfig('x', 'y')
  const head = buildHead(loaded.featureDim, 4, cfg.head, 1)
  const top = tf.model({ inputs, outputs: applyChain(head.layers, features) })
  compileHead(top, cfg.hyper, 1e-4)
  console.log(top.layers.map((l) => l.name).join(' '))
  const acts = lower!.predict(tf.randomUniform([8, 224, 224, 3]), { batchSize: 8 }) as Tensor
  console.log(acts.shape)
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4)
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    await top.trainOnBatch(acts, y)
    console.log('trainOnBatch ms', (performance.now() - t).toFixed(0))
  }
  const prof = await tf.profile(async () => { await top.trainOnBatch(acts, y) })
  const by = new Map<string, number>()
  for (const k of prof.kernels) by.set(k.name, (by.get(k.name) ?? 0) + (k.kernelTimeMs as number))
  console.log([...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10))
}
void main().then(() => process.exit(0))
