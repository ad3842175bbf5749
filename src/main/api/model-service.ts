/**
 * Models as the app sees them: the catalogue plus imported and downloaded models, their layer
 * lists (cached on disk so the Freeze step opens fast), export and "try your own image".
 * Everything that runs TensorFlow runs as a task in a child process: main never stalls on it.
 */
import { ensureInside } from '../safe-path'
import { cacheDir, layersCacheDir, layersCacheFile, runDir, runModelDir, timingsFile } from '../ml/layout'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { basename, join } from 'node:path'
import type {
  DatasetReport,
  ExportFormat,
  LayerInfo,
  ModelCard,
  RunCard,
  RunConfig,
  RunDetail,
} from '../../shared/types'
import type { ExportCardFacts, ExportOutput } from '../../shared/tasks'
import type { Repositories } from '../db/repositories'
import { AppError } from '../errors'
import type { EventHub } from '../ipc'
import type { TaskManager } from '../tasks/task-manager'
import { detectBackend } from '../ml/backend-detect'
import { phase2Runs, phase2TapeShare } from '../../shared/run-rules'
import { estimateRun, extractionWorkerCount, type RunEstimate } from '../../shared/estimate'
import type { ClipSettings } from '../ml/audio/clips'
import { clipSettingsOf } from '../ml/audio/settings'
import type { AudioInputSpec } from '../ml/audio/source'

type TaskRunner = Pick<TaskManager, 'run'>

/** Rough seconds per image for one forward pass of a 224 MobileNet-class base, per backend. */
const SECONDS_PER_IMAGE: Record<string, number> = { 'tensorflow-gpu': 0.005, tensorflow: 0.03, wasm: 0.1, cpu: 1.1 }
/**
 * One head epoch per training example at 1,280 features: the linear head trains in a plain-JS kernel on every
 * backend (src/main/ml/train/linear-head.ts), measured by `npm run bench -- --head` at ~74 epochs/s on 1,000
 * vectors here, validation included; rounded up for slower machines.
 */
const HEAD_SECONDS_PER_EXAMPLE = 0.00002

export class ModelService {
  constructor(
    private readonly dataDir: string,
    private readonly hub: EventHub,
    private readonly repos: Repositories,
    private readonly tasks: TaskRunner,
    private readonly busy: () => boolean = () => false,
  ) {}

  /** The catalogue and what is on this machine: reads files only, no TensorFlow work. */
  async list(): Promise<ModelCard[]> {
    const { listModels } = await import('../ml/models/load')
    return listModels(this.dataDir)
  }

  async card(modelId: string): Promise<ModelCard> {
    const card = (await this.list()).find((m) => m.id === modelId)
    if (!card)
      throw new AppError('not_found', `The model '${modelId}' is not in the catalogue. Pick another on the Model step.`)
    return card
  }

  async requireAvailable(modelId: string): Promise<ModelCard> {
    const card = await this.card(modelId)
    if (!card.supported) throw new AppError('conflict', card.unsupportedReason ?? `${card.name} is not supported yet.`)
    if (!card.available)
      throw new AppError('conflict', `${card.name} is not on this machine yet. Download it on the Model step first.`)
    return card
  }

