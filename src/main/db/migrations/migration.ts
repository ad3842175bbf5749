import type { Database } from 'better-sqlite3'

/**
 * One schema step. `up` runs inside the transaction that `migrate()` opens for every pending
 * migration together, so it must not open its own transaction or change `foreign_keys`.
 */
export interface Migration {
  /** 1, 2, 3, ... in order; `PRAGMA user_version` holds the last one applied. */
  version: number
  name: string
  up(db: Database): void
}
