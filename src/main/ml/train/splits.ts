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

/** The files whose activations a phase extracts, one list per split; no training list when augmenting. */
export interface ExtractionGroups {
  /** Null when augmenting: training images are run fresh each epoch. */
  train: string[] | null
  val: string[]
  test: string[]
}

/** The files of each split, in split order, for `extractFeatureGroups` (which fills one array per list). */
export function extractionGroups(splits: Splits, augment: boolean): ExtractionGroups {
  const files = (s: Split): string[] => s.examples.map((e) => e.file)
  return { train: augment ? null : files(splits.train), val: files(splits.val), test: files(splits.test) }
}

/** The groups as lists, train first when present, and how to name the FeatureSets they come back as. */
export function groupLists(groups: ExtractionGroups): string[][] {
  return groups.train ? [groups.train, groups.val, groups.test] : [groups.val, groups.test]
}

/** The FeatureSets `extractFeatureGroups(groupLists(groups))` returned, by split. */
export function setsBySplit(
  groups: ExtractionGroups,
  sets: FeatureSet[],
): { train: FeatureSet | null; val: FeatureSet; test: FeatureSet } {
  return groups.train
    ? { train: sets[0]!, val: sets[1]!, test: sets[2]! }
    : { train: null, val: sets[0]!, test: sets[1]! }
}
