/**
 * The wizard: the RunConfig being built (from defaultRunConfig), the chosen model card, the dataset
 * report, the split preview and the current step. It saves itself as a draft (debounced) and
 * restores that draft at start, so an unfinished wizard survives a restart.
 */
import { untrack } from 'svelte'
import { defaultRunConfig } from '$shared/run-config'
import {
  dataKindOf,
  type DatasetReport,
  type LayerInfo,
  type ModelCard,
  type RunConfig,
  type SplitSummary,
} from '$shared/types'
import { api } from '../api'
import { defaultRunName, errorText } from '../core/format'
import { allSteps, readDraft, sameSettings, stepBlockers, type Draft, type StepId } from '../core/wizard-logic'
import { app } from './app.svelte'
import { run } from './run.svelte'

const DRAFT_DELAY_MS = 600
const SPLIT_DELAY_MS = 250

class WizardStore {
  config = $state<RunConfig>(defaultRunConfig('', ''))
  step = $state<StepId>('model')
  models = $state<ModelCard[]>([])
  modelsError = $state<string | null>(null)
  report = $state<DatasetReport | null>(null)
  split = $state<SplitSummary | null>(null)
  splitError = $state<string | null>(null)
  splitLoading = $state(false)
  layers = $state.raw<LayerInfo[]>([])
  layersFor = $state('')
  layersError = $state<string | null>(null)
  /** Invalid fields by id, with their message; any entry keeps Train locked. */
  invalid = $state<Record<string, string>>({})
  /** True once the user typed their own run name: stop generating one. */
  nameEdited = $state(false)
  resultsRunId = $state<number | null>(null)
  ready = $state(false)

  readonly model = $derived(this.models.find((m) => m.id === this.config.modelId) ?? null)
  readonly invalidCount = $derived(Object.keys(this.invalid).length)
  /**
   * Whether the Train screen shows the watched run: while it runs, and once it ended only as long as
   * the wizard still holds its settings. Change any setting and Train offers the new run instead of
   * the stale one.
   */
  readonly showsRun = $derived(
    run.runId !== null && (run.active || run.config === null || sameSettings(run.config, this.config)),
  )
  readonly blockers = $derived(
    stepBlockers({
      model: this.model,
      report: this.report,
      split: this.split,
      invalidFields: this.invalidCount,
      hasRun: this.showsRun,
      hasResults: this.resultsRunId !== null,
    }),
  )

  private pendingDraft: Draft | null = null
  private splitTimer: ReturnType<typeof setTimeout> | null = null
  private splitSeq = 0

