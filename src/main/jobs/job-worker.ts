/**
 * Entry point of a training job's process. It receives one `start` message, trains, reports
 * progress, and exits. It never opens the database: main owns it, so a killed job cannot corrupt it.
 */
import { join } from 'node:path'
import type { FromJob, JobTask, ToJob } from '../../shared/job-messages'
import type { AppError } from '../errors'
import { trainRun } from '../ml/engine'

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
  if (msg.type === 'task' && !started) {
    started = true
    runTask(msg.task)
      .then((value) => post({ type: 'task-result', value }))
      .catch((err: unknown) =>
        post({
          type: 'error',
          code: err instanceof Error && err.name === 'AppError' ? (err as AppError).code : 'internal',
          message: err instanceof Error ? err.message : String(err),
        }),
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

async function runTask(task: JobTask): Promise<unknown> {
  const engine = await import('../ml/engine')
  await engine.initBackend()
  switch (task.kind) {
    case 'probe':
      return probe(task.modelId, task.dataDir)
    case 'layers': {
      const loaded = await engine.loadBaseModel(task.modelId, task.dataDir)
      return engine.listLayers(loaded)
    }
    case 'import':
      return engine.importModel(task.folder, task.dataDir)
    case 'download':
      return engine.downloadModel(task.modelId, task.dataDir, (received, total) =>
        post({ type: 'task-progress', received, total }),
      )
    case 'export': {
      const files = await engine.exportRun(task.modelDir, task.outDir)
      const check = task.evaluation
        ? await engine.verifyExport(task.outDir, task.datasetPath, task.evaluation)
        : { maxDifference: 0, agreement: 1 }
      return { dir: task.outDir, files, maxDifference: check.maxDifference, agreement: check.agreement }
    }
    case 'predict':
      return engine.predictImage(task.modelDir, task.file ?? Buffer.from(task.base64 ?? '', 'base64'))
  }
}

/** Times the base's forward pass on a small batch (after one warm-up) on the backend a run would use. */
async function probe(modelId: string, dataDir: string): Promise<{ backend: string; secondsPerImage: number }> {
  const { currentBackend, getTf, loadBaseModel } = await import('../ml/engine')
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
  const secondsPerImage = run(n) / n
  loaded.model.dispose()
  return { backend: currentBackend()?.backend ?? 'unknown', secondsPerImage }
}
