/**
 * Folders a person names on the Data step (typed, pasted, dropped) and the recent-folders list:
 * checked with the folder browser's rules, remembered in the database, newest first, at most 8.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkFolder, cleanTypedPath, MAX_RECENT_FOLDERS, RecentFolders, withRecent } from '../../src/main/api/folders'
import { createHandlers } from '../../src/main/api/handlers'
import { openDatabase, type TunewiseDb } from '../../src/main/db/database'
import { createRepositories, type Repositories } from '../../src/main/db/repositories'
import { AppError } from '../../src/main/errors'
import type { HandlerDeps } from '../../src/main/api/handlers'

const base = realpathSync(mkdtempSync(join(tmpdir(), 'tw-folders-')))
const root = join(base, 'root')
const outside = join(base, 'outside')
mkdirSync(join(root, 'cats and dogs', 'cats'), { recursive: true })
mkdirSync(outside)
writeFileSync(join(root, 'notes.txt'), 'not a folder')
symlinkSync(outside, join(root, 'leads-out'))
afterAll(() => rmSync(base, { recursive: true, force: true }))

function refused(fn: () => unknown): AppError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    return err as AppError
  }
  throw new Error('expected the folder to be refused, but it was accepted')
}

describe('cleanTypedPath', () => {
  it('reads a path the way file managers copy it', () => {
    expect(cleanTypedPath('  /a/b  ')).toBe('/a/b')
    expect(cleanTypedPath('"/a/with space"')).toBe('/a/with space')
    expect(cleanTypedPath("'/a/b'")).toBe('/a/b')
    expect(cleanTypedPath(pathToFileURL('/a/with space').href)).toBe('/a/with space')
    expect(cleanTypedPath('~')).toBe(homedir())
    expect(cleanTypedPath('~/Pictures')).toBe(join(homedir(), 'Pictures'))
    expect(cleanTypedPath('   ')).toBe('')
  })
})

describe('checkFolder', () => {
  it('gives the real path of an allowed folder, typed or pasted', () => {
    const folder = join(root, 'cats and dogs')
    expect(checkFolder(folder, [root])).toBe(folder)
    expect(checkFolder(`"${folder}"`, [root])).toBe(folder)
    expect(checkFolder(`${folder}/cats/..`, [root])).toBe(folder)
    expect(checkFolder(pathToFileURL(folder).href, [outside, root])).toBe(folder)
  })

  it('refuses a folder outside the roots, naming them and what to do', () => {
    const err = refused(() => checkFolder(outside, [root]))
    expect(err.code).toBe('invalid_input')
    expect(err.message).toContain(`'${root}'`)
    expect(err.message).toMatch(/TUNEWISE_BROWSE_ROOTS/)
    // A link inside the root that leads out is refused like the place it leads to.
    expect(refused(() => checkFolder(join(root, 'leads-out'), [root])).code).toBe('invalid_input')
    expect(refused(() => checkFolder(`${root}/../outside`, [root])).code).toBe('invalid_input')
  })

  it('says plainly when the folder is missing, a file, relative or empty', () => {
    const missing = refused(() => checkFolder(join(root, 'nope'), [root]))
    expect(missing.code).toBe('not_found')
    expect(missing.message).toMatch(/There is no folder .*nope.* Check the spelling/)
    expect(refused(() => checkFolder(join(root, 'notes.txt'), [root])).message).toMatch(/is a file, not a folder/)
    expect(refused(() => checkFolder('pictures/cats', [root])).message).toMatch(/not a full path/)
    expect(refused(() => checkFolder('  ', [root])).message).toMatch(/Type or paste/)
    expect(refused(() => checkFolder('/a\0b', null)).code).toBe('invalid_input')
  })

  it('without roots (Electron) accepts any existing folder, still only a folder', () => {
    expect(checkFolder(outside, null)).toBe(outside)
    expect(refused(() => checkFolder(join(outside, 'nope'), null)).code).toBe('not_found')
  })
})

describe('recent folders', () => {
  let db: TunewiseDb
  let repos: Repositories
  beforeEach(() => {
    db = openDatabase(':memory:')
    repos = createRepositories(db)
  })
  afterEach(() => db.close())

  it('keeps each folder once, newest first, at most 8', () => {
    expect(withRecent(['/b', '/a'], '/a')).toEqual(['/a', '/b'])
    const many = Array.from({ length: 12 }, (_, i) => `/f${i}`)
    expect(many.reduce<string[]>((list, p) => withRecent(list, p), [])).toEqual(
      many.slice(-MAX_RECENT_FOLDERS).reverse(),
    )
  })

  it('remembers folders in the database and offers only those that still pass the check', () => {
    const recent = new RecentFolders(repos.drafts)
    const cats = join(root, 'cats and dogs', 'cats')
    const gone = join(root, 'gone')
    mkdirSync(gone)
    recent.add(join(root, 'cats and dogs'))
    recent.add(gone)
    recent.add(outside)
    recent.add(cats)
    rmSync(gone, { recursive: true })
    const check = (p: string): string => checkFolder(p, [root])
    // A fresh instance reads the same database: the list survives a restart.
    expect(new RecentFolders(repos.drafts).list(check)).toEqual([
      { path: cats, name: 'cats' },
      { path: join(root, 'cats and dogs'), name: 'cats and dogs' },
    ])
    // Without roots the outside folder is offered again; the missing one never is.
    expect(recent.list((p) => checkFolder(p, null)).map((f) => f.path)).toEqual([
      cats,
      outside,
      join(root, 'cats and dogs'),
    ])
  })

  it('reads a damaged stored value as what is usable in it', () => {
    repos.drafts.save('recent-folders', ['', 7, root, null])
    expect(new RecentFolders(repos.drafts).list((p) => p)).toEqual([{ path: root, name: 'root' }])
    repos.drafts.save('recent-folders', { not: 'a list' })
    expect(new RecentFolders(repos.drafts).list((p) => p)).toEqual([])
  })

  it('the handlers record an imported folder and check typed ones with the browse roots', async () => {
    const imported = join(root, 'cats and dogs')
    const deps = {
      dataDir: root,
      repos,
      hub: { emit: () => {} },
      jobs: { status: () => ({ runId: null, progress: null, queued: [] }) },
      tasks: {},
      datasets: { import: async (path: string) => ({ path }) },
      info: () => ({}),
    } as unknown as HandlerDeps
    const handlers = createHandlers(deps)
    await handlers['datasets:import']({ path: imported })
    const listed = await handlers['fs:recent']({})
    expect(listed).toEqual([{ path: imported, name: 'cats and dogs' }])
    // Browser mode (no system dialog): the data folder and home are the roots; outside is refused.
    expect(await handlers['fs:check-folder']({ path: imported })).toEqual({ path: imported })
    await expect(async () => handlers['fs:check-folder']({ path: outside })).rejects.toThrow(/may only open folders/)
    // Electron (a system dialog exists): any existing folder.
    const electron = createHandlers({ ...deps, pickFolder: async () => null })
    expect(await electron['fs:check-folder']({ path: outside })).toEqual({ path: outside })
  })
})
