/**
 * The one shape a metric has from the moment training produces it to where it is shown: a point
 * with a split (`train`, `val`, `test`) and a plain name (`loss`, `acc`, `lr`). The engine's
 * per-epoch values use Keras names (`val_loss`); they are turned into points once, here, in the
 * worker, and nothing downstream renames them again. Pure TypeScript.
 */
import type { MetricPoint } from './types'

/**
 * The numbers a phase trains, reported with every epoch by the engine (split `train`), so History and
 * Compare can show what a strategy cost.
 */
export const TRAINABLE_PARAMS_METRIC = 'trainable_params'

/** Points of one finished epoch from Keras-style values: `val_acc` becomes split `val`, name `acc`. */
export function epochPoints(phase: number, epoch: number, t: number, values: Record<string, number>): MetricPoint[] {
  const points: MetricPoint[] = []
  for (const [key, value] of Object.entries(values)) {
    const isVal = key.startsWith('val_')
    points.push({
      phase,
      epoch,
      step: null,
      split: isVal ? 'val' : 'train',
      name: isVal ? key.slice(4) : key,
      value,
      t,
    })
  }
  return points
}