  async layers(modelId: string): Promise<LayerInfo[]> {
    const card = await this.requireAvailable(modelId)
    const cacheFile = layersCacheFile(this.dataDir, modelId)
    if (existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, 'utf8')) as LayerInfo[]
    const layers = await this.tasks.run('layers', { modelId: card.id, dataDir: this.dataDir })
    mkdirSync(layersCacheDir(this.dataDir), { recursive: true })
    writeFileSync(cacheFile, JSON.stringify(layers))
    return layers
  }

  async import(path: string): Promise<ModelCard> {
    return this.tasks.run('import', { folder: path, dataDir: this.dataDir })
  }

  async download(modelId: string): Promise<ModelCard> {
    return this.tasks.run(
      'download',
      { modelId, dataDir: this.dataDir },
      {
        label: `Downloading ${modelId}`,
        onProgress: (p) => this.hub.emit('model:download', { modelId, received: p.done ?? 0, total: p.total ?? null }),
      },
    )
  }

  /**
   * Seconds per image for the base's forward pass on this machine: measured once per model and
   * backend by a short probe in a child process, then kept in the data folder.
   */
  /** Probes in flight by model and backend: estimates asked while one runs share it instead of queueing more. */
  private readonly probes = new Map<string, Promise<number>>()

  private async secondsPerImage(card: ModelCard): Promise<number> {
    const backend = detectBackend(process.env.TUNEWISE_BACKEND).backend
    const file = timingsFile(this.dataDir)
    const timings = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : {}
    const key = `${card.id}@${backend}`
    if (timings[key]) return timings[key]
    const fallback = (SECONDS_PER_IMAGE[backend] ?? 0.1) * ((card.inputSize[0] * card.inputSize[1]) / (224 * 224))
    // While a run trains, a probe would compete for the CPU and measure nonsense.
    if (this.busy()) return fallback
    const pending = this.probes.get(key)
    if (pending) return pending
    const probe = this.tasks
      .run('probe', { modelId: card.id, dataDir: this.dataDir }, { timeoutMs: 60_000 })
      .then((result) => {
        const latest = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : {}
        latest[`${card.id}@${result.backend}`] = result.secondsPerImage
        mkdirSync(cacheDir(this.dataDir), { recursive: true })
        writeFileSync(file, JSON.stringify(latest, null, 2))
        return result.secondsPerImage
      })
      .catch(() => fallback)
      .finally(() => this.probes.delete(key))
    this.probes.set(key, probe)
    return probe
  }

  /**
   * The run's time in parts (`estimateRun`, src/shared/estimate.ts) from the measured forward speed, the
   * dataset size and the strategy: phase 2 costs in proportion to the part of the base above its first
   * trained layer, adapted layer or nudged output (`phase2TapeShare`; activations below it are cached once).
   */
  async estimate(config: RunConfig, images: number): Promise<RunEstimate> {
    const card = await this.card(config.modelId)
    const perImage = await this.secondsPerImage(card)
    const backend = detectBackend(process.env.TUNEWISE_BACKEND).backend
    let tapeShare = 0
    if (phase2Runs(config)) {
      const layers = await this.layers(config.modelId).catch(() => [])
      // Without the layer list, assume the top quarter of the base is on the tape.
      tapeShare = layers.length ? phase2TapeShare(config, layers) : 0.25
    }
    return estimateRun(config, {
      images,
      secondsPerImage: perImage,
      extractionWorkers: extractionWorkerCount(backend, availableParallelism(), Boolean(process.versions.electron)),
      headSecondsPerExample: HEAD_SECONDS_PER_EXAMPLE,
      tapeShare,
    })
  }

  private modelDir(run: RunDetail): string {
    const art = run.artifacts.find((a) => a.kind === 'model')
    // The stored path is only trusted inside this run's own folder.
    let dir: string
    try {
      dir = art ? ensureInside(runDir(this.dataDir, run.id), art.path) : runModelDir(this.dataDir, run.id)
    } catch {
      dir = runModelDir(this.dataDir, run.id)
    }
    if (!existsSync(join(dir, 'model.json')))
      throw new AppError(
        'not_found',
        'The trained model of this run is missing from the data folder. Train the run again.',
      )
    return dir
  }

  /**
   * Exports a run in `format` (a TF.js folder or a Teachable Machine–compatible one, optionally one .zip) with
   * its model card, in the export worker. `outDir` was checked by `checkExportTarget`; the worker writes beside
   * it and renames into place only after loading the files back and comparing them with the run's answers.
   */
  async exportRun(
    run: RunDetail,
    outDir: string,
    options: { format: ExportFormat; zip: boolean; overwrite: boolean; intendedUse?: string },
    data: RunDataFacts,
  ): Promise<ExportOutput> {
    // The export is checked against the run's own test images: say so before writing anything.
    if (!existsSync(run.datasetPath))
      throw new AppError(
        'not_found',
        `The images this run was tested on are no longer at '${run.datasetPath}', so the exported model cannot be checked against them. Put the folder back, then export again. Nothing was written.`,
      )
    const result = await this.tasks.run('export', {
      modelDir: this.modelDir(run),
      outDir,
      datasetPath: run.datasetPath,
      evaluation: run.evaluations.find((e) => e.split === 'test') ?? null,
      format: options.format,
      zip: options.zip,
      overwrite: options.overwrite,
      card: await this.cardFacts(run, data, options.intendedUse),
    })
    this.repos.runs.addArtifact(run.id, 'export', outDir)
    return result
  }

  /** What a run's card is built from, as far as main knows it (the export adds its check). */
  private async cardFacts(run: RunDetail, data: RunDataFacts, intendedUse?: string): Promise<ExportCardFacts> {
    const base = await this.card(run.config.modelId).catch((): ModelCard => ({
      id: run.config.modelId,
      name: run.config.modelId,
      task: 'image-classification',
      supported: true,
      inputSize: [0, 0],
      parameters: 0,
      license: 'unknown (the base model is no longer on this machine)',
      licenseKind: 'unknown',
      source: { kind: 'imported', description: 'No longer on this machine.' },
      card: { summary: '', trainedOn: '', input: '', preprocessing: '', limitations: 'unknown.' },
      featureLayer: '',
      available: false,
    }))
    const { id, name, config, evaluations, backend, backendReason, durationMs, finishedAt, testAccuracy } = run
    return {
      run: { id, name, config, evaluations, backend, backendReason, durationMs, finishedAt, testAccuracy },
      base: {
        id: base.id,
        name: base.name,
        license: base.license,
        licenseKind: base.licenseKind,
        card: base.card,
        source: base.source,
      },
      datasetName: basename(run.datasetPath) || run.datasetId,
      splitCounts: data.splitCounts,
      dataset: data.report
        ? {
            warnings: data.report.warnings,
            tinyClasses: data.report.tinyClasses,
            sizes: data.report.sizes,
            duplicates: data.report.duplicates,
          }
        : null,
      intendedUse,
    }
  }

  /**
   * The run's model card as an export would write it, for the in-app viewer: the trainable parameters and
   * input come from the run's own model.json and metadata.json (read as JSON, no TensorFlow); the check on
   * export is left "not checked yet".
   */
  async runCard(
    run: RunDetail,
    options: { format: ExportFormat; intendedUse?: string },
    data: RunDataFacts,
  ): Promise<RunCard> {
    const dir = this.modelDir(run)
    const { buildRunCard } = await import('../ml/export/model-card')
    const { countParameters } = await import('../ml/export/export-run')
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Parameters<typeof countParameters>[0]
    const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as {
      inputSize: [number, number]
      preprocessingDescription: string
      tfjsVersion: string
      audio?: AudioInputSpec
    }
    return buildRunCard({
      ...(await this.cardFacts(run, data, options.intendedUse)),
      format: options.format,
      check: null,
      parameters: countParameters(json),
      inputSize: meta.inputSize,
      preprocessingDescription: meta.preprocessingDescription,
      tfjsVersion: meta.tfjsVersion,
      audio: meta.audio ?? null,
    })
  }

  async predict(run: RunDetail, file?: string, dataUrl?: string): Promise<{ label: string; confidence: number }[]> {
    const modelDir = this.modelDir(run)
    if (file) return this.tasks.run('predict', { modelDir, file })
    // A sound model takes a recording (the engine averages its clips); an image model a picture.
    const sound = run.config.dataKind === 'audio'
    const match = (sound ? /^data:audio\/[a-z0-9.+-]+;base64,(.*)$/i : /^data:image\/[a-z0-9.+-]+;base64,(.*)$/i).exec(
      dataUrl ?? '',
    )
    if (!match)
      throw new AppError(
        'bad_data',
        sound
          ? 'That is not a recording. Drop a WAV, FLAC, MP3 or OGG file.'
          : 'That is not an image. Drop a JPEG, PNG, WebP or GIF file.',
      )
    return this.tasks.run('predict', { modelDir, base64: match[1]! })
  }
}

