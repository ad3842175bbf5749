/** What every step of a training run shares: the job, the channel back, the seeded generator, cleanup. */
import type { LayersModel } from '@tensorflow/tfjs'
import type { FromJob, JobStart } from '../../../shared/job-messages'
import type { RunConfig, RunProgress } from '../../../shared/types'
import { getTf } from '../backend'
import type { LoadedModel } from '../models/load'
import { cancelledError } from './features'
import { makeRng, type Rng } from './random'

export interface TrainIo {
  post(msg: FromJob): void
  /** Polled between batches; true cancels cooperatively. */
  shouldStop(): boolean
  /** Feature cache lives in `<cacheDir>/features/` (see `featureCacheDir`). */
  cacheDir: string
  /** Runs are written to `<dataDir>/runs/<runId>/` (see `runDir`). */
  dataDir: string
  /** Model loader; tests inject tiny models. Default `loadBaseModel`. */
  loadModel?: (modelId: string, dataDir: string) => Promise<LoadedModel>
}

/** Minimum milliseconds between progress messages outside training (extraction). */
const PROGRESS_INTERVAL_MS = 100

/** Progress for a stage with no epochs or batches to count (loading, evaluating, exporting). */
export function stageOnly(phase: 1 | 2, stage: RunProgress['stage']): Omit<RunProgress, 'runId'> {
  return { phase, epoch: 0, epochs: 0, batch: 0, batches: 0, metrics: {}, etaSeconds: null, stage }
}

export class RunContext {
  readonly tf = getTf()
  readonly t0 = Date.now()
  /** The run's one seeded generator: shuffles and augmentations draw from it in a fixed order. */
  readonly rng: Rng
  private lastProgress = 0
  private lastStage: RunProgress['stage'] | null = null
  private readonly disposables: { dispose(): void }[] = []

  constructor(
    readonly job: JobStart,
    readonly io: TrainIo,
  ) {
    this.rng = makeRng(job.config.hyper.seed)
  }

  get config(): RunConfig {
    return this.job.config
  }

  elapsed(): number {
    return Date.now() - this.t0
  }

  /** Posts progress, at most every 100 ms unless `force`d (a stage's first and last report). */
  progress(p: Omit<RunProgress, 'runId'>, force = false): void {
    const now = Date.now()
    // A new stage is always posted (the screen says "Extracting features…" at once); counts are throttled.
    if (!force && p.stage === this.lastStage && now - this.lastProgress < PROGRESS_INTERVAL_MS) return
    this.lastProgress = now
    this.lastStage = p.stage
    this.io.post({ type: 'progress', progress: { runId: this.job.runId, ...p } })
  }

  /** Announces a stage that has nothing to count (always posted). */
  stage(phase: 1 | 2, stage: RunProgress['stage']): void {
    this.progress(stageOnly(phase, stage), true)
  }

  log(message: string): void {
    this.io.post({ type: 'log', message })
  }

  /** @throws AppError('cancelled') once the user asked to stop. */
  checkStop(): void {
    if (this.io.shouldStop()) throw cancelledError()
  }

  /** Disposes `x` when the run ends. */
  keep<T extends { dispose(): void }>(x: T): T {
    this.disposables.push(x)
    return x
  }

  /** `keep` for each tensor of a list. */
  keepAll<T extends { dispose(): void }>(xs: T[]): T[] {
    for (const x of xs) this.keep(x)
    return xs
  }

  /**
   * Frees a model's weights however many graphs its layers joined: TF.js counts one reference per symbolic
   * call, so `dispose()` on one container leaves layers shared with the phase-2 and export graphs alive.
   */
  keepWeights(model: LayersModel): void {
    for (const w of model.weights) this.disposables.push({ dispose: () => w.dispose() })
  }

  disposeAll(): void {
    for (const d of this.disposables.reverse()) {
      try {
        d.dispose()
      } catch {
        // Layers shared between containers may already be gone; nothing else to free.
      }
    }
    this.disposables.length = 0
  }
}
