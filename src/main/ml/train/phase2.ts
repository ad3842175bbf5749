/**
 * Phase 2: after the head has learned, train what the strategy adds together with it, at a lower learning
 * rate. Either unfrozen base layers (Keras' fine-tuning step; their BatchNorm layers stay in inference mode
 * unless the run asks for batch statistics) or adapters beside a frozen base (LoRA on chosen layers, LoReFT at
 * chosen layer outputs). The part of the base below the first trained layer is frozen, so its output (the
 * activations crossing the boundary) is cached like phase 1's features and only the top is on the tape. The
 * phase keeps the best weights across phases by validation loss, so it never ends worse than phase 1.
 */
import type { LayersModel } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { boundaryKey } from '../data/cache-key'
import { applyChain } from '../export/export'
import { adapterEdits, adapterParameters, buildAdapters, hasAdapters, type AdapterSet } from '../adapters/adapters'
import { OrthonormalRows } from '../adapters/loreft'
import { applyFreeze } from '../models/freeze'
import { splitAtBoundary } from './boundary'
import { extractFeatureGroups, featureTensors } from './features'
import { compileHead, disposeOptimizer } from './head'
import { cachedInputs } from './inputs'
import { countTrainable, extractionOptions, trainPhase, type PreparedRun } from './phase'
import type { TrainedPhase } from './phase1'
import type { RunContext } from './run-context'
import { groupLists, setsBySplit } from './splits'

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

/** What phase 2 trains besides the head (from `src/shared/run-rules.ts`). */
export interface Phase2Plan {
  /** Base layers unfrozen (top blocks, everything, custom). */
  trainable: Set<string>
  /** Base layers that get LoRA adapters. */
  lora: string[]
  /** Base layers whose output LoReFT nudges. */
  reft: string[]
}

/** Phase 2's model, its inputs, and the adapters it trained (none for unfrozen layers). */
export interface Phase2Result extends TrainedPhase {
  adapters: AdapterSet | null
}

const count = (n: number): string => n.toLocaleString('en-US')

/** One log line: what phase 2 trains and where the boundary cache is. */
function describePlan(plan: Phase2Plan, a: AdapterSet | null, boundary: string[], trainable: number): string {
  const where = `activations cached at ${boundary.join(', ')}`
  if (a && a.lora.size) {
    const first = [...a.lora.values()][0]!
    return `Phase 2 trains LoRA adapters on ${a.lora.size} layers (rank ${first.rank}, α ${first.alpha}; ${count(adapterParameters(a))} adapter numbers, ${count(trainable)} with the head); ${where}.`
  }
  if (a && a.reft.size) {
    const first = [...a.reft.values()][0]!
    return `Phase 2 trains LoReFT at ${[...a.reft.keys()].join(', ')} (rank ${first.rank}; ${count(adapterParameters(a))} intervention numbers, ${count(trainable)} with the head); ${where}.`
  }
  return `Phase 2 trains ${plan.trainable.size} base layers (${count(trainable)} numbers with the head); ${where}.`
}

/**
 * Unfreezes `plan.trainable` or attaches `plan`'s adapters, builds top-of-base + `head` on the boundary
 * activations and trains it, keeping the best weights across phases. The base is frozen again afterwards
 * (an unfrozen top keeps its trained weights, which the export shares; adapters are returned for merging).
 */
export async function runPhase2(
  ctx: RunContext,
  run: PreparedRun,
  head: LayersModel,
  plan: Phase2Plan,
): Promise<Phase2Result> {
  const { loaded } = run
  const { hyper, phase2, freeze, adapters: adapterConfig } = ctx.config
  applyFreeze(loaded.base, plan.trainable, { batchNormStatistics: freeze.batchNormStatistics })
  const adapters =
    plan.lora.length || plan.reft.length
      ? buildAdapters(loaded.base, {
          lora: plan.lora,
          loraRank: adapterConfig.loraRank,
          loraAlpha: adapterConfig.loraAlpha,
          reft: plan.reft,
          reftRank: adapterConfig.reftRank,
          seed: hyper.seed,
        })
      : null
  const { lower, inputs, features, boundaryNames } = splitAtBoundary(
    loaded.base,
    plan.trainable,
    adapters ? adapterEdits(adapters) : {},
  )
  const model = ctx.tf.model({ inputs, outputs: applyChain(head.layers, features), name: 'tunewise_phase2' })
  if (adapters) ctx.keepWeights(model)
  const lr0 = hyper.learningRate * phase2.lrFactor
  const optimizer = compileHead(model, hyper, lr0)
  ctx.keep({ dispose: () => disposeOptimizer(optimizer) })
  const batchSize = phase2BatchSize(ctx)
  ctx.log(describePlan(plan, adapters, boundaryNames, countTrainable(model)))

  const key = lower ? boundaryKey(lower, loaded.card.id, boundaryNames) : 'image'
  const sets = setsBySplit(
    run.groups,
    await extractFeatureGroups(lower, groupLists(run.groups), extractionOptions(ctx, loaded, key, 2)),
  )
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
      keepBest: true,
      extraCallbacks: adapters?.reft.size ? [new OrthonormalRows([...adapters.reft.values()])] : [],
    })
  } catch (err) {
    throw explainBackendGap(ctx, err)
  }
  applyFreeze(loaded.base, new Set())
  return { model, valX, testX, adapters: hasAdapters(adapters) ? adapters : null }
}
