import type { Migration } from './migration'

/** Records why a run's backend was chosen (and why faster ones were not), next to the backend. */
export const migration0003: Migration = {
  version: 3,
  name: 'backend-reason',
  up(db) {
    db.exec(`ALTER TABLE runs ADD COLUMN backend_reason TEXT`)
  },
}
