import type { Migration } from './migration'

/**
 * Error codes travel end to end: a run records the code beside its message, so every screen, the
 * CLI and the coach look the advice up instead of guessing it from the text. Every background task
 * records how it ended. The `models` table was written and never read (model folders on disk are
 * the source of truth), so it goes.
 */
export const migration0004: Migration = {
  version: 4,
  name: 'error-codes-tasks',
  up(db) {
    db.exec(`
      ALTER TABLE runs ADD COLUMN error_code TEXT;
      UPDATE runs SET error_code = 'interrupted' WHERE status = 'interrupted';
      UPDATE runs SET error_code = 'nan_loss' WHERE status = 'failed' AND error LIKE '%loss became%';
      UPDATE runs SET error_code = 'internal' WHERE status = 'failed' AND error_code IS NULL;

      CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        label TEXT NOT NULL,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        status TEXT NOT NULL
          CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
        error_code TEXT,
        error TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT
      ) STRICT;
      CREATE INDEX tasks_started_at ON tasks(started_at);

      DROP TABLE models;
    `)
  },
}
