/**
 * Loading base models: the bundled nsfwjs UMD files, imported or downloaded TF.js layers models on disk.
 * Every loaded model is cut at its feature layer and starts fully frozen (trainable flags set explicitly).
 */
import { modelDir as layoutModelDir, modelsDir } from '../layout'
import { existsSync, statSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import vm from 'node:vm'
import type { LayersModel, SymbolicTensor, io } from '@tensorflow/tfjs'
import type { LayerInfo, ModelCard } from '../../../shared/types'
import { AppError } from '../../errors'
import { safePath, type PathUse } from '../../safe-path'
import { getTf } from '../backend'
import { applyFreeze } from './freeze'
import {
  UNKNOWN_LICENSE_WARNING,
  catalogue,
  findEntry,
  licenseFromName,
  type CatalogueEntry,
  type Preprocess,
} from './catalogue'

export interface LoadedModel {
  card: ModelCard
  /** The full original model, old head included. */
  model: LayersModel
  /** Input image → feature vector [batch, F]; shares layer instances (and weights) with `model`. */
  base: LayersModel
  /** [height, width] in pixels. */
  inputSize: [number, number]
  preprocess: Preprocess
  /** Length of the feature vector (F). */
  featureDim: number
}

/** Stored next to imported models: what the catalogue knows about built-in ones. */
export interface StoredCard {
  card: ModelCard
  preprocess: Preprocess
}

export const STORED_CARD_FILE = 'tunewise-card.json'
export const GAP_LAYER_NAME = 'tunewise_features_gap'

const nodeRequire = createRequire(import.meta.url)
const bundledCache = new Map<string, io.ModelArtifacts>()

/** Folder holding a downloaded or imported model. */
export function modelDir(dataDir: string, modelId: string): string {
  return layoutModelDir(dataDir, modelId)
}

/** Runs one of nsfwjs' UMD model files in an empty context and returns what it exports (JSON-cloned). */
function evaluateUmd(source: string, filename: string): unknown {
  const mod: { exports: unknown } = { exports: {} }
  // No require, process or globals: the file only builds a literal. The clone brings arrays into this realm
  // (tfjs-layers' iteration helpers reject arrays made in another vm context).
  vm.runInNewContext(source, { module: mod, exports: mod.exports }, { filename, timeout: 10_000 })
  return JSON.parse(JSON.stringify(mod.exports)) as unknown
}

function nsfwjsModelsDir(): string {
  // The exports map blocks 'nsfwjs/dist/models/...'; the main entry is dist/cjs/index.js.
  return join(dirname(nodeRequire.resolve('nsfwjs')), '..', 'models')
}

async function bundledArtifacts(folder: string): Promise<io.ModelArtifacts> {
  const cached = bundledCache.get(folder)
  if (cached) return cached
  const dir = join(nsfwjsModelsDir(), folder)
  const modelFile = join(dir, 'model.min.js')
  const exported = evaluateUmd(await readFile(modelFile, 'utf8'), modelFile) as {
    modelTopology?: object
    weightsManifest?: io.WeightsManifestConfig
  }
  if (!exported.modelTopology || !exported.weightsManifest) {
    throw new AppError('internal', `The bundled model '${folder}' is damaged: no topology or weights manifest.`)
  }
  const shards: Buffer[] = []
  for (const group of exported.weightsManifest) {
    for (const p of group.paths) {
      const file = safePath(dir, `${p}.min.js`, { namedBy: `The bundled model '${folder}'`, folder: 'its folder' })
      const base64 = evaluateUmd(await readFile(file, 'utf8'), file)
      if (typeof base64 !== 'string') throw new AppError('internal', `The bundled weights file '${p}' is damaged.`)
      shards.push(Buffer.from(base64, 'base64'))
    }
  }
  const all = Buffer.concat(shards)
  const artifacts: io.ModelArtifacts = {
    modelTopology: exported.modelTopology,
    // The specs carry the uint8 quantisation; loadLayersModel dequantises while decoding them.
    weightSpecs: exported.weightsManifest.flatMap((g) => g.weights),
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
    format: 'layers-model',
  }
  bundledCache.set(folder, artifacts)
  return artifacts
}

function badData(message: string): AppError {
  return new AppError('bad_data', message)
}

/** What reading a model folder is for: it decides the message when model.json names a path outside it. */
export type ModelFolderPurpose = 'import' | 'load'

function manifestUse(purpose: ModelFolderPurpose): PathUse {
  return {
    namedBy: "The model's weight manifest (model.json)",
    folder: 'its folder',
    outcome: purpose === 'import' ? 'Tunewise did not import it.' : 'Tunewise did not load it.',
    code: 'bad_data',
  }
}

/**
 * The weight files a model.json names, checked: `paths` must be strings, and each goes through `safePath`
 * against `dir`, so a manifest naming `../x`, an absolute path or a link out of the folder is refused before
 * anything is read or written.
 * @returns manifest name → real path under `dir`, in manifest order.
 * @throws AppError('bad_data') with a plain message.
 */
export function manifestFiles(
  json: io.ModelJSON,
  dir: string,
  purpose: ModelFolderPurpose = 'load',
): { name: string; file: string }[] {
  const manifest: unknown = json.weightsManifest ?? []
  const malformed = () =>
    badData(
      'The weight manifest in model.json is malformed (each group needs a list of file names). Export the model again.',
    )
  if (!Array.isArray(manifest)) throw malformed()
  const files: { name: string; file: string }[] = []
  for (const group of manifest as { paths?: unknown }[]) {
    if (!group || !Array.isArray(group.paths)) throw malformed()
    for (const name of group.paths as unknown[]) {
      if (typeof name !== 'string') throw malformed()
      files.push({ name, file: safePath(dir, name, manifestUse(purpose)) })
    }
  }
  return files
}

/**
 * Reads a TF.js layers model folder (model.json + weight shards) into memory, with plain-language errors for
 * graph models, missing shards, broken JSON and manifest paths that leave the folder. `purpose` only words the
 * message ("did not import it" / "did not load it"). Reads nothing outside `dir`.
 */
export async function readModelFolder(
  dir: string,
  purpose: ModelFolderPurpose = 'load',
): Promise<{ json: io.ModelJSON; artifacts: io.ModelArtifacts }> {
  const jsonFile = safePath(dir, 'model.json', { ...manifestUse(purpose), namedBy: 'The model folder' })
  if (!existsSync(jsonFile)) throw badData(`There is no model.json in '${dir}'. Pick the folder that holds model.json.`)
  let json: io.ModelJSON
  try {
    json = JSON.parse(await readFile(jsonFile, 'utf8')) as io.ModelJSON
  } catch (err) {
    throw badData(
      `model.json is not valid JSON (${err instanceof Error ? err.message : String(err)}). Export the model again.`,
    )
  }
  const topology = json?.modelTopology as { node?: unknown; model_config?: unknown; class_name?: unknown } | undefined
  if (json?.format === 'graph-model' || (topology && Array.isArray(topology.node))) {
    throw badData(
      'This is a TF.js graph model; Tunewise needs a layers model (model.json with "modelTopology" and format "layers-model").',
    )
  }
  if (!topology || typeof topology !== 'object') {
    throw badData('model.json has no "modelTopology"; Tunewise needs a TF.js layers model.')
  }
  const manifest = json.weightsManifest ?? []
  const buffers: Buffer[] = []
  for (const { name, file } of manifestFiles(json, dir, purpose)) {
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
      throw badData(`model.json lists weights file '${name}' but it is not in the folder.`)
    }
    buffers.push(await readFile(file))
  }
  const all = Buffer.concat(buffers)
  const artifacts: io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: manifest.flatMap((g) => g.weights),
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
  }
  return { json, artifacts }
}

