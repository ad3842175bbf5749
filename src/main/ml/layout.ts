/**
 * The data directory's layout: every path Tunewise keeps under `<dataDir>` is built here and nowhere else, so
 * moving a folder is a one-line change. Pure `node:path` (no fs, no TF.js): main, the job process, the CLI
 * and tests can import it cheaply.
 *
 * ```
 * <dataDir>/
 *   tunewise.db                   the database (main writes it; jobs never open it)
 *   runs/<runId>/model/           a run's exported model (model.json, weights.bin, metadata.json)
 *   runs/<runId>/predictions.json the probabilities the run computed for val and test
 *   models/<modelId>/             downloaded and imported base models
 *   datasets/<id>/files.json      a dataset's scanned file list
 *   sample-data/<name>/           generated sample datasets
 *   cache/features/               per-image feature vectors (see data/cache-key.ts)
 *   cache/layers/<modelId>.json   a model's layer list
 *   cache/timings.json            measured seconds per image, per model and backend
 * ```
 */
import { join } from 'node:path'
import { safeJoin } from '../safe-path'

/**
 * An id that names a folder or file must be one plain name: a model id like `../../x` from a
 * request is refused here, once, for every caller.
 */
function oneName(root: string, name: string, what: string): string {
  return safeJoin(root, [name], {
    namedBy: `The ${what} id`,
    folder: 'the Tunewise data folder',
    code: 'invalid_input',
  })
}

/** `<dataDir>/tunewise.db`. */
export function databaseFile(dataDir: string): string {
  return join(dataDir, 'tunewise.db')
}

/** `<dataDir>/runs`. */
export function runsDir(dataDir: string): string {
  return join(dataDir, 'runs')
}

/** `<dataDir>/runs/<runId>`: everything one run writes. */
export function runDir(dataDir: string, runId: number): string {
  return join(runsDir(dataDir), String(runId))
}

/** `<runDir>/model`, for a run folder already in hand (`runDir(dataDir, runId)`). */
export function modelDirInRun(runDirPath: string): string {
  return join(runDirPath, 'model')
}

/** `<dataDir>/runs/<runId>/model`: the run's exported model folder. */
export function runModelDir(dataDir: string, runId: number): string {
  return modelDirInRun(runDir(dataDir, runId))
}

/** `<dataDir>/runs/<runId>/adapter`: a LoRA / LoReFT run's adapter (adapter.json + adapter.bin), apart from the merged model. */
export function runAdapterDir(dataDir: string, runId: number): string {
  return join(runDir(dataDir, runId), 'adapter')
}

/** `<dataDir>/runs/<runId>/predictions.json`: see `RunPredictions`. */
export function runPredictionsFile(dataDir: string, runId: number): string {
  return join(runDir(dataDir, runId), 'predictions.json')
}

/** `<dataDir>/models`. */
export function modelsDir(dataDir: string): string {
  return join(dataDir, 'models')
}

/** `<dataDir>/models/<modelId>`: a downloaded or imported model. */
export function modelDir(dataDir: string, modelId: string): string {
  return oneName(modelsDir(dataDir), modelId, 'model')
}

/** `<dataDir>/datasets/<datasetId>`. */
export function datasetDir(dataDir: string, datasetId: string): string {
  return oneName(join(dataDir, 'datasets'), datasetId, 'dataset')
}

/** `<dataDir>/datasets/<datasetId>/files.json`: the scanned file list. */
export function datasetFilesFile(dataDir: string, datasetId: string): string {
  return join(datasetDir(dataDir, datasetId), 'files.json')
}

/** `<dataDir>/sample-data/<name>`: a generated sample dataset. */
export function sampleDataDir(dataDir: string, name: string): string {
  return join(dataDir, 'sample-data', name)
}

/** `<dataDir>/cache`: anything here can be deleted; it is rebuilt on demand. */
export function cacheDir(dataDir: string): string {
  return join(dataDir, 'cache')
}

/**
 * `<cache>/features`: per-image feature vectors. Takes the cache folder itself (`cacheDir(dataDir)` in the app)
 * because tests and the CLI may point a run at another cache.
 */
export function featureCacheDir(cache: string): string {
  return join(cache, 'features')
}

/** `<dataDir>/cache/layers`. */
export function layersCacheDir(dataDir: string): string {
  return join(cacheDir(dataDir), 'layers')
}

/** `<dataDir>/cache/layers/<modelId>.json`: a model's layer list, so the wizard does not load the model again. */
export function layersCacheFile(dataDir: string, modelId: string): string {
  return oneName(layersCacheDir(dataDir), `${modelId}.json`, 'model')
}

/** `<dataDir>/cache/timings.json`: seconds per image, keyed `<modelId>@<backend>`. */
export function timingsFile(dataDir: string): string {
  return join(cacheDir(dataDir), 'timings.json')
}
