/**
 * Phase 1 (Keras' transfer-learning recipe): the base stays frozen, so it runs once per image outside any
 * gradient tape and its features are cached on disk; the new head trains on the cached features.
 */
import { availableParallelism } from 'node:os'
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { extractionWorkerCount } from '../../../shared/estimate'
import { currentBackend, inferenceBatch } from '../backend'
import { baseFeaturesKey } from '../data/cache-key'
import { featureTensors } from './features'
import { buildHead, compileHead, disposeOptimizer } from './head'
import { cachedInputs } from './inputs'
import { extractFeatureGroupsParallel } from './parallel-extract'
import { extractionOptions, trainPhase, type PreparedRun } from './phase'
import type { RunContext } from './run-context'
import { groupLists, setsBySplit } from './splits'

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

/**
 * The base's features of each split (extracted, or read from the cache) as tensors kept for the run. The
 * arrays they were read into go out of scope here, so on WASM (which copies them into its own memory) they
 * are not held twice while training runs.
 */
async function splitFeatureTensors(
  ctx: RunContext,
  run: PreparedRun,
): Promise<{ trainX: Tensor[] | null; valX: Tensor[]; testX: Tensor[] }> {
  const { loaded } = run
  // One array per split, filled straight from the cache and the network: no copy of the whole set.
  const sets = setsBySplit(
    run.groups,
    await extractFeatureGroupsParallel(loaded.base, groupLists(run.groups), {
      ...extractionOptions(ctx, loaded, baseFeaturesKey(loaded.base, loaded.card.id), 1),
      workers: extractionWorkers(),
      minImagesPerWorker: 64,
    }),
  )
  return {
    trainX: sets.train ? ctx.keepAll(featureTensors(sets.train)) : null,
    valX: ctx.keepAll(featureTensors(sets.val)),
    testX: ctx.keepAll(featureTensors(sets.test)),
  }
}

/** Extracts (or reads cached) base features, builds the head and trains it. The head is `model`. */
export async function runPhase1(ctx: RunContext, run: PreparedRun): Promise<TrainedPhase> {
  const { loaded } = run
  const { hyper } = ctx.config
  const { trainX, valX, testX } = await splitFeatureTensors(ctx, run)

  const head = buildHead(loaded.featureDim, ctx.job.labels.length, ctx.config.head, hyper.seed)
  ctx.keepWeights(head)
  const optimizer = compileHead(head, hyper)
  ctx.keep({ dispose: () => disposeOptimizer(optimizer) })

  // Extraction is over: say so at once (the first report from training comes after its first batch).
  ctx.progress(
    {
      phase: 1,
      epoch: 1,
      epochs: hyper.epochs,
      batch: 0,
      batches: Math.ceil(run.splits.train.examples.length / hyper.batchSize),
      metrics: {},
      etaSeconds: null,
      stage: 'training',
    },
    true,
  )
  await trainPhase(ctx, run, {
    phase: 1,
    model: head,
    optimizer,
    lr0: hyper.learningRate,
    epochs: hyper.epochs,
    batchSize: hyper.batchSize,
    train: trainX ? cachedInputs(trainX) : run.augmented!.through(loaded.base, inferenceBatch()),
    valX,
  })
  return { model: head, valX, testX }
}
