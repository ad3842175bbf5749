/**
 * Entry point of a training job's process. It receives one `start` message, trains, reports
 * progress, and exits. It never opens the database: main owns it, so a killed job cannot corrupt it.
 */
import { join } from 'node:path'
import type { FromJob, ToJob } from '../../shared/job-messages'
import { getTf, initBackend, loadBaseModel, trainRun } from '../ml/engine'

interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): void
  postMessage(msg: unknown): void
}

// Electron's utilityProcess exposes process.parentPort; child_process.fork gives process.send.
const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort

function post(msg: FromJob): void {
  if (parentPort) parentPort.postMessage(msg)
  else process.send?.(msg)
}

function onMessage(listener: (msg: ToJob) => void): void {
  if (parentPort) parentPort.on('message', (e) => listener(e.data as ToJob))
  else process.on('message', (m) => listener(m as ToJob))
}

let stop = false
let started = false

onMessage((msg) => {
  if (msg.type === 'cancel') {
    stop = true
    return
  }
  if (msg.type === 'probe' && !started) {
    started = true
    probe(msg.modelId, msg.dataDir)
      .catch((err: unknown) =>
        post({ type: 'error', code: 'internal', message: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => setTimeout(() => process.exit(0), 50))
    return
  }
  if (msg.type !== 'start' || started) return
  started = true
  trainRun(msg, {
    post,
    shouldStop: () => stop,
    cacheDir: join(msg.dataDir, 'cache'),
    dataDir: msg.dataDir,
  })
    .catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err)
      post({ type: 'error', code: 'internal', message })
    })
    .finally(() => {
      // Let the last messages flush before the process ends.
      setTimeout(() => process.exit(0), 100)
    })
})

post({ type: 'ready', pid: process.pid })

/** Times the base's forward pass on a small batch (after one warm-up) on the backend a run would use. */
async function probe(modelId: string, dataDir: string): Promise<void> {
  const choice = await initBackend()
  const loaded = await loadBaseModel(modelId, dataDir)
  const tf = getTf()
  const [h, w] = loaded.inputSize
  const run = (n: number): number => {
    const t0 = performance.now()
    tf.tidy(() => {
      const out = loaded.base.predict(tf.zeros([n, h, w, 3])) as import('@tensorflow/tfjs').Tensor
      out.dataSync()
    })
    return (performance.now() - t0) / 1000
  }
  run(2)
  const n = 8
  post({ type: 'probe-result', backend: choice.backend, secondsPerImage: run(n) / n })
  loaded.model.dispose()
}
