/**
 * Rules that combine settings, written once: which base layers train, which get adapters, whether phase 2
 * runs, which configs are refused and why, what the feature cache can serve, how many numbers a strategy
 * trains, and the notes a user should read about a combination. The schema, the wizard, the estimate, the
 * CLI and the engine all call these. Pure TypeScript.
 */
import type { RunConfig } from './run-config'
import type { FreezeConfig, LayerInfo } from './types'

/** What a strategy trains besides the head. */
export type StrategyKind = 'head' | 'unfreeze' | 'lora' | 'loreft'

/** The settings a strategy reads. `adapters` may be missing in configs stored before adapters existed. */
export type StrategyConfig = Pick<RunConfig, 'freeze' | 'phase2'> & { adapters?: RunConfig['adapters'] }

const defaultAdapters: RunConfig['adapters'] = {
  loraRank: 8,
  loraAlpha: 16,
  loraTargets: [],
  reftRank: 4,
  reftLayers: [],
}

function adaptersOf(config: StrategyConfig): RunConfig['adapters'] {
  return config.adapters ?? defaultAdapters
}

export function strategyKind(freeze: Pick<FreezeConfig, 'preset'>): StrategyKind {
  switch (freeze.preset) {
    case 'feature-extraction':
      return 'head'
    case 'lora':
      return 'lora'
    case 'loreft':
      return 'loreft'
    default:
      return 'unfreeze'
  }
}

/** Block names of the base's layers with weights, bottom to top, in the order they first appear. */
export function baseBlocks(layers: readonly LayerInfo[]): string[] {
  const seen: string[] = []
  for (const l of layers) if (l.inBase && l.hasWeights && l.block && !seen.includes(l.block)) seen.push(l.block)
  return seen
}

/** The last `count` blocks of the base (blocks counted among layers with weights). */
function topBlockSet(layers: readonly LayerInfo[], count: number): Set<string> {
  return new Set(count > 0 ? baseBlocks(layers).slice(-count) : [])
}

/**
 * Names of the base layers (with weights) that are unfrozen and train in phase 2.
 * - feature-extraction, lora, loreft: none (adapters train beside a frozen base);
 * - full: every base layer with weights;
 * - top-blocks: the layers of the last `topBlocks` blocks (blocks counted among layers with weights);
 * - custom: the named ones that exist in the base.
 */
export function trainableLayerNames(
  freeze: Pick<FreezeConfig, 'preset' | 'topBlocks' | 'trainableLayers'>,
  layers: readonly LayerInfo[],
): Set<string> {
  const base = layers.filter((l) => l.inBase && l.hasWeights)
  switch (freeze.preset) {
    case 'feature-extraction':
    case 'lora':
    case 'loreft':
      return new Set()
    case 'full':
      return new Set(base.map((l) => l.name))
    case 'top-blocks': {
      const top = topBlockSet(layers, freeze.topBlocks)
      return new Set(base.filter((l) => top.has(l.block)).map((l) => l.name))
    }
    case 'custom': {
      const wanted = new Set(freeze.trainableLayers)
      return new Set(base.filter((l) => wanted.has(l.name)).map((l) => l.name))
    }
  }
}

/** Layers LoRA can adapt: convolutions (1×1 as LoRA, k×k as LoCon) and dense layers of the base. */
export function isAdaptable(l: LayerInfo): boolean {
  return l.inBase && l.hasWeights && (l.type === 'Conv2D' || l.type === 'Dense')
}

/** The layers that get LoRA adapters, bottom to top: the chosen ones, or the adaptable layers of the top blocks. */
export function loraTargetNames(config: StrategyConfig, layers: readonly LayerInfo[]): string[] {
  const chosen = adaptersOf(config).loraTargets
  if (chosen.length > 0) {
    const wanted = new Set(chosen)
    return layers.filter((l) => isAdaptable(l) && wanted.has(l.name)).map((l) => l.name)
  }
  const top = topBlockSet(layers, config.freeze.topBlocks)
  return layers.filter((l) => isAdaptable(l) && top.has(l.block)).map((l) => l.name)
}

