/**
 * The run config's sound settings (the `sound.*` fields of src/shared/run-config.ts) as the engine's own types:
 * how clips are cut, how the spectrogram is drawn, how clips are varied in training. Configs stored before sound
 * existed have no `sound` block: they get the table's defaults.
 */
import { defaultRunConfig, type RunConfig } from '../../../shared/run-config'
import { type AudioAugmentation, NO_AUDIO_AUGMENTATION } from './augment'
import { type ClipSettings, DEFAULT_CLIP_SETTINGS } from './clips'
import type { SpectrogramSettings } from './spectrogram'

type SoundConfig = RunConfig['sound']

/** The rate every clip is resampled to, Hz. Fixed: `sound.fMax`'s limit (8000) is half of it. */
export const CLIP_RATE = DEFAULT_CLIP_SETTINGS.sampleRate

const defaults = (): SoundConfig => defaultRunConfig('', '').sound

/** The sound block of a config, or the defaults for one stored before sound existed. */
export function soundOf(config: Partial<Pick<RunConfig, 'sound'>>): SoundConfig {
  return config.sound ?? defaults()
}

/** How recordings are cut into clips: `sound.clipSeconds`, the next clip `1 − sound.clipOverlap` of a clip later. */
export function clipSettingsOf(config: Partial<Pick<RunConfig, 'sound'>>): ClipSettings {
  const s = soundOf(config)
  const hop = Math.round(s.clipSeconds * (1 - s.clipOverlap) * CLIP_RATE) / CLIP_RATE
  return { sampleRate: CLIP_RATE, clipSeconds: s.clipSeconds, hopSeconds: hop }
}

/** How a clip becomes a log-mel spectrogram. */
export function spectrogramSettingsOf(config: Partial<Pick<RunConfig, 'sound'>>): SpectrogramSettings {
  const s = soundOf(config)
  return {
    sampleRate: CLIP_RATE,
    windowMs: s.windowMs,
    hopMs: s.hopMs,
    melBands: s.melBands,
    fMin: s.fMin,
    fMax: Math.min(s.fMax, CLIP_RATE / 2),
    topDb: s.topDb,
  }
}

/** The training-time variation of clips; all off unless `sound.augment.enabled`. */
export function audioAugmentationOf(config: Partial<Pick<RunConfig, 'sound'>>): AudioAugmentation {
  const a = soundOf(config).augment
  if (!a.enabled) return { ...NO_AUDIO_AUGMENTATION }
  return {
    timeShift: a.timeShift,
    noiseSnrDb: a.noiseProbability > 0 ? [a.noiseSnrDb, a.noiseSnrDb + 20] : null,
    noiseProbability: a.noiseProbability,
    gainDb: a.gainDb,
    timeMasks: a.timeMasks,
    timeMaskWidth: a.timeMaskWidth,
    frequencyMasks: a.frequencyMasks,
    frequencyMaskWidth: a.frequencyMaskWidth,
  }
}
