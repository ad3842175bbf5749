/**
 * The wizard's rules as pure functions (no Svelte, no DOM), so they are unit-tested on their own:
 * linked split percentages, which layers a freeze preset trains, parameter counts, field
 * validation, which steps are reachable, and reading a saved draft back safely.
 */
import type {
  DatasetReport,
  FreezeConfig,
  LayerInfo,
  ModelCard,
  RunConfig,
  SplitSummary,
} from '../../../../shared/types'

export { baseBlocks, trainableLayerNames } from '../../../../shared/run-rules'

export type StepId = 'model' | 'data' | 'split' | 'freeze' | 'hyper' | 'train' | 'results' | 'history'

export const wizardSteps: { id: StepId; label: string }[] = [
  { id: 'model', label: 'Model' },
  { id: 'data', label: 'Data' },
  { id: 'split', label: 'Split' },
  { id: 'freeze', label: 'Freeze' },
  { id: 'hyper', label: 'Hyperparameters' },
  { id: 'train', label: 'Train' },
  { id: 'results', label: 'Results' },
]

export const allSteps: StepId[] = [...wizardSteps.map((s) => s.id), 'history']

// ---------------------------------------------------------------- split

export interface Percents {
  train: number
  val: number
  test: number
}

/**
 * Sets one share (whole percent, clamped to 0..100) and moves the others so the three add up to 100.
 * Changing train splits the remainder between val and test in their current proportion; changing
 * val or test takes the difference from the other of the two first, then from train.
 */
export function linkSplit(current: Percents, key: keyof Percents, value: number): Percents {
  const v = Math.round(Math.min(100, Math.max(0, Number.isFinite(value) ? value : 0)))
  if (key === 'train') {
    const rest = 100 - v
    const pair = current.val + current.test
    const val = pair > 0 ? Math.round((rest * current.val) / pair) : Math.round(rest / 2)
    return { train: v, val, test: rest - val }
  }
  const other: keyof Percents = key === 'val' ? 'test' : 'val'
  let otherValue = 100 - current.train - v
  let train = current.train
  if (otherValue < 0) {
    train = Math.max(0, train + otherValue)
    otherValue = 0
  }
  const out = { train, val: 0, test: 0 } as Percents
  out[key] = v
  out[other] = otherValue
  out.train = 100 - out.val - out.test
  return out
}

/** Fractions (0..1) as whole percents that add up to 100. */
export function toPercents(r: { train: number; val: number; test: number }): Percents {
  const train = Math.round(r.train * 100)
  const val = Math.round(r.val * 100)
  return { train, val, test: 100 - train - val }
}

// ---------------------------------------------------------------- freeze

/** "Freeze up to here": every base layer at or below `index` frozen, every one above trainable. */
export function freezeUpTo(layers: readonly LayerInfo[], index: number): FreezeConfig['trainableLayers'] {
  return layers.filter((l) => l.inBase && l.hasWeights && l.index > index).map((l) => l.name)
}

/** Parameters of the new head: dense layers featureDim -> units... -> classes, weights plus biases. */
export function headParameters(featureDim: number, units: readonly number[], classes: number): number {
  const dims = [featureDim, ...units, Math.max(classes, 0)]
  let total = 0
  for (let i = 1; i < dims.length; i++) total += dims[i - 1]! * dims[i]! + dims[i]!
  return total
}

/** Product of an output shape's known dimensions: [null, 7, 7, 1280] -> 62720. */
export function shapeSize(shape: readonly (number | null)[]): number {
  return shape.reduce<number>((acc, d) => (d === null ? acc : acc * d), 1)
}

export interface ParamCounts {
  trainable: number
  frozen: number
  head: number
}

/** Trainable vs frozen parameters of base + new head for the given trainable set. */
export function countParameters(layers: readonly LayerInfo[], trainable: Set<string>, head: number): ParamCounts {
  let t = 0
  let f = 0
  for (const l of layers) {
    if (!l.inBase) continue
    if (trainable.has(l.name)) t += l.params
    else f += l.params
  }
  return { trainable: t + head, frozen: f, head }
}

// ---------------------------------------------------------------- fields

