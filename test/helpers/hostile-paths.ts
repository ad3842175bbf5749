/**
 * Paths a file or a user might hand Tunewise, with what the one path check (src/main/safe-path.ts) must do with
 * each. Shared so every caller's tests (model import, dataset listing, thumbnails, export, delete) can run the
 * same table through their own entry point.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PathRefusal } from '../../src/main/safe-path'

const windows = process.platform === 'win32'

export type HostileExpectation =
  /** safePath throws a PathRefusedError with this reason. */
  | { refused: PathRefusal }
  /** safePath returns this path: relative to the root's real path, '/'-separated, '' for the root itself. */
  | { accepted: string }

export interface HostilePath {
  /** What the row tries, for the test name. */
  name: string
  /** The path as handed over, relative to the root. */
  rel: string
  /**
   * Makes what the row needs before the check: links and folders inside `root`, targets in `outside` (a folder
   * beside `root`, not under it). Rows without it need an empty `root`.
   */
  setup?: (root: string, outside: string) => void
  expect: HostileExpectation
  /**
   * What `isInside(root, path.resolve(root, rel))` answers. It is lexical: it cannot see links, and on POSIX a
   * backslash or `C:` is part of a name — which is why callers need safePath, not isInside, for outside input.
   */
  lexicallyInside: boolean
}

const refused = (reason: PathRefusal): HostileExpectation => ({ refused: reason })
const accepted = (path: string): HostileExpectation => ({ accepted: path })

function link(target: string, at: string): void {
  symlinkSync(target, at, windows ? 'junction' : undefined)
}

/** A plain folder `sub/` with `sub/w.bin`, which several link rows point at. */
function withSub(root: string): void {
  mkdirSync(join(root, 'sub'), { recursive: true })
  writeFileSync(join(root, 'sub', 'w.bin'), 'w')
}

const deepOk = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(200, 'd')).join('/')
const deepTooLong = Array.from({ length: 45 }, (_, i) => `${i}`.padEnd(100, 'd')).join('/')

