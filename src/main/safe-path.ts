/**
 * The one path check. Tunewise never reads or writes outside the folder the user chose, its data folder and an
 * export target the user confirmed: every path that comes from a file (a weight manifest, a dataset listing) or
 * from a user goes through `safePath` (a relative name under a root) or `ensureInside` (an absolute path that
 * must lie under a root) before anything touches the disk.
 *
 * Pure Node (no electron): the ML engine, the CLI and tests use it too.
 */
import { lstatSync, readlinkSync, realpathSync } from 'node:fs'
import { dirname, isAbsolute, join, parse, relative, resolve, sep } from 'node:path'
import { AppError } from './errors'

/** Why a path was refused; tests and callers can branch on it without parsing the message. */
export type PathRefusal =
  /** `..`, an absolute path, a drive (`C:\`, `C:x`) or UNC form (`\\server\share`): it leaves the root. */
  | 'outside'
  /** A link (symlink or junction) on the way leads outside the root. */
  | 'link-outside'
  /** Links that lead back to themselves (ELOOP), or more than 40 of them in a row. */
  | 'loop'
  /** Empty where a name is needed, a NUL byte, or a name Windows cannot hold. */
  | 'invalid'
  /** One name longer than 255 bytes, or the whole path longer than the system allows. */
  | 'too-long'
  /** The file system would not let Tunewise look (permission denied and the like). */
  | 'unreadable'

/** Who hands the path over and what happens when it is refused; fills in the user-facing message. */
export interface PathUse {
  /** Start of the sentence naming the source: "The model's weight manifest". Default "The path". */
  namedBy?: string
  /** The folder it must stay in, as the user knows it: "its folder". Default "the folder Tunewise may use". */
  folder?: string
  /** What Tunewise did instead: "Tunewise did not import it." Default "Tunewise did not use it." */
  outcome?: string
  /** 'bad_data' when a file names the path, 'invalid_input' (default) when a user or the renderer does. */
  code?: 'bad_data' | 'invalid_input'
}

/** A refused path: a user-facing AppError that also says why (`reason`) and which path (`path`). */
export class PathRefusedError extends AppError {
  constructor(
    readonly reason: PathRefusal,
    readonly path: string,
    use: PathUse = {},
  ) {
    super(use.code ?? 'invalid_input', refusalMessage(reason, path, use))
    this.name = 'PathRefusedError'
  }
}

/** Longest single file name on ext4, APFS and NTFS (bytes of UTF-8; NTFS counts UTF-16 units, never more). */
export const MAX_NAME_BYTES = 255
/** Longest whole path the system takes (PATH_MAX less the NUL; Windows with long paths enabled). */
export const MAX_PATH_BYTES = process.platform === 'win32' ? 32_767 : process.platform === 'darwin' ? 1_023 : 4_095
/** Same limit as the kernel's (Linux MAXSYMLINKS): more links in a row than this is treated as a loop. */
const MAX_LINK_HOPS = 40

const isWindows = process.platform === 'win32'

function shown(path: string): string {
  // By code point, so a shortened name never splits an emoji.
  const chars = Array.from(path, (c) => {
    const code = c.charCodeAt(0)
    return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c
  })
  return chars.length > 80 ? `${chars.slice(0, 60).join('')}…${chars.slice(-15).join('')}` : chars.join('')
}

function refusalMessage(reason: PathRefusal, path: string, use: PathUse): string {
  const namedBy = use.namedBy ?? 'The path'
  const folder = use.folder ?? 'the folder Tunewise may use'
  const outcome = use.outcome ?? 'Tunewise did not use it.'
  const what: Record<PathRefusal, string> = {
    outside: `which is outside ${folder}`,
    'link-outside': `which is a link to a place outside ${folder}`,
    loop: 'which is a link that leads back to itself',
    invalid: 'which is not a valid file name',
    'too-long': 'which is longer than the file system allows',
    unreadable: 'which Tunewise was not allowed to check',
  }
  return `${namedBy} names '${shown(path)}', ${what[reason]}. ${outcome}`
}

/**
 * True when `candidate` is `root` itself or lies under it, comparing whole path segments (`runs/1` does not
 * contain `runs/10`). Lexical only: both are resolved against the working directory and normalised, but links
 * are not followed — use `safePath`/`ensureInside` before touching the disk.
 */
