import Database from 'better-sqlite3'
import { AppError } from '../errors'
import { allMigrations, type Migration } from './migrations'

export type TunewiseDb = Database.Database

/** The schema version this build of Tunewise writes (the newest migration). */
export const SCHEMA_VERSION: number = latestVersion(allMigrations)

/** Milliseconds a statement waits for another connection's lock before failing. */
const BUSY_TIMEOUT_MS = 5000

/**
 * Opens (creating if needed) the experiment store and brings its schema up to date.
 *
 * Order matters: the schema version is checked before anything is written, so a database from a
 * newer Tunewise is refused byte-for-byte untouched (no WAL switch, no -wal file).
 *
 * @param file path of the database file, or ':memory:' for a throw-away store (no WAL then).
 * @throws AppError('conflict') when the file was written by a newer schema;
 *         AppError('bad_data') when the file is not a SQLite database.
 */
export function openDatabase(file: string): TunewiseDb {
  const db = new Database(file)
  try {
    assertNotNewer(db, allMigrations)
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    if (file !== ':memory:') db.pragma('journal_mode = WAL')
    // WAL makes NORMAL durable enough: a crash can lose the last commit, never corrupt the file.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    migrate(db)
    return db
  } catch (err) {
    db.close()
    if (isSqliteCode(err, 'SQLITE_NOTADB')) {
      throw new AppError(
        'bad_data',
        `The file ${file} is not a Tunewise database, or it is damaged. Move it aside and start Tunewise again; nothing was changed.`,
      )
    }
    throw err
  }
}

/** The database's `PRAGMA user_version`: the last migration applied (0 for a new file). */
export function schemaVersion(db: TunewiseDb): number {
  return db.pragma('user_version', { simple: true }) as number
}

/**
 * Applies every migration newer than the database's `user_version`, all in ONE transaction with
 * `user_version` set inside it: either the database reaches the newest version or nothing changes.
 *
 * @param migrations ordered list, versions 1..N without gaps. Default: every shipped migration.
 * @returns the versions applied (empty when already up to date).
 * @throws AppError('conflict') when the database is newer than the newest migration given.
 */
export function migrate(db: TunewiseDb, migrations: readonly Migration[] = allMigrations): number[] {
  checkOrder(migrations)
  const current = assertNotNewer(db, migrations)
  const pending = migrations.filter((m) => m.version > current)
  if (pending.length === 0) return []
  db.transaction(() => {
    for (const m of pending) {
      m.up(db)
      // user_version lives in the file header, which the transaction covers: a rollback restores it.
      db.pragma(`user_version = ${m.version}`)
    }
  })()
  return pending.map((m) => m.version)
}

function assertNotNewer(db: TunewiseDb, migrations: readonly Migration[]): number {
  const current = schemaVersion(db)
  const known = latestVersion(migrations)
  if (current > known) {
    throw new AppError(
      'conflict',
      `This data was written by a newer Tunewise (schema ${current}, this app knows ${known}). Update Tunewise to open it; nothing was changed.`,
    )
  }
  return current
}

function latestVersion(migrations: readonly Migration[]): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1].version
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(
        `Migration '${m.name}' has version ${m.version}; expected ${i + 1} (versions must be 1..N in order).`,
      )
    }
  })
}

function isSqliteCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}