export const hostilePaths: HostilePath[] = [
  // Leaving by name.
  { name: 'parent', rel: '..', expect: refused('outside'), lexicallyInside: false },
  { name: 'file in parent', rel: '../x', expect: refused('outside'), lexicallyInside: false },
  { name: 'climbs past the root', rel: 'a/../../x', expect: refused('outside'), lexicallyInside: false },
  { name: 'three levels up', rel: '../../../escape.bin', expect: refused('outside'), lexicallyInside: false },
  // Refused although it stays inside by name: through a link, `a/..` is not where the name says.
  { name: '.. that stays inside', rel: 'a/../b', expect: refused('outside'), lexicallyInside: true },
  { name: 'absolute POSIX path', rel: '/etc/passwd', expect: refused('outside'), lexicallyInside: false },
  { name: 'Windows drive path', rel: 'C:\\Windows', expect: refused('outside'), lexicallyInside: !windows },
  { name: 'Windows drive-relative path', rel: 'C:x', expect: refused('outside'), lexicallyInside: true },
  { name: 'UNC share', rel: '\\\\srv\\share', expect: refused('outside'), lexicallyInside: !windows },
  { name: 'UNC share, forward slashes', rel: '//srv/share/x', expect: refused('outside'), lexicallyInside: false },
  { name: 'Windows device path', rel: '\\\\?\\C:\\x', expect: refused('outside'), lexicallyInside: !windows },
  { name: 'backslash parents', rel: '..\\..\\x', expect: refused('outside'), lexicallyInside: !windows },
  { name: 'mixed slashes climbing out', rel: 'a\\..\\../x', expect: refused('outside'), lexicallyInside: !windows },
  // Not names at all.
  { name: 'NUL byte', rel: 'a\u0000b', expect: refused('invalid'), lexicallyInside: true },
  { name: 'NUL byte hiding a parent', rel: '..\u0000/x', expect: refused('invalid'), lexicallyInside: true },
  { name: 'name of 256 bytes', rel: 'x'.repeat(256), expect: refused('too-long'), lexicallyInside: true },
  { name: 'name of 128 two-byte letters', rel: 'é'.repeat(128), expect: refused('too-long'), lexicallyInside: true },
  {
    name: 'path longer than the system takes (45 × 100)',
    rel: deepTooLong,
    expect: windows ? accepted(deepTooLong) : refused('too-long'),
    lexicallyInside: true,
  },
  // Leaving through links.
  {
    name: 'link to a folder outside',
    rel: 'out/escape.bin',
    setup: (root, outside) => {
      writeFileSync(join(outside, 'escape.bin'), 'secret')
      link(outside, join(root, 'out'))
    },
    expect: refused('link-outside'),
    lexicallyInside: true,
  },
  {
    name: 'dangling link to a file not yet written outside',
    rel: 'dangling',
    setup: (root, outside) => symlinkSync(join(outside, 'not-yet.bin'), join(root, 'dangling')),
    expect: refused('link-outside'),
    lexicallyInside: true,
  },
  {
    name: 'relative link to the parent',
    rel: 'up/outside/escape.bin',
    setup: (root) => link('..', join(root, 'up')),
    expect: refused('link-outside'),
    lexicallyInside: true,
  },
  {
    name: "link to a sibling whose name starts with the root's (runs/1 → runs/10)",
    rel: 'prefix/x',
    setup: (root) => {
      mkdirSync(`${root}0`, { recursive: true })
      link(`${root}0`, join(root, 'prefix'))
    },
    expect: refused('link-outside'),
    lexicallyInside: true,
  },
  {
    name: 'link to itself',
    rel: 'loop/x',
    setup: (root) => symlinkSync('loop', join(root, 'loop')),
    expect: refused('loop'),
    lexicallyInside: true,
  },
  {
    name: 'two links pointing at each other',
    rel: 'ping',
    setup: (root) => {
      symlinkSync('pong', join(root, 'ping'))
      symlinkSync('ping', join(root, 'pong'))
    },
    expect: refused('loop'),
    lexicallyInside: true,
  },
  // Fine.
  { name: 'plain file', rel: 'weights.bin', expect: accepted('weights.bin'), lexicallyInside: true },
  {
    name: 'file in a subfolder',
    rel: 'shards/group1-shard1of2.bin',
    expect: accepted('shards/group1-shard1of2.bin'),
    lexicallyInside: true,
  },
  { name: 'dot segments', rel: './a/./b.bin', expect: accepted('a/b.bin'), lexicallyInside: true },
  { name: 'trailing slash', rel: 'dir/', expect: accepted('dir'), lexicallyInside: true },
  { name: 'the root itself', rel: '.', expect: accepted(''), lexicallyInside: true },
  { name: 'empty: the root itself', rel: '', expect: accepted(''), lexicallyInside: true },
  {
    name: 'unicode names',
    rel: 'ünïcödé/日本語 файл 🐱.bin',
    expect: accepted('ünïcödé/日本語 файл 🐱.bin'),
    lexicallyInside: true,
  },
  { name: 'name starting with two dots', rel: '..foo', expect: accepted('..foo'), lexicallyInside: true },
  { name: 'two dots inside a name', rel: 'a..b/c', expect: accepted('a..b/c'), lexicallyInside: true },
  { name: 'percent-encoded dots stay a name', rel: '%2e%2e/x', expect: accepted('%2e%2e/x'), lexicallyInside: true },
  { name: 'name of 255 bytes', rel: 'x'.repeat(255), expect: accepted('x'.repeat(255)), lexicallyInside: true },
  {
    name: 'name of 254 bytes (127 × é)',
    rel: 'é'.repeat(127),
    expect: accepted('é'.repeat(127)),
    lexicallyInside: true,
  },
  { name: 'deep path (10 × 200)', rel: deepOk, expect: accepted(deepOk), lexicallyInside: true },
  {
    // A name on POSIX, a separator on Windows: either way it stays inside.
    name: 'backslash inside a name',
    rel: 'a\\b.bin',
    expect: accepted('a\\b.bin'),
    lexicallyInside: true,
  },
  {
    name: 'colon inside a name (an NTFS stream on Windows)',
    rel: 'photo 10:00.jpg',
    expect: windows ? refused('invalid') : accepted('photo 10:00.jpg'),
    lexicallyInside: true,
  },
  {
    name: 'link to a folder inside',
    rel: 'alias/w.bin',
    setup: (root) => {
      withSub(root)
      link('sub', join(root, 'alias'))
    },
    expect: accepted('sub/w.bin'),
    lexicallyInside: true,
  },
  {
    name: 'absolute link to a folder inside',
    rel: 'abs-alias/w.bin',
    setup: (root) => {
      withSub(root)
      link(join(root, 'sub'), join(root, 'abs-alias'))
    },
    expect: accepted('sub/w.bin'),
    lexicallyInside: true,
  },
  {
    name: 'link out and back in',
    rel: 'sub/back/sub/w.bin',
    setup: (root) => {
      withSub(root)
      link('..', join(root, 'sub', 'back'))
    },
    expect: accepted('sub/w.bin'),
    lexicallyInside: true,
  },
  {
    name: 'dangling link to a file not yet written inside',
    rel: 'later',
    setup: (root) => symlinkSync('sub/later.bin', join(root, 'later')),
    expect: accepted('sub/later.bin'),
    lexicallyInside: true,
  },
]

/** Lexical containment, for isInside: whole segments count, so `runs/1` does not hold `runs/10`. */
export interface ContainmentCase {
  root: string
  candidate: string
  inside: boolean
}

export const containmentCases: ContainmentCase[] = [
  { root: 'runs/1', candidate: 'runs/10', inside: false },
  { root: 'runs/1', candidate: 'runs/1x/model.json', inside: false },
  { root: 'runs/1', candidate: 'runs', inside: false },
  { root: 'runs/1', candidate: 'runs/1/../10', inside: false },
  { root: 'runs/1', candidate: '/runs/1', inside: false },
  { root: 'runs/1', candidate: 'runs/1', inside: true },
  { root: 'runs/1', candidate: 'runs/1/', inside: true },
  { root: 'runs/1/', candidate: 'runs/1/model/weights.bin', inside: true },
  { root: 'runs/1', candidate: 'runs/1/..x', inside: true },
  { root: 'runs/1', candidate: 'runs/1/a/../b', inside: true },
  { root: '/', candidate: '/etc/passwd', inside: true },
  { root: '/data', candidate: '/data-old/x', inside: false },
]
