import type { TaskInfo } from '../../shared/tasks'
import type { DatasetReport, SplitRatios } from '../../shared/types'
import { AppError } from '../errors'
import type { TunewiseDb } from './database'
import { isObject, parseJson } from './json'
import { RunRepository } from './run-repository'

export { RunRepository, COMPARE_METRICS, buildRunListQuery, METRICS_SQL } from './run-repository'
export type { RunEdit, RunStatusFields } from './run-repository'

type Clock = () => Date

/** Dataset reports, one per imported folder. */
export class DatasetRepository {
  constructor(
    private readonly db: TunewiseDb,
    private readonly now: Clock = () => new Date(),
  ) {}

  /** Inserts or replaces the report; `created_at` keeps the first save's `report.createdAt`. */
  save(report: DatasetReport): void {
    this.db
      .prepare(
        `INSERT INTO datasets (id, path, fingerprint, report, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET path = excluded.path, fingerprint = excluded.fingerprint,
           report = excluded.report, updated_at = excluded.updated_at`,
      )
      .run(
        report.id,
        report.path,
        report.fingerprint,
        JSON.stringify(report),
        report.createdAt,
        this.now().toISOString(),
      )
  }

  /**
   * The report, or null when there is none.
   * @throws AppError('bad_data') when the stored report is damaged.
   */
  get(id: string): DatasetReport | null {
    const json = this.db.prepare('SELECT report FROM datasets WHERE id = ?').pluck().get(id)
    if (json === undefined) return null
    const report = parseJson<DatasetReport>(json, isObject)
    if (!report) {
      throw new AppError('bad_data', `The saved check of dataset ${id} is damaged. Import the folder again to redo it.`)
    }
    return report
  }

  /** Every readable report, most recently saved first; damaged ones are left out. */
  list(): DatasetReport[] {
    const rows = this.db.prepare('SELECT report FROM datasets ORDER BY updated_at DESC, rowid DESC').pluck().all()
    return rows.map((j) => parseJson<DatasetReport>(j, isObject)).filter((r): r is DatasetReport => r !== null)
  }
}

/** A split as stored: which file went to train, val or test. */
export interface StoredSplit {
  id: string
  datasetId: string
  ratios: SplitRatios
  assignment: { file: string; label: string; split: 'train' | 'val' | 'test' }[]
  /** ISO 8601; set by the repository. */
  createdAt?: string
}

export class SplitRepository {
  constructor(
    private readonly db: TunewiseDb,
    private readonly now: Clock = () => new Date(),
  ) {}

  /** Inserts or replaces the split. Its dataset must already be saved (foreign key). */
  save(split: StoredSplit): void {
    this.db
      .prepare(
        `INSERT INTO splits (id, dataset_id, ratios, assignment, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET dataset_id = excluded.dataset_id, ratios = excluded.ratios,
           assignment = excluded.assignment`,
      )
      .run(
        split.id,
        split.datasetId,
        JSON.stringify(split.ratios),
        JSON.stringify(split.assignment),
        this.now().toISOString(),
      )
  }

  /** The split, or null when absent or damaged (a split can always be recomputed from its seed). */
  get(id: string): StoredSplit | null {
    const row = this.db.prepare('SELECT * FROM splits WHERE id = ?').get(id) as
      { id: string; dataset_id: string; ratios: string; assignment: string; created_at: string } | undefined
    if (!row) return null
    const ratios = parseJson<SplitRatios>(row.ratios, isObject)
    const assignment = parseJson<StoredSplit['assignment']>(row.assignment, Array.isArray)
    if (!ratios || !assignment) return null
    return { id: row.id, datasetId: row.dataset_id, ratios, assignment, createdAt: row.created_at }
  }
}

/** How every background task ended (the task manager records each end here). */
export class TaskRepository {
  constructor(private readonly db: TunewiseDb) {}

  /** Inserts or updates the task's row. */
  record(info: TaskInfo): void {
    this.db
      .prepare(
        `INSERT INTO tasks (id, kind, label, run_id, status, error_code, error, started_at, finished_at)
         VALUES (?, ?, ?, (SELECT id FROM runs WHERE id = ?), ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, error_code = excluded.error_code,
           error = excluded.error, finished_at = excluded.finished_at`,
      )
      .run(
        info.id,
        info.kind,
        info.label,
        info.runId,
        info.status,
        info.error?.code ?? null,
        info.error?.message ?? null,
        info.startedAt,
        info.finishedAt,
      )
  }

  /** The most recent tasks first. */
  recent(limit = 50): { id: string; kind: string; status: string; errorCode: string | null; runId: number | null }[] {
    return this.db
      .prepare(
        'SELECT id, kind, status, error_code AS errorCode, run_id AS runId FROM tasks ORDER BY started_at DESC, rowid DESC LIMIT ?',
      )
      .all(limit) as { id: string; kind: string; status: string; errorCode: string | null; runId: number | null }[]
  }

  /** Tasks a previous process left running end as interrupted. */
  markInterrupted(): number {
    return this.db
      .prepare(
        `UPDATE tasks SET status = 'interrupted', error_code = 'interrupted',
           error = 'Tunewise closed while this task ran.' WHERE status IN ('queued', 'running')`,
      )
      .run().changes
  }
}

/** Small JSON documents by key, e.g. the wizard's unsaved state. */
export class DraftRepository {
  constructor(
    private readonly db: TunewiseDb,
    private readonly now: Clock = () => new Date(),
  ) {}

  /** The stored value, or null when absent or damaged. */
  get(key: string): unknown | null {
    return parseJson<unknown>(this.db.prepare('SELECT json FROM drafts WHERE key = ?').pluck().get(key))
  }

  /** Stores `value` as JSON; null, undefined (or anything JSON cannot hold) removes the key. */
  save(key: string, value: unknown): void {
    const json = value === null || value === undefined ? undefined : JSON.stringify(value)
    if (json === undefined) {
      this.db.prepare('DELETE FROM drafts WHERE key = ?').run(key)
      return
    }
    this.db
      .prepare(
        `INSERT INTO drafts (key, json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at`,
      )
      .run(key, json, this.now().toISOString())
  }
}

export interface Repositories {
  datasets: DatasetRepository
  splits: SplitRepository
  tasks: TaskRepository
  runs: RunRepository
  drafts: DraftRepository
}

/**
 * Every repository over one open database.
 * @param options.now clock for stored timestamps; default the real time (tests pin it).
 */
export function createRepositories(db: TunewiseDb, options: { now?: Clock } = {}): Repositories {
  const now = options.now ?? (() => new Date())
  return {
    datasets: new DatasetRepository(db, now),
    splits: new SplitRepository(db, now),
    tasks: new TaskRepository(db),
    runs: new RunRepository(db, now),
    drafts: new DraftRepository(db, now),
  }
}