/** What the dataset store knows about a run's data, for its card. */
export interface RunDataFacts {
  report: DatasetReport | null
  splitCounts: ExportCardFacts['splitCounts']
}

/**
 * A run's dataset report and images per class and split. The split is recomputed from the run's settings
 * (seeded, so the same as the run's) and trusted only while it still matches the run's own evaluations: if the
 * folder or its exclusions changed since, validation and test counts come from the evaluations and the
 * training counts are "not recorded".
 */
export function runDataFacts(
  datasets: {
    get(id: string): DatasetReport
    split(
      id: string,
      ratios: RunConfig['split'],
      clip?: ClipSettings,
    ): { perClass: { label: string; train: number; val: number; test: number }[] }
  },
  run: RunDetail,
): RunDataFacts {
  let report: DatasetReport | null = null
  try {
    report = datasets.get(run.datasetId)
  } catch {
    report = null
  }
  const support = (split: 'val' | 'test', label: string): number =>
    run.evaluations.find((e) => e.split === split)?.perClass.find((c) => c.label === label)?.support ?? 0
  const labels =
    run.evaluations.find((e) => e.split === 'test')?.labels ??
    run.evaluations.find((e) => e.split === 'val')?.labels ??
    []
  const fallback = labels.map((label) => ({
    label,
    train: null,
    val: support('val', label),
    test: support('test', label),
  }))
  if (!report) return { report, splitCounts: labels.length ? fallback : null }
  try {
    const perClass = datasets
      // A sound run's clips depend on its clip length.
      .split(run.datasetId, run.config.split, run.config.dataKind === 'audio' ? clipSettingsOf(run.config) : undefined)
      .perClass.filter((c) => c.train + c.val + c.test > 0)
    const matches = ['val', 'test'].every((split) => {
      const ev = run.evaluations.find((e) => e.split === split)
      return (
        !ev ||
        ev.perClass.every((c) => perClass.find((p) => p.label === c.label)?.[split as 'val' | 'test'] === c.support)
      )
    })
    if (matches && perClass.length === labels.length) return { report, splitCounts: perClass }
  } catch {
    // The dataset cannot be split any more (e.g. everything excluded): fall back to the evaluations.
  }
  return { report, splitCounts: labels.length ? fallback : null }
}
