import type { Migration } from './migration'

/**
 * The first schema. JSON columns are plain TEXT (no json_valid CHECK) on purpose: readers parse
 * them defensively, and a damaged value must not make the whole table unwritable.
 */
export const migration0001: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
      CREATE TABLE models (
        id TEXT PRIMARY KEY,
        card TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        report TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX datasets_updated_at ON datasets(updated_at);

      CREATE TABLE splits (
        id TEXT PRIMARY KEY,
        dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        ratios TEXT NOT NULL,
        assignment TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX splits_dataset_id ON splits(dataset_id);

      -- model_id and dataset_id are not foreign keys: a run's record outlives the catalogue
      -- entry or dataset it was trained on. dataset_path is the path as it was at the time.
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
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
        starred INTEGER NOT NULL DEFAULT 0 CHECK (starred IN (0, 1))
      ) STRICT;
      CREATE INDEX runs_created_at ON runs(created_at);
      CREATE INDEX runs_status ON runs(status, created_at);
      CREATE INDEX runs_model_id ON runs(model_id);
      CREATE INDEX runs_dataset_id ON runs(dataset_id);
      CREATE INDEX runs_split_id ON runs(split_id);

      -- value is nullable because SQLite stores NaN (a diverged loss) as NULL; readers map it back.
      CREATE TABLE run_metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        phase INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        step INTEGER,
        split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
        name TEXT NOT NULL,
        value REAL,
        t INTEGER NOT NULL
      ) STRICT;
      -- Serves both the per-run lookup and its ORDER BY, so reading curves never sorts.
      CREATE INDEX run_metrics_run ON run_metrics(run_id, name, phase, epoch, step);

      CREATE TABLE run_artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX run_artifacts_run_id ON run_artifacts(run_id);

      CREATE TABLE tags (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (run_id, tag)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX tags_tag ON tags(tag);
    `)
  },
}
