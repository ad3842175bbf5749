/**
 * Two runs never share a name by accident: the wizard's suggested name ("model · dataset · lr") is the
 * same for two runs with those in common, so the database numbers the second one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import { MAX_RUN_NAME, uniqueRunName } from '../../src/shared/run-names'
import { openDatabase, type TunewiseDb } from '../../src/main/db/database'
import { createRepositories, type Repositories } from '../../src/main/db/repositories'

describe('uniqueRunName', () => {
  it('keeps a free name and numbers a taken one with the next free number', () => {
    expect(uniqueRunName('a', [])).toBe('a')
    expect(uniqueRunName('a', ['b', 'a (2)'])).toBe('a')
    expect(uniqueRunName('a', ['a'])).toBe('a (2)')
    expect(uniqueRunName('a', ['a', 'a (2)', 'a (4)'])).toBe('a (3)')
    // Compared without case, as History sorts and searches.
    expect(uniqueRunName('Run', ['run'])).toBe('Run (2)')
    // A name that already carries a number counts on from it, never "a (2) (2)".
    expect(uniqueRunName('a (2)', ['a', 'a (2)'])).toBe('a (3)')
  })

  it('stays within the name limit', () => {
    const long = 'x'.repeat(MAX_RUN_NAME)
    const next = uniqueRunName(long, [long])
    expect(next).toHaveLength(MAX_RUN_NAME)
    expect(next.endsWith(' (2)')).toBe(true)
  })
})

describe('RunRepository.create', () => {
  let db: TunewiseDb
  let repos: Repositories
  beforeEach(() => {
    db = openDatabase(':memory:')
    repos = createRepositories(db)
  })
  afterEach(() => db.close())

  it('gives a second run with the same suggested name the next number, in its row and its settings', () => {
    const name = 'MobileNetV2 · shapes · lr 0.001'
    const ids = [1, 2, 3].map(() => repos.runs.create(defaultRunConfig('m', 'd', name)))
    const runs = ids.map((id) => repos.runs.get(id)!)
    expect(runs.map((r) => r.name)).toEqual([name, `${name} (2)`, `${name} (3)`])
    expect(runs.map((r) => r.config.name)).toEqual(runs.map((r) => r.name))
    expect(new Set(repos.runs.list({}).map((r) => r.name)).size).toBe(3)
  })

  it('is not fooled by LIKE wildcards in a name, and frees a name again when its run is deleted', () => {
    const a = repos.runs.create(defaultRunConfig('m', 'd', '100%_done'))
    expect(repos.runs.get(repos.runs.create(defaultRunConfig('m', 'd', '100x_done')))!.name).toBe('100x_done')
    expect(repos.runs.get(repos.runs.create(defaultRunConfig('m', 'd', '100%_done')))!.name).toBe('100%_done (2)')
    repos.runs.delete(a)
    expect(repos.runs.get(repos.runs.create(defaultRunConfig('m', 'd', '100%_done')))!.name).toBe('100%_done')
  })
})
