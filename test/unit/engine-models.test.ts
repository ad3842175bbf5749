import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, unlinkSync, mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs'
import { getTf, initBackend } from '../../src/main/ml/backend'
import { downloadModel, type DownloadRecord } from '../../src/main/ml/models/download'
import { importModel } from '../../src/main/ml/models/import'
import { assignBlocks, listLayers, listModels, loadBaseModel } from '../../src/main/ml/models/load'
import { catalogue } from '../../src/main/ml/models/catalogue'
import { applyFreeze } from '../../src/main/ml/models/freeze'
import { trainableLayerNames } from '../../src/shared/run-rules'
import { splitAtBoundary } from '../../src/main/ml/train/boundary'
import { saveModelFolder } from '../../src/main/ml/export/export'
import { AppError } from '../../src/main/errors'

const tmp = mkdtempSync(join(tmpdir(), 'tw-models-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

function tinyModel(): LayersModel {
  const tf = getTf()
  const m = tf.sequential()
  m.add(tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, name: 'c1' }))
  m.add(tf.layers.flatten({ name: 'flat' }))
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }))
  return m
}

async function expectBadData(p: Promise<unknown>, message: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AppError)
  expect((err as AppError).code).toBe('bad_data')
  expect((err as AppError).message).toBe(message)
}

beforeAll(async () => {
  await initBackend('wasm')
})

describe('catalogue', () => {
  it('lists bundled, online and unsupported cards', async () => {
    const cards = await listModels(join(tmp, 'empty'))
    const v2 = cards.find((c) => c.id === 'mobilenet-v2-nsfwjs')
    expect(v2).toMatchObject({ available: true, featureLayer: 'flatten_1', parameters: 2_619_461, license: 'MIT' })
    expect(v2?.card.trainedOn).toMatch(/ImageNet.*five ratings.*removes that rating layer/s)
    expect(v2?.card.licenseInfo).toMatchObject({ spdx: 'MIT', commercialUse: 'yes', attribution: 'yes' })
    expect(v2?.card.origin).toContain('https://github.com/infinitered/nsfwjs')
    expect(cards.find((c) => c.id === 'mobilenet-v1-025-224')).toMatchObject({
      available: false,
      license: 'Apache-2.0',
    })
    const unsupported = cards.filter((c) => !c.supported).map((c) => c.task)
    expect(unsupported.sort()).toEqual(['audio', 'multimodal', 'tabular', 'text'])
    expect(cards.filter((c) => !c.supported).every((c) => (c.unsupportedReason ?? '').length > 10)).toBe(true)
    expect(catalogue.find((e) => e.card.id === 'mobilenet-v2-tm-224')?.card.licenseKind).toBe('unknown')
  })

  it('groups layer names into blocks', () => {
    expect(
      assignBlocks([
        'input_1',
        'Conv1',
        'expanded_conv_depthwise',
        'block_1_expand',
        'block_1_pad',
        'Conv_1',
        'flatten_1',
      ]),
    ).toEqual(['stem', 'stem', 'block_0', 'block_1', 'block_1', 'top', 'top'])
    // Inception: numbered convs belong to the concat (mixedN) that follows them.
    expect(assignBlocks(['input', 'conv2d_1', 'mixed0', 'conv2d_2', 'mixed1', 'pool'])).toEqual([
      'stem',
      'stem',
      'mixed0',
      'mixed1',
      'mixed1',
      'top',
    ])
  })
})

