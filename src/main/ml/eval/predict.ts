/** "Try your own image": run a finished run's exported model on one picture. */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { readSoundFile } from '../audio/decode'
import { picturesToInput, recordingPictures } from '../audio/source'
import { getTf } from '../backend'
import { ImageDecodeError, decodeImage, decodeImageBuffer } from '../data/decode'
import { pixelsToTensor } from '../data/pixels'
import { loadExport, resolveModelFolder, type ExportMetadata } from '../export/export'

/** Models kept loaded, most recently used last: trying images on two runs in turn loads neither again. */
export const PREDICT_MODELS_KEPT = 2

interface Loaded {
  mtimeMs: number
  model: LayersModel
  meta: ExportMetadata
}

const loaded = new Map<string, Loaded>()

/** How the model for a prediction was found: loaded from disk (and how long that took) or already in memory. */
export interface ModelSource {
  loaded: boolean
  seconds: number
}

async function loadCached(dir: string): Promise<Loaded & ModelSource> {
  const { mtimeMs } = await stat(join(dir, 'model.json')).catch(() => {
    throw new AppError('not_found', 'This run has no exported model (it did not finish).')
  })
  const hit = loaded.get(dir)
  loaded.delete(dir)
  if (hit && hit.mtimeMs === mtimeMs) {
    loaded.set(dir, hit)
    return { ...hit, loaded: false, seconds: 0 }
  }
  hit?.model.dispose()
  const t0 = performance.now()
  const entry: Loaded = { mtimeMs, ...(await loadExport(dir)) }
  loaded.set(dir, entry)
  for (const [key, old] of loaded) {
    if (loaded.size <= PREDICT_MODELS_KEPT) break
    old.model.dispose()
    loaded.delete(key)
  }
  return { ...entry, loaded: true, seconds: (performance.now() - t0) / 1000 }
}

/**
 * "Try your own sound": every clip of the recording through a sound model, the clips' probabilities averaged
 * (a long recording is judged as a whole).
 */
async function predictSound(
  model: LayersModel,
  meta: ExportMetadata,
  bytes: Uint8Array,
): Promise<{ label: string; confidence: number }[]> {
  const pictures = await recordingPictures(bytes, meta.audio!, meta.inputSize)
  const [h, w] = meta.inputSize
  const x = getTf().tensor4d(picturesToInput(pictures, meta.preprocessing), [pictures.length, h, w, 3])
  const y = model.predict(x) as Tensor
  const probs = y.mean(0)
  const mean = Array.from(probs.dataSync())
  x.dispose()
  y.dispose()
  probs.dispose()
  return meta.labels.map((label, i) => ({ label, confidence: mean[i] })).sort((a, b) => b.confidence - a.confidence)
}

/**
 * Classifies one image (a file path or its bytes) with `<runDir>/model/` (or a model folder given directly).
 * Returns every label with its confidence (0-1), most likely first. The last `PREDICT_MODELS_KEPT` models stay
 * loaded (a model whose files changed is loaded again), so in a long-lived worker a repeated try costs one
 * decode and one forward pass. `onModel` hears whether the model had to be loaded.
 */
export async function predictImage(
  runDir: string,
  input: string | Buffer,
  onModel?: (source: ModelSource) => void,
): Promise<{ label: string; confidence: number }[]> {
  const { model, meta, loaded: fresh, seconds } = await loadCached(resolveModelFolder(runDir))
  onModel?.({ loaded: fresh, seconds })
  if (meta.audio) return predictSound(model, meta, typeof input === 'string' ? await readSoundFile(input) : input)
  const [h, w] = meta.inputSize
  let pixels: Uint8Array
  try {
    pixels = typeof input === 'string' ? await decodeImage(input, h, w) : await decodeImageBuffer(input, h, w)
  } catch (err) {
    if (err instanceof ImageDecodeError) throw new AppError('bad_data', err.reason)
    throw err
  }
  const probs = getTf().tidy(() => {
    const x = pixelsToTensor([pixels], meta.inputSize, meta.preprocessing)
    return Array.from((model.predict(x) as Tensor).dataSync())
  })
  return meta.labels.map((label, i) => ({ label, confidence: probs[i] })).sort((a, b) => b.confidence - a.confidence)
}