/**
 * The default LoReFT site: the output of the third block from the top (MobileNetV2: `block_14_add`), a
 * mid-to-high representation with a few blocks above it to use the nudge. Blocks are counted without the
 * stem and the top; a model with fewer blocks uses its first.
 */
export function defaultReftLayer(layers: readonly LayerInfo[]): string | null {
  const all = baseBlocks(layers)
  const inner = all.filter((b) => b !== 'stem' && b !== 'top')
  const blocks = inner.length ? inner : all
  const block = blocks[Math.max(0, blocks.length - 3)]
  const members = layers.filter((l) => l.inBase && l.block === block && l.type !== 'InputLayer')
  return members.length ? members[members.length - 1]!.name : null
}

/** The layers whose output LoReFT nudges, bottom to top: the chosen ones that exist in the base, or the default. */
export function reftLayerNames(config: StrategyConfig, layers: readonly LayerInfo[]): string[] {
  const chosen = adaptersOf(config).reftLayers
  if (chosen.length > 0) {
    const wanted = new Set(chosen)
    return layers.filter((l) => l.inBase && l.type !== 'InputLayer' && wanted.has(l.name)).map((l) => l.name)
  }
  const d = defaultReftLayer(layers)
  return d ? [d] : []
}

/** True when the strategy can train anything besides the head (so phase 2 is meaningful). */
export function strategyTrainsBase(config: StrategyConfig): boolean {
  const f = config.freeze
  switch (f.preset) {
    case 'feature-extraction':
      return false
    case 'top-blocks':
      return f.topBlocks > 0
    case 'full':
    case 'loreft':
      return true
    case 'custom':
      return f.trainableLayers.length > 0
    case 'lora':
      return adaptersOf(config).loraTargets.length > 0 || f.topBlocks > 0
  }
}

/**
 * Whether phase 2 runs: it is switched on and the strategy trains something besides the head. When the layer
 * list is known, at least one named layer must exist in the base.
 */
export function phase2Runs(config: StrategyConfig, layers?: readonly LayerInfo[]): boolean {
  if (!config.phase2.enabled || !strategyTrainsBase(config)) return false
  if (!layers) return true
  switch (strategyKind(config.freeze)) {
    case 'head':
      return false
    case 'unfreeze':
      return trainableLayerNames(config.freeze, layers).size > 0
    case 'lora':
      return loraTargetNames(config, layers).length > 0
    case 'loreft':
      return reftLayerNames(config, layers).length > 0
  }
}

/** The data-kind settings of a config; both may be missing in configs stored before sound existed (images). */
export type DataKindConfig = Partial<Pick<RunConfig, 'dataKind' | 'sound'>>

/**
 * With a frozen base and no augmentation the base's features are computed once and cached. Sound clips are
 * varied by the sound augmentation (the image one does not apply to spectrograms).
 */
export function featureCacheServes(config: Pick<RunConfig, 'augment'> & DataKindConfig): boolean {
  return config.dataKind === 'audio' ? !config.sound?.augment.enabled : !config.augment.enabled
}

/** A setting that cannot act with the others, and why: refused by the schema, shown by the wizard. */
export interface ConfigConflict {
  /** Dotted path of the setting to change. */
  path: string
  message: string
}

const strategyNames: Record<FreezeConfig['preset'], string> = {
  'feature-extraction': '“Train only a new head”',
  'top-blocks': '“Also adjust the top blocks”',
  lora: '“Adapters (LoRA)”',
  loreft: '“Representation tuning (LoReFT)”',
  full: '“Everything”',
  custom: '“Custom”',
}

/**
 * Settings that cannot act together. Each would otherwise do silently less than it reads: phase 2 with
 * nothing to train, a strategy whose layers or adapters would never train, a choice that selects nothing.
 * The schema refuses a config with any of these (so the CLI, import and `runs:start` do), and the wizard
 * shows them on the Freeze step.
 */
