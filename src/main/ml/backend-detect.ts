/**
 * Which backend a training job will pick, without loading TensorFlow in the main process
 * (loading it would stall the UI). The job itself runs the real ladder and reports what ran.
 */
import { createRequire } from 'node:module'
import type { BackendName } from '../../shared/types'

const FORCED: Record<string, BackendName> = {
  'tensorflow-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  tensorflow: 'tensorflow',
  node: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
}

export function detectBackend(forced?: string): { backend: BackendName; reason: string } {
  if (forced && FORCED[forced]) return { backend: FORCED[forced], reason: `TUNEWISE_BACKEND=${forced}` }
  const req = createRequire(__filename)
  const has = (name: string): boolean => {
    try {
      req.resolve(name)
      return true
    } catch {
      return false
    }
  }
  if (has('@tensorflow/tfjs-node-gpu'))
    return { backend: 'tensorflow-gpu', reason: 'TensorFlow with GPU support is installed.' }
  if (has('@tensorflow/tfjs-node')) return { backend: 'tensorflow', reason: 'Native TensorFlow (CPU) is installed.' }
  if (has('@tensorflow/tfjs-backend-wasm'))
    return { backend: 'wasm', reason: 'Native TensorFlow is not installed here; WebAssembly is the fastest available.' }
  return { backend: 'cpu', reason: 'Only the plain JavaScript backend is available.' }
}
