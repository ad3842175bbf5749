/**
 * How long a run will take, in parts that add up to the total. One definition: the wizard's estimate, the
 * CLI and the bench that checks it against measured runs (`npm run bench:estimate`) all call `estimateRun`.
 *
 * The model of a run follows what the engine does (src/main/ml/train): the base reads every image once
 * (sharded over worker processes on WASM and the plain-JS backend), the head trains on the cached features,
 * and phase 2 caches the activations below its first trained layer and backpropagates through the part
 * above. The constants below are measured, not guessed: the bench prints the ratio of measured to estimated
 * time for the three presets × the strategies on the sample data, and the README shows that table.
 */
import { featureCacheServes, phase2Runs } from './run-rules'
import type { RunConfig } from './types'

/** Measured facts of this machine and model the estimate scales. */
export interface EstimateFacts {
  /** Usable images in the dataset (excluded ones left out). */
  images: number
  /** One forward pass of the whole base, per image, in one process (the timing probe). */
  secondsPerImage: number
  /** Processes the first extraction shards over (1 on native TensorFlow, which threads on its own). */
  extractionWorkers: number
  /** One head epoch, per training example (the head's input size is the base's feature size). */
  headSecondsPerExample: number
  /** Share of the base's layers phase 2 keeps on the gradient tape (`phase2TapeShare`); 0 without phase 2. */
  tapeShare: number
  /** Share of the images whose base features are already in the feature cache (0 on a first run). */
  cachedShare?: number
}

export type EstimatePartKey = 'start' | 'extract' | 'head' | 'phase2-extract' | 'phase2' | 'finish'

export interface EstimatePart {
  key: EstimatePartKey
  /** Plain words for the wizard: "Reading the images once". */
  label: string
  seconds: number
}

export interface RunEstimate {
  parts: EstimatePart[]
  /** The sum of `parts`' seconds, exactly. */
  totalSeconds: number
  /** Seconds of one phase-1 epoch (shown as "about N s an epoch"). */
  secondsPerEpoch: number
  /** Seconds the base spends reading images before training starts (0 when the cache has them all). */
  extractionSeconds: number
}

/**
 * Forking the worker, starting TF.js and loading the model. Measured by `npm run bench:sound` (stage times of
 * MobileNetV2 runs on WASM, under load average 5): loading 0.5–0.7 s, plus ~1.3 s the stages do not cover.
 */
export const START_SECONDS = 2
/** Decoding and resizing a photo costs about a fifth of a forward pass. */
export const DECODE_FACTOR = 1.2
/** A forked extraction worker's start-up (loading TF.js and the model). */
export const WORKER_START_SECONDS = 3
/** Fewest images a worker shard is worth its start-up for (the engine's `minImagesPerWorker`). */
export const MIN_IMAGES_PER_WORKER = 64
/**
 * What sharding gains per extra process: two processes on two cores measured ~1.6× one (the main process
 * also decodes and writes the cache).
 */
export const EXTRA_WORKER_GAIN = 0.6
/**
 * A training step through the part of the base on the tape, in forward passes of that part (each of them
 * `PHASE2_PASS_FACTOR` probe passes). Measured on the sample data (WASM, batch 8): ×3 with the top two blocks on the tape (8 % of the layers), ×10 with the
 * whole base, whose lowest layers hold the largest activations and the slowest depthwise gradients. Between
 * the two the cost grows with the square of the share.
 */
export function backwardFactor(tapeShare: number): number {
  return 3 + 7 * tapeShare * tapeShare
}
/**
 * Phase 2's cost per image in probe passes (the probe times inference batches). Measured with
 * `npm run bench:estimate -- --quick` on the sample data (WASM, top blocks, a quiet machine): phase 2 took 38 s
 * where the probe's speed alone gives 17.2 s. Phase 2 runs training batches through \`model.fit\` with the tape,
 * and copies the frozen part's activations into its cache; the probe's batch pays none of that.
 */
export const PHASE2_PASS_FACTOR = 2.2
/** Evaluating the test split (its features are cached), the mislabel margins and saving the model: 0.2–0.4 s measured. */
export const FINISH_SECONDS = 1

