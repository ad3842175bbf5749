/**
 * Entry point of one feature-extraction worker process (see parallel-extract.ts). It serves one
 * `extract` task through the shared port: it loads the base the parent saved, runs
 * `extractFeatures` over its shard (which writes the shared disk cache) and exits. It sends no
 * vectors back: the cache carries them.
 */
import { serveTasks } from '../../tasks/port'
import { initBackend } from '../backend'
import { loadModelFolder } from '../models/load'
import { extractFeatures, featureStats } from './features'

serveTasks({
  extract: async (input, ctx) => {
    await initBackend(input.backend)
    const base = await loadModelFolder(input.modelDir)
    // Progress at most every 200 ms: a message per batch is cheap, but the parent only sums them for a bar.
    let last = 0
    await extractFeatures(base, input.files, {
      root: input.root,
      inputSize: input.inputSize,
      preprocess: input.preprocess,
      batchSize: input.batchSize,
      cacheDir: input.cacheDir,
      modelKey: input.modelKey,
      audio: input.audio,
      shouldStop: () => ctx.shouldStop(),
      onProgress: (done) => {
        const now = Date.now()
        if (now - last < 200 && done < input.files.length) return
        last = now
        ctx.progress({ fraction: done / Math.max(1, input.files.length), done, total: input.files.length })
      },
    })
    return { baseForwardImages: featureStats.baseForwardImages }
  },
})
