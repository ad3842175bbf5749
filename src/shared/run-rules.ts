/**
 * Rules that combine settings, written once: which base layers train, whether phase 2 runs, what
 * the feature cache can serve, and the notes a user should read about a combination. The wizard,
 * the estimate, the CLI and the engine all call these. Pure TypeScript.
 */
import type { RunConfig } from './run-config'
import type { FreezeConfig, LayerInfo } from './types'

/** Block names of the base's layers with weights, bottom to top, in the order they first appear. */
export function baseBlocks(layers: readonly LayerInfo[]): string[] {
  const seen: string[] = []
  for (const l of layers) if (l.inBase && l.hasWeights && l.block && !seen.includes(l.block)) seen.push(l.block)
  return seen
}

/**
 * Names of the base layers (with weights) that train in phase 2.
 * - feature-extraction: none; full: every base layer with weights;
 * - top-blocks: the layers of the last `topBlocks` blocks (blocks counted among layers with weights);
 * - custom: the named ones that exist in the base.
 */
export function trainableLayerNames(freeze: FreezeConfig, layers: readonly LayerInfo[]): Set<string> {
  const base = layers.filter((l) => l.inBase && l.hasWeights)
  switch (freeze.preset) {
    case 'feature-extraction':
      return new Set()
    case 'full':
      return new Set(base.map((l) => l.name))
    case 'top-blocks': {
      const top = new Set(freeze.topBlocks > 0 ? baseBlocks(layers).slice(-freeze.topBlocks) : [])
      return new Set(base.filter((l) => top.has(l.block)).map((l) => l.name))
    }
    case 'custom': {
      const wanted = new Set(freeze.trainableLayers)
      return new Set(base.filter((l) => wanted.has(l.name)).map((l) => l.name))
    }
  }
}

/** True when the freeze choice can unfreeze any base layer at all (so phase 2 is meaningful). */
export function freezeUnfreezesLayers(freeze: FreezeConfig): boolean {
  switch (freeze.preset) {
    case 'feature-extraction':
      return false
    case 'top-blocks':
      return freeze.topBlocks > 0
    case 'full':
      return true
    case 'custom':
      return freeze.trainableLayers.length > 0
  }
}

/**
 * Whether phase 2 runs: it is switched on and the freeze choice unfreezes something. When the layer
 * list is known, at least one named layer must exist in the base.
 */
export function phase2Runs(config: Pick<RunConfig, 'phase2' | 'freeze'>, layers?: readonly LayerInfo[]): boolean {
  if (!config.phase2.enabled || !freezeUnfreezesLayers(config.freeze)) return false
  return layers ? trainableLayerNames(config.freeze, layers).size > 0 : true
}

/** With a frozen base and no augmentation the base's features are computed once and cached. */
export function featureCacheServes(config: Pick<RunConfig, 'augment'>): boolean {
  return !config.augment.enabled
}

/** Plain notes about combinations that do less than a user might think. Empty when all is as it reads. */
export function configNotes(config: Pick<RunConfig, 'phase2' | 'freeze' | 'augment'>): string[] {
  const notes: string[] = []
  const unfreezes = freezeUnfreezesLayers(config.freeze)
  if (config.phase2.enabled && !unfreezes)
    notes.push(
      config.freeze.preset === 'feature-extraction'
        ? 'Phase 2 is on, but “New head only” unfreezes no layer of the model: phase 2 will not run.'
        : 'Phase 2 is on, but the freeze choice unfreezes no layer: phase 2 will not run.',
    )
  if (!config.phase2.enabled && unfreezes)
    notes.push(
      'Layers are unfrozen, but phase 2 is off: only the new head trains. Turn phase 2 on to train the unfrozen layers.',
    )
  if (!featureCacheServes(config))
    notes.push('Augmentation is on: the base runs on every image in every epoch, so training is much slower.')
  return notes
}

/** One short line describing what trains, e.g. "Top 2 blocks + phase 2". */
export function describeStrategy(config: Pick<RunConfig, 'phase2' | 'freeze'>): string {
  const f = config.freeze
  const what =
    f.preset === 'feature-extraction'
      ? 'New head only'
      : f.preset === 'top-blocks'
        ? `Top ${f.topBlocks} block${f.topBlocks === 1 ? '' : 's'}`
        : f.preset === 'full'
          ? 'Everything'
          : `${f.trainableLayers.length} chosen layer${f.trainableLayers.length === 1 ? '' : 's'}`
  return phase2Runs(config) ? `${what} + phase 2` : f.preset === 'feature-extraction' ? what : `${what} (phase 2 off)`
}
