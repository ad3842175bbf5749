/**
 * Export: base + head as one LayersModel (image → probabilities), saved as model.json + weights.bin with a
 * Teachable-Machine-style metadata.json. Preprocessing is written in the metadata, not baked into the graph,
 * as Teachable Machine does. Saving uses a custom handler because file:// needs tfjs-node.
 */
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import * as tfjs from '@tensorflow/tfjs'
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs'
import type { Evaluation } from '../../../shared/types'
import { AppError } from '../../errors'
import { type AudioInputSpec, clipImage, picturesToInput } from '../audio/source'
import { getTf, inferenceBatch } from '../backend'
import { decodeForTraining, pixelsToTensor } from '../data/pixels'
import { modelDirInRun } from '../layout'
import type { Preprocess } from '../models/catalogue'
import { readModelFolder } from '../models/load'

export interface ExportMetadata {
  tfjsVersion: string
  packageName: 'tunewise'
  packageVersion: string
  modelName: string
  /** ISO 8601. */
  timeStamp: string
  labels: string[]
  /** Square input side in pixels (Teachable Machine's field); `inputSize` has [height, width]. */
  imageSize: number
  inputSize: [number, number]
  preprocessing: Preprocess
  preprocessingDescription: string
  sourceModel: { id: string; name: string; license: string }
  runId: number
  /**
   * Sound models only: how a recording becomes the model's input (clips of `clip.clipSeconds` at
   * `clip.sampleRate`, each drawn as a log-mel spectrogram with `spectrogram`, grey RGB, low pitch at the bottom).
   */
  audio?: AudioInputSpec & { description: string }
}

type Layer = LayersModel['layers'][number]

/** Applies layers one after another (single-input chain). */
export function applyChain(layers: Layer[], x: SymbolicTensor): SymbolicTensor {
  let t = x
  for (const l of layers) if (l.getClassName() !== 'InputLayer') t = l.apply(t) as SymbolicTensor
  return t
}

/** One flat model: the base's image input → the head's probabilities. Shares weights with both. */
export function composeFullModel(base: LayersModel, head: LayersModel, name = 'tunewise_model'): LayersModel {
  const tf = getTf()
  const out = applyChain(head.layers, base.outputs[0])
  return tf.model({ inputs: base.inputs, outputs: out, name })
}

/** Saves a model as `dir/model.json` + `dir/weights.bin` (written to a temp folder, then renamed into place). */
export async function saveModelFolder(
  model: LayersModel,
  dir: string,
  extraFiles: Record<string, string> = {},
): Promise<void> {
  const tf = getTf()
  const tmp = `${dir}.tmp-${process.pid}`
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true })
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0))
      const json = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      }
      await writeFile(join(tmp, 'model.json'), JSON.stringify(json))
      await writeFile(join(tmp, 'weights.bin'), Buffer.from(weightData))
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weightData.byteLength,
        },
      }
    }),
  )
  for (const [name, text] of Object.entries(extraFiles)) await writeFile(join(tmp, name), text)
  await rm(dir, { recursive: true, force: true })
  await rename(tmp, dir)
}

/** Writes the composed model and its metadata.json into `dir`. */
export async function writeExport(
  base: LayersModel,
  head: LayersModel,
  dir: string,
  meta: ExportMetadata,
): Promise<void> {
  const full = composeFullModel(base, head)
  await saveModelFolder(full, dir, { 'metadata.json': JSON.stringify(meta, null, 2) })
}

/** Reads an export's metadata.json. */
export async function readMetadata(dir: string): Promise<ExportMetadata> {
  const file = join(dir, 'metadata.json')
  if (!existsSync(file)) throw new AppError('not_found', `There is no metadata.json in '${dir}'.`)
  return JSON.parse(await readFile(file, 'utf8')) as ExportMetadata
}

/** A run folder (`<runDir>/model/`) or the model folder itself → the folder holding model.json. */
export function resolveModelFolder(dir: string): string {
  return existsSync(join(dir, 'model.json')) ? dir : modelDirInRun(dir)
}

/**
 * Copies a run's model files (`<runDir>/model/`, or that model folder itself) to `outDir`: first into a hidden
 * folder beside it, then renamed into place, so a failed copy leaves `outDir` as it was. Files of the same name
 * are replaced, others in `outDir` stay. The app's export (model card, formats, check) is `exportModel` in
 * ./export-run.ts; this is the bare copy.
 * @returns the file names copied.
 */
