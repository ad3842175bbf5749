/**
 * The real services (database, router, training jobs in a child process) on a fresh data folder,
 * with a tiny imported model and a synthetic two-class dataset: enough for a real run that
 * finishes in a few seconds. The job worker is the built one (`npm run build`).
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { SymbolicTensor } from '@tensorflow/tfjs'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { makeSyntheticDataset } from '../../src/main/ml/data/synthetic'
import { saveModelFolder } from '../../src/main/ml/export/export'
import { createServices, type Services } from '../../src/main/services'
import { forkLauncher } from '../../src/main/tasks/worker-process'
import type { DatasetReport, ModelCard } from '../../src/shared/types'

export const workerScript = resolve(__dirname, '../../out/main/job-worker.js')

export interface TinyServices {
  svc: Services
  modelId: string
  datasetId: string
}

export async function startTinyServices(root: string): Promise<TinyServices> {
  if (!existsSync(workerScript)) throw new Error('Build first: npm run build (npm test does).')
  await initBackend('cpu')
  const tf = getTf()
  const input = tf.input({ shape: [32, 32, 3] })
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: 'conv' }).apply(input) as SymbolicTensor
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as SymbolicTensor
  x = tf.layers.dense({ units: 8, activation: 'relu', name: 'features' }).apply(x) as SymbolicTensor
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'old_head' }).apply(x) as SymbolicTensor
  const modelDir = join(root, 'tiny-model')
  await saveModelFolder(tf.model({ inputs: input, outputs: out }), modelDir)

  const svc = createServices({
    dataDir: join(root, 'home'),
    mode: 'browser',
    launcher: forkLauncher,
    workerScript,
    log: () => {},
  })
  const call = async <T>(channel: string, payload: unknown): Promise<T> => {
    const r = await svc.router.call(channel, payload)
    if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`)
    return r.value as T
  }
  const modelId = (await call<ModelCard>('models:import', { path: modelDir })).id
  await makeSyntheticDataset(join(root, 'shapes'), { perClass: 8, size: 32, seed: 3, classes: ['circle', 'square'] })
  const datasetId = (await call<DatasetReport>('datasets:import', { path: join(root, 'shapes') })).id
  return { svc, modelId, datasetId }
}