export function isInside(root: string, candidate: string): boolean {
  const rel = relative(resolve(root), resolve(candidate))
  // path.relative answers an absolute path when no relative one exists (another drive on Windows).
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

interface FsError {
  code?: string
}

/** Thrown inside this module only; turned into a PathRefusedError where the path and its use are known. */
class Refused extends Error {
  constructor(readonly reason: PathRefusal) {
    super(reason)
  }
}

function errCode(err: unknown): string | undefined {
  return (err as FsError | undefined)?.code
}

/**
 * The real path of `abs` when only some leading part of it exists: links are followed one component at a time
 * (a dangling link included, so a file about to be created through it is checked where it would land) and the
 * missing tail is appended as written. Throws the refusal reason for loops, over-long paths and refused lookups.
 */
function physicalPath(abs: string): string {
  try {
    return realpathSync.native(abs)
  } catch (err) {
    const code = errCode(err)
    if (code === 'ELOOP') throw new Refused('loop')
    if (code === 'ENAMETOOLONG') throw new Refused('too-long')
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Refused('unreadable')
  }
  const { root } = parse(abs)
  let current = realpathSync.native(root)
  const pending = abs.slice(root.length).split(sep).filter(Boolean)
  let hops = 0
  while (pending.length > 0) {
    const name = pending.shift() as string
    if (name === '.') continue
    if (name === '..') {
      // `current` holds no links, so its parent is the real parent.
      current = dirname(current)
      continue
    }
    const next = join(current, name)
    let isLink: boolean
    try {
      isLink = lstatSync(next).isSymbolicLink()
    } catch (err) {
      const code = errCode(err)
      if (code === 'ENAMETOOLONG') throw new Refused('too-long')
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Refused('unreadable')
      // Nothing exists from here on, so nothing further can be a link.
      return join(next, ...pending)
    }
    if (!isLink) {
      current = next
      continue
    }
    if (++hops > MAX_LINK_HOPS) throw new Refused('loop')
    const target = readlinkSync(next)
    if (isAbsolute(target)) {
      const targetRoot = parse(target).root
      current = realpathSync.native(targetRoot)
      pending.unshift(...target.slice(targetRoot.length).split(sep).filter(Boolean))
    } else {
      pending.unshift(...target.split(sep).filter(Boolean))
    }
  }
  return current
}

/** Refuses what is wrong with `rel` as written, before looking at the disk. */
function lexicalRefusal(rel: string): PathRefusal | undefined {
  if (rel.includes('\0')) return 'invalid'
  // Windows forms are refused on every platform: a manifest or listing made on Windows means them as paths.
  if (/^[\\/]/.test(rel) || /^[a-zA-Z]:/.test(rel) || isAbsolute(rel)) return 'outside'
  const names = rel.split(/[\\/]/)
  if (names.includes('..')) return 'outside'
  if (isWindows) {
    // ':' opens an NTFS alternate stream; Windows drops trailing dots and spaces (so '.. ' is '..').
    if (names.some((n) => n.includes(':') || (n !== '.' && n !== '' && /[. ]$/.test(n)))) return 'invalid'
  }
  for (const name of rel.split(sep)) if (Buffer.byteLength(name) > MAX_NAME_BYTES) return 'too-long'
  return undefined
}

/**
 * Resolves `rel` against `root` and returns its real path, or throws a `PathRefusedError` (an `AppError` with a
 * plain message built from `use`) when it would leave `root`: `..` segments (with either slash), absolute paths,
 * Windows drive and UNC forms on any platform, NUL bytes, names over 255 bytes, links whose real target lies
 * outside, and link loops. Neither `root` nor the target has to exist: links are followed as far as the disk
 * goes, so a file about to be written is checked where it would land.
 *
 * On POSIX a backslash inside a name stays part of the name (it is only refused when it would form `..` or a
 * Windows absolute path). `''` and `'.'` give the root itself.
 *
 * @returns the real (link-free) absolute path, under the real path of `root`.
 */
export function safePath(root: string, rel: string, use: PathUse = {}): string {
  if (typeof rel !== 'string') throw new PathRefusedError('invalid', String(rel), use)
  const lexical = lexicalRefusal(rel)
  if (lexical) throw new PathRefusedError(lexical, rel, use)
  // Every lexical way out is refused above, so a real path outside can only come from a link.
  return checkReal(resolve(root), resolve(root, rel), rel, use, 'link-outside')
}

/** Follows links under `root` and `target` and refuses a real target outside the real root. */
function checkReal(root: string, target: string, given: string, use: PathUse, outsideReason: PathRefusal): string {
  let realRoot: string
  let real: string
  try {
    realRoot = physicalPath(root)
    real = physicalPath(target)
  } catch (err) {
    if (err instanceof Refused) throw new PathRefusedError(err.reason, given, use)
    throw err
  }
  if (!isInside(realRoot, real)) throw new PathRefusedError(outsideReason, given, use)
  if (Buffer.byteLength(real) > MAX_PATH_BYTES) throw new PathRefusedError('too-long', given, use)
  return real
}

/**
 * Joins single names under `root` (`safeJoin(dataDir, 'models', id)`): each must be one plain name — no
 * separator of either kind, not `.` or `..`, not empty — then the result goes through `safePath`.
 */
export function safeJoin(root: string, names: readonly string[], use: PathUse = {}): string {
  for (const name of names) {
    if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[\\/]/.test(name)) {
      throw new PathRefusedError(name === '..' || /[\\/]/.test(String(name)) ? 'outside' : 'invalid', String(name), use)
    }
  }
  return safePath(root, names.join('/'), use)
}

/**
 * For an absolute path a user picked (a dialog, a typed path): returns its real path when it is `root` or lies
 * under it — reached through `root` as written or through its real path — else throws a `PathRefusedError`.
 * Relative input is refused: the caller must say what it is relative to, and then `safePath` is the check.
 * Use the returned path, not the input: `..` in the input is resolved by name, the returned path by the disk.
 */
export function ensureInside(root: string, absolute: string, use: PathUse = {}): string {
  if (typeof absolute !== 'string' || absolute.includes('\0') || !isAbsolute(absolute)) {
    throw new PathRefusedError('invalid', String(absolute), use)
  }
  for (const name of absolute.split(sep)) {
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new PathRefusedError('too-long', absolute, use)
  }
  const outsideReason = isInside(root, absolute) ? 'link-outside' : 'outside'
  return checkReal(resolve(root), resolve(absolute), absolute, use, outsideReason)
}