/** Loads a layers model from memory artifacts (no file:// handler needed, so plain @tensorflow/tfjs works). */
export async function loadFromArtifacts(artifacts: io.ModelArtifacts): Promise<LayersModel> {
  const tf = getTf()
  try {
    return await tf.loadLayersModel({ load: async () => artifacts })
  } catch (err) {
    throw badData(`The model could not be built: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** Loads a layers model folder written by export, import or download. */
export async function loadModelFolder(dir: string): Promise<LayersModel> {
  return loadFromArtifacts((await readModelFolder(dir)).artifacts)
}

const headLayerTypes = new Set(['Dense', 'Dropout', 'Activation', 'Softmax', 'Flatten'])

/**
 * The layer just below a model's classifier: walk back from the output over Dense/Dropout/Activation layers
 * (or a nested model made only of them, as in Teachable Machine exports). A model without a classifier
 * (a "no-top" model) gives its output layer.
 */
export function guessFeatureLayer(model: LayersModel): string {
  const isHead = (l: LayersModel['layers'][number]): boolean => {
    const type = l.getClassName()
    if (type === 'Flatten') return false
    if (headLayerTypes.has(type)) return true
    const inner = (l as unknown as { layers?: LayersModel['layers'] }).layers
    return (
      Array.isArray(inner) &&
      inner.some((x) => x.getClassName() === 'Dense') &&
      inner.every((x) => headLayerTypes.has(x.getClassName()) || x.getClassName() === 'InputLayer')
    )
  }
  const layers = model.layers
  let i = layers.length - 1
  while (i > 0 && isHead(layers[i])) i--
  return layers[i].name
}

/**
 * A stored card as the current card shape: cards saved before cards had a license summary get one from their
 * license name, with the fields nobody wrote down marked unknown and the unknown-license warning.
 */
export function completeCard(card: ModelCard): ModelCard {
  const c = card.card
  if (c.licenseInfo) return card
  const license = licenseFromName(/^unknown\b/i.test(card.license) ? undefined : card.license)
  const unknown = [...(c.unknown ?? [])]
  if (license.kind === 'unknown' && !unknown.includes('license')) unknown.push('license')
  if (!c.size) unknown.push('size')
  return {
    ...card,
    card: {
      ...c,
      licenseInfo: license.info,
      unknown,
      warnings: c.warnings ?? (license.kind === 'unknown' ? [UNKNOWN_LICENSE_WARNING] : []),
    },
  }
}

/** Imported models keep their card next to the weights. */
async function storedCard(dataDir: string, modelId: string): Promise<StoredCard | undefined> {
  const file = join(modelDir(dataDir, modelId), STORED_CARD_FILE)
  if (!existsSync(file)) return undefined
  const stored = JSON.parse(await readFile(file, 'utf8')) as StoredCard
  return { ...stored, card: completeCard(stored.card) }
}

/** Catalogue entry or imported card for a model id, with `available` filled in for this data folder. */
export async function resolveModel(modelId: string, dataDir: string): Promise<CatalogueEntry> {
  const entry = findEntry(modelId)
  if (entry) {
    const available =
      entry.card.source.kind === 'bundled' || existsSync(join(modelDir(dataDir, modelId), 'download.json'))
    return { ...entry, card: { ...entry.card, available } }
  }
  const stored = await storedCard(dataDir, modelId)
  if (stored) return { card: { ...stored.card, available: true }, preprocess: stored.preprocess }
  throw new AppError('not_found', `There is no model '${modelId}'. Pick one from the catalogue or import one.`)
}

/** Every card: the catalogue (with availability) followed by imported models. */
export async function listModels(dataDir: string): Promise<ModelCard[]> {
  const cards: ModelCard[] = []
  for (const e of catalogue) cards.push((await resolveModel(e.card.id, dataDir)).card)
  const root = modelsDir(dataDir)
  if (existsSync(root)) {
    for (const id of (await readdir(root)).sort()) {
      if (findEntry(id)) continue
      const stored = await storedCard(dataDir, id).catch(() => undefined)
      if (stored) cards.push({ ...stored.card, available: true })
    }
  }
  return cards
}

/** Cuts `model` at `featureLayer` and pools or flattens so the base always ends in [batch, F]. */
export function cutBase(model: LayersModel, featureLayer: string): LayersModel {
  const tf = getTf()
  let layer
  try {
    layer = model.getLayer(featureLayer)
  } catch {
    throw badData(`The model has no layer '${featureLayer}' to take features from.`)
  }
  let out = layer.output as SymbolicTensor
  if (out.shape.length === 4) {
    out = tf.layers.globalAveragePooling2d({ name: GAP_LAYER_NAME }).apply(out) as SymbolicTensor
  } else if (out.shape.length > 2) {
    out = tf.layers.flatten({ name: 'tunewise_features_flatten' }).apply(out) as SymbolicTensor
  }
  return tf.model({ inputs: model.inputs, outputs: out, name: 'tunewise_base' })
}

/**
 * Loads a model by id and cuts it at its feature layer. Every layer starts frozen (trainable = false,
 * BatchNorm forced into inference mode); the freeze step unfreezes what the run asks for.
 */
export async function loadBaseModel(modelId: string, dataDir: string): Promise<LoadedModel> {
  const entry = await resolveModel(modelId, dataDir)
  const { card } = entry
  if (!card.supported) throw new AppError('invalid_input', card.unsupportedReason ?? `${card.name} is not supported.`)
  let model: LayersModel
  if (entry.bundledFolder) {
    model = await loadFromArtifacts(await bundledArtifacts(entry.bundledFolder))
  } else {
    const dir = modelDir(dataDir, modelId)
    if (!existsSync(join(dir, 'model.json'))) {
      throw new AppError('unavailable', `${card.name} is not on this computer yet. Download it first.`)
    }
    model = await loadModelFolder(dir)
  }
  return prepareLoaded(card, model, entry.preprocess)
}

/**
 * Wraps an already built model as a LoadedModel: cuts it at `card.featureLayer` (or the layer before its
 * classifier when that name is absent) and freezes every layer. Tests use it to inject tiny models.
 */
export function prepareLoaded(card: ModelCard, model: LayersModel, preprocess: Preprocess): LoadedModel {
  let featureLayer = card.featureLayer
  if (!model.layers.some((l) => l.name === featureLayer)) featureLayer = guessFeatureLayer(model)
  const base = cutBase(model, featureLayer)
  applyFreeze(model, new Set())
  applyFreeze(base, new Set())
  const shape = model.inputs[0].shape
  const inputSize: [number, number] = [shape[1] ?? card.inputSize[0], shape[2] ?? card.inputSize[1]]
  const featureDim = base.outputs[0].shape[1] ?? 0
  return { card: { ...card, featureLayer }, model, base, inputSize, preprocess, featureDim }
}

/**
 * Groups layer names into blocks for "unfreeze the top N blocks": `block_12_expand` → block_12,
 * `conv_pw_5_bn` → block_5, `expanded_conv_*` → block_0, Inception's branches → the next `mixedN`.
 * Layers before the first block are `stem`, after the last one `top`.
 */
export function assignBlocks(names: string[]): string[] {
  const direct = names.map((n) => {
    let m = /^block_(\d+)_/.exec(n)
    if (m) return `block_${m[1]}`
    if (n.startsWith('expanded_conv')) return 'block_0'
    m = /^conv_(?:dw|pw)_(\d+)/.exec(n)
    if (m) return `block_${m[1]}`
    m = /^mixed(\d+)$/.exec(n)
    if (m) return `mixed${m[1]}`
    return null
  })
  const firstIdx = direct.findIndex((b) => b !== null)
  let lastIdx = -1
  direct.forEach((b, i) => {
    if (b !== null) lastIdx = i
  })
  // Inception names its convs by number only; they belong to the concat (mixedN) that follows them.
  const inception = direct.some((b) => b?.startsWith('mixed'))
  const out: string[] = new Array<string>(names.length)
  let carry = 'stem'
  for (let i = 0; i < names.length; i++) {
    if (firstIdx === -1 || i < firstIdx) out[i] = 'stem'
    else if (i > lastIdx) out[i] = 'top'
    else if (direct[i] !== null) out[i] = carry = direct[i] as string
    else if (inception) out[i] = direct.slice(i).find((b) => b !== null) as string
    else out[i] = carry
  }
  return out
}

function shapeOf(layer: LayersModel['layers'][number]): (number | null)[] {
  const s = layer.outputShape as unknown
  if (Array.isArray(s) && Array.isArray(s[0])) return s[0] as (number | null)[]
  return s as (number | null)[]
}

/** The layers of a loaded model in topological order: base layers first, then the cut-away old head. */
export function listLayers(loaded: LoadedModel): LayerInfo[] {
  const baseNames = new Set(loaded.base.layers.map((l) => l.name))
  const layers = [...loaded.base.layers, ...loaded.model.layers.filter((l) => !baseNames.has(l.name))]
  const blocks = assignBlocks(loaded.base.layers.map((l) => l.name))
  return layers.map((l, index) => {
    const inBase = baseNames.has(l.name)
    return {
      index,
      name: l.name,
      type: l.getClassName(),
      outputShape: shapeOf(l),
      params: l.countParams(),
      hasWeights: l.weights.length > 0,
      weightShapes: l.weights.map((w) => [...w.shape] as number[]),
      inBase,
      block: inBase ? blocks[index] : 'old-head',
    }
  })
}
