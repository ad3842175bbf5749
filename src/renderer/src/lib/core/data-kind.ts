/**
 * What the wizard decides from the kind of data (pictures or sound recordings): whether the Data step offers the
 * other kind, which model cards suit sound, and how a chosen file is checked and sent for "try your own sound".
 * Pure: no DOM, no Svelte.
 */
import type { DataKind, DatasetReport, ModelCard } from '../../../../shared/types'

/** The kind a folder could be read as instead. */
export function otherKind(kind: DataKind): DataKind {
  return kind === 'audio' ? 'image' : 'audio'
}

/**
 * Whether the Data step offers to read the folder as the other kind: only when the folder has files of that kind.
 * Reports saved before the counts existed do not say, so they keep the offer.
 */
export function offersOtherKind(report: Pick<DatasetReport, 'kind' | 'kindCounts'>): boolean {
  if (!report.kindCounts) return true
  return report.kindCounts[otherKind(report.kind === 'audio' ? 'audio' : 'image')] > 0
}

/**
 * How well a model card suits sound, from its fields: 'yes' for image classifiers Tunewise knows (bundled or from
 * the catalogue, their input scaling known), 'untested' for imported ones or any whose input scaling is unknown
 * (they take the spectrogram pictures, but how well they learn from them nobody measured), 'no' for the rest.
 */
export function soundFit(card: Pick<ModelCard, 'supported' | 'task' | 'source' | 'card'>): 'yes' | 'untested' | 'no' {
  if (!card.supported || card.task !== 'image-classification') return 'no'
  if (card.source.kind === 'imported' || card.card.unknown?.includes('preprocessing')) return 'untested'
  return 'yes'
}

/** Sound files the engine reads, by extension, with the media type a data URL of each gets. */
const SOUND_TYPES: Record<string, string> = {
  wav: 'audio/wav',
  wave: 'audio/wav',
  flac: 'audio/flac',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
}

/** What the file input offers for a sound run. */
export const SOUND_ACCEPT = 'audio/*,.wav,.flac,.mp3,.ogg'

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : ''
}

/**
 * Whether a chosen file may be a recording: a sound extension, or a type the browser calls audio (the engine reads
 * the content and names what it cannot take, e.g. M4A).
 */
export function isSoundFile(file: { name: string; type: string }): boolean {
  return extensionOf(file.name) in SOUND_TYPES || file.type.startsWith('audio/')
}

/**
 * A recording's data URL as the app takes it (`data:audio/...;base64,`). Browsers label some sound files
 * `application/octet-stream`, `video/ogg` or nothing; then the type comes from the extension. Null when neither the
 * type nor the extension says sound.
 */
export function soundDataUrl(dataUrl: string, name: string): string | null {
  const comma = dataUrl.indexOf(',')
  if (!dataUrl.startsWith('data:') || comma < 0) return null
  const [type = '', ...params] = dataUrl.slice(5, comma).split(';')
  if (!params.includes('base64')) return null
  const audio = /^audio\/[a-z0-9.+-]+$/i.test(type) ? type : SOUND_TYPES[extensionOf(name)]
  if (!audio) return null
  return params.length === 1 && audio === type ? dataUrl : `data:${audio};base64,${dataUrl.slice(comma + 1)}`
}

/**
 * Largest file the page sends for a prediction: `runs:predict` takes data URLs up to 30 million characters, which
 * base64 makes of about 22 MB.
 */
export const PREDICT_MAX_BYTES = 22_000_000