describe('bundled MobileNetV2', () => {
  it('loads, cuts at flatten_1 and starts fully frozen', async () => {
    const loaded = await loadBaseModel('mobilenet-v2-nsfwjs', tmp)
    const tf = getTf()
    try {
      expect(loaded.model.layers).toHaveLength(162)
      expect(loaded.model.countParams()).toBe(2_619_461)
      expect(loaded.base.outputs[0].shape).toEqual([null, 1280])
      expect(loaded.base.countParams()).toBe(2_257_984)
      expect(loaded.featureDim).toBe(1280)
      expect(loaded.inputSize).toEqual([224, 224])
      expect(loaded.preprocess).toBe('rgb/255')
      // The topology marks only layers below block_11 frozen; we set every flag ourselves.
      expect(loaded.model.layers.filter((l) => l.trainable)).toHaveLength(0)
      // Quantised weights are dequantised: real-valued, not uint8 codes.
      const k = loaded.model.getLayer('Conv1').getWeights()[0].dataSync()
      expect(k.some((v) => v !== Math.round(v))).toBe(true)
      expect(Math.max(...Array.from(k).map(Math.abs))).toBeLessThan(50)

      const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 1)
      const probs = loaded.model.predict(x) as ReturnType<typeof tf.tensor>
      const sums = tf.sum(probs, 1).dataSync()
      expect(sums[0]).toBeCloseTo(1, 4)
      tf.dispose([x, probs])

      const layers = listLayers(loaded)
      expect(layers.filter((l) => l.inBase)).toHaveLength(loaded.base.layers.length)
      expect(layers.find((l) => l.name === 'block_12_expand')?.block).toBe('block_12')
      expect(layers.find((l) => l.name === 'Conv_1')?.block).toBe('top')
      expect(layers.find((l) => l.name === 'bn_Conv1')?.block).toBe('stem')
      expect(layers.find((l) => l.name === 'dense_3')).toMatchObject({ inBase: false, params: 645 })
      const top2 = trainableLayerNames({ preset: 'top-blocks', topBlocks: 2, trainableLayers: [] }, layers)
      expect(top2.has('Conv_1')).toBe(true)
      expect(top2.has('block_16_project')).toBe(true)
      expect(top2.has('block_15_project')).toBe(false)
      expect(top2.has('dense_1')).toBe(false)
      expect(
        trainableLayerNames({ preset: 'feature-extraction', topBlocks: 2, trainableLayers: [] }, layers).size,
      ).toBe(0)
      const full = trainableLayerNames({ preset: 'full', topBlocks: 0, trainableLayers: [] }, layers)
      expect(full.size).toBe(layers.filter((l) => l.inBase && l.hasWeights).length)
      const custom = trainableLayerNames(
        {
          preset: 'custom',
          topBlocks: 0,
          trainableLayers: ['Conv_1', 'nope', 'dense_1'],
        },
        layers,
      )
      expect([...custom]).toEqual(['Conv_1'])
    } finally {
      loaded.model.dispose()
    }
  })

  it('phase 2 on MobileNetV2: the split at the freeze boundary computes the same features and trains on WASM', async () => {
    const tf = getTf()
    const loaded = await loadBaseModel('mobilenet-v2-nsfwjs', tmp)
    try {
      const trainable = trainableLayerNames(
        { preset: 'top-blocks', topBlocks: 2, trainableLayers: [] },
        listLayers(loaded),
      )
      applyFreeze(loaded.base, trainable)
      const { lower, inputs, features, boundaryNames } = splitAtBoundary(loaded.base, trainable)
      // block_16 starts right after block_15's residual add.
      expect(boundaryNames).toEqual(['block_15_add'])
      expect(lower).not.toBeNull()
      const upper = tf.model({ inputs, outputs: features })
      const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 3)
      const direct = loaded.base.predict(x) as Tensor
      const boundary = lower!.predict(x) as Tensor
      const viaSplit = upper.predict(boundary) as Tensor
      expect(tf.max(tf.abs(tf.sub(direct, viaSplit))).dataSync()[0]).toBeLessThan(1e-4)

      // One gradient step through depthwise convs (the WASM grad kernels) changes only the unfrozen layers.
      const head = tf.layers.dense({ units: 2, activation: 'softmax' })
      const model = tf.model({ inputs, outputs: head.apply(features) as SymbolicTensor })
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' })
      const frozen = loaded.base.getLayer('block_15_project').getWeights()[0].dataSync().slice()
      const bnGamma = loaded.base.getLayer('block_16_expand_BN').getWeights()[0].dataSync().slice()
      const bnMean = loaded.base.getLayer('block_16_expand_BN').getWeights()[2].dataSync().slice()
      const open = loaded.base.getLayer('block_16_depthwise').getWeights()[0].dataSync().slice()
      const y = tf.tensor2d([
        [1, 0],
        [0, 1],
      ])
      const h = await model.fit(boundary, y, { epochs: 1, batchSize: 2, verbose: 0 })
      expect(Number.isFinite(h.history.loss[0] as number)).toBe(true)
      expect(loaded.base.getLayer('block_15_project').getWeights()[0].dataSync()).toEqual(frozen)
      expect(loaded.base.getLayer('block_16_depthwise').getWeights()[0].dataSync()).not.toEqual(open)
      // The unfrozen BatchNorm trains its scale in inference mode: its moving statistics do not move.
      expect(loaded.base.getLayer('block_16_expand_BN').getWeights()[0].dataSync()).not.toEqual(bnGamma)
      expect(loaded.base.getLayer('block_16_expand_BN').getWeights()[2].dataSync()).toEqual(bnMean)
      tf.dispose([x, direct, boundary, viaSplit, y])
    } finally {
      loaded.model.dispose()
    }
  })

  it('bundled InceptionV3 takes features from flatten_1 (2048 values)', async () => {
    const loaded = await loadBaseModel('inception-v3-nsfwjs', tmp)
    try {
      expect(loaded.inputSize).toEqual([299, 299])
      expect(loaded.base.outputs[0].shape).toEqual([null, 2048])
      expect(loaded.model.countParams()).toBe(
        catalogue.find((e) => e.card.id === 'inception-v3-nsfwjs')?.card.parameters,
      )
    } finally {
      loaded.model.dispose()
    }
  })
})