  /** Loads models, the saved draft and any active run; then keeps the draft saved. */
  async init(): Promise<void> {
    // Registered before the awaits below: a run that ends while they load still opens its results.
    run.onFinished((runId, status) => {
      if (status !== 'succeeded') return
      this.resultsRunId = runId
      if (this.step === 'train') this.step = 'results'
    })
    const [models, draftRes, activeId] = await Promise.all([
      api.invoke('models:list', {}).catch((err: unknown) => {
        this.modelsError = errorText(err)
        return [] as ModelCard[]
      }),
      api.invoke('drafts:get', {}).catch(() => ({ draft: null })),
      run.resync(),
    ])
    this.models = models
    const draft = readDraft(draftRes.draft, defaultRunConfig('', ''))
    if (draft) {
      this.config = draft.config
      this.nameEdited = draft.nameEdited
      this.resultsRunId ??= draft.resultsRunId
      if (draft.config.datasetId) await this.loadDataset(draft.config.datasetId, false)
    }
    if (!this.model) this.preselectModel()
    if (this.report) await this.previewSplitNow()
    if (activeId !== null)
      this.step = run.status === 'succeeded' && this.resultsRunId === activeId ? 'results' : 'train'
    else if (draft) this.step = this.furthestReachable(draft.step)
    this.ready = true
    addEventListener('pagehide', () => this.flushDraft())
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.flushDraft()
    })
    $effect.root(() => {
      $effect(() => this.keepDraftSaved())
      $effect(() => this.keepNameFresh())
      $effect(() => this.keepSplitFresh())
    })
  }

  private furthestReachable(wanted: StepId): StepId {
    if (!this.blockers[wanted]) return wanted
    let best: StepId = 'model'
    for (const s of allSteps) {
      if (s === wanted) break
      if (!this.blockers[s]) best = s
    }
    return best
  }

  /** Picks the bundled MobileNetV2 (or the first usable card) so a user can just press Next. */
  preselectModel(): void {
    const usable = this.models.filter((m) => m.supported && m.available)
    const pick = usable.find((m) => /mobilenet/i.test(m.id) && m.source.kind === 'bundled') ?? usable[0]
    if (pick) this.selectModel(pick)
  }

  selectModel(card: ModelCard): void {
    if (card.id === this.config.modelId) return
    this.config.modelId = card.id
    // Layer names belong to one model: a custom selection does not carry over.
    if (this.config.freeze.preset === 'custom')
      this.config.freeze = { ...this.config.freeze, preset: 'feature-extraction', trainableLayers: [] }
    this.layers = []
    this.layersFor = ''
  }

  /** Adds or replaces a card (after import or download) in the list. */
  upsertModel(card: ModelCard): void {
    const i = this.models.findIndex((m) => m.id === card.id)
    if (i >= 0) this.models[i] = card
    else this.models.push(card)
  }

  setReport(report: DatasetReport): void {
    const changed = this.report?.id !== report.id
    this.report = report
    this.config.datasetId = report.id
    this.config.dataKind = dataKindOf(report)
    if (changed) this.split = null
    void this.previewSplitNow()
  }

  async loadDataset(datasetId: string, notifyOnError = true): Promise<boolean> {
    try {
      this.setReport(await api.invoke('datasets:get', { datasetId }))
      return true
    } catch (err) {
      if (notifyOnError) app.notify(`Could not open the saved dataset: ${errorText(err)}`, 'error')
      this.config.datasetId = ''
      this.report = null
      return false
    }
  }

  /** Loads the layer table of the chosen model once. */
  async loadLayers(): Promise<void> {
    const id = this.config.modelId
    if (!id || this.layersFor === id) return
    this.layersError = null
    try {
      const layers = await api.invoke('models:layers', { modelId: id })
      if (id !== this.config.modelId) return
      this.layers = layers
      this.layersFor = id
    } catch (err) {
      this.layersError = errorText(err)
    }
  }

  /** Loads a whole config (clone, import, train again) and opens Hyperparameters. */
  async loadConfig(config: RunConfig): Promise<void> {
    const merged = readDraft({ version: 1, config }, defaultRunConfig('', ''))?.config ?? config
    this.config = merged
    this.nameEdited = false
    this.layers = []
    this.layersFor = ''
    this.invalid = {}
    if (!this.model)
      app.notify(`The model '${config.modelId}' is not in the catalogue any more. Choose another one.`, 'error')
    const ok = await this.loadDataset(config.datasetId)
    this.goTo(ok && this.model ? 'hyper' : ok ? 'model' : 'data', true)
  }

  /** Starts a fresh wizard (keeps the chosen model and dataset). */
  reset(): void {
    const c = defaultRunConfig(this.config.modelId, this.config.datasetId)
    this.config = c
    this.nameEdited = false
    this.invalid = {}
  }

  /** Records (message) or clears (null) a field's validation error. Never tracked: fields call it from effects. */
  setInvalid(field: string, message: string | null): void {
    untrack(() => {
      if (message) {
        if (this.invalid[field] !== message) this.invalid[field] = message
      } else if (field in this.invalid) {
        delete this.invalid[field]
      }
    })
  }

  /** Moves to a step if it is reachable (or `force`d, for flows that just made it reachable). */
  goTo(step: StepId, force = false): void {
    if (force || !this.blockers[step]) {
      this.step = step
      requestAnimationFrame(() => document.getElementById('step-heading')?.focus())
    }
  }

  next(): void {
    const order = allSteps
    const i = order.indexOf(this.step)
    const n = order[i + 1]
    if (n) this.goTo(n)
  }

  private keepDraftSaved(): () => void {
    const draft: Draft = {
      version: 1,
      step: this.step,
      config: $state.snapshot(this.config),
      nameEdited: this.nameEdited,
      resultsRunId: this.resultsRunId,
    }
    this.pendingDraft = draft
    const timer = setTimeout(() => this.flushDraft(), DRAFT_DELAY_MS)
    return () => clearTimeout(timer)
  }

  /** Saves the pending draft now (also on page hide, so a quick close keeps the last change). */
  flushDraft(): void {
    const draft = this.pendingDraft
    if (!draft) return
    this.pendingDraft = null
    api.invoke('drafts:save', { draft }).catch(() => {
      // A lost draft is not worth an error box; the next change tries again.
    })
  }

  private keepNameFresh(): void {
    if (this.nameEdited) return
    const name = defaultRunName(this.model?.name ?? '', this.report?.path ?? null, this.config.hyper.learningRate)
    if (this.config.name !== name) this.config.name = name
  }

  private keepSplitFresh(): void {
    const { train, val, test, seed } = this.config.split
    const datasetId = this.report?.id
    if (!datasetId) return
    if (this.split && this.split.datasetId === datasetId) {
      const r = this.split.ratios
      if (r.train === train && r.val === val && r.test === test && r.seed === seed) return
    }
    if (this.splitTimer) clearTimeout(this.splitTimer)
    this.splitTimer = setTimeout(() => void this.previewSplitNow(), SPLIT_DELAY_MS)
  }

  /** Asks main for the split summary of the current ratios now. */
  async previewSplitNow(): Promise<void> {
    const report = this.report
    if (!report) return
    const ratios = $state.snapshot(this.config.split)
    if (Math.abs(ratios.train + ratios.val + ratios.test - 1) > 1e-6) {
      this.splitError = 'Train, validation and test must add up to 100%.'
      this.split = null
      return
    }
    const seq = ++this.splitSeq
    this.splitLoading = true
    try {
      const summary = await api.invoke('splits:preview', { datasetId: report.id, ratios })
      if (seq !== this.splitSeq) return
      this.split = summary
      this.splitError = null
    } catch (err) {
      if (seq !== this.splitSeq) return
      this.split = null
      this.splitError = errorText(err)
    } finally {
      if (seq === this.splitSeq) this.splitLoading = false
    }
  }
}

export const wizard = new WizardStore()
