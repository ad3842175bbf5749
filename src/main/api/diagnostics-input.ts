/**
 * What the two diagnostics (the learning-rate finder and the mislabel search) are given: the run's settings with
 * the dataset's kind, and the examples as training would see them. For a sound dataset the examples are clips
 * (`file#t=a,b`) cut with the run's clip settings, so the diagnostics extract (or read from the feature cache)
 * exactly the vectors a run of these settings does.
 */
import type { DiagnosticsInput } from '../../shared/tasks'
import type { RunConfig } from '../../shared/types'
import type { DatasetStore } from './dataset-store'

/**
 * The input of a diagnostics task for `given`.
 * @param examples 'train': the run's training split (the learning-rate finder); 'all': every usable example
 *   (the mislabel search: a wrong label anywhere misleads training or the score).
 * @throws AppError('bad_data') as `prepareJob` does (blockers, one class, an empty training split, spectrogram
 *   settings the filterbank cannot draw).
 */
export function diagnosticsInput(
  datasets: Pick<DatasetStore, 'withDataKind' | 'prepareJob'>,
  given: RunConfig,
  dataDir: string,
  examples: 'train' | 'all',
): DiagnosticsInput {
  // The kind comes from the dataset, not the caller: a config built without it (the CLI, an older draft) still
  // extracts clips for a sound folder, with the same cache keys as its training run.
  const config = datasets.withDataKind(given)
  const job = datasets.prepareJob(config)
  const chosen = examples === 'train' ? job.examples.filter((e) => e.split === 'train') : job.examples
  return {
    config,
    dataDir,
    datasetPath: job.datasetPath,
    examples: chosen.map(({ file, label }) => ({ file, label })),
    labels: job.labels,
  }
}