describe('importModel', () => {
  it('imports a saved layers model and loads it as a base', async () => {
    const dir = join(tmp, 'plain')
    await saveModelFolder(tinyModel(), dir)
    const dataDir = join(tmp, 'data-import')
    const card = await importModel(dir, dataDir)
    expect(card.source.kind).toBe('imported')
    expect(card.featureLayer).toBe('flat')
    expect(card.inputSize).toEqual([16, 16])
    expect(existsSync(join(dataDir, 'models', card.id, 'weights.bin'))).toBe(true)
    expect((await listModels(dataDir)).some((c) => c.id === card.id)).toBe(true)
    const loaded = await loadBaseModel(card.id, dataDir)
    expect(loaded.base.outputs[0].shape).toEqual([null, 14 * 14 * 4])
    expect(loaded.preprocess).toBe('rgb/255')
    loaded.model.dispose()
    // Its card is drafted from its files: what they do not say is "unknown", with a license warning.
    expect(card.licenseKind).toBe('unknown')
    expect(card.card.unknown).toEqual(expect.arrayContaining(['trainedOn', 'preprocessing', 'license']))
    expect(card.card.warnings?.[0]).toMatch(/license is unknown/)
    expect(card.card.size).toMatch(/^[\d,]+ parameters, [\d.]+ MB of weights\.$/)
  })

  it("drafts an imported model's card from the README.md and LICENSE in its folder", async () => {
    const dir = join(tmp, 'with-card-files')
    await saveModelFolder(tinyModel(), dir)
    writeFileSync(join(dir, 'README.md'), '---\nlicense: apache-2.0\ndatasets: flowers-102\n---\n# Flowers\n')
    const card = await importModel(dir, join(tmp, 'data-card-files'))
    expect(card).toMatchObject({ licenseKind: 'permissive', license: 'Apache-2.0 (from its README.md)' })
    expect(card.card.trainedOn).toBe('flowers-102 (from its README).')
    expect(card.card.unknown).not.toContain('license')
    expect(card.card.warnings).toEqual([])
    const dir2 = join(tmp, 'with-license-file')
    await saveModelFolder(tinyModel(), dir2)
    writeFileSync(join(dir2, 'LICENSE'), 'MIT License\n\nPermission is hereby granted, free of charge, to any person')
    const card2 = await importModel(dir2, join(tmp, 'data-license-file'))
    expect(card2.license).toBe('MIT (from LICENSE)')
    // Read again from the data folder, the card is the same.
    expect((await listModels(join(tmp, 'data-license-file'))).find((c) => c.id === card2.id)?.card).toEqual(card2.card)
  })

  it('reads a Teachable Machine export (nested models + metadata.json)', async () => {
    const tf = getTf()
    const inner = tf.sequential({ name: 'sequential_1' })
    inner.add(tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 5, kernelSize: 3, name: 'tm_conv' }))
    inner.add(tf.layers.globalAveragePooling2d({ name: 'tm_gap' }))
    const headModel = tf.sequential({ name: 'sequential_3' })
    headModel.add(tf.layers.dense({ inputShape: [5], units: 2, activation: 'softmax', name: 'tm_dense' }))
    const outer = tf.sequential()
    outer.add(inner)
    outer.add(headModel)
    const dir = join(tmp, 'tm')
    await saveModelFolder(outer, dir)
    writeFileSync(
      join(dir, 'metadata.json'),
      JSON.stringify({ packageName: '@teachablemachine/image', modelName: 'My TM', labels: ['a', 'b'], imageSize: 16 }),
    )
    const dataDir = join(tmp, 'data-tm')
    const card = await importModel(dir, dataDir)
    expect(card.featureLayer).toBe('sequential_1')
    expect(card.name).toBe('My TM (imported)')
    const loaded = await loadBaseModel(card.id, dataDir)
    expect(loaded.preprocess).toBe('rgb/127.5-1')
    expect(loaded.featureDim).toBe(5)
    loaded.model.dispose()
  })

  it('explains a graph model, a missing shard and broken JSON', async () => {
    const graph = join(tmp, 'graph')
    mkdirSync(graph)
    writeFileSync(
      join(graph, 'model.json'),
      JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }),
    )
    await expectBadData(
      importModel(graph, tmp),
      'This is a TF.js graph model; Tunewise needs a layers model (model.json with "modelTopology" and format "layers-model").',
    )

    const missing = join(tmp, 'missing')
    await saveModelFolder(tinyModel(), missing)
    const json = JSON.parse(readFileSync(join(missing, 'model.json'), 'utf8')) as {
      weightsManifest: { paths: string[] }[]
    }
    json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin']
    writeFileSync(join(missing, 'model.json'), JSON.stringify(json))
    writeFileSync(join(missing, 'group1-shard1of2.bin'), readFileSync(join(missing, 'weights.bin')))
    unlinkSync(join(missing, 'weights.bin'))
    await expectBadData(
      importModel(missing, tmp),
      "model.json lists weights file 'group1-shard2of2.bin' but it is not in the folder.",
    )

    const broken = join(tmp, 'broken')
    mkdirSync(broken)
    writeFileSync(join(broken, 'model.json'), '{"modelTopology": ')
    const err = await importModel(broken, tmp).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('bad_data')
    expect((err as AppError).message).toMatch(/^model\.json is not valid JSON \(.+\)\. Export the model again\.$/)
  })
})

