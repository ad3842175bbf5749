/**
 * Phase 1 (Keras' transfer-learning recipe): the base stays frozen, so it runs once per image outside any
 * gradient tape and its features are cached on disk; the new head trains on the cached features.
 */
import { availableParallelism } from 'node:os'
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { extractionWorkerCount } from '../../../shared/estimate'
import { currentBackend } from '../backend'
import { baseFeaturesKey } from '../data/cache-key'
import { featureTensors } from './features'
import { buildHead, compileHead, disposeOptimizer } from './head'
import { cachedInputs } from './inputs'
import { extractFeaturesParallel } from './parallel-extract'
import { extractionOptions, trainPhase, type PreparedRun } from './phase'
import type { RunContext } from './run-context'
import { featuresBySplit } from './splits'

/** A trained model and its inputs for the validation and test splits, ready for evaluation. */
export interface TrainedPhase {
  model: LayersModel
  valX: Tensor[]
  testX: Tensor[]
}

/** Extraction shards over one process per core on WASM and plain JS (the rule the estimate uses too). */
function extractionWorkers(): number {
  return extractionWorkerCount(currentBackend()?.backend, availableParallelism(), Boolean(process.versions.electron))
}

/** Extracts (or reads cached) base features, builds the head and trains it. The head is `model`. */
export async function runPhase1(ctx: RunContext, run: PreparedRun): Promise<TrainedPhase> {
  const { loaded, splits } = run
  const { hyper } = ctx.config
  const feats = await extractFeaturesParallel(loaded.base, run.files, {
    ...extractionOptions(ctx, loaded, baseFeaturesKey(loaded.base, loaded.card.id), 1),
    workers: extractionWorkers(),
    minImagesPerWorker: 64,
  })
  const sets = featuresBySplit(feats, splits, run.augmented !== null)

  const head = buildHead(loaded.featureDim, ctx.job.labels.length, ctx.config.head, hyper.seed)
  ctx.keepWeights(head)
  const optimizer = compileHead(head, hyper)
  ctx.keep({ dispose: () => disposeOptimizer(optimizer) })
  const valX = ctx.keepAll(featureTensors(sets.val))
  const testX = ctx.keepAll(featureTensors(sets.test))
  const trainX = sets.train ? ctx.keepAll(featureTensors(sets.train)) : null

  await trainPhase(ctx, run, {
    phase: 1,
    model: head,
    optimizer,
    lr0: hyper.learningRate,
    epochs: hyper.epochs,
    batchSize: hyper.batchSize,
    train: trainX ? cachedInputs(trainX) : run.augmented!.through(loaded.base, 16),
    valX,
  })
  return { model: head, valX, testX }
}
