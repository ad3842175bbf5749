/**
 * Entry point of one feature-extraction worker process (see parallel-extract.ts). It receives one `start`
 * message, loads the base the parent saved, runs `extractFeatures` over its shard (which writes the shared
 * disk cache), reports `done` and exits. It sends no vectors back: the cache carries them.
 */
import { AppError } from '../../errors'
import { initBackend } from '../backend'
import { loadModelFolder } from '../models/load'
import { extractFeatures, featureStats } from './features'
import type { ExtractWorkerMessage, ExtractWorkerStart } from './parallel-extract'

function post(msg: ExtractWorkerMessage): void {
  process.send?.(msg)
}

async function run(msg: ExtractWorkerStart): Promise<void> {
  await initBackend(msg.backend)
  const base = await loadModelFolder(msg.modelDir)
  // Progress at most every 200 ms: a message per batch is cheap, but the parent only sums them for a bar.
  let last = 0
  await extractFeatures(base, msg.files, {
    root: msg.root,
    inputSize: msg.inputSize,
    preprocess: msg.preprocess,
    batchSize: msg.batchSize,
    cacheDir: msg.cacheDir,
    modelKey: msg.modelKey,
    onProgress: (done) => {
      const now = Date.now()
      if (now - last < 200 && done < msg.files.length) return
      last = now
      post({ type: 'progress', done })
    },
  })
  post({ type: 'done', baseForwardImages: featureStats.baseForwardImages })
}

let started = false
process.on('message', (raw) => {
  const msg = raw as ExtractWorkerStart
  if (msg.type !== 'start' || started) return
  started = true
  run(msg)
    .catch((err: unknown) =>
      post({
        type: 'error',
        code: err instanceof AppError ? err.code : 'internal',
        message: err instanceof Error ? err.message : String(err),
      }),
    )
    // Let the last message flush before the process ends.
    .finally(() => setTimeout(() => process.exit(0), 50))
})
// The parent kills workers it no longer needs; if it dies first, do not linger.
process.on('disconnect', () => process.exit(0))

post({ type: 'ready' })
