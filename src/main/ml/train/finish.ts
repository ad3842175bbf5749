/**
 * The end of a run: score the validation and test splits, export the model (adapters merged into a plain
 * base, the adapter saved beside it), save the run's own predictions.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import type { LayersModel, Tensor } from '@tensorflow/tfjs'
import type { Evaluation } from '../../../shared/types'
import { evaluatePredictions } from '../eval/evaluate'
import { adapterWeights, hasAdapters, saveAdapter, type AdapterSet } from '../adapters/adapters'
import { writeExport, type ExportMetadata } from '../export/export'
import { mergeAdapters } from '../export/merge'
import { runAdapterDir, runDir, runModelDir, runPredictionsFile } from '../layout'
import { preprocessDescriptions } from '../models/catalogue'
import type { LoadedModel } from '../models/load'
import { predictProbs } from './fit-loop'
import type { PreparedRun } from './phase'
import { audioInputSpec } from './audio-inputs'
import type { TrainedPhase } from './phase1'
import type { RunContext } from './run-context'
import type { Split } from './splits'

/** Probabilities the run itself computed, saved for export verification and per-example diffs. */
export interface RunPredictions {
  labels: string[]
  root: string
  val: { file: string; probabilities: number[] }[]
  test: { file: string; probabilities: number[] }[]
}

interface Scored {
  evaluation: Evaluation
  rows: RunPredictions['test']
}

/** Predicts `xs` with `model` and scores them against `split`; null for an empty split. */
function score(
  ctx: RunContext,
  model: LayersModel,
  split: Split,
  xs: Tensor[],
  name: Evaluation['split'],
): Scored | null {
  if (split.examples.length === 0) return null
  const labels = ctx.job.labels
  const probs = predictProbs(model, xs, 32)
  const examples = split.examples.map((e, i) => ({ file: e.file, label: split.labels[i] }))
  const evaluation = evaluatePredictions(probs, examples, labels, name)
  const rows = split.examples.map((e, i) => ({
    file: e.file,
    probabilities: Array.from(probs.subarray(i * labels.length, (i + 1) * labels.length)),
  }))
  return { evaluation, rows }
}

/** The export's metadata.json (Teachable Machine's fields plus where the model came from). */
function exportMetadata(ctx: RunContext, loaded: LoadedModel): ExportMetadata {
  const [h, w] = loaded.inputSize
  return {
    tfjsVersion: ctx.tf.version.tfjs,
    packageName: 'tunewise',
    packageVersion: '0.1.0',
    modelName: ctx.config.name,
    timeStamp: new Date().toISOString(),
    labels: [...ctx.job.labels],
    imageSize: h === w ? h : Math.max(h, w),
    inputSize: [h, w],
    preprocessing: loaded.preprocess,
    preprocessingDescription: preprocessDescriptions[loaded.preprocess],
    sourceModel: { id: loaded.card.id, name: loaded.card.name, license: loaded.card.license },
    runId: ctx.job.runId,
    ...soundMetadata(ctx),
  }
}

/** For a sound model: how a recording becomes its input, as data and in words. */
function soundMetadata(ctx: RunContext): Pick<ExportMetadata, 'audio'> {
  const audio = audioInputSpec(ctx.config)
  if (!audio) return {}
  const { clip, spectrogram: s } = audio
  const description =
    `Sound, cut into clips of ${clip.clipSeconds} s at ${clip.sampleRate} Hz (mono; shorter clips padded with silence), ` +
    `each drawn as a log-mel spectrogram: Hann window ${s.windowMs} ms every ${s.hopMs} ms, ${s.melBands} mel bands ` +
    `from ${s.fMin} to ${s.fMax ?? clip.sampleRate / 2} Hz, in dB scaled per clip so its loudest point is 1 and ` +
    `${s.topDb} dB below is 0, resized (bilinear) to the input size as grey RGB with low pitch at the bottom.`
  return { audio: { ...audio, description } }
}

/**
 * The base the export carries: the base itself, or with `adapters` merged in (a plain base, no custom layer).
 * The adapter is also saved on its own, and posted as the run's 'adapter' artifact.
 */
async function exportBase(ctx: RunContext, base: LayersModel, adapters: AdapterSet | null | undefined) {
  if (!hasAdapters(adapters)) return base
  const weights = adapterWeights(adapters)
  const merged = mergeAdapters(base, weights)
  ctx.keepWeights(merged)
  const dir = runAdapterDir(ctx.io.dataDir, ctx.job.runId)
  await saveAdapter(dir, weights, ctx.config.modelId)
  ctx.io.post({ type: 'artifact', kind: 'adapter', path: dir })
  return merged
}

/**
 * Evaluates `final` on val and test (posting each evaluation), exports base + `head` to the run's model
 * folder with predictions.json beside it (adapters merged, see `exportBase`), and posts the artifact and `done`.
 * @param phase the last phase trained, for progress.
 */
export async function finishRun(
  ctx: RunContext,
  run: PreparedRun,
  head: LayersModel,
  final: TrainedPhase & { adapters?: AdapterSet | null },
  phase: 1 | 2,
): Promise<void> {
  const { job, io } = ctx
  ctx.stage(phase, 'evaluating')
  const val = score(ctx, final.model, run.splits.val, final.valX, 'val')
  const test = score(ctx, final.model, run.splits.test, final.testX, 'test')
  if (val) io.post({ type: 'evaluation', evaluation: val.evaluation })
  if (test) io.post({ type: 'evaluation', evaluation: test.evaluation })

  ctx.stage(phase, 'exporting')
  await mkdir(runDir(io.dataDir, job.runId), { recursive: true })
  const modelPath = runModelDir(io.dataDir, job.runId)
  const base = await exportBase(ctx, run.loaded.base, final.adapters)
  await writeExport(base, head, modelPath, exportMetadata(ctx, run.loaded))
  const predictions: RunPredictions = {
    labels: [...job.labels],
    root: job.datasetPath,
    val: val?.rows ?? [],
    test: test?.rows ?? [],
  }
  await writeFile(runPredictionsFile(io.dataDir, job.runId), JSON.stringify(predictions))
  io.post({ type: 'artifact', kind: 'model', path: modelPath })
  io.post({
    type: 'done',
    status: 'succeeded',
    bestValAccuracy: val ? val.evaluation.accuracy : null,
    testAccuracy: test ? test.evaluation.accuracy : null,
  })
}
