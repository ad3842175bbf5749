/**
 * Training concerns as small callbacks in tfjs-layers' shape (`setModel`, `setParams`, `onTrainBegin`,
 * `onEpochBegin`, `onBatchEnd`, `onEpochEnd`, `onTrainEnd`), run in list order by `fitLoop`. Stopping is
 * cooperative, as in tfjs-layers: a callback sets `model.stopTraining = true` and the loop ends after the
 * current batch. A callback that must end the run with an error (NaN loss, cancel) throws from `onEpochEnd`,
 * so the callbacks after it never see the broken epoch.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import type { EpochMetrics } from '../../../shared/job-messages'
import type { RunProgress } from '../../../shared/types'
import { getTf } from '../backend'
import { cancelledError } from './features'
import type { LrSchedule } from './schedule'

/** Metric name → value for a batch or an epoch (`loss`, `acc`, `val_loss`, `val_acc`, `lr`). */
export type Logs = Record<string, number>

/** What `fitLoop` tells every callback before training starts (tfjs-layers' `params`). */
export interface FitParams {
  /** Epochs in this phase. */
  epochs: number
  /** Training examples per epoch. */
  samples: number
  batchSize: number
  /** Batches per epoch: ceil(samples / batchSize). */
  batches: number
}

/** Base class: every hook does nothing; override the ones a concern needs. */
export abstract class TrainingCallback {
  /** The model being trained; set by `fitLoop` before `onTrainBegin`. */
  model!: LayersModel
  params!: FitParams

  setModel(model: LayersModel): void {
    this.model = model
  }

  setParams(params: FitParams): void {
    this.params = params
  }

  async onTrainBegin(_logs?: Logs): Promise<void> {}
  async onEpochBegin(_epoch: number, _logs?: Logs): Promise<void> {}
  async onBatchEnd(_batch: number, _logs?: Logs): Promise<void> {}
  async onEpochEnd(_epoch: number, _logs?: Logs): Promise<void> {}
  /** Called only when training ends normally (not when a callback or `fit` threw). */
  async onTrainEnd(_logs?: Logs): Promise<void> {}
  /** Frees what the callback holds. Called once training ends, however it ends. */
  dispose(): void {}
}

/** The loss went NaN or infinite. Reported as code 'nan_loss'. */
export class NanLossError extends Error {
  readonly code = 'nan_loss'
}

const fmt = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(6))) : String(x))

/**
 * Stops on the first batch whose loss is not finite and ends the run with a `NanLossError` that says which
 * epoch diverged and which learning rate to try instead. A later phase that keeps the best weights across
 * phases (`KeepBest`) may `recover` instead: training stops, the message goes to `recover`, and the run goes
 * on with the best weights seen.
 */
export class NanStop extends TrainingCallback {
  private diverged = false

  /**
   * @param phase the phase being trained (1 or 2), named in the message for phase 2.
   * @param learningRate the phase's starting learning rate, quoted in the message with a smaller suggestion.
   * @param recover when given, told the message instead of throwing (training still stops).
   */
  constructor(
    private readonly phase: 1 | 2,
    private readonly learningRate: number,
    private readonly recover?: (message: string) => void,
  ) {
    super()
  }

  override async onEpochBegin(): Promise<void> {
    this.diverged = false
  }

  override async onBatchEnd(_batch: number, logs?: Logs): Promise<void> {
    if (Number.isFinite(logs?.loss ?? NaN)) return
    this.diverged = true
    this.model.stopTraining = true
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const loss = logs?.loss ?? NaN
    if (!this.diverged && Number.isFinite(loss)) return
    const what = this.diverged || Number.isNaN(loss) ? 'NaN' : 'infinite'
    const lr = this.learningRate
    const suggestion = lr > 1e-3 ? 0.001 : lr / 10
    const message =
      `Training stopped: the loss became ${what} at epoch ${epoch + 1}${this.phase === 2 ? ' of phase 2' : ''}. ` +
      `The learning rate (${fmt(lr)}) is probably too high; try ${fmt(suggestion)}.`
    if (!this.recover) throw new NanLossError(message)
    this.model.stopTraining = true
    this.recover(message)
  }
}

/**
 * Cancels cooperatively: polls `shouldStop` before each epoch (throws at once) and after each batch (sets
 * `model.stopTraining`, then throws AppError('cancelled') at the end of the epoch).
 *
 * `fit` chains promises that resolve as microtasks, which starves the process's message queue: a cancel
 * message would only be read after training. So before each poll this yields a macrotask turn (at most every
 * `yieldEveryMs`), which also lets queued progress messages go out.
 */
