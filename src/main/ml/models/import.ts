/** Importing a TF.js layers model folder (or a Teachable Machine export) into the data folder. */
import { createHash } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { io } from '@tensorflow/tfjs'
import type { ModelCard, ModelCardField } from '../../../shared/types'
import { AppError } from '../../errors'
import { safeJoin, safePath, type PathUse } from '../../safe-path'
import {
  UNKNOWN_LICENSE_WARNING,
  licenseFromName,
  licenseNameFromText,
  preprocessDescriptions,
  type Preprocess,
} from './catalogue'
import {
  STORED_CARD_FILE,
  cutBase,
  guessFeatureLayer,
  loadFromArtifacts,
  manifestFiles,
  readModelFolder,
  type StoredCard,
} from './load'

/** What a metadata.json may say: Teachable Machine's fields, and Tunewise's own for its exports. */
interface ImportMetadata {
  modelName?: string
  packageName?: string
  packageVersion?: string
  tmVersion?: string
  timeStamp?: string
  labels?: string[]
  imageSize?: number
  preprocessing?: Preprocess
  sourceModel?: { id?: string; name?: string; license?: string }
  runId?: number
}

/** Everything the card of an imported model is drafted from: only what its files say. */
export interface ImportFacts {
  folder: string
  json: io.ModelJSON
  meta: ImportMetadata
  hasMetadata: boolean
  /** README.md's YAML front matter, top-level scalar keys only. */
  readme: Record<string, string>
  /** The license name found in a LICENSE file, if any. */
  licenseFile?: { file: string; name?: string }
  inputSize: [number, number]
  parameters: number
  weightBytes: number
  featureLayer: string
  featureDim: number | null
  preprocess: Preprocess
}

