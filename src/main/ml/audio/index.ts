/**
 * Sound data for Tunewise (issue 16): decode recordings, cut them into clips, turn clips into log-mel
 * spectrogram pictures for the bundled image networks, augment them, and scan a folder of them. See README.md.
 */
export {
  AUDIO_EXTENSIONS,
  AudioDecodeError,
  type AudioFormat,
  type AudioProblemKind,
  DEFAULT_MAX_SECONDS,
  type DecodedAudio,
  type DecodeOptions,
  decodeAudio,
  decodeAudioFile,
  MAX_AUDIO_FILE_BYTES,
  readSoundFile,
  sniffAudio,
  SUPPORTED_AUDIO,
} from './decode'
export { audioClipKey, clipSettingsKey } from './cache-key'
export type { Levels } from './levels'
export { type ResampleOptions, resample, resampledLength } from './resample'
export {
  type ClipSettings,
  type ClipWindow,
  clipsFromBuffer,
  cutWindows,
  DEFAULT_CLIP_SETTINGS,
  type FileClips,
  parseWindowId,
  SILENT_PEAK,
  windowCount,
  windowId,
  windowIds,
  windowStarts,
} from './clips'
export {
  clipToImage,
  DEFAULT_SPECTROGRAM,
  FLOOR_DB,
  frameCount,
  hzToMel,
  type ImageSize,
  logMelSpectrogram,
  type MelFilterbank,
  melFilterbank,
  melToHz,
  normalizeSpectrogram,
  POWER_FLOOR,
  resolveSpectrogramSettings,
  type Spectrogram,
  type SpectrogramSettings,
  spectrogramSettingsKey,
  spectrogramToImage,
} from './spectrogram'
export {
  addNoise,
  applyGain,
  type AudioAugmentation,
  audioRng,
  augmentSpectrogram,
  augmentWaveform,
  DEFAULT_AUDIO_AUGMENTATION,
  isAudioAugmentationOn,
  type MaskOptions,
  maskFrequency,
  maskTime,
  NO_AUDIO_AUGMENTATION,
  type Rng,
  timeShift,
} from './augment'
export {
  type AudioClassReport,
  type AudioFileRef,
  type AudioDatasetScan,
  audioDatasetBlockers,
  type AudioScanOptions,
  type AudioScanReport,
  audioSplitInputs,
  isAudioName,
  scanAudioDataset,
  type ScannedAudioFile,
  spectrogramThumbnail,
  splitAudioDataset,
} from './scan'
