/** The engine's public API. Pure Node (no electron): used by the job process, the CLI, the app and tests. */
export { currentBackend, getTf, inferenceBatch, initBackend, type BackendChoice, type Tf } from './backend'
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
export { applyFreeze, patchBatchNorm } from './models/freeze'
export { trainableLayerNames } from '../../shared/run-rules'
/** `runDirOf(dataDir, runId)`: `<dataDir>/runs/<runId>`; every other path is in ./layout. */
export { runDir as runDirOf } from './layout'
export { buildHead, compileHead, makeOptimizer, setLearningRate } from './train/head'
export { extractFeatures, featureStats, type FeatureOptions, type FeatureSet } from './train/features'
export { LrSchedule } from './train/schedule'
export { splitAtBoundary } from './train/boundary'
export { runInProcess, trainRun, type TrainIo } from './train/run-job'
export { type RunPredictions } from './train/finish'
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