/** Images in each split, as the split step would make them (rounded like the splitter does). */
export function splitCounts(
  config: Pick<RunConfig, 'split'>,
  images: number,
): { train: number; val: number; test: number } {
  const { train, val, test } = config.split
  const sum = train + val + test || 1
  const nVal = Math.round((images * val) / sum)
  const nTest = Math.round((images * test) / sum)
  return { train: Math.max(0, images - nVal - nTest), val: nVal, test: nTest }
}

/**
 * Processes the first extraction shards over: WASM and the plain-JS backend are single-threaded under Node, so
 * one per core up to 4; native TensorFlow threads on its own; inside the packaged app (RunAsNode fuse off) a
 * worker cannot fork plain Node shards, so it extracts in one process. The engine and the estimate share it.
 */
export function extractionWorkerCount(backend: string | undefined, cores: number, insideElectron: boolean): number {
  if (backend !== 'wasm' && backend !== 'cpu') return 1
  if (insideElectron) return 1
  return Math.max(1, Math.min(4, cores))
}

/** The speed-up of sharding `images` over up to `workers` processes (the engine's rule). */
export function extractionSpeedup(images: number, workers: number): { speedup: number; shards: number } {
  const shards = Math.max(1, Math.min(workers, Math.floor(images / MIN_IMAGES_PER_WORKER)))
  return { speedup: 1 + (shards - 1) * EXTRA_WORKER_GAIN, shards }
}

/**
 * The run's time in parts: start, reading the images once, training the head, phase 2's activation cache and
 * its epochs, and the finish. Early stopping can only make the run shorter than this.
 */
export function estimateRun(config: RunConfig, facts: EstimateFacts): RunEstimate {
  const n = splitCounts(config, facts.images)
  const perImage = facts.secondsPerImage
  const cached = featureCacheServes(config)
  const parts: EstimatePart[] = [{ key: 'start', label: 'Starting and loading the model', seconds: START_SECONDS }]

  // With augmentation the training images are read every epoch, so only validation and test are cached.
  const extracted = (cached ? n.train : 0) + n.val + n.test
  const toRead = Math.round(extracted * (1 - Math.min(1, Math.max(0, facts.cachedShare ?? 0))))
  const { speedup, shards } = extractionSpeedup(toRead, facts.extractionWorkers)
  const extractionSeconds =
    toRead > 0 ? (toRead * perImage * DECODE_FACTOR) / speedup + (shards > 1 ? WORKER_START_SECONDS : 0) : 0
  if (extractionSeconds > 0)
    parts.push({ key: 'extract', label: 'Reading the images once (base features)', seconds: extractionSeconds })

  const headEpoch = (n.train + n.val) * facts.headSecondsPerExample
  const augmentedEpoch = cached ? 0 : n.train * perImage * DECODE_FACTOR
  const secondsPerEpoch = headEpoch + augmentedEpoch
  parts.push({
    key: 'head',
    label: `Training the new head (${config.hyper.epochs} epochs)`,
    seconds: secondsPerEpoch * config.hyper.epochs,
  })

  if (phase2Runs(config) && facts.tapeShare > 0) {
    const share = Math.min(1, facts.tapeShare)
    // The activations below the first trained layer are computed once for every image.
    const below = facts.images * perImage * PHASE2_PASS_FACTOR * (1 - share) * DECODE_FACTOR
    if (below > 0)
      parts.push({ key: 'phase2-extract', label: 'Caching the layers phase 2 keeps frozen', seconds: below })
    const pass = perImage * PHASE2_PASS_FACTOR * share
    const epoch = n.train * pass * backwardFactor(share) + n.val * pass
    parts.push({
      key: 'phase2',
      label: `Phase 2: training the unfrozen part (${config.phase2.epochs} epochs)`,
      seconds: epoch * config.phase2.epochs + n.test * pass,
    })
  }
  parts.push({ key: 'finish', label: 'Testing and saving', seconds: FINISH_SECONDS })
  const totalSeconds = parts.reduce((s, p) => s + p.seconds, 0)
  return { parts, totalSeconds, secondsPerEpoch, extractionSeconds }
}
