/**
 * One training run, start to finish: backend, model, phase 1 (head on cached features), optional phase 2
 * (unfrozen top of the base, or LoRA / LoReFT adapters, + head on activations cached at the freeze boundary,
 * keeping the best weights across phases), evaluation, export (adapters merged).
 * Pure Node: the same function runs in the app's job process, the CLI and tests.
 */
import type { Tensor } from '@tensorflow/tfjs'
import type { FromJob, JobStart } from '../../../shared/job-messages'
import { AppError } from '../../errors'
import { initBackend } from '../backend'
import { cacheDir } from '../layout'
import {
  featureCacheServes,
  loraTargetNames,
  phase2Runs,
  reftLayerNames,
  strategyKind,
  trainableLayerNames,
} from '../../../shared/run-rules'
import type { LayerInfo, RunConfig } from '../../../shared/types'
import { listLayers, loadBaseModel, type LoadedModel } from '../models/load'
import { makeAugmenter } from './augment'
import { NanLossError } from './callbacks'
import { AudioAugmentedInputs, audioInputSpec, runAudioAugmentation } from './audio-inputs'
import { AugmentedInputs, type EpochInputs } from './inputs'
import type { PreparedRun } from './phase'
import { runPhase1 } from './phase1'
import { runPhase2, type Phase2Plan } from './phase2'
import { finishRun } from './finish'
import { RunContext, stageOnly, type TrainIo } from './run-context'
import { classWeights, extractionGroups, splitExamples } from './splits'

export type { TrainIo } from './run-context'

/** Starts the backend and loads the model, reporting both. */
async function loadModel(ctx: RunContext): Promise<LoadedModel> {
  const { job, io } = ctx
  const choice = await initBackend(job.backend)
  io.post({ type: 'backend', backend: choice.backend, reason: choice.reason })
  ctx.progress({ ...stageOnly(1, 'loading'), epochs: ctx.config.hyper.epochs }, true)
  const loaded = await (io.loadModel ?? loadBaseModel)(ctx.config.modelId, io.dataDir)
  ctx.keepWeights(loaded.model)
  return loaded
}

/**
 * Label smoothing as Keras defines it for categorical cross-entropy: y·(1 − ε) + ε/K. The training
 * targets carry it; validation and test losses stay on the true labels, so runs compare.
 */
export function smoothLabels(oneHot: Tensor, epsilon: number): Tensor {
  if (epsilon <= 0) return oneHot
  const k = oneHot.shape[1] ?? 1
  return oneHot.mul(1 - epsilon).add(epsilon / k)
}

/** Fresh training inputs every epoch: augmented images, or for sound augmented clips. */
function epochInputs(
  ctx: RunContext,
  loaded: LoadedModel,
  examples: PreparedRun['splits']['train']['examples'],
): EpochInputs {
  const { job, config } = ctx
  const audio = audioInputSpec(config)
  if (audio)
    return new AudioAugmentedInputs(
      examples,
      job.datasetPath,
      loaded,
      audio,
      runAudioAugmentation(config),
      ctx.rng,
      () => ctx.checkStop(),
    )
  const augmenter = makeAugmenter(config.augment, ctx.rng, loaded.preprocess)
  return new AugmentedInputs(examples, job.datasetPath, loaded, augmenter, () => ctx.checkStop())
}

/** Splits, labels, class weights and (when augmenting) the augmented inputs, set up once for both phases. */
function prepareRun(ctx: RunContext, loaded: LoadedModel): PreparedRun {
  const { job, config, tf } = ctx
  const splits = splitExamples(job)
  const numClasses = job.labels.length
  // With augmentation the cache cannot serve the training images (the one rule in src/shared/run-rules.ts).
  const augment = !featureCacheServes(config)
  return {
    loaded,
    splits,
    groups: extractionGroups(splits, augment),
    yTrain: ctx.keep(
      tf.tidy(() =>
        smoothLabels(tf.oneHot(tf.tensor1d(splits.train.labels, 'int32'), numClasses), config.hyper.labelSmoothing),
      ),
    ),
    classWeight: config.hyper.classWeights === 'auto' ? classWeights(splits.train, numClasses) : undefined,
    augmented: augment ? epochInputs(ctx, loaded, splits.train.examples) : null,
  }
}

/** What phase 2 trains besides the head: the one rule in src/shared/run-rules.ts, applied to this base. */
export function phase2Plan(config: RunConfig, layers: LayerInfo[]): Phase2Plan {
  const kind = strategyKind(config.freeze)
  return {
    trainable: trainableLayerNames(config.freeze, layers),
    lora: kind === 'lora' ? loraTargetNames(config, layers) : [],
    reft: kind === 'loreft' ? reftLayerNames(config, layers) : [],
  }
}

async function runJob(ctx: RunContext): Promise<void> {
  const { config } = ctx
  const loaded = await loadModel(ctx)
  const run = prepareRun(ctx, loaded)
  const layers = listLayers(loaded)
  // The one rule the wizard, the estimate and the CLI use too (src/shared/run-rules.ts).
  const doPhase2 = phase2Runs(config, layers)
  if (config.phase2.enabled && !doPhase2)
    ctx.log('Phase 2 skipped: none of the chosen layers is in this model, so only the head trains.')

  const phase1 = await runPhase1(ctx, run)
  const final = doPhase2 ? await runPhase2(ctx, run, phase1.model, phase2Plan(config, layers)) : phase1
  await finishRun(ctx, run, phase1.model, final, doPhase2 ? 2 : 1)
}

/** The message that ends a failed or cancelled run. */
function endMessage(err: unknown): FromJob {
  if (err instanceof AppError && err.code === 'cancelled') {
    return { type: 'done', status: 'cancelled', bestValAccuracy: null, testAccuracy: null }
  }
  if (err instanceof NanLossError) return { type: 'error', code: err.code, message: err.message }
  if (err instanceof AppError) return { type: 'error', code: err.code, message: err.message }
  const message = err instanceof Error ? err.message : String(err)
  return { type: 'error', code: 'internal', message: `Training failed unexpectedly: ${message}` }
}

/**
 * Runs a whole training job and reports through `io.post`. Never throws: failures end with
 * `{type:'error'}` (code 'nan_loss' for a diverged loss), a cancel with `{type:'done', status:'cancelled'}`.
 */
export async function trainRun(job: JobStart, io: TrainIo): Promise<void> {
  const ctx = new RunContext(job, io)
  try {
    await runJob(ctx)
  } catch (err) {
    io.post(endMessage(err))
  } finally {
    ctx.disposeAll()
  }
}

/**
 * Runs `trainRun` in this process (CLI, tests) and collects every message. A caller cancels from its own
 * `onMessage` by returning true, or through `shouldStop`.
 */
export async function runInProcess(
  job: JobStart,
  opts: {
    dataDir?: string
    cacheDir?: string
    onMessage?: (msg: FromJob) => boolean | void
    shouldStop?: () => boolean
    loadModel?: TrainIo['loadModel']
  } = {},
): Promise<{ messages: FromJob[]; final: FromJob | undefined }> {
  const messages: FromJob[] = []
  let stop = false
  const dataDir = opts.dataDir ?? job.dataDir
  await trainRun(job, {
    dataDir,
    cacheDir: opts.cacheDir ?? cacheDir(dataDir),
    loadModel: opts.loadModel,
    shouldStop: () => stop || (opts.shouldStop?.() ?? false),
    post: (msg) => {
      messages.push(msg)
      if (opts.onMessage?.(msg) === true) stop = true
    },
  })
  const final = [...messages].reverse().find((m) => m.type === 'done' || m.type === 'error')
  return { messages, final }
}
