/** What both phases share: the prepared run, feature-extraction options and `trainPhase` with its callbacks. */
import type { LayersModel, Optimizer, Tensor } from '@tensorflow/tfjs'
import { inferenceBatch } from '../backend'
import { featureCacheDir } from '../layout'
import type { LoadedModel } from '../models/load'
import { TRAINABLE_PARAMS_METRIC } from '../../../shared/metrics'
import { lossAndAccuracy } from '../eval/evaluate'
import {
  CancelOnRequest,
  EarlyStopping,
  KeepBest,
  NanStop,
  ProgressReporter,
  ScheduleCallback,
  type ProgressSink,
  type TrainingCallback,
} from './callbacks'
import type { FeatureOptions } from './features'
import { fitLoop, predictProbs, type TrainInputs } from './fit-loop'
import { audioInputSpec } from './audio-inputs'
import type { EpochInputs } from './inputs'
import type { RunContext } from './run-context'
import { LrSchedule } from './schedule'
import type { ExtractionGroups, Splits } from './splits'

/** Everything a phase needs that the run set up once. */
export interface PreparedRun {
  loaded: LoadedModel
  splits: Splits
  /** The files each phase extracts activations for, per split (`extractionGroups`). */
  groups: ExtractionGroups
  /** One-hot training labels [train examples, classes]. */
  yTrain: Tensor
  /** Class index → loss weight; undefined weighs every class the same. */
  classWeight?: Record<number, number>
  /** Fresh augmented training inputs each epoch; null when augmentation is off (training reads the cache). */
  augmented: EpochInputs | null
}

/** One phase's training. */
export interface PhaseSpec {
  phase: 1 | 2
  /** A compiled model; `optimizer` is the one it was compiled with. */
  model: LayersModel
  optimizer: Optimizer
  /** The phase's starting learning rate. */
  lr0: number
  epochs: number
  batchSize: number
  train: TrainInputs
  /** The validation split's inputs for `model`. */
  valX: Tensor[]
  /**
   * Keep the best weights across phases by validation loss (`KeepBest`, starting from the loss of the
   * weights the phase starts with); a diverging loss then ends the phase with those weights instead of
   * failing the run. Needs a validation split.
   */
  keepBest?: boolean
  /** More callbacks for what this phase trains (e.g. keeping LoReFT's R orthonormal), run after the others. */
  extraCallbacks?: TrainingCallback[]
}

/** How many numbers `model` trains (its trainable weights), as the engine reports per epoch. */
export function countTrainable(model: LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0)
}

/** Validation loss of `model` as it is now, on `valX` / `labels`. */
function validationLoss(model: LayersModel, valX: Tensor[], labels: number[], numClasses: number): number {
  return lossAndAccuracy(predictProbs(model, valX, 32), labels, numClasses).loss
}

/** Feature extraction for `phase` with the run's cache, progress and cancel. */
export function extractionOptions(
  ctx: RunContext,
  loaded: LoadedModel,
  modelKey: string,
  phase: 1 | 2,
): FeatureOptions {
  return {
    root: ctx.job.datasetPath,
    inputSize: loaded.inputSize,
    preprocess: loaded.preprocess,
    batchSize: inferenceBatch(),
    cacheDir: featureCacheDir(ctx.io.cacheDir),
    modelKey,
    // Sound: the examples are clips, drawn as spectrograms (absent for images).
    audio: audioInputSpec(ctx.config),
    shouldStop: () => ctx.io.shouldStop(),
    onProgress: (done, total, etaSeconds) =>
      ctx.progress(
        { phase, epoch: 0, epochs: 0, batch: done, batches: total, metrics: {}, etaSeconds, stage: 'extracting' },
        done === 0 || done === total,
      ),
  }
}

/**
 * Reports go to the run. Every epoch also carries `trainable_params`, the numbers the phase trains, so
 * History and Compare can show what a strategy cost (a metric point like the others, per phase).
 */
function progressSink(ctx: RunContext, trainableParams: number): ProgressSink {
  return {
    // The reporter throttles itself; forcing also restarts the run's own throttle.
    progress: (p) => ctx.progress(p, true),
    epoch: (metrics) =>
      ctx.io.post({
        type: 'epoch',
        metrics: { ...metrics, values: { ...metrics.values, [TRAINABLE_PARAMS_METRIC]: trainableParams } },
      }),
    elapsed: () => ctx.elapsed(),
  }
}

/**
 * The callbacks of a phase, in the order they run (cancel and NaN first: they end the run; keeping the best
 * weights last, so its weights are the ones left in place).
 */
function phaseCallbacks(ctx: RunContext, run: PreparedRun, spec: PhaseSpec): TrainingCallback[] {
  const { hyper } = ctx.config
  const es = hyper.earlyStopping
  const keep = spec.keepBest === true && run.splits.val.examples.length > 0
  if (spec.keepBest && !keep)
    ctx.log(`Phase ${spec.phase}: no validation images, so it keeps the weights it ends with.`)
  const callbacks: TrainingCallback[] = [
    new CancelOnRequest(() => ctx.io.shouldStop()),
    new NanStop(
      spec.phase,
      spec.lr0,
      keep ? (message) => ctx.log(`${message} Keeping the best weights so far.`) : undefined,
    ),
    new ScheduleCallback(new LrSchedule(hyper.schedule, spec.lr0, spec.epochs, spec.optimizer)),
    new ProgressReporter(spec.phase, progressSink(ctx, countTrainable(spec.model))),
  ]
  if (es.enabled) {
    const onStop = (epoch: number) =>
      ctx.log(`Phase ${spec.phase}: no improvement for ${es.patience} epochs; stopped early at epoch ${epoch + 1}.`)
    callbacks.push(new EarlyStopping(es.patience, es.restoreBest, onStop))
  }
  callbacks.push(...(spec.extraCallbacks ?? []))
  if (keep) {
    const { val } = run.splits
    const classes = run.yTrain.shape[1] ?? 0
    callbacks.push(
      new KeepBest(
        () => validationLoss(spec.model, spec.valX, val.labels, classes),
        ({ baseline, best, bestEpoch }) =>
          ctx.log(
            bestEpoch === null
              ? `Phase ${spec.phase} did not improve on phase ${spec.phase - 1}'s validation loss (${fmtLoss(baseline)}): the model keeps phase ${spec.phase - 1}'s weights.`
              : `Phase ${spec.phase} kept its epoch ${bestEpoch + 1} (validation loss ${fmtLoss(best)}, phase ${spec.phase - 1} ended at ${fmtLoss(baseline)}).`,
          ),
      ),
    )
  }
  return callbacks
}

const fmtLoss = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x))

/** Trains one phase with the run's schedule, early stopping, class weights, NaN and cancel handling. */
export async function trainPhase(ctx: RunContext, run: PreparedRun, spec: PhaseSpec): Promise<void> {
  const { val } = run.splits
  await fitLoop(
    {
      model: spec.model,
      epochs: spec.epochs,
      batchSize: spec.batchSize,
      train: spec.train,
      trainY: run.yTrain,
      val: val.examples.length ? { xs: spec.valX, labels: val.labels } : null,
      classWeight: run.classWeight,
      rng: ctx.rng,
    },
    phaseCallbacks(ctx, run, spec),
  )
}
