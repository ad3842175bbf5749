import { test } from 'vitest'
import { join } from 'node:path'
import { initBackend, getTf } from '../../src/main/ml/backend'
import { loadBaseModel } from '../../src/main/ml/models/load'
import { decodeImage, makeSyntheticDataset, scanDataset, splitDataset } from '../../src/main/ml/data'
test('learnable', async () => {
  const seed = Number(process.env.SYN_SEED ?? 7)
  const dir = `/tmp/dexp/learn-${seed}`
  await makeSyntheticDataset(dir, { seed })
  const scan = await scanDataset(dir)
  const split = splitDataset(scan.files, { train: 0.7, val: 0.15, test: 0.15, seed: 42 })
  await initBackend('wasm')
  const tf = getTf()
  const m = await loadBaseModel('mobilenet-v2-nsfwjs', '/tmp/dexp/datadir')
  const labels = [...new Set(split.assignment.map((a) => a.label))].sort()
  const feats: number[][] = []
  const t0 = Date.now()
  for (let i = 0; i < split.assignment.length; i += 16) {
    const batch = split.assignment.slice(i, i + 16)
    const px = await Promise.all(batch.map((a) => decodeImage(join(dir, a.file), 224, 224)))
    const x = tf.tidy(() => tf.stack(px.map((p) => tf.tensor3d(p, [224, 224, 3], 'int32'))).toFloat().div(255))
    const f = m.base.predict(x) as import('@tensorflow/tfjs').Tensor
    feats.push(...(f.arraySync() as number[][]))
    x.dispose(); f.dispose()
  }
  console.log('features', Date.now() - t0, 'ms')
  const idx = (s: string) => split.assignment.map((a, i) => (a.split === s ? i : -1)).filter((i) => i >= 0)
  const X = (ix: number[]) => tf.tensor2d(ix.map((i) => feats[i]))
  const Y = (ix: number[]) => tf.oneHot(tf.tensor1d(ix.map((i) => labels.indexOf(split.assignment[i].label)), 'int32'), labels.length)
  const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: [feats[0].length], units: labels.length, activation: 'softmax' })] })
  head.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  const tr = idx('train'), te = idx('test'), va = idx('val')
  await head.fit(X(tr), Y(tr), { epochs: 60, batchSize: 16, verbose: 0 })
  const ev = (ix: number[]) => (head.evaluate(X(ix), Y(ix)) as import('@tensorflow/tfjs').Tensor[])[1].dataSync()[0]
  console.log('seed', seed, 'train', ev(tr), 'val', ev(va), 'test', ev(te), 'n', tr.length, va.length, te.length)
})
