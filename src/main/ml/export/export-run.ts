/**
 * Exporting a run for use elsewhere, in the export worker: the model in the chosen format, its model card
 * (README.md + confusion-matrix.png), optionally one .zip. Nothing is written in the target until every file
 * exists and the model has been loaded back and checked: all files go to a hidden folder beside the target and
 * are then renamed into place, so a failure (a full disk, a model that does not load) leaves the target as it
 * was. A non-empty target is only written with `overwrite` (the UI asks, the CLI needs --force), and then only
 * the files of the export are replaced: anything else in the folder stays.
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import sharp from 'sharp'
import * as tfjs from '@tensorflow/tfjs'
import type { Evaluation, ExportFormat, RunCard } from '../../../shared/types'
import { AppError } from '../../errors'
import { decodeForTraining } from '../data/pixels'
import { readModelFolder } from '../models/load'
import { readMetadata, resolveModelFolder, saveModelFolder, verifyExport, type ExportMetadata } from './export'
import { CONFUSION_IMAGE, buildRunCard, type ExportCheck, type RunCardInput } from './model-card'
import { predictTeachable, teachableMetadata, teachableModel } from './teachable-machine'
import { zipFolder } from './zip'

/** What main knows about the run for its card; the worker adds what only loading the model can tell. */
export type CardFacts = Omit<
  RunCardInput,
  'check' | 'format' | 'grayscale' | 'parameters' | 'inputSize' | 'preprocessingDescription' | 'tfjsVersion' | 'audio'
>

export interface ExportModelOptions {
  format: ExportFormat
  zip: boolean
  /** The user confirmed replacing files in a non-empty target. */
  overwrite: boolean
  /** For the re-check: the run's dataset folder and its evaluation (predictions per test image). */
  datasetPath: string
  evaluation: Evaluation | null
  card: CardFacts
  /** "Tunewise 0.1.0". */
  exportedBy: string
}

export interface ExportModelResult {
  /** The folder, or the .zip file. */
  dir: string
  files: string[]
  /** Files of an earlier export that were replaced (only with `overwrite`). */
  replaced: string[]
  maxDifference: number
  agreement: number
  format: ExportFormat
  zip: boolean
  card: RunCard
}

/** Parameters in a layers model.json, and those its layers mark trainable (BatchNorm statistics excluded). */
export function countParameters(json: {
  modelTopology?: unknown
  weightsManifest?: { weights: { name: string; shape: number[] }[] }[]
}): { total: number; trainable: number } {
  const trainable = new Map<string, boolean>()
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return
    const n = node as { config?: { name?: unknown; trainable?: unknown; layers?: unknown } }
    if (n.config && typeof n.config.name === 'string' && typeof n.config.trainable === 'boolean')
      trainable.set(n.config.name, n.config.trainable)
    if (Array.isArray(n.config?.layers)) for (const l of n.config.layers) walk(l)
  }
  // TF.js writes the model itself as the topology; the Keras converter wraps it in `model_config`.
  const topology = json.modelTopology as { model_config?: unknown } | undefined
  walk(topology?.model_config ?? topology)
  let total = 0
  let train = 0
  for (const group of json.weightsManifest ?? [])
    for (const w of group.weights) {
      const size = w.shape.reduce((a, b) => a * b, 1)
      total += size
      const layer = w.name.split('/').slice(-2, -1)[0] ?? w.name
      if (trainable.get(layer) && !/moving_(mean|variance)$/.test(w.name)) train += size
    }
  return { total, trainable: train }
}

/** How many of the images are grey (R = G = B everywhere, within rounding), looked at small. */
async function countGrayscale(root: string, files: string[]): Promise<{ gray: number; total: number }> {
  let gray = 0
  let total = 0
  for (const f of files) {
    try {
      const px = await decodeForTraining(root, f, [16, 16])
      total++
      let grey = true
      for (let i = 0; i < px.length && grey; i += 3)
        grey = Math.abs(px[i] - px[i + 1]) <= 2 && Math.abs(px[i] - px[i + 2]) <= 2
      if (grey) gray++
    } catch {
      // An image that no longer reads is reported by the check itself.
    }
  }
  return { gray, total }
}

/** Moves every file of `from` into `to` (which exists), replacing same-named files one rename at a time. */
async function mergeInto(from: string, to: string): Promise<string[]> {
  const present = new Set(await readdir(to))
  const replaced: string[] = []
  for (const name of (await readdir(from)).sort()) {
    if (present.has(name)) replaced.push(name)
    await rename(join(from, name), join(to, name))
  }
  return replaced
}

async function isEmptyDir(path: string): Promise<boolean> {
  return (await stat(path)).isDirectory() && (await readdir(path)).length === 0
}

/**
 * Exports the run whose model is in `runModelDir` to `target` (a folder, or with `zip` a .zip file path).
 * @throws AppError('conflict') when `target` holds files and `overwrite` is false: nothing is written.
 */