export class CancelOnRequest extends TrainingCallback {
  private requested = false
  private lastYield = Date.now()

  /**
   * @param shouldStop true once the user asked to cancel; polled before each epoch and after each batch.
   * @param yieldEveryMs least time between two macrotask turns. Default 50 ms.
   */
  constructor(
    private readonly shouldStop: () => boolean,
    private readonly yieldEveryMs = 50,
  ) {
    super()
  }

  override async onEpochBegin(): Promise<void> {
    if (this.shouldStop()) throw cancelledError()
  }

  override async onBatchEnd(): Promise<void> {
    await this.yieldToEvents()
    if (!this.shouldStop()) return
    this.requested = true
    this.model.stopTraining = true
  }

  override async onEpochEnd(): Promise<void> {
    if (this.requested) throw cancelledError()
  }

  private async yieldToEvents(): Promise<void> {
    if (Date.now() - this.lastYield < this.yieldEveryMs) return
    await new Promise<void>((ok) => setImmediate(ok))
    this.lastYield = Date.now()
  }
}

/** Sets the learning rate at each epoch's start and records it (`lr`) in the epoch's logs. */
export class ScheduleCallback extends TrainingCallback {
  private lr = NaN

  /** @param schedule the phase's schedule, already bound to its optimizer and starting rate. */
  constructor(private readonly schedule: LrSchedule) {
    super()
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.lr = this.schedule.onEpochBegin(epoch)
  }

  /** Plateau schedules watch the validation loss, or the training loss when there is no validation split. */
  override async onEpochEnd(_epoch: number, logs?: Logs): Promise<void> {
    if (!logs) return
    logs.lr = this.lr
    this.schedule.onEpochEnd(logs.val_loss ?? logs.loss)
  }
}

/** Where `ProgressReporter` sends its reports. */
export interface ProgressSink {
  /** A progress report during training (the run id is added by the sink). */
  progress(progress: Omit<RunProgress, 'runId'>): void
  /** One finished epoch's metrics. */
  epoch(metrics: EpochMetrics): void
  /** Milliseconds since the run started (EpochMetrics.t). */
  elapsed(): number
}

/**
 * Reports training as it goes: after a batch, progress with the batch's loss and accuracy, the last epoch's
 * other metrics and an ETA from the phase's average batch time, at most every `minIntervalMs`; after an
 * epoch, its metrics (a copy: later callbacks may add to the logs).
 */
export class ProgressReporter extends TrainingCallback {
  private started = 0
  private lastReport = -Infinity
  private batchesDone = 0
  private epoch = 0
  private latest: Logs = {}

  /**
   * @param phase the phase being trained (1 or 2).
   * @param sink where reports go.
   * @param minIntervalMs least time between two progress reports. Default 100 ms.
   * @param now clock in milliseconds. Default `Date.now`.
   */
  constructor(
    private readonly phase: 1 | 2,
    private readonly sink: ProgressSink,
    private readonly minIntervalMs = 100,
    private readonly now: () => number = Date.now,
  ) {
    super()
  }

  override async onTrainBegin(): Promise<void> {
    this.started = this.now()
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    this.batchesDone++
    const now = this.now()
    if (now - this.lastReport < this.minIntervalMs) return
    this.lastReport = now
    const { epochs, batches } = this.params
    const perBatch = (now - this.started) / this.batchesDone
    this.sink.progress({
      phase: this.phase,
      epoch: this.epoch + 1,
      epochs,
      batch: batch + 1,
      batches,
      metrics: { ...this.latest, loss: logs?.loss ?? NaN, acc: logs?.acc ?? NaN },
      etaSeconds: Math.round((perBatch * (epochs * batches - this.batchesDone)) / 1000),
      stage: 'training',
    })
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    this.latest = { ...logs }
    this.sink.epoch({ phase: this.phase, epoch: epoch + 1, t: this.sink.elapsed(), values: { ...logs } })
  }
}

/**
 * Keras' EarlyStopping on the validation loss (the training loss without a validation split): stops after
 * `patience` epochs without a lower value. With `restoreBest` the model ends with the best epoch's weights,
 * also when training runs to its last epoch (as Keras 3 does).
 */
export class EarlyStopping extends TrainingCallback {
  private best = Infinity
  private wait = 0
  private snapshot: Tensor[] | null = null

