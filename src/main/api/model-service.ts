/**
 * Models as the app sees them: the catalogue plus imported and downloaded models, their layer
 * lists (cached on disk so the Freeze step opens fast), export and "try your own image".
 * Everything that runs TensorFlow runs as a task in a child process: main never stalls on it.
 */
import { ensureInside } from '../safe-path'
import { cacheDir, layersCacheDir, layersCacheFile, runDir, runModelDir, timingsFile } from '../ml/layout'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LayerInfo, ModelCard, RunConfig, RunDetail } from '../../shared/types'
import type { Repositories } from '../db/repositories'
import { AppError } from '../errors'
import type { EventHub } from '../ipc'
import type { TaskManager } from '../tasks/task-manager'
import { detectBackend } from '../ml/backend-detect'
import { featureCacheServes, phase2Runs, trainableLayerNames } from '../../shared/run-rules'

type TaskRunner = Pick<TaskManager, 'run'>

/** Rough seconds per image for one forward pass of a 224 MobileNet-class base, per backend. */
const SECONDS_PER_IMAGE: Record<string, number> = { 'tensorflow-gpu': 0.005, tensorflow: 0.03, wasm: 0.1, cpu: 1.1 }

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
  private async secondsPerImage(card: ModelCard): Promise<number> {
    const backend = detectBackend(process.env.TUNEWISE_BACKEND).backend
    const file = timingsFile(this.dataDir)
    const timings = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : {}
    const key = `${card.id}@${backend}`
    if (timings[key]) return timings[key]
    const fallback = (SECONDS_PER_IMAGE[backend] ?? 0.1) * ((card.inputSize[0] * card.inputSize[1]) / (224 * 224))
    // While a run trains, a probe would compete for the CPU and measure nonsense.
    if (this.busy()) return fallback
    try {
      const result = await this.tasks.run('probe', { modelId: card.id, dataDir: this.dataDir }, { timeoutMs: 60_000 })
      timings[`${card.id}@${result.backend}`] = result.secondsPerImage
      mkdirSync(cacheDir(this.dataDir), { recursive: true })
      writeFileSync(file, JSON.stringify(timings, null, 2))
      return result.secondsPerImage
    } catch {
      return fallback
    }
  }

  /**
   * An estimate from the measured forward speed, the dataset size and the freeze choice: phase 2
   * runs only where `phase2Runs` says so, and costs in proportion to the part of the base above the
   * first trainable layer (activations below it are cached once).
   */
  async estimate(
    config: RunConfig,
    images: number,
  ): Promise<{ extractionSeconds: number; secondsPerEpoch: number; totalSeconds: number }> {
    const card = await this.card(config.modelId)
    const perImage = await this.secondsPerImage(card)
    const cached = featureCacheServes(config)
    // Decoding and resizing add roughly a fifth to the forward pass.
    const extractionSeconds = cached ? images * perImage * 1.2 : 0
    // Head epochs on cached features are cheap; with augmentation every epoch runs the base.
    const secondsPerEpoch = cached ? Math.max(0.02, images * 0.0005) : images * perImage * 1.2
    let phase2 = 0
    if (phase2Runs(config)) {
      const layers = await this.layers(config.modelId).catch(() => [])
      const trainable = trainableLayerNames(config.freeze, layers)
      const base = layers.filter((l) => l.inBase)
      const first = base.findIndex((l) => trainable.has(l.name))
      // Without the layer list, assume the top quarter of the base trains.
      const above = base.length && first >= 0 ? (base.length - first) / base.length : 0.25
      // Backpropagation through the unfrozen part costs about three forward passes of that part.
      phase2 = images * perImage * (1 - above) + config.phase2.epochs * images * perImage * above * 3
    }
    const totalSeconds = 3 + extractionSeconds + secondsPerEpoch * config.hyper.epochs + phase2
    return { extractionSeconds, secondsPerEpoch, totalSeconds }
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

  async exportRun(
    run: RunDetail,
    outDir: string,
  ): Promise<{ dir: string; files: string[]; maxDifference: number; agreement: number }> {
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
    })
    this.repos.runs.addArtifact(run.id, 'export', outDir)
    return result
  }

  async predict(run: RunDetail, file?: string, dataUrl?: string): Promise<{ label: string; confidence: number }[]> {
    const modelDir = this.modelDir(run)
    if (file) return this.tasks.run('predict', { modelDir, file })
    const match = /^data:image\/[a-z0-9.+-]+;base64,(.*)$/i.exec(dataUrl ?? '')
    if (!match) throw new AppError('bad_data', 'That is not an image. Drop a JPEG, PNG, WebP or GIF file.')
    return this.tasks.run('predict', { modelDir, base64: match[1]! })
  }
}
