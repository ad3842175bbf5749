import type { CompareResult, RunQuery } from '../../shared/contract'
import type { Evaluation, MetricPoint, RunConfig, RunDetail, RunStatus, RunSummary } from '../../shared/types'
import { isErrorCode, type ErrorCode } from '../../shared/errors'
import { describeStrategy } from '../../shared/run-rules'
import { uniqueRunName } from '../../shared/run-names'
import { TRAINABLE_PARAMS_METRIC } from '../../shared/metrics'
import { AppError } from '../errors'
import { bestIndex, diffExamples, diffSettings } from './compare'
import { toCsv } from './csv'
import type { TunewiseDb } from './database'
import { isObject, parseJson } from './json'

/** Extra columns `setStatus` may set alongside the status. Absent keys are left as they are. */
export interface RunStatusFields {
  error?: string | null
  /** The error's code (see src/shared/errors.ts); its advice is looked up, never guessed. */
  errorCode?: ErrorCode | null
  backend?: string | null
  /** Why this backend ran and the faster ones did not. */
  backendReason?: string | null
  /** ISO 8601. */
  startedAt?: string | null
  /** ISO 8601. */
  finishedAt?: string | null
  /** Milliseconds; rounded to a whole number. */
  durationMs?: number | null
  bestValAccuracy?: number | null
  testAccuracy?: number | null
}

export interface RunEdit {
  name?: string
  notes?: string
  /** Replaces the run's tags; trimmed, empty ones dropped, duplicates merged. */
  tags?: string[]
  starred?: boolean
}

/**
 * Rows of `CompareResult.metrics`, in this order. Metric points have one shape everywhere
 * (src/shared/metrics.ts): `name` carries no split prefix ('loss', 'acc') and `split` says which set. "Epochs run" has no best: more epochs is not better, so its `bestIndex` is always null.
 */
export const COMPARE_METRICS = {
  bestValAccuracy: 'Validation accuracy',
  testAccuracy: 'Test accuracy',
  finalValLoss: 'Final validation loss',
  finalTrainLoss: 'Final training loss',
  durationMs: 'Duration',
  epochsRun: 'Epochs run',
  trainableParams: 'Trainable parameters',
} as const

interface RunRow {
  id: number
  name: string
  created_at: string
  started_at: string | null
  finished_at: string | null
  model_id: string
  dataset_id: string
  dataset_path: string
  status: RunStatus
  backend: string | null
  backend_reason: string | null
  best_val_accuracy: number | null
  test_accuracy: number | null
  duration_ms: number | null
  error: string | null
  error_code: string | null
  notes: string
  starred: number
  tags: string
  /** The config's `freeze`, `phase2` and `adapters` as JSON text (null for a damaged config), for the strategy. */
  cfg_freeze: string | null
  cfg_phase2: string | null
  cfg_adapters: string | null
  /** The config's `dataKind` ('audio' for sound runs; null for image runs stored before sound existed). */
  cfg_kind: string | null
  trainable_params: number | null
}

interface MetricRow {
  phase: number
  epoch: number
  step: number | null
  split: MetricPoint['split']
  name: string
  value: number | null
  t: number
}

const SUMMARY_SELECT = `
  SELECT r.id, r.name, r.created_at, r.started_at, r.finished_at, r.model_id, r.dataset_id, r.dataset_path,
         r.status, r.backend, r.backend_reason, r.best_val_accuracy, r.test_accuracy, r.duration_ms, r.error, r.error_code, r.notes, r.starred,
         (SELECT json_group_array(tag) FROM (SELECT tag FROM tags t WHERE t.run_id = r.id ORDER BY tag)) AS tags,
         CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.freeze') END AS cfg_freeze,
         CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.phase2') END AS cfg_phase2,
         CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.adapters') END AS cfg_adapters,
         CASE WHEN json_valid(r.config) THEN json_extract(r.config, '$.dataKind') END AS cfg_kind,
         (SELECT MAX(m.value) FROM run_metrics m WHERE m.run_id = r.id AND m.name = '${TRAINABLE_PARAMS_METRIC}') AS trainable_params
  FROM runs r`

