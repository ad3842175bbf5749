/**
 * The training run being watched: progress, status and epoch points from events; runs:metrics
 * fills in the curves when it (re)attaches.
 * It outlives the Train screen, so leaving the screen never stops or forgets a run, and on start
 * (or after the socket reconnects) `resync` re-attaches to whatever main says is active.
 */
import type { ErrorCode } from '$shared/errors'
import type { MetricPoint, RunConfig, RunProgress, RunStatus } from '$shared/types'
import { api, onReconnect } from '../api'
import { epochsPerPhase } from '../core/chart-data'
import { errorText } from '../core/format'

const terminal: RunStatus[] = ['succeeded', 'failed', 'cancelled', 'interrupted']

class RunTracker {
  runId = $state<number | null>(null)
  status = $state<RunStatus | null>(null)
  progress = $state<RunProgress | null>(null)
  error = $state<string | null>(null)
  /** The error's code: the advice shown comes from the shared table, never from the text. */
  errorCode = $state<ErrorCode | null>(null)
  /** The finished run's validation accuracy, by the one definition (src/shared/scores.ts). */
  valAccuracy = $state<number | null>(null)
  backend = $state<string | null>(null)
  name = $state('')
  /** The settings the watched run trains with (from main); null until known. */
  config = $state.raw<RunConfig | null>(null)
  queued = $state<number[]>([])
  /** Epoch- and batch-level points from the database. */
  points = $state.raw<MetricPoint[]>([])
  /** Live per-batch training loss: x in epochs (across phases), y the loss. */
  batchLoss = $state.raw<{ x: number; y: number }[]>([])
  /** Wall-clock ms when this screen first saw the run (for a fallback elapsed time). */
  seenAt = $state(0)

  readonly active = $derived(this.status === 'running' || this.status === 'queued')

  private finishedListeners = new Set<(runId: number, status: RunStatus) => void>()

  constructor() {
    api.on('run:progress', (p) => this.onProgress(p))
    api.on('run:status', (s) => this.onStatus(s.runId, s.status, s.error ?? null, s.errorCode ?? null))
    api.on('run:epoch', (e) => {
      // Epoch points arrive as they are written; a fetch fills any gap after a reconnect.
      if (e.runId !== this.runId) return
      const key = (p: MetricPoint): string => `${p.phase}:${p.epoch}:${p.step}:${p.split}:${p.name}`
      const fresh = new Set(e.points.map(key))
      this.points = [...this.points.filter((p) => !fresh.has(key(p))), ...e.points]
    })
    onReconnect(() => void this.resync())
  }

  /** Calls `listener` when the watched run reaches a final status. */
  onFinished(listener: (runId: number, status: RunStatus) => void): () => void {
    this.finishedListeners.add(listener)
    return () => this.finishedListeners.delete(listener)
  }

  /** Asks main for the active run and watches it. Returns its id, or null. */
  async resync(): Promise<number | null> {
    try {
      const active = await api.invoke('runs:active', {})
      this.queued = active.queued
      if (active.runId !== null) {
        if (active.runId !== this.runId) await this.attach(active.runId, active.progress)
        else if (active.progress) this.progress = active.progress
        return active.runId
      }
      // Our run ended while we were not listening: fetch how it ended.
      if (this.runId !== null && this.active) await this.refreshDetail()
      return null
    } catch {
      return null
    }
  }

  /** Starts watching a run (new, or found running). */
  async attach(runId: number, progress: RunProgress | null = null, status: RunStatus = 'running'): Promise<void> {
    this.runId = runId
    this.status = status
    this.config = null
    this.progress = progress
    this.error = null
    this.errorCode = null
    this.valAccuracy = null
    this.points = []
    this.batchLoss = []
    this.seenAt = Date.now()
    await Promise.all([this.refreshDetail(), this.refreshMetrics()])
  }

  async start(config: RunConfig): Promise<number> {
    const { runId } = await api.invoke('runs:start', { config })
    // Main may have numbered the name ("… (2)"): the stored name and settings come with the detail.
    this.name = config.name
    await this.attach(runId, null, 'queued')
    this.config ??= config
    return runId
  }

