/** The engine's public API. Pure Node (no electron): used by the job process, the CLI, the app and tests. */
export { currentBackend, getTf, initBackend, type BackendChoice, type Tf } from './backend'
export { catalogue, findEntry, preprocessDescriptions, type CatalogueEntry, type Preprocess } from './models/catalogue'
export {
  assignBlocks,
  guessFeatureLayer,
  listLayers,
  listModels,
  loadBaseModel,
  loadModelFolder,
  modelDir,
  prepareLoaded,
  resolveModel,
  type LoadedModel,
} from './models/load'
export { importModel } from './models/import'
export { downloadModel, type DownloadOptions, type DownloadRecord } from './models/download'
export { buildHead, compileHead, makeOptimizer, setLearningRate } from './train/head'
export { applyFreeze, patchBatchNorm, resolveTrainable } from './train/freeze'
export { extractFeatures, featureStats, type FeatureOptions, type FeatureSet } from './train/features'
export { LrSchedule } from './train/schedule'
export { runDirOf, runInProcess, splitAtBoundary, trainRun, type RunPredictions, type TrainIo } from './train/train'
export { evaluatePredictions, lossAndAccuracy } from './eval/evaluate'
export { predictImage } from './eval/predict'
export {
  composeFullModel,
  exportRun,
  loadExport,
  readMetadata,
  saveModelFolder,
  verifyExport,
  type ExportMetadata,
  type ExpectedRow,
} from './export/export'