export function configConflicts(config: StrategyConfig & DataKindConfig): ConfigConflict[] {
  const out: ConfigConflict[] = []
  if (config.dataKind === 'audio' && config.sound && config.sound.fMin >= config.sound.fMax)
    out.push({
      path: 'sound.fMin',
      message: `The lowest pitch (${config.sound.fMin} Hz) must be below the highest (${config.sound.fMax} Hz). Lower sound.fMin or raise sound.fMax.`,
    })
  const f = config.freeze
  const kind = strategyKind(f)
  const name = strategyNames[f.preset]
  if (kind === 'head' && config.phase2.enabled)
    out.push({
      path: 'phase2.enabled',
      message: `Phase 2 is on, but ${name} leaves nothing else to train. Turn phase 2 off, or choose a strategy that trains more (freeze.preset).`,
    })
  if (kind !== 'head' && !config.phase2.enabled)
    out.push({
      path: 'phase2.enabled',
      message: `${name} trains in phase 2, but phase 2 is off, so only the head would train. Turn phase 2 on (phase2.enabled), or choose “Train only a new head”.`,
    })
  if (f.preset === 'top-blocks' && f.topBlocks === 0)
    out.push({
      path: 'freeze.topBlocks',
      message: `${name} with 0 blocks unfreezes nothing. Choose at least 1 block, or “Train only a new head”.`,
    })
  if (f.preset === 'custom' && f.trainableLayers.length === 0)
    out.push({
      path: 'freeze.trainableLayers',
      message: `${name} with no layer chosen trains nothing but the head. Tick layers in the layer list (freeze.trainableLayers), or choose “Train only a new head”.`,
    })
  if (f.preset === 'lora' && adaptersOf(config).loraTargets.length === 0 && f.topBlocks === 0)
    out.push({
      path: 'freeze.topBlocks',
      message: `${name} with no chosen layers and 0 top blocks adapts nothing. Choose layers (adapters.loraTargets) or at least 1 block.`,
    })
  return out
}