  async cancel(): Promise<void> {
    if (this.runId === null) return
    await api.invoke('runs:cancel', { runId: this.runId })
  }

  /** Forgets a finished run (the Train screen goes back to its start button). */
  clear(): void {
    if (this.active) return
    this.runId = null
    this.status = null
    this.config = null
    this.progress = null
    this.error = null
    this.errorCode = null
    this.valAccuracy = null
    this.points = []
    this.batchLoss = []
  }

  private async refreshDetail(): Promise<void> {
    const id = this.runId
    if (id === null) return
    try {
      const d = await api.invoke('runs:get', { runId: id })
      if (id !== this.runId) return
      this.name = d.name
      this.config = d.config
      this.backend = d.backend
      this.valAccuracy = d.bestValAccuracy
      if (d.status !== this.status && (terminal.includes(d.status) || this.status === 'queued')) {
        this.onStatus(id, d.status, d.error, d.errorCode)
      }
    } catch (err) {
      if (id === this.runId) this.error = errorText(err)
    }
  }

  async refreshMetrics(): Promise<void> {
    const id = this.runId
    if (id === null) return
    try {
      const all = await api.invoke('runs:metrics', { runIds: [id] })
      if (id !== this.runId) return
      const pts = all[id] ?? []
      this.points = pts
      // Rebuild the batch curve from stored batch points when we re-attach mid-run.
      if (this.batchLoss.length === 0) {
        const perPhase = epochsPerPhase(pts)
        const batch = pts.filter(
          (p) => p.step !== null && p.step !== undefined && p.split === 'train' && p.name === 'loss',
        )
        if (batch.length) {
          const maxStep: Record<string, number> = {}
          for (const p of batch) {
            const k = `${p.phase}:${p.epoch}`
            maxStep[k] = Math.max(maxStep[k] ?? 0, (p.step ?? 0) + 1)
          }
          const firstEpoch = Math.min(...batch.filter((p) => p.phase === 1).map((p) => p.epoch), 1)
          this.batchLoss = batch.map((p) => ({
            x:
              (p.phase === 2 ? perPhase[1] : 0) +
              (p.epoch - firstEpoch) +
              ((p.step ?? 0) + 1) / (maxStep[`${p.phase}:${p.epoch}`] ?? 1),
            y: p.value,
          }))
        }
      }
    } catch {
      // Curves are a nicety: keep the last ones.
    }
  }

  private onProgress(p: RunProgress): void {
    if (this.runId === null || (p.runId !== this.runId && !this.active)) {
      // A run we did not start here (another window, the CLI, a queued one): watch it.
      void this.attach(p.runId, p)
      return
    }
    if (p.runId !== this.runId) return
    if (this.status === 'queued') this.status = 'running'
    this.progress = p
    const loss = p.metrics.loss
    if (p.stage === 'training' && p.batches > 0 && typeof loss === 'number' && Number.isFinite(loss)) {
      const offset = p.phase === 2 ? epochsPerPhase(this.points)[1] : 0
      const x = offset + Math.max(0, p.epoch - 1) + Math.min(1, p.batch / p.batches)
      const last = this.batchLoss[this.batchLoss.length - 1]
      if (!last || last.x !== x) this.batchLoss = [...this.batchLoss, { x, y: loss }]
    }
  }

  private onStatus(runId: number, status: RunStatus, error: string | null, code: ErrorCode | null = null): void {
    if (runId !== this.runId) {
      if (this.runId === null && (status === 'running' || status === 'queued')) void this.attach(runId, null, status)
      return
    }
    const was = this.status
    this.status = status
    if (error) this.error = error
    if (code) this.errorCode = code
    if (terminal.includes(status) && was !== status) {
      void this.refreshMetrics()
      void api
        .invoke('runs:get', { runId })
        .then((d) => {
          if (runId !== this.runId) return
          this.backend = d.backend
          this.valAccuracy = d.bestValAccuracy
        })
        .catch(() => {})
      for (const l of this.finishedListeners) l(runId, status)
    }
  }
}

export const run = new RunTracker()
