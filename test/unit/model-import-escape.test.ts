/**
 * A model folder is something the user picked, so every weight file its model.json names must stay inside it:
 * importing a hostile manifest fails with a plain message and writes nothing anywhere; loading one from the
 * data folder fails the same way.
 */
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LayersModel } from '@tensorflow/tfjs'
import { AppError } from '../../src/main/errors'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { saveModelFolder } from '../../src/main/ml/export/export'
import { importModel } from '../../src/main/ml/models/import'
import { loadBaseModel, modelDir } from '../../src/main/ml/models/load'
import { PathRefusedError } from '../../src/main/safe-path'
import { hostilePaths } from '../helpers/hostile-paths'

const sandboxes = mkdtempSync(join(tmpdir(), 'tw-import-escape-'))
afterAll(() => rmSync(sandboxes, { recursive: true, force: true }))

/** A saved tiny model (model.json + weights.bin) to copy into each sandbox. */
const template = join(sandboxes, 'template')

beforeAll(async () => {
  await initBackend('wasm')
  const tf = getTf()
  const m: LayersModel = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, name: 'c1' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 2, activation: 'softmax', name: 'out' }),
    ],
  })
  await saveModelFolder(m, template)
  m.dispose()
})

interface Sandbox {
  /** Everything below: source, data folder and the folders above both. */
  base: string
  /** `<base>/src/x/y/model`: three levels below `<base>/src`. */
  model: string
  /** `<base>/home/data`: the data folder. */
  dataDir: string
  /** `<base>/outside`: beside both. */
  outside: string
}

let count = 0
function sandbox(): Sandbox {
  const base = join(sandboxes, `case-${count++}`)
  const model = join(base, 'src', 'x', 'y', 'model')
  const dataDir = join(base, 'home', 'data')
  const outside = join(base, 'outside')
  for (const d of [model, dataDir, outside]) mkdirSync(d, { recursive: true })
  for (const f of ['model.json', 'weights.bin']) copyFileSync(join(template, f), join(model, f))
  return { base, model, dataDir, outside }
}

function setManifestPaths(modelFolder: string, paths: string[]): void {
  const file = join(modelFolder, 'model.json')
  const json = JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest: { paths: string[] }[] }
  json.weightsManifest[0].paths = paths
  writeFileSync(file, JSON.stringify(json))
}

/** Every entry under `dir` (links not followed) with its kind and size: equal before and after = nothing written. */
function snapshot(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      const st = lstatSync(p)
      const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file'
      out.push(`${relative(dir, p)} ${kind} ${kind === 'file' ? st.size : ''}`)
      if (kind === 'dir') walk(p)
    }
  }
  walk(dir)
  return out
}

async function refusedImport(folder: string, dataDir: string): Promise<PathRefusedError> {
  const err = await importModel(folder, dataDir).then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(PathRefusedError)
  expect((err as AppError).code).toBe('bad_data')
  return err as PathRefusedError
}

