/**
 * What a sound clip's cached features depend on, as one content key: the file's bytes, which window of it, how
 * clips are cut and resampled, and how the spectrogram is drawn. Handed to `featureCacheKey` (data/cache-key.ts)
 * in place of an image's content hash, it makes the feature cache work for sound as it does for images: change
 * the recording, the window, a clip setting or a spectrogram setting and the key changes; rename or move the
 * file and it does not.
 */
import { createHash } from 'node:crypto'
import { type ClipSettings, DEFAULT_CLIP_SETTINGS } from './clips'
import { type SpectrogramSettings, spectrogramSettingsKey } from './spectrogram'

/** A stable text of the clip settings that change a clip's samples. */
export function clipSettingsKey(settings: Partial<ClipSettings> = {}): string {
  const s = { ...DEFAULT_CLIP_SETTINGS, ...settings }
  return `clip1;sr=${s.sampleRate};len=${s.clipSeconds}`
}

/**
 * Content key of one clip: sha256 over the file's content hash, the window's span (seconds), the clip settings
 * and the spectrogram settings. Hop, tail and per-file cap are left out on purpose: they decide which windows
 * exist, not what a window at a given span holds.
 */
export function audioClipKey(
  fileHash: string,
  window: { start: number; end: number },
  clip: Partial<ClipSettings> = {},
  spectrogram: Partial<SpectrogramSettings> = {},
): string {
  const rate = clip.sampleRate ?? DEFAULT_CLIP_SETTINGS.sampleRate
  return createHash('sha256')
    .update(
      `${fileHash}\n${window.start},${window.end}\n${clipSettingsKey(clip)}\n` +
        spectrogramSettingsKey({ ...spectrogram, sampleRate: rate }),
    )
    .digest('hex')
}