/** Plain notes about combinations that do less, or cost more, than a user might think. Empty when all is as it reads. */
export function configNotes(config: StrategyConfig & Pick<RunConfig, 'augment'> & DataKindConfig): string[] {
  const notes: string[] = []
  if (config.freeze.batchNormStatistics) {
    notes.push(
      strategyKind(config.freeze) === 'unfreeze'
        ? 'BatchNorm learns from each batch: at small batch sizes its statistics jump around, which often makes fine-tuning worse than the head alone (the best weights are kept either way).'
        : '“BatchNorm learns from each batch” has no effect here: this strategy unfreezes no BatchNorm layer.',
    )
  }
  if (!featureCacheServes(config))
    notes.push(
      config.dataKind === 'audio'
        ? 'Augmentation is on: the base runs on every clip in every epoch, so training is much slower.'
        : 'Augmentation is on: the base runs on every image in every epoch, so training is much slower.',
    )
  return notes
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** One short line describing what trains, e.g. "Top 2 blocks + phase 2" or "LoRA r=8, α=16 on 3 layers". */
export function describeStrategy(config: StrategyConfig, layers?: readonly LayerInfo[]): string {
  const f = config.freeze
  const a = adaptersOf(config)
  const p2 = phase2Runs(config)
  switch (f.preset) {
    case 'feature-extraction':
      return 'New head only'
    case 'lora': {
      const n = layers ? loraTargetNames(config, layers).length : a.loraTargets.length
      const where = n > 0 ? `on ${plural(n, 'layer')}` : `on the top ${plural(f.topBlocks, 'block')}`
      return `LoRA r=${a.loraRank}, α=${a.loraAlpha} ${where}${p2 ? '' : ' (phase 2 off)'}`
    }
    case 'loreft': {
      const sites = layers ? reftLayerNames(config, layers) : a.reftLayers
      const where = sites.length ? `at ${sites.join(', ')}` : 'three blocks from the top'
      return `LoReFT r=${a.reftRank} ${where}${p2 ? '' : ' (phase 2 off)'}`
    }
    default: {
      const what =
        f.preset === 'top-blocks'
          ? `Top ${plural(f.topBlocks, 'block')}`
          : f.preset === 'full'
            ? 'Everything'
            : plural(f.trainableLayers.length, 'chosen layer')
      return p2 ? `${what} + phase 2` : `${what} (phase 2 off)`
    }
  }
}

/** Numbers one LoRA adapter trains on `layer`: r·(k·k·cin) for A plus r·cout for B (LoCon for k×k convolutions). */
export function loraParameters(layer: LayerInfo, rank: number): number {
  const kernel = layer.weightShapes?.[0]
  if (kernel && kernel.length >= 2) {
    const out = kernel[kernel.length - 1]!
    const fanIn = kernel.slice(0, -1).reduce((x, y) => x * y, 1)
    return rank * (fanIn + out)
  }
  // A layer list cached before weight shapes were recorded: the kernel is about params / cout per output.
  const out = layer.outputShape[layer.outputShape.length - 1] ?? 1
  return rank * (Math.round(layer.params / Math.max(1, out)) + out)
}

/** Numbers one LoReFT intervention trains on `layer`'s output of d channels: R and W (r×d each) and b (r). */
export function reftParameters(layer: LayerInfo, rank: number): number {
  const d = layer.outputShape[layer.outputShape.length - 1] ?? 0
  return 2 * rank * d + rank
}

export interface StrategyCounts {
  /** Numbers that train: unfrozen base weights, adapters and the head. */
  trainable: number
  /** Base numbers that stay as they are (BatchNorm moving statistics included). */
  frozen: number
  head: number
  adapters: number
}

/**
 * What a strategy trains, counted the way the engine does (its trainable weights): an unfrozen BatchNorm
 * layer trains its scale and shift, never its moving statistics, so half of its numbers count as frozen.
 */
export function strategyParameters(config: StrategyConfig, layers: readonly LayerInfo[], head: number): StrategyCounts {
  const trainable = trainableLayerNames(config.freeze, layers)
  const a = adaptersOf(config)
  let t = 0
  let f = 0
  for (const l of layers) {
    if (!l.inBase) continue
    if (!trainable.has(l.name)) f += l.params
    else if (l.type === 'BatchNormalization') {
      t += l.params / 2
      f += l.params / 2
    } else t += l.params
  }
  let adapters = 0
  const byName = new Map(layers.map((l) => [l.name, l]))
  const kind = strategyKind(config.freeze)
  if (kind === 'lora')
    for (const n of loraTargetNames(config, layers)) adapters += loraParameters(byName.get(n)!, a.loraRank)
  if (kind === 'loreft')
    for (const n of reftLayerNames(config, layers)) adapters += reftParameters(byName.get(n)!, a.reftRank)
  return { trainable: t + adapters + head, frozen: f, head, adapters }
}

/**
 * The share of the base above the freeze boundary (on the gradient tape in phase 2), 0 when phase 2 does not
 * run: everything below the first trained layer, adapted layer or nudged layer's output is cached once.
 */
export function phase2TapeShare(config: StrategyConfig, layers: readonly LayerInfo[]): number {
  if (!phase2Runs(config, layers)) return 0
  const base = layers.filter((l) => l.inBase)
  const index = new Map(base.map((l, i) => [l.name, i]))
  let first = Infinity
  const kind = strategyKind(config.freeze)
  if (kind === 'unfreeze')
    for (const n of trainableLayerNames(config.freeze, layers)) first = Math.min(first, index.get(n)!)
  if (kind === 'lora') for (const n of loraTargetNames(config, layers)) first = Math.min(first, index.get(n)!)
  if (kind === 'loreft') for (const n of reftLayerNames(config, layers)) first = Math.min(first, index.get(n)! + 1)
  return base.length && Number.isFinite(first) ? Math.max(0, base.length - first) / base.length : 0
}
