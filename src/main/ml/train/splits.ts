/** The job's examples as train/val/test with label indices, and the feature rows that belong to each. */
import type { JobStart } from '../../../shared/job-messages'
import { AppError } from '../../errors'
import type { FeatureSet } from './features'

export type Example = JobStart['examples'][number]

/** One split: its examples and, in the same order, their label indices into `job.labels`. */
export interface Split {
  examples: Example[]
  labels: number[]
}

export interface Splits {
  train: Split
  val: Split
  test: Split
}

/**
 * Groups the job's examples by split and maps labels to indices.
 * @throws AppError('invalid_input') for fewer than two classes, an empty training split or an unknown label.
 */
export function splitExamples(job: JobStart): Splits {
  if (job.labels.length < 2) throw new AppError('invalid_input', 'Training needs at least two classes.')
  const labelIndex = new Map(job.labels.map((l, i) => [l, i]))
  const splitOf = (name: Example['split']): Split => {
    const examples = job.examples.filter((e) => e.split === name)
    const labels = examples.map((e) => {
      const k = labelIndex.get(e.label)
      if (k === undefined)
        throw new AppError('invalid_input', `'${e.file}' has label '${e.label}', which is not one of the classes.`)
      return k
    })
    return { examples, labels }
  }
  const splits = { train: splitOf('train'), val: splitOf('val'), test: splitOf('test') }
  if (splits.train.examples.length === 0)
    throw new AppError('invalid_input', 'The training split is empty. Give training a larger share.')
  return splits
}

/** Keras' "balanced" weights: n / (classes × count of the class), so rare classes weigh more. */
export function classWeights(train: Split, numClasses: number): Record<number, number> {
  const counts = new Array<number>(numClasses).fill(0)
  for (const y of train.labels) counts[y]++
  const out: Record<number, number> = {}
  counts.forEach((c, k) => (out[k] = c > 0 ? train.labels.length / (numClasses * c) : 1))
  return out
}

/**
 * The files whose activations a phase extracts, in a fixed order: train (unless augmenting, when train images
 * are run fresh each epoch), then val, then test. `featuresBySplit` cuts the result back apart.
 */
export function extractionFiles(splits: Splits, augment: boolean): string[] {
  const evalFiles = [...splits.val.examples, ...splits.test.examples].map((e) => e.file)
  return augment ? evalFiles : [...splits.train.examples.map((e) => e.file), ...evalFiles]
}

/** The rows `idx` of a feature set, as a new set. */
function subset(set: FeatureSet, idx: number[]): FeatureSet {
  const sizes = set.shapes.map((s) => s.reduce((a, b) => a * b, 1))
  const data = set.data.map((d, k) => {
    const out = new Float32Array(idx.length * sizes[k])
    idx.forEach((i, j) => out.set(d.subarray(i * sizes[k], (i + 1) * sizes[k]), j * sizes[k]))
    return out
  })
  return { count: idx.length, shapes: set.shapes, data }
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i)

/** Cuts features extracted for `extractionFiles(splits, augment)` into train (null when augmenting), val, test. */
export function featuresBySplit(
  set: FeatureSet,
  splits: Splits,
  augment: boolean,
): { train: FeatureSet | null; val: FeatureSet; test: FeatureSet } {
  const off = augment ? 0 : splits.train.examples.length
  const nVal = splits.val.examples.length
  return {
    train: augment ? null : subset(set, range(0, off)),
    val: subset(set, range(off, nVal)),
    test: subset(set, range(off + nVal, splits.test.examples.length)),
  }
}
