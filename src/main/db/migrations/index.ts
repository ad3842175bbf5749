import { migration0001 } from './0001-initial'
import { migration0002 } from './0002-evaluations-drafts'
import { migration0003 } from './0003-backend-reason'
import { migration0004 } from './0004-error-codes-tasks'
import { migration0005 } from './0005-run-ids-autoincrement'
import type { Migration } from './migration'

export type { Migration } from './migration'

/** Every migration, oldest first. Append new ones; never edit or reorder a shipped one. */
export const allMigrations: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
]