describe('downloadModel', () => {
  let server: Server
  let base = ''
  const hits: string[] = []
  let flakyFailures = 0
  let files: Record<string, Buffer> = {}

  beforeAll(async () => {
    const dir = join(tmp, 'served')
    await saveModelFolder(tinyModel(), dir)
    files = {
      'model.json': readFileSync(join(dir, 'model.json')),
      'weights.bin': readFileSync(join(dir, 'weights.bin')),
    }
    server = createServer((req, res) => {
      const url = req.url ?? ''
      hits.push(url)
      const [, folder, name] = url.split('/')
      if (folder === 'flaky' && name === 'weights.bin' && flakyFailures === 0) {
        flakyFailures++
        res.writeHead(503, 'Service Unavailable').end()
        return
      }
      if (folder === 'missing' && name === 'weights.bin') {
        res.writeHead(404, 'Not Found').end()
        return
      }
      const body = files[name]
      if (!body) return void res.writeHead(404, 'Not Found').end()
      res.writeHead(200, { 'content-length': body.length }).end(body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it('downloads with progress, records sha256 and serves the second call from disk', async () => {
    const dataDir = join(tmp, 'dl-ok')
    const progress: [number, number | null][] = []
    hits.length = 0
    const card = await downloadModel('mobilenet-v1-025-224', dataDir, (r, t) => progress.push([r, t]), {
      baseUrl: `${base}/ok/`,
      backoffMs: 1,
    })
    expect(card.available).toBe(true)
    const totalBytes = files['model.json'].length + files['weights.bin'].length
    expect(progress.at(-1)?.[0]).toBe(totalBytes)
    expect(progress.map((p) => p[0])).toEqual([...progress.map((p) => p[0])].sort((a, b) => a - b))
    const record = JSON.parse(readFileSync(join(dataDir, 'models', card.id, 'download.json'), 'utf8')) as DownloadRecord
    expect(record.totalBytes).toBe(totalBytes)
    const w = record.files.find((f) => f.name === 'weights.bin')
    expect(w?.sha256).toBe(createHash('sha256').update(files['weights.bin']).digest('hex'))
    expect(readFileSync(join(dataDir, 'models', card.id, 'weights.bin')).equals(files['weights.bin'])).toBe(true)
    expect(hits).toEqual(['/ok/model.json', '/ok/weights.bin'])
    // Now listed as available, and loadable as a base.
    expect((await listModels(dataDir)).find((c) => c.id === card.id)?.available).toBe(true)
    const loaded = await loadBaseModel(card.id, dataDir)
    expect(loaded.preprocess).toBe('rgb/127.5-1')
    expect(loaded.base.outputs[0].shape).toEqual([null, 14 * 14 * 4])
    loaded.model.dispose()

    hits.length = 0
    const again = await downloadModel('mobilenet-v1-025-224', dataDir, undefined, { baseUrl: `${base}/ok/` })
    expect(again.available).toBe(true)
    expect(hits).toEqual([])
  })

  it('retries a failing endpoint', async () => {
    hits.length = 0
    const card = await downloadModel('mobilenet-v1-050-224', join(tmp, 'dl-flaky'), undefined, {
      baseUrl: `${base}/flaky/`,
      backoffMs: 1,
    })
    expect(card.available).toBe(true)
    expect(flakyFailures).toBe(1)
    expect(hits.filter((h) => h === '/flaky/weights.bin')).toHaveLength(2)
  })

  it('reports a missing shard plainly and leaves nothing half-written', async () => {
    const dataDir = join(tmp, 'dl-404')
    const err = await downloadModel('mobilenet-v1-100-224', dataDir, undefined, {
      baseUrl: `${base}/missing/`,
      backoffMs: 1,
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).message).toBe(
      "Could not download 'weights.bin' for MobileNet v1 1.0 (224): the server answered 404 Not Found. Check the connection and try again.",
    )
    expect(existsSync(join(dataDir, 'models', 'mobilenet-v1-100-224'))).toBe(false)
  })
})
