import type { Migration } from './migration'

/**
 * Run ids are never reused. Without AUTOINCREMENT, deleting the newest run handed its id to the
 * next one, so a bookmark or an exported `run-7` file could point at a different run.
 *
 * SQLite cannot add AUTOINCREMENT in place, so `runs` is rebuilt (the "12 steps" of
 * https://sqlite.org/lang_altertable.html#otheralter). That recipe turns foreign keys off first,
 * which a migration cannot do: `migrate()` runs inside a transaction, where `PRAGMA foreign_keys`
 * is a no-op. With foreign keys on, `DROP TABLE runs` deletes every run first and the
 * ON DELETE CASCADE / SET NULL actions fire even under `defer_foreign_keys` (deferring delays the
 * checks, not the actions): metrics, tags, evaluations and artifacts would all be lost.
 *
 * So the children's rows are set aside in temp tables and the children emptied, which leaves
 * `runs` unreferenced; then the rebuild runs; then the rows go back with their rowids (exports
 * order by rowid). It works the same whether foreign keys are on or off. Rows that already
 * pointed at a missing run or split (only possible if the file was written with foreign keys
 * off) are treated the way the keys' own ON DELETE actions would have: dropped, or set to NULL.
 */
export const migration0005: Migration = {
  version: 5,
  name: 'run-ids-autoincrement',
  up(db) {
    db.exec(`
      CREATE TABLE runs_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        model_id TEXT NOT NULL,
        dataset_id TEXT NOT NULL,
        dataset_path TEXT NOT NULL DEFAULT '',
        split_id TEXT REFERENCES splits(id) ON DELETE SET NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL
          CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
        backend TEXT,
        best_val_accuracy REAL,
        test_accuracy REAL,
        duration_ms INTEGER,
        error TEXT,
        notes TEXT NOT NULL DEFAULT '',
        starred INTEGER NOT NULL DEFAULT 0 CHECK (starred IN (0, 1)),
        backend_reason TEXT,
        error_code TEXT
      ) STRICT;
      INSERT INTO runs_new (id, name, created_at, started_at, finished_at, model_id, dataset_id, dataset_path,
          split_id, config, status, backend, best_val_accuracy, test_accuracy, duration_ms, error, notes, starred,
          backend_reason, error_code)
        SELECT id, name, created_at, started_at, finished_at, model_id, dataset_id, dataset_path,
          (SELECT s.id FROM splits s WHERE s.id = runs.split_id), config, status, backend, best_val_accuracy,
          test_accuracy, duration_ms, error, notes, starred, backend_reason, error_code
        FROM runs ORDER BY id;

      CREATE TEMP TABLE keep_run_metrics AS
        SELECT rowid AS row_id, run_id, phase, epoch, step, split, name, value, t FROM run_metrics;
      CREATE TEMP TABLE keep_run_artifacts AS
        SELECT rowid AS row_id, run_id, kind, path, created_at FROM run_artifacts;
      CREATE TEMP TABLE keep_tags AS SELECT run_id, tag FROM tags;
      CREATE TEMP TABLE keep_run_evaluations AS SELECT run_id, split, json FROM run_evaluations;
      CREATE TEMP TABLE keep_tasks AS SELECT id, run_id FROM tasks WHERE run_id IS NOT NULL;

      DELETE FROM run_metrics;
      DELETE FROM run_artifacts;
      DELETE FROM tags;
      DELETE FROM run_evaluations;
      UPDATE tasks SET run_id = NULL WHERE run_id IS NOT NULL;

      DROP TABLE runs;
      ALTER TABLE runs_new RENAME TO runs;
      CREATE INDEX runs_created_at ON runs(created_at);
      CREATE INDEX runs_status ON runs(status, created_at);
      CREATE INDEX runs_model_id ON runs(model_id);
      CREATE INDEX runs_dataset_id ON runs(dataset_id);
      CREATE INDEX runs_split_id ON runs(split_id);

      INSERT INTO run_metrics (rowid, run_id, phase, epoch, step, split, name, value, t)
        SELECT row_id, run_id, phase, epoch, step, split, name, value, t FROM temp.keep_run_metrics
        WHERE run_id IN (SELECT id FROM runs) ORDER BY row_id;
      INSERT INTO run_artifacts (rowid, run_id, kind, path, created_at)
        SELECT row_id, run_id, kind, path, created_at FROM temp.keep_run_artifacts
        WHERE run_id IN (SELECT id FROM runs) ORDER BY row_id;
      INSERT INTO tags (run_id, tag)
        SELECT run_id, tag FROM temp.keep_tags WHERE run_id IN (SELECT id FROM runs);
      INSERT INTO run_evaluations (run_id, split, json)
        SELECT run_id, split, json FROM temp.keep_run_evaluations WHERE run_id IN (SELECT id FROM runs);
      UPDATE tasks SET run_id = k.run_id FROM temp.keep_tasks k
        WHERE tasks.id = k.id AND k.run_id IN (SELECT id FROM runs);

      DROP TABLE temp.keep_run_metrics;
      DROP TABLE temp.keep_run_artifacts;
      DROP TABLE temp.keep_tags;
      DROP TABLE temp.keep_run_evaluations;
      DROP TABLE temp.keep_tasks;

      -- Copying the rows already set this, but say it outright: the next id is above every id in use.
      -- (Ids of runs deleted before this migration, above the current largest, cannot be known.)
      DELETE FROM sqlite_sequence WHERE name = 'runs';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'runs', coalesce(max(id), 0) FROM runs;
    `)
    for (const table of ['runs', 'run_metrics', 'run_artifacts', 'tags', 'run_evaluations', 'tasks']) {
      const broken = db.pragma(`foreign_key_check(${table})`) as unknown[]
      if (broken.length > 0) {
        throw new Error(`Rebuilding runs left ${broken.length} broken references in ${table}; nothing was changed.`)
      }
    }
  },
}
