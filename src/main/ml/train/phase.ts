/** What both phases share: the prepared run, feature-extraction options and `trainPhase` with its callbacks. */
import type { LayersModel, Optimizer, Tensor } from '@tensorflow/tfjs'
import { featureCacheDir } from '../layout'
import type { LoadedModel } from '../models/load'
import {
  CancelOnRequest,
  EarlyStopping,
  NanStop,
  ProgressReporter,
  ScheduleCallback,
  type ProgressSink,
  type TrainingCallback,
} from './callbacks'
import type { FeatureOptions } from './features'
import { fitLoop, type TrainInputs } from './fit-loop'
import type { AugmentedInputs } from './inputs'
import type { RunContext } from './run-context'
import { LrSchedule } from './schedule'
import type { Splits } from './splits'

/** Everything a phase needs that the run set up once. */
export interface PreparedRun {
  loaded: LoadedModel
  splits: Splits
  /** The files each phase extracts activations for (`extractionFiles`). */
  files: string[]
  /** One-hot training labels [train examples, classes]. */
  yTrain: Tensor
  /** Class index → loss weight; undefined weighs every class the same. */
  classWeight?: Record<number, number>
  /** Fresh augmented training inputs each epoch; null when augmentation is off (training reads the cache). */
  augmented: AugmentedInputs | null
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
    batchSize: 16,
    cacheDir: featureCacheDir(ctx.io.cacheDir),
    modelKey,
    shouldStop: () => ctx.io.shouldStop(),
    onProgress: (done, total) =>
      ctx.progress(
        { phase, epoch: 0, epochs: 0, batch: done, batches: total, metrics: {}, etaSeconds: null, stage: 'extracting' },
        done === 0 || done === total,
      ),
  }
}

function progressSink(ctx: RunContext): ProgressSink {
  return {
    // The reporter throttles itself; forcing also restarts the run's own throttle.
    progress: (p) => ctx.progress(p, true),
    epoch: (metrics) => ctx.io.post({ type: 'epoch', metrics }),
    elapsed: () => ctx.elapsed(),
  }
}

/** The callbacks of a phase, in the order they run (cancel and NaN first: they end the run). */
function phaseCallbacks(ctx: RunContext, spec: PhaseSpec): TrainingCallback[] {
  const { hyper } = ctx.config
  const es = hyper.earlyStopping
  const callbacks: TrainingCallback[] = [
    new CancelOnRequest(() => ctx.io.shouldStop()),
    new NanStop(spec.phase, spec.lr0),
    new ScheduleCallback(new LrSchedule(hyper.schedule, spec.lr0, spec.epochs, spec.optimizer)),
    new ProgressReporter(spec.phase, progressSink(ctx)),
  ]
  if (es.enabled) {
    const onStop = (epoch: number) =>
      ctx.log(`Phase ${spec.phase}: no improvement for ${es.patience} epochs; stopped early at epoch ${epoch + 1}.`)
    callbacks.push(new EarlyStopping(es.patience, es.restoreBest, onStop))
  }
  return callbacks
}

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
    phaseCallbacks(ctx, spec),
  )
}
