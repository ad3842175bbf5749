/** Defaults that work: the wizard starts from these and the CLI uses them without --config. */
import type { HyperParams, RunConfig } from './types'

export const defaultHyper: HyperParams = {
  optimizer: 'adam',
  learningRate: 1e-3,
  momentum: 0.9,
  schedule: { kind: 'constant', stepEvery: 10, gamma: 0.5, patience: 3 },
  batchSize: 16,
  // Head epochs on cached features cost milliseconds; 50 with early stopping matches Teachable Machine.
  epochs: 50,
  earlyStopping: { enabled: true, patience: 8, restoreBest: true },
  classWeights: 'auto',
  seed: 42,
}

export function defaultRunConfig(modelId: string, datasetId: string, name = 'Run'): RunConfig {
  return {
    name,
    modelId,
    datasetId,
    split: { train: 0.7, val: 0.15, test: 0.15, seed: 42 },
    freeze: { preset: 'feature-extraction', topBlocks: 2, trainableLayers: [] },
    head: { units: [], dropout: 0.2, initializer: 'glorot', l1: 0, l2: 1e-4 },
    hyper: structuredClone(defaultHyper),
    phase2: { enabled: false, lrFactor: 0.1, epochs: 5 },
    augment: { enabled: false, flip: true, crop: true, rotate: false, brightness: true },
  }
}

/** Hyperparameter presets offered by the wizard. */
export const hyperPresets: Record<'quick' | 'balanced' | 'thorough', Partial<HyperParams>> = {
  quick: { epochs: 20, learningRate: 2e-3, batchSize: 32 },
  balanced: { epochs: 50, learningRate: 1e-3, batchSize: 16 },
  thorough: {
    epochs: 100,
    learningRate: 5e-4,
    batchSize: 16,
    schedule: { kind: 'cosine', stepEvery: 10, gamma: 0.5, patience: 3 },
  },
}
