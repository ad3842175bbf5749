/**
 * Phase 2 (Keras' fine-tuning step): unfreeze the top of the base and train it with the head at a lower
 * learning rate. The part of the base below the first trainable layer is still frozen, so its output (the
 * activations crossing the boundary) is cached like phase 1's features and only the top is on the tape.
 */
import type { LayersModel } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { boundaryKey } from '../data/cache-key'
import { applyChain } from '../export/export'
import { applyFreeze } from '../models/freeze'
import { splitAtBoundary } from './boundary'
import { extractFeatures, featureTensors } from './features'
import { compileHead, disposeOptimizer } from './head'
import { cachedInputs } from './inputs'
import { extractionOptions, trainPhase, type PreparedRun } from './phase'
import type { TrainedPhase } from './phase1'
import type { RunContext } from './run-context'
import { featuresBySplit } from './splits'

/** Largest batch when gradients flow through base layers on WASM (its heap is capped at 4 GiB). */
export const WASM_PHASE2_MAX_BATCH = 8

/** The configured batch size, capped on WASM (and said so in the log). */
function phase2BatchSize(ctx: RunContext): number {
  const wanted = ctx.config.hyper.batchSize
  const batch = ctx.tf.getBackend() === 'wasm' ? Math.min(WASM_PHASE2_MAX_BATCH, wanted) : wanted
  if (batch < wanted) ctx.log(`Phase 2 uses batches of ${batch} (WASM memory limit).`)
  return batch
}

/** A missing gradient kernel becomes a message that says what to do instead. */
function explainBackendGap(ctx: RunContext, err: unknown): unknown {
  const msg = err instanceof Error ? err.message : String(err)
  if (!/not registered for backend/.test(msg)) return err
  return new AppError(
    'unavailable',
    `Phase 2 cannot run on the ${ctx.tf.getBackend()} backend here (${msg}). Turn phase 2 off or use the cpu backend.`,
  )
}

/**
 * Unfreezes `trainable`, builds top-of-base + `head` on the boundary activations and trains it. The base is
 * frozen again afterwards (its trained top stays in the weights, which the export shares).
 */
export async function runPhase2(
  ctx: RunContext,
  run: PreparedRun,
  head: LayersModel,
  trainable: Set<string>,
): Promise<TrainedPhase> {
  const { loaded, splits } = run
  const { hyper, phase2 } = ctx.config
  applyFreeze(loaded.base, trainable)
  const { lower, inputs, features, boundaryNames } = splitAtBoundary(loaded.base, trainable)
  const model = ctx.tf.model({ inputs, outputs: applyChain(head.layers, features), name: 'tunewise_phase2' })
  const lr0 = hyper.learningRate * phase2.lrFactor
  const optimizer = compileHead(model, hyper, lr0)
  ctx.keep({ dispose: () => disposeOptimizer(optimizer) })
  const batchSize = phase2BatchSize(ctx)
  ctx.log(`Phase 2 trains ${trainable.size} base layers; activations cached at ${boundaryNames.join(', ')}.`)

  const key = lower ? boundaryKey(lower, loaded.card.id, boundaryNames) : 'image'
  const feats = await extractFeatures(lower, run.files, extractionOptions(ctx, loaded, key, 2))
  const sets = featuresBySplit(feats, splits, run.augmented !== null)
  const valX = ctx.keepAll(featureTensors(sets.val))
  const testX = ctx.keepAll(featureTensors(sets.test))
  const trainX = sets.train ? ctx.keepAll(featureTensors(sets.train)) : null
  try {
    await trainPhase(ctx, run, {
      phase: 2,
      model,
      optimizer,
      lr0,
      epochs: phase2.epochs,
      batchSize,
      train: trainX ? cachedInputs(trainX) : run.augmented!.through(lower, batchSize),
      valX,
    })
  } catch (err) {
    throw explainBackendGap(ctx, err)
  }
  applyFreeze(loaded.base, new Set())
  return { model, valX, testX }
}
