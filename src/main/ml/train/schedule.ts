/** Learning-rate schedules as a small per-epoch callback that sets the optimizer's rate. */
import type { Optimizer } from '@tensorflow/tfjs'
import type { HyperParams } from '../../../shared/types'
import { setLearningRate } from './head'

export class LrSchedule {
  private lr: number
  private best = Infinity
  private wait = 0

  /**
   * @param schedule kind and its knobs: step multiplies by `gamma` every `stepEvery` epochs; cosine anneals
   *   from `lr0` to 0 over `epochs`; plateau multiplies by `gamma` after `patience` epochs without a better
   *   monitored loss.
   * @param lr0 starting learning rate. @param epochs epochs in this phase.
   */
  constructor(
    private readonly schedule: HyperParams['schedule'],
    private readonly lr0: number,
    private readonly epochs: number,
    private readonly optimizer: Optimizer,
  ) {
    this.lr = lr0
  }

  /** Sets and returns the rate for `epoch` (0-based). */
  onEpochBegin(epoch: number): number {
    const { kind, stepEvery, gamma } = this.schedule
    if (kind === 'step') this.lr = this.lr0 * gamma ** Math.floor(epoch / stepEvery)
    else if (kind === 'cosine') this.lr = 0.5 * this.lr0 * (1 + Math.cos((Math.PI * epoch) / Math.max(1, this.epochs)))
    else if (kind === 'constant') this.lr = this.lr0
    setLearningRate(this.optimizer, this.lr)
    return this.lr
  }

  /** Feeds the monitored loss (plateau only). */
  onEpochEnd(monitored: number): void {
    if (this.schedule.kind !== 'plateau') return
    if (monitored < this.best - 1e-6) {
      this.best = monitored
      this.wait = 0
    } else if (++this.wait >= this.schedule.patience) {
      this.lr *= this.schedule.gamma
      this.wait = 0
    }
  }
}
