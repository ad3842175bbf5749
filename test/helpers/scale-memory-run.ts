/**
 * One measured run for test/integration/scale-memory.test.ts, in a process of its own so nothing an earlier
 * run left behind blurs the numbers. Run as
 * `node --expose-gc --import tsx scale-memory-run.ts <dataset> <cacheDir> <images per class>`; prints one JSON
 * line: the peak retained memory (V8 heap + ArrayBuffers after a full GC) above what was retained before the
 * run, sampled at every extraction progress message and when training is about to start (the run is stopped
 * there), with the images the base ran on and the cache chunks written and read.
 */
import { join } from 'node:path'
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs'
import type { JobStart } from '../../src/shared/job-messages'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { ModelCard } from '../../src/shared/types'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { featureCacheStats } from '../../src/main/ml/data/feature-cache'
import { prepareLoaded } from '../../src/main/ml/models/load'
import { featureStats } from '../../src/main/ml/train/features'
import { runInProcess } from '../../src/main/ml/train/run-job'

export const LABELS = ['circle', 'square', 'triangle']
/** Floats per image: the base's 32×32×16 activations, flattened (64 KB). */
export const FLOATS = 32 * 32 * 16

export interface MeasuredRun {
  peak: number
  forwarded: number
  written: number
  read: number
  status: string
}

const card: ModelCard = {
  id: 'wide-test',
  name: 'Wide test CNN',
  task: 'image-classification',
  supported: true,
  inputSize: [32, 32],
  parameters: 0,
  license: 'MIT',
  licenseKind: 'permissive',
  source: { kind: 'bundled', description: 'test' },
  card: { summary: '', trainedOn: '', input: '', preprocessing: '', limitations: '' },
  featureLayer: 'features',
  available: true,
}

/** One seeded 3×3 convolution at full resolution, flattened: cheap to run, wide features. */
function wideNet(): LayersModel {
  const tf = getTf()
  const input = tf.input({ shape: [32, 32, 3] })
  let x = tf.layers
    .conv2d({
      filters: 16,
      kernelSize: 3,
      padding: 'same',
      // Named: the cache key covers weight names, and an unnamed layer gets a new one in each process.
      name: 'conv',
      kernelInitializer: tf.initializers.heNormal({ seed: 3 }),
    })
    .apply(input) as SymbolicTensor
  x = tf.layers.flatten({ name: 'features' }).apply(x) as SymbolicTensor
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'old_head' }).apply(x) as SymbolicTensor
  return tf.model({ inputs: input, outputs: out })
}

/**
 * Retained bytes after a full collection. Twice: V8 frees dead ArrayBuffers' memory on a background thread
 * after a collection, and the next collection waits for that sweep, so one `gc()` alone counts, on a busy
 * machine, buffers already dead (measured: +16 MB at random).
 */
function retained(): number {
  const gc = (globalThis as unknown as { gc: () => void }).gc
  gc()
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

async function main(datasetPath: string, cacheDir: string, perClass: number): Promise<MeasuredRun> {
  await initBackend('cpu')
  const examples = LABELS.flatMap((l) =>
    Array.from({ length: perClass }, (_, i) => ({
      file: `${l}/${l}-${String(i).padStart(3, '0')}.${i % 3 === 2 ? 'jpg' : 'png'}`,
      label: l,
      split: (i % 10 < 7 ? 'train' : i % 10 < 9 ? 'val' : 'test') as 'train' | 'val' | 'test',
    })),
  )
  const config = defaultRunConfig('wide-test', 'ds')
  config.hyper.epochs = 2
  const job: JobStart = {
    type: 'start',
    runId: 1,
    config,
    dataDir: join(cacheDir, 'data'),
    datasetPath,
    examples,
    labels: LABELS,
    backend: 'cpu',
  }
  const base = retained()
  let peak = 0
  const { final } = await runInProcess(job, {
    cacheDir,
    loadModel: async () => prepareLoaded(card, wideNet(), 'rgb/255'),
    onMessage: (m) => {
      if (m.type !== 'progress') return
      if (m.progress.stage !== 'extracting' && m.progress.stage !== 'training') return
      peak = Math.max(peak, retained() - base)
      // Training is about to start: the features are in place, nothing else should be.
      return m.progress.stage === 'training'
    },
  })
  return {
    peak,
    forwarded: featureStats.baseForwardImages,
    written: featureCacheStats.chunksWritten,
    read: featureCacheStats.chunksRead,
    status: final?.type === 'done' ? final.status : String(final?.type),
  }
}

if (process.argv[1]?.endsWith('scale-memory-run.ts')) {
  const [datasetPath, cacheDir, perClass] = process.argv.slice(2)
  main(datasetPath!, cacheDir!, Number(perClass)).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`)
      process.exit(0)
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exit(1)
    },
  )
}
