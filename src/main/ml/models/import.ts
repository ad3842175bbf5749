/** Importing a TF.js layers model folder (or a Teachable Machine export) into the data folder. */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { ModelCard } from '../../../shared/types'
import { AppError } from '../../errors'
import { safeJoin, safePath, type PathUse } from '../../safe-path'
import { preprocessDescriptions, type Preprocess } from './catalogue'
import {
  STORED_CARD_FILE,
  cutBase,
  guessFeatureLayer,
  loadFromArtifacts,
  manifestFiles,
  readModelFolder,
  type StoredCard,
} from './load'

interface ImportMetadata {
  modelName?: string
  packageName?: string
  labels?: string[]
  imageSize?: number
  preprocessing?: Preprocess
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
    const h = shape[1] ?? meta.imageSize ?? 224
    const w = shape[2] ?? meta.imageSize ?? 224
    const name = meta.modelName || basename(folder)
    const digest = createHash('sha256').update(JSON.stringify(json.modelTopology)).digest('hex').slice(0, 8)
    card = {
      id: `imported-${slug(name)}-${digest}`,
      name: `${name} (imported)`,
      task: 'image-classification',
      supported: true,
      inputSize: [h, w],
      parameters: model.countParams(),
      license: 'unknown (imported by you)',
      licenseKind: 'unknown',
      source: { kind: 'imported', description: `Imported from ${folder}.` },
      card: {
        summary: `A TF.js layers model you imported${teachable ? ' (Teachable Machine export)' : ''}.`,
        trainedOn: meta.labels?.length ? `Its own classes: ${meta.labels.join(', ')}.` : 'Unknown.',
        input: `${h}×${w} RGB image.`,
        preprocessing: preprocessDescriptions[preprocess],
        limitations: `Features are taken from '${featureLayer}' (${featureDim ?? '?'} values), the layer before its classifier.`,
      },
      featureLayer,
      available: true,
    }
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
