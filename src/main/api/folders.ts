/**
 * Folders a person points Tunewise at: a path they typed or pasted, one they dropped, and the
 * folders they used recently. Every one goes through `checkFolder`, which uses the same path check
 * as the folder browser (`ensureInside` under the browse roots) in browser mode.
 */
import { existsSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RecentFolder } from '../../shared/contract'
import type { DraftRepository } from '../db/repositories'
import { AppError } from '../errors'
import { ensureInside, PathRefusedError } from '../safe-path'

/** How many recent folders are remembered. */
export const MAX_RECENT_FOLDERS = 8

/** Where the recent folders are kept: a small JSON document next to the wizard's draft. */
const RECENT_KEY = 'recent-folders'

/**
 * A typed or pasted path as the person meant it: surrounding quotes (Windows' "Copy as path") and
 * spaces dropped, a `file://` URL (some file managers copy those) made a path, a leading `~` made
 * the home folder. Returns '' for nothing usable.
 */
export function cleanTypedPath(raw: string): string {
  let p = raw.trim()
  if (p.length >= 2 && /^(["']).*\1$/s.test(p)) p = p.slice(1, -1).trim()
  if (/^file:\/\//i.test(p)) {
    try {
      p = fileURLToPath(p)
    } catch {
      // Not a local file URL: leave it, the checks below say what is wrong.
    }
  }
  if (p === '~') return homedir()
  if (p.startsWith('~/') || p.startsWith('~\\')) return join(homedir(), p.slice(2))
  return p
}

/**
 * The real path of an existing folder a person named, or an AppError that says what is wrong and
 * what to do. With `roots`, the folder must lie inside one of them (browser mode: the same roots
 * the folder browser shows); null means any folder (Electron, where the system dialog reaches any
 * folder anyway).
 */
export function checkFolder(raw: string, roots: readonly string[] | null): string {
  const path = cleanTypedPath(raw)
  if (!path) throw new AppError('invalid_input', 'Type or paste the full path of a folder first.')
  if (path.includes('\0') || !isAbsolute(path))
    throw new AppError(
      'invalid_input',
      `'${path}' is not a full path. Give the whole path from the top, for example ${join(homedir(), 'Pictures', 'my-dataset')}.`,
    )
  let real = path
  if (roots) {
    let inside: string | null = null
    for (const root of roots) {
      try {
        inside = ensureInside(root, path)
        break
      } catch (err) {
        if (!(err instanceof PathRefusedError)) throw err
      }
    }
    if (inside === null)
      throw new AppError(
        'invalid_input',
        `Tunewise may only open folders inside ${roots.map((r) => `'${r}'`).join(' or ')}, and '${path}' is not. ` +
          'Move the images into one of those, or start Tunewise with that folder listed in TUNEWISE_BROWSE_ROOTS.',
      )
    real = inside
  }
  let isDir: boolean
  try {
    isDir = existsSync(real) && statSync(real).isDirectory()
  } catch {
    throw new AppError('bad_data', `Tunewise may not look into '${path}'. Check its permissions, or choose another.`)
  }
  if (!isDir) {
    if (existsSync(real))
      throw new AppError(
        'invalid_input',
        `'${path}' is a file, not a folder. Give the folder that holds one sub-folder per class.`,
      )
    throw new AppError(
      'not_found',
      `There is no folder '${path}' on the computer running Tunewise. Check the spelling, or copy the path from your file manager.`,
    )
  }
  return real
}

/** `list` with `path` moved to the front, each path once, at most `max` long. */
export function withRecent(list: readonly string[], path: string, max = MAX_RECENT_FOLDERS): string[] {
  return [path, ...list.filter((p) => p !== path)].slice(0, Math.max(0, max))
}

/** The folders a person imported most recently, newest first, kept in the database. */
export class RecentFolders {
  constructor(
    private readonly store: Pick<DraftRepository, 'get' | 'save'>,
    private readonly max = MAX_RECENT_FOLDERS,
  ) {}

  private stored(): string[] {
    const raw = this.store.get(RECENT_KEY)
    // Parsed defensively: a damaged or hand-edited value yields what is usable in it.
    return Array.isArray(raw) ? raw.filter((p): p is string => typeof p === 'string' && p.length > 0) : []
  }

  /** Remembers `path` as the most recent. */
  add(path: string): void {
    this.store.save(RECENT_KEY, withRecent(this.stored(), path, this.max))
  }

  /**
   * The remembered folders that still pass `check` (exist, and are still allowed), newest first.
   * A folder that fails is left out of the answer but kept: a disk that is not mounted today may be
   * back tomorrow. Only the newest `max` are ever kept.
   */
  list(check: (path: string) => string): RecentFolder[] {
    const out: RecentFolder[] = []
    for (const path of this.stored()) {
      try {
        check(path)
        out.push({ path, name: basename(path) || path })
      } catch {
        // Gone or not allowed any more: not offered.
      }
    }
    return out
  }
}
