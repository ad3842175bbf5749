/**
 * Entry point of one feature-extraction worker process (see parallel-extract.ts). It serves one
 * `extract` task through the shared port: it loads the base the parent saved, computes the vectors of
 * its shard that the cache lacks and streams them into the shared chunked cache, then exits. It keeps
 * no vector and sends none back: the cache carries them.
 */
import { serveTasks } from '../../tasks/port'
import { initBackend } from '../backend'
import { loadModelFolder } from '../models/load'
import { cacheFeatures, featureStats } from './features'

serveTasks({
  extract: async (input, ctx) => {
    await initBackend(input.backend)
    const base = await loadModelFolder(input.modelDir)
    // Progress at most every 200 ms: a message per batch is cheap, but the parent only sums them for a bar.
    let last = 0
    await cacheFeatures(
      base,
      input.files,
      {
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
      },
      input.keys,
    )
    return { baseForwardImages: featureStats.baseForwardImages }
  },
})