/** Top-level `key: value` lines of a README's YAML front matter (enough for `license` and `base_model`). */
export function frontMatterScalars(markdown: string): Record<string, string> {
  const m = /^---\r?\n([\s\S]*?)\r?\n---/.exec(markdown)
  const out: Record<string, string> = {}
  if (!m) return out
  for (const line of m[1].split(/\r?\n/)) {
    const kv = /^([A-Za-z_][\w-]*):\s*(.+?)\s*$/.exec(line)
    if (kv) out[kv[1]] = kv[2].replace(/^(['"])(.*)\1$/, '$2')
  }
  return out
}

const plural = (n: number, word: string): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? word : word.endsWith('s') ? `${word}es` : `${word}s`}`

/**
 * The card of an imported model, drafted from its files alone: model.json, metadata.json (Teachable Machine's or
 * a Tunewise export's), README.md front matter and a LICENSE file. What the files do not say is marked
 * "unknown" (listed in `card.unknown`), and an unknown license adds a warning.
 */
export function draftImportedCard(f: ImportFacts): ModelCard {
  const { meta, json } = f
  const topology = json.modelTopology as { model_config?: { class_name?: string; config?: { name?: string } } }
  const graphName = topology?.model_config?.config?.name
  const teachable = f.hasMetadata && meta.packageName !== 'tunewise' && Array.isArray(meta.labels)
  const tunewise = f.hasMetadata && meta.packageName === 'tunewise'
  const name = meta.modelName || basename(f.folder)
  const digest = createHash('sha256').update(JSON.stringify(json.modelTopology)).digest('hex').slice(0, 8)
  const [h, w] = f.inputSize
  const unknown: ModelCardField[] = []
  const labels = Array.isArray(meta.labels) ? meta.labels.filter((l) => typeof l === 'string') : []

  const summary = teachable
    ? `A Teachable Machine image model you imported ("${name}"${meta.tmVersion ? `, Teachable Machine ${meta.tmVersion}` : ''}), made to tell apart ${plural(labels.length, 'class')}.`
    : tunewise
      ? `A model fine-tuned with Tunewise${meta.sourceModel?.name ? ` from ${meta.sourceModel.name}` : ''}${meta.runId ? ` (run #${meta.runId})` : ''}, imported back.`
      : `A TF.js layers model you imported ("${graphName ?? name}", ${plural(f.parameters, 'parameter')}).`

  let trainedOn = 'unknown: its files do not say what images it learned from.'
  if (f.readme.datasets) trainedOn = `${f.readme.datasets} (from its README).`
  else unknown.push('trainedOn')
  if (labels.length) trainedOn += ` It was trained to tell apart: ${labels.join(', ')}.`

  let preprocessing = preprocessDescriptions[f.preprocess]
  if (teachable) preprocessing += ' (Teachable Machine exports take -1…1.)'
  else if (tunewise && meta.preprocessing) preprocessing += ' (from its metadata.json).'
  else {
    preprocessing = `unknown: its files do not say. Tunewise assumes ${preprocessDescriptions[f.preprocess]} If the model expects another range, its features will be worse.`
    unknown.push('preprocessing')
  }

  // A Tunewise export of a model with an unknown license says "unknown (...)": that names no license.
  const named = (v: string | undefined): string | undefined => (v && !/^unknown\b/i.test(v) ? v : undefined)
  const licenseName = named(meta.sourceModel?.license) ?? named(f.readme.license) ?? f.licenseFile?.name
  const license = licenseFromName(licenseName)
  const licenseSource = named(meta.sourceModel?.license)
    ? 'its metadata.json (inherited from its base model)'
    : named(f.readme.license)
      ? 'its README.md'
      : f.licenseFile?.name
        ? f.licenseFile.file
        : null
  const warnings: string[] = []
  if (license.kind === 'unknown') {
    unknown.push('license')
    warnings.push(
      f.licenseFile && !f.licenseFile.name
        ? `Its folder has a ${f.licenseFile.file} Tunewise cannot summarise. Read it before you share or sell anything made from this model.`
        : UNKNOWN_LICENSE_WARNING,
    )
  } else if (license.kind === 'non-commercial') {
    warnings.push('Its license forbids commercial use: a model you fine-tune from it inherits that.')
  }
  unknown.push('limitations')

  const made = [
    json.generatedBy && `model.json generated by ${json.generatedBy}`,
    meta.timeStamp && `dated ${meta.timeStamp}`,
  ]
    .filter(Boolean)
    .join(', ')
  return {
    id: `imported-${slug(name)}-${digest}`,
    name: `${name} (imported)`,
    task: 'image-classification',
    supported: true,
    inputSize: [h, w],
    parameters: f.parameters,
    license:
      license.kind === 'unknown'
        ? licenseName
          ? `${licenseName} (not recognised)`
          : 'unknown (its files name no license)'
        : `${license.info.spdx} (from ${licenseSource})`,
    licenseKind: license.kind,
    source: { kind: 'imported', description: `Imported from ${f.folder}.` },
    card: {
      summary,
      trainedOn,
      input: `${h}×${w} colour (RGB) image (from its model.json); Tunewise squashes yours to that size.`,
      preprocessing,
      size: `${plural(f.parameters, 'parameter')}, ${(f.weightBytes / 1e6).toFixed(1)} MB of weights.`,
      licenseInfo: license.info,
      origin: `Imported from ${f.folder}${made ? ` (${made})` : ''}.${f.readme.base_model ? ` Its README names the base model ${f.readme.base_model}.` : ''}`,
      limitations:
        `unknown: its files do not say. Tunewise takes features from '${f.featureLayer}' ` +
        `(${f.featureDim ?? '?'} values), the layer before its classifier.`,
      unknown,
      warnings,
    },
    featureLayer: f.featureLayer,
    available: true,
  }
}

/** README.md and LICENSE files an imported folder may carry: read for the card, never required. */
async function readCardFiles(folder: string): Promise<Pick<ImportFacts, 'readme' | 'licenseFile'>> {
  const read = async (name: string): Promise<string | null> => {
    let file: string
    try {
      file = safePath(folder, name, folderFileUse)
    } catch {
      // A card file that leads out of the folder is not read; the card says "unknown" instead.
      return null
    }
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) return null
    // A card file is text; a huge one is not a card.
    if (statSync(file).size > 1_000_000) return null
    return readFile(file, 'utf8')
  }
  const readmeText = await read('README.md')
  let licenseFile: ImportFacts['licenseFile']
  for (const name of ['LICENSE', 'LICENSE.txt', 'LICENSE.md']) {
    const text = await read(name)
    if (text !== null) {
      licenseFile = { file: name, name: licenseNameFromText(text) }
      break
    }
  }
  return { readme: readmeText ? frontMatterScalars(readmeText) : {}, licenseFile }
}

const folderFileUse: PathUse = {
  namedBy: 'The model folder',
  folder: 'its folder',
  outcome: 'Tunewise did not import it.',
  code: 'bad_data',
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'model'
  )
}

/**
 * Validates a layers-model folder (model.json + shards, optional metadata.json), loads it once to check it
 * builds and takes images, and copies it into `<dataDir>/models/<id>/` with a card. Teachable Machine exports
 * are read as [-1, 1] inputs (their preprocessing); Tunewise exports as their metadata says; anything else
 * as RGB/255 (stated on the card).
 *
 * Every file is read from inside `folder` and written inside `<dataDir>/models/`: manifest paths go through
 * `safePath` against the source folder (read) and the destination folder (write). A refused path fails the
 * import before anything is written; a failure while copying removes the temp folder.
 * @throws AppError('bad_data') with a plain message for graph models, missing shards, broken JSON and manifest
 * paths outside the folder.
 */
export async function importModel(folder: string, dataDir: string): Promise<ModelCard> {
  const { json, artifacts } = await readModelFolder(folder, 'import')
  let meta: ImportMetadata = {}
  const metaFile = safePath(folder, 'metadata.json', folderFileUse)
  if (existsSync(metaFile)) {
    try {
      meta = JSON.parse(await readFile(metaFile, 'utf8')) as ImportMetadata
    } catch {
      throw new AppError('bad_data', 'metadata.json is not valid JSON. Export the model again or remove that file.')
    }
  }
  const cardFiles = await readCardFiles(folder)
  const model = await loadFromArtifacts(artifacts)
  let card: ModelCard
  let preprocess: Preprocess
  try {
    const shape = model.inputs[0].shape
    if (model.inputs.length !== 1 || shape.length !== 4 || shape[3] !== 3) {
      throw new AppError(
        'bad_data',
        `This model takes input of shape [${shape.join(', ')}]; Tunewise needs an image model (height × width × 3).`,
      )
    }
    const featureLayer = guessFeatureLayer(model)
    const featureDim = cutBase(model, featureLayer).outputs[0].shape[1]
    const teachable = meta.packageName !== 'tunewise' && Array.isArray(meta.labels) && existsSync(metaFile)
    preprocess =
      meta.packageName === 'tunewise' && meta.preprocessing ? meta.preprocessing : teachable ? 'rgb/127.5-1' : 'rgb/255'
    card = draftImportedCard({
      folder,
      json,
      meta,
      hasMetadata: existsSync(metaFile),
      ...cardFiles,
      inputSize: [shape[1] ?? meta.imageSize ?? 224, shape[2] ?? meta.imageSize ?? 224],
      parameters: model.countParams(),
      weightBytes: artifacts.weightData ? (artifacts.weightData as ArrayBuffer).byteLength : 0,
      featureLayer,
      featureDim: featureDim ?? null,
      preprocess,
    })
  } finally {
    model.dispose()
  }
  const dest = safeJoin(dataDir, ['models', card.id])
  const tmp = `${dest}.tmp-${process.pid}`
  // A leftover from a crashed import goes first, so the checks below see the folder the copies will land in.
  await rm(tmp, { recursive: true, force: true })
  // Every source and destination is checked before the first write: a refused name leaves no trace.
  const copies = [
    { from: safePath(folder, 'model.json', folderFileUse), to: safePath(tmp, 'model.json', folderFileUse) },
    ...manifestFiles(json, folder, 'import').map(({ name, file }) => ({
      from: file,
      to: safePath(tmp, name, { ...folderFileUse, namedBy: "The model's weight manifest (model.json)" }),
    })),
  ]
  if (existsSync(metaFile)) copies.push({ from: metaFile, to: safePath(tmp, 'metadata.json', folderFileUse) })
  try {
    await mkdir(tmp, { recursive: true })
    for (const { from, to } of copies) {
      await mkdir(dirname(to), { recursive: true })
      // copyFile follows links in the source (already checked to stay inside it); the copy holds plain files.
      await copyFile(from, to)
    }
    const stored: StoredCard = { card, preprocess }
    await writeFile(join(tmp, STORED_CARD_FILE), JSON.stringify(stored, null, 2))
    await rm(dest, { recursive: true, force: true })
    await rename(tmp, dest)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  return card
}
