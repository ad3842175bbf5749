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

let cached: { dir: string; mtimeMs: number; model: LayersModel; meta: ExportMetadata } | null = null

async function loadCached(dir: string): Promise<{ model: LayersModel; meta: ExportMetadata }> {
  const { mtimeMs } = await stat(join(dir, 'model.json')).catch(() => {
    throw new AppError('not_found', 'This run has no exported model (it did not finish).')
  })
  if (cached && cached.dir === dir && cached.mtimeMs === mtimeMs) return cached
  const loaded = await loadExport(dir)
  cached?.model.dispose()
  cached = { dir, mtimeMs, ...loaded }
  return loaded
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
 * Classifies one image (a file path or its bytes) with `<runDir>/model/` (or a model folder given directly). Returns every label with its
 * confidence (0-1), most likely first. The last loaded model is kept in memory for repeated tries.
 */
export async function predictImage(
  runDir: string,
  input: string | Buffer,
): Promise<{ label: string; confidence: number }[]> {
  const { model, meta } = await loadCached(resolveModelFolder(runDir))
  if (meta.audio) return predictSound(model, meta, typeof input === 'string' ? await readSoundFile(input) : input)
  const [h, w] = meta.inputSize
  let pixels: Uint8Array
  try {
    pixels = typeof input === 'string' ? await decodeImage(input, h, w) : await decodeImageBuffer(input, h, w)
  } catch (err) {
    if (err instanceof ImageDecodeError) throw new AppError('bad_data', err.reason)
    throw err
  }
  const x = pixelsToTensor([pixels], meta.inputSize, meta.preprocessing)
  const y = model.predict(x) as Tensor
  const probs = Array.from(y.dataSync())
  x.dispose()
  y.dispose()
  return meta.labels.map((label, i) => ({ label, confidence: probs[i] })).sort((a, b) => b.confidence - a.confidence)
}