/** The element id of a setting's field: `hyper.learningRate` -> `hyper-learning-rate`. */
export function fieldId(path: string): string {
  return path.replace(/\./g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

// ---------------------------------------------------------------- reachability

export interface WizardFacts {
  model: ModelCard | null
  report: DatasetReport | null
  split: SplitSummary | null
  /** Number of invalid fields on the Freeze and Hyperparameters screens. */
  invalidFields: number
  /** Train shows a run: an active one, or a finished one with the wizard's current settings. */
  hasRun: boolean
  hasResults: boolean
}

/**
 * For every step, why it cannot be opened yet (null = reachable). Each step needs the ones
 * before it; Train is also reachable while a run is active, Results once a run finished.
 */
export function stepBlockers(f: WizardFacts): Record<StepId, string | null> {
  const model = !f.model
    ? 'Choose a model first.'
    : !f.model.supported
      ? (f.model.unsupportedReason ?? 'This model type is not supported yet.')
      : !f.model.available
        ? 'Download the chosen model first.'
        : null
  const data =
    model ??
    (!f.report ? 'Choose a dataset first.' : f.report.blockers.length ? 'Fix the dataset problems first.' : null)
  const split = data ?? (!f.split ? 'Check the split first.' : null)
  const settings = split ?? (f.invalidFields > 0 ? 'Fix the highlighted settings first.' : null)
  return {
    model: null,
    data: model,
    split: data,
    freeze: split,
    hyper: split,
    train: f.hasRun ? null : settings,
    results: f.hasResults ? null : 'Finish a training run first.',
    history: null,
  }
}

/**
 * The step to go back to for why training cannot start (null when it can): the step before the
 * first blocked one, or Hyperparameters for invalid fields. Uses the same blockers as the rail.
 */
export function stepToFix(blockers: Record<StepId, string | null>, invalidFields: number): StepId | null {
  if (blockers.data) return 'model'
  if (blockers.split) return 'data'
  if (blockers.freeze) return 'split'
  return invalidFields > 0 ? 'hyper' : null
}

// ---------------------------------------------------------------- runs

/**
 * True when two configs train the same way: every setting equal, the run's name aside (main may
 * number it, and renaming a run changes nothing it learns). Key order does not matter.
 */
export function sameSettings(a: RunConfig, b: RunConfig): boolean {
  const { name: _a, ...restA } = a
  const { name: _b, ...restB } = b
  return deepEqual(restA, restB)
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x, i) => deepEqual(x, b[i]))
  }
  if (!isObj(a) || !isObj(b)) return false
  // A key that is absent and one that is undefined read the same (JSON drops both).
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const k of keys) if (!deepEqual(a[k], b[k])) return false
  return true
}

// ---------------------------------------------------------------- drafts

export interface Draft {
  version: 1
  step: StepId
  config: RunConfig
  nameEdited: boolean
  resultsRunId: number | null
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Reads a saved draft back, merged over `defaults` field by field so a draft from an older
 * version (missing fields) or a damaged one still yields a complete config. Wrong types are dropped.
 */
export function readDraft(raw: unknown, defaults: RunConfig): Draft | null {
  if (!isObj(raw) || raw.version !== 1 || !isObj(raw.config)) return null
  const config = mergeLike(defaults, raw.config) as RunConfig
  const step = allSteps.includes(raw.step as StepId) ? (raw.step as StepId) : 'model'
  const resultsRunId = typeof raw.resultsRunId === 'number' && raw.resultsRunId > 0 ? raw.resultsRunId : null
  return { version: 1, step, config, nameEdited: raw.nameEdited === true, resultsRunId }
}

/** Copies `src` over a structural copy of `shape`, keeping only values of the same kind as the shape's. */
export function mergeLike(shape: unknown, src: unknown): unknown {
  if (Array.isArray(shape)) {
    if (!Array.isArray(src)) return structuredClone(shape)
    const sample = shape[0]
    if (sample === undefined) return src.filter((x) => typeof x === 'number' || typeof x === 'string')
    return src.filter((x) => typeof x === typeof sample)
  }
  if (isObj(shape)) {
    const out: Record<string, unknown> = {}
    const s = isObj(src) ? src : {}
    for (const key of Object.keys(shape)) out[key] = mergeLike(shape[key], s[key])
    return out
  }
  if (typeof shape === 'number') return typeof src === 'number' && Number.isFinite(src) ? src : shape
  return typeof src === typeof shape ? src : shape
}