export async function exportModel(
  runModelDir: string,
  target: string,
  options: ExportModelOptions,
): Promise<ExportModelResult> {
  const src = resolveModelFolder(runModelDir)
  if (!existsSync(join(src, 'model.json')))
    throw new AppError('not_found', 'This run has no exported model (it did not finish). Train it again to export.')
  if (existsSync(target) && !options.overwrite) {
    const s = await stat(target)
    if (!s.isDirectory() || (await readdir(target)).length > 0)
      throw new AppError(
        'conflict',
        `'${target}' already holds ${s.isDirectory() ? 'files' : 'a file'}. Nothing was written: confirm replacing them, or choose another place.`,
      )
  }
  const parent = dirname(target)
  await mkdir(parent, { recursive: true })
  // Beside the target, so the final renames stay on one file system and are atomic.
  const stage = await mkdtemp(join(parent, `.${basename(target)}.tunewise-export-`))
  try {
    const content = join(stage, 'content')
    const meta = await readMetadata(src)
    const { json } = await readModelFolder(src)
    const parameters = countParameters(json as Parameters<typeof countParameters>[0])
    const expected = options.evaluation?.predictions ?? []

    let check: ExportCheck
    if (options.format === 'teachable-machine' && meta.audio)
      throw new AppError(
        'invalid_input',
        'Teachable Machine’s image format cannot carry a sound model (its spectrogram settings would be lost). Export it in the TF.js format.',
      )
    if (options.format === 'teachable-machine') {
      const { model } = await loadFolder(src)
      let tm: tfjs.LayersModel
      try {
        tm = teachableModel(model, meta)
      } catch (err) {
        model.dispose()
        throw new AppError('invalid_input', err instanceof Error ? err.message : String(err))
      }
      try {
        await saveModelFolder(tm, content, {
          'metadata.json': JSON.stringify(teachableMetadata(meta, options.exportedBy), null, 2),
        })
      } finally {
        // Disposing the wrapper disposes the model nested in it.
        tm.dispose()
      }
      check = await checkTeachable(content, options.datasetPath, options.evaluation)
    } else {
      await mkdir(content)
      for (const name of await readdir(src)) await copyFile(join(src, name), join(content, name))
      // Say how to feed the model: the run wrote the scaling; the resize policy is added here.
      const withResize: ExportMetadata & { resize: string } = {
        ...meta,
        resize: `squash the whole image to ${meta.inputSize[1]}×${meta.inputSize[0]} (width × height; aspect ratio not kept, no crop)`,
      }
      await writeFile(join(content, 'metadata.json'), JSON.stringify(withResize, null, 2))
      const verified = options.evaluation
        ? await verifyExport(content, options.datasetPath, options.evaluation)
        : { maxDifference: 0, agreement: 1, count: 0 }
      check = { ...verified, checkedAt: new Date().toISOString() }
    }

    const card = buildRunCard({
      ...options.card,
      format: options.format,
      check,
      parameters,
      // Spectrograms are grey by nature: counting grey test pictures says something only for images.
      grayscale: meta.audio
        ? null
        : await countGrayscale(
            options.datasetPath,
            expected.map((p) => p.file),
          ),
      audio: meta.audio ?? null,
      inputSize: meta.inputSize,
      preprocessingDescription: meta.preprocessingDescription,
      tfjsVersion: meta.tfjsVersion,
    })
    await writeFile(join(content, 'README.md'), card.markdown)
    if (card.confusionSvg)
      await writeFile(join(content, CONFUSION_IMAGE), await sharp(Buffer.from(card.confusionSvg)).png().toBuffer())

    let files: string[]
    let replaced: string[] = []
    if (options.zip) {
      const zipFile = join(stage, 'export.zip')
      await zipFolder(content, zipFile)
      files = (await readdir(content)).sort()
      if (existsSync(target) && (await stat(target)).isDirectory()) {
        if (!(await isEmptyDir(target)))
          throw new AppError('conflict', `'${target}' is a folder. Choose a file name ending in .zip.`)
        await rmdir(target)
      } else if (existsSync(target)) replaced = [basename(target)]
      await rename(zipFile, target)
    } else {
      files = (await readdir(content)).sort()
      if (existsSync(target) && !(await isEmptyDir(target))) replaced = await mergeInto(content, target)
      else {
        if (existsSync(target)) await rmdir(target)
        await rename(content, target)
      }
    }
    return {
      dir: target,
      files,
      replaced,
      maxDifference: check.maxDifference,
      agreement: check.agreement,
      format: options.format,
      zip: options.zip,
      card,
    }
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}

async function loadFolder(dir: string): Promise<{ model: tfjs.LayersModel }> {
  const { artifacts } = await readModelFolder(dir)
  return { model: await tfjs.loadLayersModel({ load: async () => artifacts }) }
}

/**
 * Loads the TM-flavoured folder back and checks it two ways against the run's own answers: fed Tunewise's
 * pixels in TM's scaling (the graph must agree), and fed the way TM's library crops (reported as is).
 */
async function checkTeachable(dir: string, root: string, evaluation: Evaluation | null): Promise<ExportCheck> {
  const checkedAt = new Date().toISOString()
  if (!evaluation || evaluation.predictions.length === 0) return { agreement: 1, maxDifference: 0, count: 0, checkedAt }
  const tmMeta = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as {
    labels: string[]
    imageSize: number
  }
  const { model } = await loadFolder(dir)
  try {
    const rows = evaluation.predictions
    const files = rows.map((r) => r.file)
    const c = tmMeta.labels.length
    const compare = (probs: Float32Array) => {
      let agree = 0
      let maxDifference = 0
      rows.forEach((r, i) => {
        const p = probs.subarray(i * c, (i + 1) * c)
        const top = p.indexOf(Math.max(...p))
        const k = tmMeta.labels.indexOf(r.predicted)
        maxDifference = Math.max(maxDifference, k < 0 ? 1 : Math.abs(p[k] - r.confidence))
        if (tmMeta.labels[top] === r.predicted) agree++
      })
      return { agreement: agree / rows.length, maxDifference }
    }
    const graph = compare(await predictTeachable(model, root, files, tmMeta.imageSize, 'tunewise'))
    const cropped = compare(await predictTeachable(model, root, files, tmMeta.imageSize, 'teachable'))
    return { ...graph, count: rows.length, checkedAt, teachableAgreement: cropped.agreement }
  } finally {
    model.dispose()
  }
}