export async function exportRun(runDir: string, outDir: string): Promise<string[]> {
  const src = resolveModelFolder(runDir)
  if (!existsSync(join(src, 'model.json'))) {
    throw new AppError('not_found', 'This run has no exported model (it did not finish). Train it again to export.')
  }
  await mkdir(dirname(outDir), { recursive: true })
  const stage = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.tunewise-copy-`))
  try {
    const content = join(stage, 'content')
    await cp(src, content, { recursive: true })
    const names = (await readdir(content)).sort()
    if (!existsSync(outDir)) await rename(content, outDir)
    else for (const name of names) await rename(join(content, name), join(outDir, name))
    return names
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}

/** Loads an exported folder with plain @tensorflow/tfjs (no tfjs-node, no file://). */
export async function loadExport(dir: string): Promise<{ model: LayersModel; meta: ExportMetadata }> {
  const { artifacts } = await readModelFolder(dir)
  const model = await tfjs.loadLayersModel({ load: async () => artifacts })
  return { model, meta: await readMetadata(dir) }
}

async function imageBatch(meta: ExportMetadata, root: string, files: string[]): Promise<Tensor> {
  const pixels = await Promise.all(files.map((f) => decodeForTraining(root, f, meta.inputSize)))
  return pixelsToTensor(pixels, meta.inputSize, meta.preprocessing)
}

/** Sound clips (`rec.wav#t=0,1`) drawn as the export's metadata says. */
async function clipBatch(meta: ExportMetadata, root: string, files: string[]): Promise<Tensor> {
  const pictures: Float32Array[] = []
  for (const f of files) pictures.push(await clipImage(root, f, meta.audio!, meta.inputSize))
  const [h, w] = meta.inputSize
  return getTf().tensor4d(picturesToInput(pictures, meta.preprocessing), [files.length, h, w, 3])
}

/**
 * Predicts probabilities for image files (or, for a sound model, clips) with a loaded export; row-major
 * [files.length, labels].
 */
export async function predictFiles(
  model: LayersModel,
  meta: ExportMetadata,
  root: string,
  files: string[],
  batchSize = inferenceBatch(),
): Promise<Float32Array> {
  const c = meta.labels.length
  const out = new Float32Array(files.length * c)
  for (let s = 0; s < files.length; s += batchSize) {
    const chunk = files.slice(s, s + batchSize)
    const x = meta.audio ? await clipBatch(meta, root, chunk) : await imageBatch(meta, root, chunk)
    const y = model.predict(x) as Tensor
    out.set(y.dataSync() as Float32Array, s * c)
    tfjs.dispose([x, y])
  }
  return out
}

/** One example's expected probabilities (as the run computed them), for `verifyExport`. */
export interface ExpectedRow {
  file: string
  probabilities: number[]
}

/**
 * Loads an export back with plain @tensorflow/tfjs, re-predicts the examples (files relative to `root`) and
 * compares with what the run computed. With probability rows (predictions.json) `maxDifference` covers every
 * class; with an Evaluation it covers the confidence of the run's predicted class. `agreement` is the share
 * of equal top-1 labels.
 */
export async function verifyExport(
  dir: string,
  root: string,
  expected: ExpectedRow[] | Evaluation,
): Promise<{ maxDifference: number; agreement: number; count: number }> {
  const { model, meta } = await loadExport(resolveModelFolder(dir))
  try {
    const rows = Array.isArray(expected) ? expected : expected.predictions
    const probs = await predictFiles(
      model,
      meta,
      root,
      rows.map((e) => e.file),
    )
    const c = meta.labels.length
    let maxDifference = 0
    let agree = 0
    rows.forEach((e, i) => {
      const p = probs.subarray(i * c, (i + 1) * c)
      const top = p.indexOf(Math.max(...p))
      if ('probabilities' in e) {
        for (let k = 0; k < c; k++) maxDifference = Math.max(maxDifference, Math.abs(p[k] - e.probabilities[k]))
        if (top === e.probabilities.indexOf(Math.max(...e.probabilities))) agree++
      } else {
        const k = meta.labels.indexOf(e.predicted)
        maxDifference = Math.max(maxDifference, k < 0 ? 1 : Math.abs(p[k] - e.confidence))
        if (meta.labels[top] === e.predicted) agree++
      }
    })
    return { maxDifference, agreement: rows.length ? agree / rows.length : 1, count: rows.length }
  } finally {
    model.dispose()
  }
}
