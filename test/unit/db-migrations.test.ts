import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AppError } from '../../src/main/errors'
import { SCHEMA_VERSION, migrate, openDatabase, schemaVersion, type TunewiseDb } from '../../src/main/db/database'
import { allMigrations, type Migration } from '../../src/main/db/migrations'

const TABLES = [
  'tasks',
  'datasets',
  'splits',
  'runs',
  'run_metrics',
  'run_artifacts',
  'tags',
  'run_evaluations',
  'drafts',
]

function tableSql(db: TunewiseDb): Map<string, string> {
  const rows = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table'").all() as {
    name: string
    sql: string
  }[]
  return new Map(rows.map((r) => [r.name, r.sql]))
}

function hash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tunewise-db-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('openDatabase', () => {
  it('brings an empty database to the latest version with every table STRICT', () => {
    const db = openDatabase(':memory:')
    expect(SCHEMA_VERSION).toBe(allMigrations.length)
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION)
    const tables = tableSql(db)
    for (const name of TABLES) {
      expect(tables.get(name), name).toMatch(/\bSTRICT\b/)
    }
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
  })

  it('uses WAL and foreign keys for a file, and reopening applies nothing twice', () => {
    const file = join(dir, 'store.db')
    const db = openDatabase(file)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.prepare("INSERT INTO drafts (key, json, updated_at) VALUES ('k', '1', 'now')").run()
    db.close()
    const again = openDatabase(file)
    expect(schemaVersion(again)).toBe(SCHEMA_VERSION)
    expect(migrate(again)).toEqual([])
    expect(again.prepare('SELECT count(*) FROM drafts').pluck().get()).toBe(1)
    again.close()
  })

  it('refuses a database from a newer Tunewise and leaves its bytes untouched', () => {
    const file = join(dir, 'newer.db')
    const raw = new Database(file)
    raw.exec("CREATE TABLE future (x TEXT) STRICT; INSERT INTO future VALUES ('keep me')")
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
    raw.close()
    const before = hash(file)

    let caught: unknown
    try {
      openDatabase(file)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(AppError)
    expect((caught as AppError).code).toBe('conflict')
    expect((caught as AppError).message).toBe(
      `This data was written by a newer Tunewise (schema ${SCHEMA_VERSION + 1}, this app knows ${SCHEMA_VERSION}). Update Tunewise to open it; nothing was changed.`,
    )
    expect(hash(file)).toBe(before)
    expect(existsSync(`${file}-wal`)).toBe(false)
    expect(existsSync(`${file}-shm`)).toBe(false)
    const check = new Database(file, { readonly: true })
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete')
    check.close()
  })

  it('turns a file that is not a database into a bad_data AppError', () => {
    const file = join(dir, 'garbage.db')
    writeFileSync(file, 'this is not sqlite at all, just some text that is long enough to have a header '.repeat(10))
    const before = hash(file)
    expect(() => openDatabase(file)).toThrow(expect.objectContaining({ code: 'bad_data' }))
    expect(hash(file)).toBe(before)
  })
})