const SORT_COLUMNS: Record<NonNullable<RunQuery['sort']>, { expr: string; nullable: boolean }> = {
  name: { expr: 'r.name COLLATE NOCASE', nullable: false },
  createdAt: { expr: 'r.created_at', nullable: false },
  modelId: { expr: 'r.model_id', nullable: false },
  datasetId: { expr: 'r.dataset_id', nullable: false },
  status: { expr: 'r.status', nullable: false },
  bestValAccuracy: { expr: 'r.best_val_accuracy', nullable: true },
  testAccuracy: { expr: 'r.test_accuracy', nullable: true },
  durationMs: { expr: 'r.duration_ms', nullable: true },
  backend: { expr: 'r.backend', nullable: true },
}

/** Reads one run's curves; ordered by the index itself, so no sort step. */
export const METRICS_SQL =
  'SELECT phase, epoch, step, split, name, value, t FROM run_metrics WHERE run_id = ? ORDER BY name, phase, epoch, step'

/**
 * The SQL and parameters behind `RunRepository.list`, exported so tests can EXPLAIN it.
 * An empty `status` list means no status filter. Search is a case-insensitive (ASCII) substring
 * match on name and notes. Nullable sort columns put runs without a value last either way.
 * Default order: createdAt, newest first; `desc` defaults to false when `sort` is given.
 */
export function buildRunListQuery(q: RunQuery = {}): { sql: string; params: (string | number)[] } {
  const where: string[] = []
  const params: (string | number)[] = []
  if (q.status && q.status.length > 0) {
    where.push(`r.status IN (${q.status.map(() => '?').join(', ')})`)
    params.push(...q.status)
  }
  if (q.modelId !== undefined) {
    where.push('r.model_id = ?')
    params.push(q.modelId)
  }
  if (q.datasetId !== undefined) {
    where.push('r.dataset_id = ?')
    params.push(q.datasetId)
  }
  if (q.tag !== undefined) {
    where.push('EXISTS (SELECT 1 FROM tags tf WHERE tf.run_id = r.id AND tf.tag = ?)')
    params.push(q.tag)
  }
  const search = q.search?.trim()
  if (search) {
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    where.push(`(r.name LIKE ? ESCAPE '\\' OR r.notes LIKE ? ESCAPE '\\')`)
    params.push(pattern, pattern)
  }
  if (q.starred !== undefined) {
    where.push('r.starred = ?')
    params.push(q.starred ? 1 : 0)
  }
  const column = SORT_COLUMNS[q.sort ?? 'createdAt']
  const dir = (q.desc ?? q.sort === undefined) ? 'DESC' : 'ASC'
  const order = [...(column.nullable ? [`(${column.expr} IS NULL)`] : []), `${column.expr} ${dir}`, `r.id ${dir}`]
  const sql = `${SUMMARY_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order.join(', ')}`
  return { sql, params }
}