describe('importing a model whose manifest leaves its folder', () => {
  it("refuses '../../../escape.bin' with a plain message and writes nothing anywhere", async () => {
    const s = sandbox()
    // The weights really are there, three levels up: without the check the import would read them and
    // write a copy three levels above its temp folder (<base>/home/escape.bin).
    copyFileSync(join(s.model, 'weights.bin'), join(s.base, 'src', 'escape.bin'))
    setManifestPaths(s.model, ['../../../escape.bin'])
    const before = snapshot(s.base)
    const err = await refusedImport(s.model, s.dataDir)
    expect(err.message).toBe(
      "The model's weight manifest (model.json) names '../../../escape.bin', which is outside its folder. Tunewise did not import it.",
    )
    expect(snapshot(s.base)).toEqual(before)
    expect(readdirSync(s.dataDir)).toEqual([])
  })

  it('refuses an absolute path naming real weights outside and writes nothing', async () => {
    const s = sandbox()
    const abs = join(s.outside, 'weights.bin')
    copyFileSync(join(s.model, 'weights.bin'), abs)
    setManifestPaths(s.model, [abs])
    const before = snapshot(s.base)
    const err = await refusedImport(s.model, s.dataDir)
    expect(err.message).toBe(
      `The model's weight manifest (model.json) names '${abs}', which is outside its folder. Tunewise did not import it.`,
    )
    expect(snapshot(s.base)).toEqual(before)
  })

  it('refuses a good shard listed after a hostile one, before reading or copying either', async () => {
    const s = sandbox()
    setManifestPaths(s.model, ['weights.bin', '../../../escape.bin'])
    const before = snapshot(s.base)
    expect((await refusedImport(s.model, s.dataDir)).reason).toBe('outside')
    expect(snapshot(s.base)).toEqual(before)
  })

  const refusedRows = hostilePaths.filter((row) => 'refused' in row.expect)
  it.each(refusedRows.map((row) => [row.name, row] as const))(
    'hostile table: %s is refused and nothing is written',
    async (_name, row) => {
      const s = sandbox()
      row.setup?.(s.model, s.outside)
      setManifestPaths(s.model, [row.rel])
      const before = snapshot(s.base)
      const err = await refusedImport(s.model, s.dataDir)
      expect(err.reason).toBe('refused' in row.expect ? row.expect.refused : undefined)
      expect(err.message).toMatch(
        /^The model's weight manifest \(model\.json\) names '.*'.*\. Tunewise did not import it\.$/s,
      )
      expect(snapshot(s.base)).toEqual(before)
    },
  )

  it('refuses a model.json that is a link out of the folder', async () => {
    const s = sandbox()
    copyFileSync(join(s.model, 'model.json'), join(s.outside, 'model.json'))
    rmSync(join(s.model, 'model.json'))
    symlinkSync(join(s.outside, 'model.json'), join(s.model, 'model.json'))
    const before = snapshot(s.base)
    const err = await refusedImport(s.model, s.dataDir)
    expect(err.reason).toBe('link-outside')
    expect(snapshot(s.base)).toEqual(before)
  })

  it('refuses a malformed manifest plainly', async () => {
    const s = sandbox()
    const file = join(s.model, 'model.json')
    const json = JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest: unknown }
    json.weightsManifest = [{ paths: [42], weights: [] }]
    writeFileSync(file, JSON.stringify(json))
    const err = await importModel(s.model, s.dataDir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).message).toBe(
      'The weight manifest in model.json is malformed (each group needs a list of file names). Export the model again.',
    )
    expect(readdirSync(s.dataDir)).toEqual([])
  })
})

describe('importing shards in subfolders and behind links inside the folder', () => {
  it('copies the content as plain files into the data folder and nothing else', async () => {
    const s = sandbox()
    mkdirSync(join(s.model, 'shards', 'real'), { recursive: true })
    copyFileSync(join(s.model, 'weights.bin'), join(s.model, 'shards', 'real', 'w.bin'))
    rmSync(join(s.model, 'weights.bin'))
    // The manifest names the link; the link points inside the folder. The copy must not keep the link.
    symlinkSync(join('real', 'w.bin'), join(s.model, 'shards', 'w.bin'))
    setManifestPaths(s.model, ['shards/w.bin'])
    const beforeSource = snapshot(join(s.base, 'src'))
    const card = await importModel(s.model, s.dataDir)
    expect(snapshot(join(s.base, 'src'))).toEqual(beforeSource)
    expect(readdirSync(join(s.dataDir, 'models'))).toEqual([card.id])
    const copied = join(modelDir(s.dataDir, card.id), 'shards', 'w.bin')
    expect(lstatSync(copied).isFile()).toBe(true)
    expect(readFileSync(copied).equals(readFileSync(join(s.model, 'shards', 'real', 'w.bin')))).toBe(true)
    const loaded = await loadBaseModel(card.id, s.dataDir)
    expect(loaded.featureDim).toBe(6 * 6 * 2)
    loaded.model.dispose()
  })
})

describe('loading a model from the data folder whose manifest leaves its folder', () => {
  it('refuses with a plain message instead of reading outside', async () => {
    const s = sandbox()
    const card = await importModel(s.model, s.dataDir)
    const stored = modelDir(s.dataDir, card.id)
    // Tampered after import: the weights now sit beside the data folder.
    copyFileSync(join(stored, 'weights.bin'), join(s.base, 'home', 'weights.bin'))
    setManifestPaths(stored, ['../../../weights.bin'])
    const err = await loadBaseModel(card.id, s.dataDir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PathRefusedError)
    expect((err as AppError).code).toBe('bad_data')
    expect((err as AppError).message).toBe(
      "The model's weight manifest (model.json) names '../../../weights.bin', which is outside its folder. Tunewise did not load it.",
    )
  })
})