describe('migrate', () => {
  it('applies 0001 alone, then 0002 on top keeping the rows', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    expect(migrate(db, allMigrations.slice(0, 1))).toEqual([1])
    expect(schemaVersion(db)).toBe(1)
    expect(tableSql(db).has('run_evaluations')).toBe(false)
    db.prepare(
      `INSERT INTO runs (name, created_at, model_id, dataset_id, config, status) VALUES ('r1', '2024-01-01T00:00:00.000Z', 'm', 'd', '{}', 'succeeded')`,
    ).run()
    db.prepare("INSERT INTO tags (run_id, tag) VALUES (1, 'baseline')").run()

    expect(migrate(db, allMigrations.slice(0, 2))).toEqual([2])
    expect(schemaVersion(db)).toBe(2)
    expect(db.prepare('SELECT name FROM runs').pluck().all()).toEqual(['r1'])
    expect(db.prepare('SELECT tag FROM tags').pluck().all()).toEqual(['baseline'])
    db.prepare("INSERT INTO run_evaluations (run_id, split, json) VALUES (1, 'test', '{}')").run()
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
  })

  it('applies 0003 to a version-2 database: runs keep their rows and gain a backend reason', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    migrate(db, allMigrations.slice(0, 2))
    db.prepare(
      `INSERT INTO runs (name, created_at, model_id, dataset_id, config, status, backend) VALUES ('old', '2024-01-01T00:00:00.000Z', 'm', 'd', '{}', 'succeeded', 'wasm')`,
    ).run()
    expect(migrate(db, allMigrations.slice(0, 3))).toEqual([3])
    expect(schemaVersion(db)).toBe(3)
    expect(db.prepare('SELECT name, backend, backend_reason FROM runs').all()).toEqual([
      { name: 'old', backend: 'wasm', backend_reason: null },
    ])
    // The table is still STRICT: the new TEXT column refuses a blob.
    expect(() => db.prepare('UPDATE runs SET backend_reason = ?').run(Buffer.from([1]))).toThrow()
    db.close()
  })

  it('applies 0004 to a version-3 database: failed runs gain an error code, tasks appear, models go', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    migrate(db, allMigrations.slice(0, 3))
    const insert = db.prepare(
      `INSERT INTO runs (name, created_at, model_id, dataset_id, config, status, error) VALUES (?, '2024-01-01T00:00:00.000Z', 'm', 'd', '{}', ?, ?)`,
    )
    insert.run('ok', 'succeeded', null)
    insert.run('nan', 'failed', 'Training stopped: the loss became NaN at epoch 3.')
    insert.run('crash', 'failed', 'Something else')
    insert.run('killed', 'interrupted', 'The training process was killed')
    expect(migrate(db, allMigrations.slice(0, 4))).toEqual([4])
    expect(db.prepare('SELECT name, error_code FROM runs ORDER BY id').all()).toEqual([
      { name: 'ok', error_code: null },
      { name: 'nan', error_code: 'nan_loss' },
      { name: 'crash', error_code: 'internal' },
      { name: 'killed', error_code: 'interrupted' },
    ])
    expect(tableSql(db).has('models')).toBe(false)
    expect(tableSql(db).get('tasks')).toMatch(/\bSTRICT\b/)
    expect(() =>
      db.prepare("INSERT INTO tasks (id, kind, label, status, started_at) VALUES ('t', 'x', 'x', 'odd', 'now')").run(),
    ).toThrow(/CHECK/)
    db.close()
  })

  describe.each([
    ['on', true],
    ['off', false],
  ])('0005 on a version-4 database (foreign keys %s)', (_, foreignKeys) => {
    it('rebuilds runs with AUTOINCREMENT keeping every row of runs and of each child table', () => {
      const db = new Database(':memory:')
      db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`)
      migrate(db, allMigrations.slice(0, 4))
      db.exec(`
        INSERT INTO datasets VALUES ('ds', '/data', 'fp', '{}', 'now', 'now');
        INSERT INTO splits VALUES ('sp', 'ds', '{}', '[]', 'now');
        INSERT INTO runs (name, created_at, model_id, dataset_id, split_id, config, status, backend, backend_reason,
          best_val_accuracy, duration_ms, error, error_code, notes, starred)
        VALUES ('first', '2024-01-01', 'm', 'ds', 'sp', '{"a":1}', 'succeeded', 'wasm', 'no gpu', 0.5, 1200, NULL,
          NULL, 'n', 1),
               ('second', '2024-01-02', 'm', 'ds', NULL, '{}', 'failed', NULL, NULL, NULL, NULL, 'boom', 'internal', '', 0),
               ('newest', '2024-01-03', 'm', 'ds', NULL, '{}', 'queued', NULL, NULL, NULL, NULL, NULL, NULL, '', 0);
        INSERT INTO run_metrics VALUES (2, 1, 1, NULL, 'train', 'loss', 0.9, 10), (1, 1, 1, 5, 'val', 'loss', NULL, 20),
          (1, 2, 1, NULL, 'val', 'acc', 0.75, 30), (3, 1, 1, NULL, 'train', 'loss', 1.5, 40);
        INSERT INTO run_artifacts VALUES (2, 'model', '/runs/2/model', 'now'), (1, 'export', '/runs/1/x', 'now');
        INSERT INTO tags VALUES (1, 'baseline'), (1, 'best'), (3, 'wip');
        INSERT INTO run_evaluations VALUES (1, 'val', '{"v":1}'), (1, 'test', '{"t":1}'), (3, 'val', '{}');
        INSERT INTO tasks (id, kind, label, run_id, status, started_at) VALUES ('t1', 'train', 'Train', 1, 'done', 'now'),
          ('t2', 'scan', 'Scan', NULL, 'done', 'now'), ('t3', 'train', 'Train', 3, 'running', 'now');
      `)
      const children = ['run_metrics', 'run_artifacts', 'tags', 'run_evaluations', 'tasks']
      const snapshot = () =>
        Object.fromEntries(
          ['runs', ...children].map((t) => {
            const rowid = t === 'tags' || t === 'run_evaluations' ? '' : 'rowid AS row_id, '
            return [t, db.prepare(`SELECT ${rowid}* FROM ${t} ORDER BY 1, 2`).all()]
          }),
        )
      const before = snapshot()
      const childSqlBefore = children.map((t) => tableSql(db).get(t))

      expect(migrate(db)).toEqual([5])
      expect(schemaVersion(db)).toBe(5)
      expect(snapshot()).toEqual(before)
      // The children were never rebuilt: same definitions, still pointing at runs.
      expect(children.map((t) => tableSql(db).get(t))).toEqual(childSqlBefore)
      expect(tableSql(db).get('runs')).toMatch(/id INTEGER PRIMARY KEY AUTOINCREMENT[\s\S]*\) STRICT$/)
      expect(
        db
          .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'runs' ORDER BY 1")
          .pluck()
          .all(),
      ).toEqual(['runs_created_at', 'runs_dataset_id', 'runs_model_id', 'runs_split_id', 'runs_status'])
      expect(db.prepare('SELECT name FROM sqlite_temp_schema').all()).toEqual([])
      expect(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").pluck().all()).toEqual([3])

      // Still STRICT, still checked.
      expect(() => db.prepare('UPDATE runs SET notes = ? WHERE id = 1').run(Buffer.from([1]))).toThrow()
      expect(() => db.prepare("UPDATE runs SET status = 'odd' WHERE id = 1").run()).toThrow(/CHECK/)

      // Deleting the newest run no longer frees its id, and the cascade still reaches the children.
      db.pragma('foreign_keys = ON')
      db.prepare('DELETE FROM runs WHERE id = 3').run()
      expect(db.prepare('SELECT count(*) FROM tags WHERE run_id = 3').pluck().get()).toBe(0)
      expect(db.prepare("SELECT run_id FROM tasks WHERE id = 't3'").pluck().get()).toBeNull()
      const next = db
        .prepare(
          "INSERT INTO runs (name, created_at, model_id, dataset_id, config, status) VALUES ('after', 'now', 'm', 'ds', '{}', 'queued')",
        )
        .run()
      expect(Number(next.lastInsertRowid)).toBe(4)
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
      expect(db.pragma('foreign_key_check')).toEqual([])
      db.close()
    })
  })

  it('0005 repairs references a file written with foreign keys off had already broken', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = OFF')
    migrate(db, allMigrations.slice(0, 4))
    db.exec(`
      INSERT INTO runs (id, name, created_at, model_id, dataset_id, split_id, config, status)
        VALUES (7, 'orphaned split', 'now', 'm', 'ds', 'sp-gone', '{}', 'succeeded');
      INSERT INTO tags VALUES (7, 'kept'), (99, 'orphan');
      INSERT INTO run_metrics VALUES (99, 1, 1, NULL, 'train', 'loss', 1, 1);
      INSERT INTO tasks (id, kind, label, run_id, status, started_at) VALUES ('t', 'train', 'Train', 99, 'done', 'now');
    `)
    db.pragma('foreign_keys = ON')
    expect(migrate(db)).toEqual([5])
    expect(db.prepare('SELECT id, split_id FROM runs').all()).toEqual([{ id: 7, split_id: null }])
    expect(db.prepare('SELECT run_id, tag FROM tags').all()).toEqual([{ run_id: 7, tag: 'kept' }])
    expect(db.prepare('SELECT count(*) FROM run_metrics').pluck().get()).toBe(0)
    expect(db.prepare("SELECT run_id FROM tasks WHERE id = 't'").pluck().get()).toBeNull()
    expect(db.pragma('foreign_key_check')).toEqual([])
    db.close()
  })

  it('rolls back every pending migration when one throws halfway', () => {
    const failing: Migration = {
      version: 2,
      name: 'fails-halfway',
      up(d) {
        d.exec('CREATE TABLE half_done (x INTEGER) STRICT')
        throw new Error('boom')
      },
    }
    // From scratch: 0001 ran in the same transaction, so it is undone too.
    const fresh = new Database(':memory:')
    expect(() => migrate(fresh, [allMigrations[0], failing])).toThrow('boom')
    expect(schemaVersion(fresh)).toBe(0)
    expect(tableSql(fresh).size).toBe(0)
    fresh.close()

    // From version 1 on a file: stays at 1, the half-made table is absent, the old rows remain.
    const file = join(dir, 'v1.db')
    const db = new Database(file)
    migrate(db, allMigrations.slice(0, 1))
    db.prepare("INSERT INTO models (id, card, source, created_at) VALUES ('m', '{}', 'bundled', 'now')").run()
    expect(() => migrate(db, [allMigrations[0], failing])).toThrow('boom')
    expect(schemaVersion(db)).toBe(1)
    expect(tableSql(db).has('half_done')).toBe(false)
    expect(db.prepare('SELECT count(*) FROM models').pluck().get()).toBe(1)
    db.close()
    const reopened = new Database(file)
    expect(schemaVersion(reopened)).toBe(1)
    expect(tableSql(reopened).has('half_done')).toBe(false)
    reopened.close()
  })

  it('refuses a migration list with gaps or out of order', () => {
    const db = new Database(':memory:')
    expect(() => migrate(db, [allMigrations[1]])).toThrow(/expected 1/)
    expect(schemaVersion(db)).toBe(0)
    db.close()
  })
})
