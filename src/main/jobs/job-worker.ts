/**
 * The worker process for every task that runs TensorFlow: training, the timing probe, layer lists,
 * imports, downloads, export checks and predictions. It serves one task through the shared port
 * (src/main/tasks/port.ts) and exits. It never opens the database: main owns it, so a killed
 * worker cannot corrupt it.
 */
import { cacheDir } from '../ml/layout'
import type { Tensor } from '@tensorflow/tfjs'
import { epochPoints } from '../../shared/metrics'
import type { TrainEvent } from '../../shared/tasks'
import { AppError } from '../errors'
import { serveTasks, type TaskContext } from '../tasks/port'

serveTasks({
  'lr-find': async (input, ctx) => {
    const { cachedFeatures, lrRangeTest } = await import('../ml/train/diagnostics')
    await ready(ctx)
    const feats = await cachedFeatures(input, {
      shouldStop: () => ctx.shouldStop(),
      onProgress: (done, total) =>
        ctx.progress({ fraction: total ? done / total / 2 : null, done, total, stage: 'features' }),
    })
    return lrRangeTest(feats, input.labels.length, input.config, { shouldStop: () => ctx.shouldStop() })
  },
  suspects: async (input, ctx) => {
    const { cachedFeatures, suspectLabels } = await import('../ml/train/diagnostics')
    await ready(ctx)
    const feats = await cachedFeatures(input, {
      shouldStop: () => ctx.shouldStop(),
      onProgress: (done, total) =>
        ctx.progress({ fraction: total ? done / total / 2 : null, done, total, stage: 'features' }),
    })
    const found = await suspectLabels(feats, input.labels.length, input.config, {
      shouldStop: () => ctx.shouldStop(),
      onFold: (done, total) => ctx.progress({ fraction: 0.5 + done / total / 2, done, total, stage: 'folds' }),
    })
    return found.slice(0, 100).map((s) => ({
      file: input.examples[s.index]!.file,
      label: input.examples[s.index]!.label,
      suggested: input.labels[s.predicted]!,
      margin: s.margin,
    }))
  },
  scan: async ({ root, kind }, ctx) => {
    // Images or sound recordings (detected from the files unless the user said which).
    const { scanFolder } = await import('../ml/audio/folder')
    // At most ten progress messages a second, however many files the folder holds.
    let last = 0
    return scanFolder(root, {
      kind,
      shouldStop: () => ctx.shouldStop(),
      onProgress: (done, total) => {
        const now = Date.now()
        if (now - last < 100 && done < total && done > 0) return
        last = now
        ctx.progress({ fraction: total ? done / total : null, done, total })
      },
    })
  },
  train: async (input, ctx) => train(input, ctx),
  probe: async ({ modelId, dataDir }, ctx) => probe(modelId, dataDir, ctx),
  layers: async ({ modelId, dataDir }, ctx) => {
    const engine = await ready(ctx)
    return engine.listLayers(await engine.loadBaseModel(modelId, dataDir))
  },
  import: async ({ folder, dataDir }, ctx) => (await ready(ctx)).importModel(folder, dataDir),
  download: async ({ modelId, dataDir }, ctx) =>
    (await ready(ctx)).downloadModel(
      modelId,
      dataDir,
      (received, total) => ctx.progress({ fraction: total ? received / total : null, done: received, total }),
      // A mirror of the online models (a company proxy, a local copy): <mirror>/<model id>/model.json.
      process.env.TUNEWISE_MODEL_MIRROR
        ? { baseUrl: `${process.env.TUNEWISE_MODEL_MIRROR.replace(/\/$/, '')}/${modelId}/` }
        : {},
    ),
  export: async ({ modelDir, outDir, datasetPath, evaluation, format, zip, overwrite, card }, ctx) => {
    await ready(ctx)
    const { exportModel } = await import('../ml/export/export-run')
    // Everything is written beside the target and checked first; the target only changes at the end.
    return exportModel(modelDir, outDir, {
      format,
      zip,
      overwrite,
      datasetPath,
      evaluation,
      card,
      exportedBy: `Tunewise ${(await import('../paths')).appVersion()}`,
    })
  },
  predict: async ({ modelDir, file, base64 }, ctx) =>
    (await ready(ctx)).predictImage(modelDir, file ?? Buffer.from(base64 ?? '', 'base64'), (source) =>
      ctx.emit({ type: 'model', ...source }),
    ),
})

/**
 * Loads the engine and starts the backend (the slow part of a fresh worker; a resident worker did
 * it for an earlier task), then honours a cancel that arrived meanwhile before any work starts.
 */
async function ready(ctx: { shouldStop(): boolean }): Promise<typeof import('../ml/engine')> {
  const engine = await import('../ml/engine')
  if (!engine.currentBackend()) await engine.initBackend()
  if (ctx.shouldStop()) throw new AppError('cancelled', 'Cancelled.')
  return engine
}

/** Runs one training job; its messages become the task's events, its end the task's end. */
async function train(
  input: Parameters<typeof import('../ml/engine').trainRun>[0] extends infer J ? Omit<J & object, 'type'> : never,
  ctx: TaskContext<'train'>,
): Promise<{ bestValAccuracy: number | null; testAccuracy: number | null }> {
  const { trainRun } = await ready(ctx)
  let end: { bestValAccuracy: number | null; testAccuracy: number | null } | null = null
  let failure: AppError | null = null
  await trainRun({ type: 'start', ...input } as Parameters<typeof trainRun>[0], {
    shouldStop: () => ctx.shouldStop(),
    cacheDir: cacheDir(input.dataDir),
    dataDir: input.dataDir,
    post: (msg) => {
      switch (msg.type) {
        case 'done':
          if (msg.status === 'cancelled') failure = new AppError('cancelled', 'The run was cancelled.')
          else end = { bestValAccuracy: msg.bestValAccuracy, testAccuracy: msg.testAccuracy }
          break
        case 'error':
          failure = new AppError(msg.code as AppError['code'], msg.message)
          break
        case 'epoch': {
          const m = msg.metrics
          ctx.emit({ type: 'metrics', points: epochPoints(m.phase, m.epoch, m.t, m.values) })
          break
        }
        default:
          ctx.emit(msg as TrainEvent)
      }
    },
  })
  if (failure) throw failure
  if (!end) throw new AppError('internal', 'Training ended without a result.')
  return end
}

/**
 * Times the base's forward pass on the backend a run would use, at the batch extraction uses
 * (`inferenceBatch`): one warm-up at that size (WASM grows its memory on the first pass of a size), then the
 * faster of two timed passes (noise from other work only ever adds time).
 */
async function probe(
  modelId: string,
  dataDir: string,
  ctx: { shouldStop(): boolean },
): Promise<{ backend: string; secondsPerImage: number }> {
  const { currentBackend, getTf, inferenceBatch, loadBaseModel } = await ready(ctx)
  const loaded = await loadBaseModel(modelId, dataDir)
  const tf = getTf()
  const [h, w] = loaded.inputSize
  const run = (n: number): number => {
    const t0 = performance.now()
    tf.tidy(() => {
      const out = loaded.base.predict(tf.zeros([n, h, w, 3])) as Tensor
      out.dataSync()
    })
    return (performance.now() - t0) / 1000
  }
  const n = inferenceBatch()
  run(n)
  const secondsPerImage = Math.min(run(n), run(n)) / n
  loaded.model.dispose()
  return { backend: currentBackend()?.backend ?? 'unknown', secondsPerImage }
}