/** Runs, their curves, evaluations and artifacts. Every write that touches several rows is one transaction. */
export class RunRepository {
  constructor(
    private readonly db: TunewiseDb,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Records a new run with status 'queued'. A name another run already has gets the next free
   * number ("… (2)", see uniqueRunName), in the name column and the stored settings alike.
   * @param datasetPath folder trained on; defaults to the stored dataset's path, else ''.
   * @param splitId the stored split used, if any.
   * @returns the new run's id.
   */
  create(config: RunConfig, datasetPath?: string, splitId?: string): number {
    const path =
      datasetPath ??
      (this.db.prepare('SELECT path FROM datasets WHERE id = ?').pluck().get(config.datasetId) as string | undefined) ??
      ''
    return this.db.transaction(() => {
      const name = uniqueRunName(config.name, this.namesLike(config.name))
      const stored = name === config.name ? config : { ...config, name }
      const info = this.db
        .prepare(
          `INSERT INTO runs (name, created_at, model_id, dataset_id, dataset_path, split_id, config, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'queued')`,
        )
        .run(name, this.iso(), config.modelId, config.datasetId, path, splitId ?? null, JSON.stringify(stored))
      return Number(info.lastInsertRowid)
    })()
  }

  /** Names of runs that start like `name` without its number (the only ones uniqueRunName can clash with). */
  private namesLike(name: string): string[] {
    const base = name.replace(/ \(\d+\)$/, '')
    const pattern = `${base.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    return this.db.prepare(`SELECT name FROM runs WHERE name LIKE ? ESCAPE '\\'`).pluck().all(pattern) as string[]
  }

  /**
   * One run with its parsed config, tags, evaluations and artifacts; null when there is no such run.
   * @throws AppError('bad_data') when the stored config is damaged.
   */
  get(id: number): RunDetail | null {
    const row = this.db.prepare(`${SUMMARY_SELECT} WHERE r.id = ?`).get(id) as RunRow | undefined
    if (!row) return null
    const config = this.readConfig(id)
    if (!config) {
      throw new AppError(
        'bad_data',
        `The saved settings of run ${id} are damaged and cannot be read. You can still delete the run or export its metrics.`,
      )
    }
    return {
      ...toSummary(row),
      config,
      evaluations: this.evaluations(id),
      artifacts: this.db.prepare('SELECT kind, path FROM run_artifacts WHERE run_id = ? ORDER BY rowid').all(id) as {
        kind: string
        path: string
      }[],
    }
  }

  /** Runs matching `q` (see `buildRunListQuery`). Never parses config, so a damaged one cannot break it. */
  list(q: RunQuery = {}): RunSummary[] {
    const { sql, params } = buildRunListQuery(q)
    return (this.db.prepare(sql).all(...params) as RunRow[]).map(toSummary)
  }

  /**
   * Sets the status and any of `fields` given.
   * @throws AppError('not_found') when there is no such run.
   */
  setStatus(id: number, status: RunStatus, fields: RunStatusFields = {}): void {
    const columns: Record<keyof RunStatusFields, string> = {
      error: 'error',
      errorCode: 'error_code',
      backend: 'backend',
      backendReason: 'backend_reason',
      startedAt: 'started_at',
      finishedAt: 'finished_at',
      durationMs: 'duration_ms',
      bestValAccuracy: 'best_val_accuracy',
      testAccuracy: 'test_accuracy',
    }
    const sets = ['status = ?']
    const params: (string | number | null)[] = [status]
    for (const key of Object.keys(columns) as (keyof RunStatusFields)[]) {
      const value = fields[key]
      if (value === undefined) continue
      sets.push(`${columns[key]} = ?`)
      params.push(key === 'durationMs' && typeof value === 'number' ? Math.round(value) : value)
    }
    const info = this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...params, id)
    if (info.changes === 0) throw notFound(id)
  }

  /** Appends metric points in one transaction. epoch, step and t are rounded to whole numbers. */
  addMetrics(id: number, points: readonly MetricPoint[]): void {
    const insert = this.db.prepare(
      'INSERT INTO run_metrics (run_id, phase, epoch, step, split, name, value, t) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    this.db.transaction(() => {
      for (const p of points) {
        insert.run(
          id,
          Math.round(p.phase),
          Math.round(p.epoch),
          p.step === null ? null : Math.round(p.step),
          p.split,
          p.name,
          // NaN (a diverged loss) is stored as NULL by SQLite; toPoint maps it back.
          p.value,
          Math.round(p.t),
        )
      }
    })()
  }

  /**
   * Curves of several runs: every id asked for is a key (empty array when it has none).
   * Points come ordered by name, phase, epoch, step.
   */
  metrics(ids: readonly number[]): Record<number, MetricPoint[]> {
    const stmt = this.db.prepare(METRICS_SQL)
    const out: Record<number, MetricPoint[]> = {}
    for (const id of ids) out[id] = (stmt.all(id) as MetricRow[]).map(toPoint)
    return out
  }

  /** Stores (or replaces) the run's evaluation on `ev.split`. */
  saveEvaluation(id: number, ev: Evaluation): void {
    this.db
      .prepare(
        `INSERT INTO run_evaluations (run_id, split, json) VALUES (?, ?, ?)
         ON CONFLICT (run_id, split) DO UPDATE SET json = excluded.json`,
      )
      .run(id, ev.split, JSON.stringify(ev))
  }

  /** The run's evaluation on one split; null when absent or damaged. */
  getEvaluation(id: number, split: Evaluation['split']): Evaluation | null {
    const json = this.db
      .prepare('SELECT json FROM run_evaluations WHERE run_id = ? AND split = ?')
      .pluck()
      .get(id, split)
    return parseJson<Evaluation>(json, isEvaluation)
  }

  /** Records a file the run produced (model, export, log), so deleting the run can remove it. */
  addArtifact(id: number, kind: string, path: string): void {
    this.db
      .prepare('INSERT INTO run_artifacts (run_id, kind, path, created_at) VALUES (?, ?, ?, ?)')
      .run(id, kind, path, this.iso())
  }

  /**
   * Edits name, notes, tags and star in one transaction.
   * @throws AppError('not_found') when there is no such run.
   */
  update(id: number, edit: RunEdit): RunSummary {
    return this.db.transaction(() => {
      const sets: string[] = []
      const params: (string | number)[] = []
      if (edit.name !== undefined) {
        sets.push('name = ?')
        params.push(edit.name)
      }
      if (edit.notes !== undefined) {
        sets.push('notes = ?')
        params.push(edit.notes)
      }
      if (edit.starred !== undefined) {
        sets.push('starred = ?')
        params.push(edit.starred ? 1 : 0)
      }
      if (sets.length > 0) this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...params, id)
      const row = this.db.prepare(`SELECT 1 FROM runs WHERE id = ?`).get(id)
      if (!row) throw notFound(id)
      if (edit.tags !== undefined) {
        this.db.prepare('DELETE FROM tags WHERE run_id = ?').run(id)
        const insert = this.db.prepare('INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)')
        for (const tag of edit.tags.map((t) => t.trim()).filter((t) => t.length > 0)) insert.run(id, tag)
      }
      return toSummary(this.db.prepare(`${SUMMARY_SELECT} WHERE r.id = ?`).get(id) as RunRow)
    })()
  }

  /**
   * Deletes the run; its metrics, tags, evaluations and artifact rows go with it (ON DELETE CASCADE).
   * Files are not touched here.
   * @returns the artifact paths, for the caller to delete, and whether a run was deleted.
   */
  delete(id: number): { artifacts: string[]; deleted: boolean } {
    return this.db.transaction(() => {
      const artifacts = this.db
        .prepare('SELECT path FROM run_artifacts WHERE run_id = ? ORDER BY rowid')
        .pluck()
        .all(id) as string[]
      const info = this.db.prepare('DELETE FROM runs WHERE id = ?').run(id)
      return { artifacts, deleted: info.changes > 0 }
    })()
  }

  /**
   * Called at start-up: runs left 'running' or 'queued' by a crash or quit become 'interrupted'
   * with `error = reason`. finished_at stays as it was: when the process died is not known.
   * @returns their ids, ascending.
   */
  markInterrupted(reason: string): number[] {
    const ids = this.db
      .prepare(
        `UPDATE runs SET status = 'interrupted', error = ?, error_code = 'interrupted' WHERE status IN ('running', 'queued') RETURNING id`,
      )
      .pluck()
      .all(reason) as number[]
    return ids.sort((a, b) => a - b)
  }

  /**
   * Side-by-side view of runs, in the order of `ids`. A run whose config is damaged shows null
   * settings rather than failing the whole comparison.
   * @throws AppError('not_found') when a run does not exist.
   */
  compare(ids: readonly number[]): CompareResult {
    const stmt = this.db.prepare(`${SUMMARY_SELECT} WHERE r.id = ?`)
    const runs = ids.map((id) => {
      const row = stmt.get(id) as RunRow | undefined
      if (!row) throw notFound(id)
      return toSummary(row)
    })
    const configs = ids.map((id) => this.readConfig(id) ?? ({} as RunConfig))
    const tests = ids.map((id) => this.getEvaluation(id, 'test'))
    const curves = this.metrics(ids)

    const row = (name: string, values: (number | null)[], higherIsBetter: boolean, ranked = true) => ({
      name,
      values,
      higherIsBetter,
      bestIndex: ranked ? bestIndex(values, higherIsBetter) : null,
    })
    const metrics = [
      row(
        COMPARE_METRICS.bestValAccuracy,
        runs.map((r) => r.bestValAccuracy),
        true,
      ),
      row(
        COMPARE_METRICS.testAccuracy,
        runs.map((r) => r.testAccuracy),
        true,
      ),
      row(
        COMPARE_METRICS.finalValLoss,
        ids.map((id) => finalValue(curves[id], 'val', 'loss')),
        false,
      ),
      row(
        COMPARE_METRICS.finalTrainLoss,
        ids.map((id) => finalValue(curves[id], 'train', 'loss')),
        false,
      ),
      row(
        COMPARE_METRICS.durationMs,
        runs.map((r) => r.durationMs),
        false,
      ),
      row(
        COMPARE_METRICS.epochsRun,
        ids.map((id) => epochsRun(curves[id])),
        true,
        false,
      ),
      // What a strategy cost; fewer is not better in itself, so no best.
      row(
        COMPARE_METRICS.trainableParams,
        runs.map((r) => r.trainableParams),
        false,
        false,
      ),
    ]

    const [a, b] = tests
    return {
      runs,
      settings: [strategyRow(runs), ...diffSettings(configs)],
      metrics,
      confusions: tests.map((ev) => (ev ? { labels: ev.labels, matrix: ev.confusion } : null)),
      exampleDiff: ids.length === 2 && a && b ? diffExamples(a, b) : null,
    }
  }

  /** Every run as CSV (one row each, oldest first); tags joined with ';'. */
  exportRunsCsv(): string {
    const rows = (this.db.prepare(`${SUMMARY_SELECT} ORDER BY r.id`).all() as RunRow[]).map(toSummary)
    return toCsv(
      [
        'id',
        'name',
        'created_at',
        'started_at',
        'finished_at',
        'model_id',
        'dataset_id',
        'dataset_path',
        'status',
        'backend',
        'best_val_accuracy',
        'test_accuracy',
        'duration_ms',
        'tags',
        'starred',
        'notes',
        'error',
      ],
      rows.map((r) => [
        r.id,
        r.name,
        r.createdAt,
        r.startedAt,
        r.finishedAt,
        r.modelId,
        r.datasetId,
        r.datasetPath,
        r.status,
        r.backend,
        r.bestValAccuracy,
        r.testAccuracy,
        r.durationMs,
        r.tags.join(';'),
        r.starred ? 1 : 0,
        r.notes,
        r.error,
      ]),
    )
  }

  /**
   * Metric points as CSV, one row each, with the run's name.
   * @param ids runs to include; default every run.
   */
  exportMetricsCsv(ids?: readonly number[]): string {
    const base = `SELECT m.run_id, r.name AS run_name, m.phase, m.epoch, m.step, m.split, m.name, m.value, m.t
      FROM run_metrics m JOIN runs r ON r.id = m.run_id`
    const order = ' ORDER BY m.run_id, m.rowid'
    const rows = (
      ids === undefined
        ? this.db.prepare(base + order).all()
        : ids.length === 0
          ? []
          : this.db.prepare(`${base} WHERE m.run_id IN (${ids.map(() => '?').join(', ')})${order}`).all(...ids)
    ) as (MetricRow & { run_id: number; run_name: string })[]
    return toCsv(
      ['run_id', 'run_name', 'phase', 'epoch', 'step', 'split', 'name', 'value', 't_ms'],
      rows.map((m) => [m.run_id, m.run_name, m.phase, m.epoch, m.step, m.split, m.name, m.value ?? NaN, m.t]),
    )
  }

  private evaluations(id: number): Evaluation[] {
    const rows = this.db
      .prepare('SELECT json FROM run_evaluations WHERE run_id = ? ORDER BY split DESC')
      .pluck()
      .all(id) as string[]
    return rows.map((j) => parseJson<Evaluation>(j, isEvaluation)).filter((e): e is Evaluation => e !== null)
  }

  private readConfig(id: number): RunConfig | null {
    const json = this.db.prepare('SELECT config FROM runs WHERE id = ?').pluck().get(id)
    return parseJson<RunConfig>(json, isObject)
  }

  private iso(): string {
    return this.now().toISOString()
  }
}

/** Last value of a curve (highest phase, epoch, step), or null when the run has none. */
function finalValue(points: readonly MetricPoint[], split: MetricPoint['split'], name: string): number | null {
  let last: MetricPoint | null = null
  for (const p of points) {
    if (p.split !== split || p.name !== name) continue
    if (last === null || compareTime(p, last) >= 0) last = p
  }
  return last === null ? null : last.value
}

function compareTime(a: MetricPoint, b: MetricPoint): number {
  return a.phase - b.phase || a.epoch - b.epoch || (a.step ?? -1) - (b.step ?? -1)
}

/** Distinct (phase, epoch) pairs seen in the curves; null when there are none. */
function epochsRun(points: readonly MetricPoint[]): number | null {
  const seen = new Set(points.map((p) => `${p.phase}:${p.epoch}`))
  return seen.size === 0 ? null : seen.size
}

function toSummary(row: RunRow): RunSummary {
  const tags = parseJson<unknown[]>(row.tags, Array.isArray) ?? []
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    modelId: row.model_id,
    datasetId: row.dataset_id,
    datasetPath: row.dataset_path,
    status: row.status,
    backend: row.backend,
    backendReason: row.backend_reason,
    bestValAccuracy: row.best_val_accuracy,
    testAccuracy: row.test_accuracy,
    durationMs: row.duration_ms,
    error: row.error,
    errorCode: isErrorCode(row.error_code) ? row.error_code : row.error ? 'internal' : null,
    tags: tags.filter((t): t is string => typeof t === 'string'),
    notes: row.notes,
    starred: row.starred === 1,
    strategy: strategyOf(row),
    trainableParams: row.trainable_params,
    dataKind: row.cfg_kind === 'audio' ? 'audio' : 'image',
  }
}

/** The runs' strategies as one settings row (before the fields they come from). */
function strategyRow(runs: readonly RunSummary[]): CompareResult['settings'][number] {
  const values = runs.map((r) => r.strategy)
  return { field: 'Strategy', values, differs: values.some((v) => v !== values[0]) }
}

/** The run's strategy line from the stored config's parts; null when they are missing or damaged. */
function strategyOf(row: RunRow): string | null {
  const freeze = parseJson<RunConfig['freeze']>(row.cfg_freeze, isObject)
  const phase2 = parseJson<RunConfig['phase2']>(row.cfg_phase2, isObject)
  const adapters = parseJson<RunConfig['adapters']>(row.cfg_adapters, isObject) ?? undefined
  if (!freeze || !phase2) return null
  try {
    return describeStrategy({ freeze, phase2, adapters })
  } catch {
    return null
  }
}

function toPoint(row: MetricRow): MetricPoint {
  return { ...row, value: row.value ?? NaN }
}

function isEvaluation(v: unknown): boolean {
  return isObject(v) && Array.isArray(v.predictions) && Array.isArray(v.labels) && Array.isArray(v.confusion)
}

function notFound(id: number): AppError {
  return new AppError('not_found', `Run ${id} no longer exists. Refresh the list of runs.`)
}
