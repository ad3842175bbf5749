/** The data directory's layout: the paths the app, the job process and the CLI agree on. */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as layout from '../../src/main/ml/layout'

const d = join('/data', 'tw')

describe('layout', () => {
  it('puts every file where the data folder has always kept it', () => {
    expect(layout.databaseFile(d)).toBe(join(d, 'tunewise.db'))
    expect(layout.runsDir(d)).toBe(join(d, 'runs'))
    expect(layout.runDir(d, 7)).toBe(join(d, 'runs', '7'))
    expect(layout.runModelDir(d, 7)).toBe(join(d, 'runs', '7', 'model'))
    expect(layout.modelDirInRun(layout.runDir(d, 7))).toBe(layout.runModelDir(d, 7))
    expect(layout.runPredictionsFile(d, 7)).toBe(join(d, 'runs', '7', 'predictions.json'))
    expect(layout.modelsDir(d)).toBe(join(d, 'models'))
    expect(layout.modelDir(d, 'mobilenet')).toBe(join(d, 'models', 'mobilenet'))
    expect(layout.datasetDir(d, 'ds1')).toBe(join(d, 'datasets', 'ds1'))
    expect(layout.datasetFilesFile(d, 'ds1')).toBe(join(d, 'datasets', 'ds1', 'files.json'))
    expect(layout.sampleDataDir(d, 'shapes')).toBe(join(d, 'sample-data', 'shapes'))
    expect(layout.cacheDir(d)).toBe(join(d, 'cache'))
    expect(layout.featureCacheDir(layout.cacheDir(d))).toBe(join(d, 'cache', 'features'))
    expect(layout.layersCacheDir(d)).toBe(join(d, 'cache', 'layers'))
    expect(layout.layersCacheFile(d, 'mobilenet')).toBe(join(d, 'cache', 'layers', 'mobilenet.json'))
    expect(layout.timingsFile(d)).toBe(join(d, 'cache', 'timings.json'))
  })
})
