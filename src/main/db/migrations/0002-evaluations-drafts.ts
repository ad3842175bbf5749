import type { Migration } from './migration'

/** Stores each run's val/test evaluation, and the wizard's unsaved drafts. */
export const migration0002: Migration = {
  version: 2,
  name: 'evaluations-drafts',
  up(db) {
    db.exec(`
      CREATE TABLE run_evaluations (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        split TEXT NOT NULL CHECK (split IN ('val', 'test')),
        json TEXT NOT NULL,
        PRIMARY KEY (run_id, split)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE drafts (
        key TEXT PRIMARY KEY,
        json TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `)
  },
}
