import type { DatasetReport, ModelCard, SplitRatios } from '../../shared/types'
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

/** Model cards known to this machine (bundled, imported, downloaded). */
export class ModelRepository {
  constructor(
    private readonly db: TunewiseDb,
    private readonly now: Clock = () => new Date(),
  ) {}

  /** Inserts or replaces the card; `created_at` keeps the first save's time. */
  save(card: ModelCard): void {
    this.db
      .prepare(
        `INSERT INTO models (id, card, source, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET card = excluded.card, source = excluded.source`,
      )
      .run(card.id, JSON.stringify(card), card.source.kind, this.now().toISOString())
  }

  /** Every readable card in the order first saved; damaged ones are left out. */
  list(): ModelCard[] {
    const rows = this.db.prepare('SELECT card FROM models ORDER BY rowid').pluck().all()
    return rows.map((j) => parseJson<ModelCard>(j, isObject)).filter((c): c is ModelCard => c !== null)
  }

  /** The card, or null when absent or damaged. */
  get(id: string): ModelCard | null {
    return parseJson<ModelCard>(this.db.prepare('SELECT card FROM models WHERE id = ?').pluck().get(id), isObject)
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
  models: ModelRepository
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
    models: new ModelRepository(db, now),
    runs: new RunRepository(db, now),
    drafts: new DraftRepository(db, now),
  }
}