  /**
   * @param patience epochs without improvement before stopping.
   * @param restoreBest put back the best epoch's weights when training ends.
   * @param onStop told the (0-based) epoch training stopped at, e.g. to log it.
   */
  constructor(
    private readonly patience: number,
    private readonly restoreBest: boolean,
    private readonly onStop: (epoch: number) => void = () => undefined,
  ) {
    super()
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const monitored = logs?.val_loss ?? logs?.loss ?? NaN
    if (monitored < this.best) {
      this.best = monitored
      this.wait = 0
      if (this.restoreBest) this.takeSnapshot()
    } else if (++this.wait >= this.patience) {
      this.model.stopTraining = true
      this.onStop(epoch)
    }
  }

  override async onTrainEnd(): Promise<void> {
    const weights = this.model.weights
    this.snapshot?.forEach((s, i) => weights[i].write(s))
  }

  override dispose(): void {
    if (this.snapshot) getTf().dispose(this.snapshot)
    this.snapshot = null
  }

  private takeSnapshot(): void {
    const tf = getTf()
    this.dispose()
    this.snapshot = this.model.weights.map((w) => tf.clone(w.read()))
  }
}

/** What `KeepBest` did, for the run's log. */
export interface KeepBestOutcome {
  /** Validation loss of the weights the phase started from (the previous phase's result). */
  baseline: number
  /** The lowest validation loss seen: the weights the phase ends with. */
  best: number
  /** 0-based epoch of this phase whose weights were kept; null when none beat the baseline. */
  bestEpoch: number | null
}

/**
 * Keeps the best weights seen across phases, by validation loss: the phase starts from `baseline()` (the loss
 * of the weights it starts with, i.e. what the previous phase ended with) and a copy of those weights; an epoch
 * with a lower validation loss replaces the copy; when training ends the copy is put back. So a later phase
 * can never end worse on validation than the phase before it. Needs validation (`val_loss`).
 */
export class KeepBest extends TrainingCallback {
  private best = Infinity
  private baselineLoss = Infinity
  private bestEpoch: number | null = null
  private snapshot: Tensor[] | null = null

  /**
   * @param baseline validation loss of the model as it is when training begins.
   * @param onEnd told what was kept, once the best weights are back in place.
   */
  constructor(
    private readonly baseline: () => number,
    private readonly onEnd: (outcome: KeepBestOutcome) => void = () => undefined,
  ) {
    super()
  }

  override async onTrainBegin(): Promise<void> {
    this.baselineLoss = this.baseline()
    this.best = this.baselineLoss
    this.bestEpoch = null
    this.takeSnapshot()
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const loss = logs?.val_loss
    if (loss === undefined || !(loss < this.best)) return
    this.best = loss
    this.bestEpoch = epoch
    this.takeSnapshot()
  }

  override async onTrainEnd(): Promise<void> {
    const weights = this.model.weights
    this.snapshot?.forEach((s, i) => weights[i].write(s))
    this.onEnd({ baseline: this.baselineLoss, best: this.best, bestEpoch: this.bestEpoch })
  }

  override dispose(): void {
    if (this.snapshot) getTf().dispose(this.snapshot)
    this.snapshot = null
  }

  private takeSnapshot(): void {
    const tf = getTf()
    this.dispose()
    this.snapshot = this.model.weights.map((w) => tf.clone(w.read()))
  }
}

/** Runs a list of callbacks one after another, awaiting each, in tfjs-layers' `CallbackList` manner. */
export class CallbackList {
  constructor(private readonly callbacks: TrainingCallback[]) {}

  setModel(model: LayersModel): void {
    for (const c of this.callbacks) c.setModel(model)
  }

  setParams(params: FitParams): void {
    for (const c of this.callbacks) c.setParams(params)
  }

  async onTrainBegin(logs?: Logs): Promise<void> {
    for (const c of this.callbacks) await c.onTrainBegin(logs)
  }

  async onEpochBegin(epoch: number, logs?: Logs): Promise<void> {
    for (const c of this.callbacks) await c.onEpochBegin(epoch, logs)
  }

  async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    for (const c of this.callbacks) await c.onBatchEnd(batch, logs)
  }

  async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    for (const c of this.callbacks) await c.onEpochEnd(epoch, logs)
  }

  async onTrainEnd(logs?: Logs): Promise<void> {
    for (const c of this.callbacks) await c.onTrainEnd(logs)
  }

  /** Disposes every callback, even if one of them throws. */
  dispose(): void {
    for (const c of this.callbacks) {
      try {
        c.dispose()
      } catch {
        // One callback's leftovers must not keep the others from freeing theirs.
      }
    }
  }
}
