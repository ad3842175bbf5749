import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AppError } from '../../src/main/errors'
import { PathRefusedError, ensureInside, isInside, safeJoin, safePath } from '../../src/main/safe-path'
import { containmentCases, hostilePaths } from '../helpers/hostile-paths'

const sandboxes = mkdtempSync(join(tmpdir(), 'tw-safe-path-'))
afterAll(() => rmSync(sandboxes, { recursive: true, force: true }))

let count = 0
/** A fresh `<sandbox>/root` (empty) beside `<sandbox>/outside`. */
function sandbox(): { root: string; outside: string; base: string } {
  const base = join(sandboxes, String(count++))
  const root = join(base, 'root')
  const outside = join(base, 'outside')
  mkdirSync(root, { recursive: true })
  mkdirSync(outside)
  return { root, outside, base }
}

function refusal(fn: () => unknown): PathRefusedError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(PathRefusedError)
    return err as PathRefusedError
  }
  throw new Error('expected the path to be refused, but it was accepted')
}

describe('safePath against the hostile table', () => {
  it.each(hostilePaths.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const { root, outside } = sandbox()
    row.setup?.(root, outside)
    if ('refused' in row.expect) {
      const err = refusal(() => safePath(root, row.rel))
      expect(err.reason).toBe(row.expect.refused)
      expect(err.path).toBe(row.rel)
      // A user-facing AppError: ipc.ts hands its code and message to the page.
      expect(err).toBeInstanceOf(AppError)
      expect(err.code).toBe('invalid_input')
      expect(err.message).toMatch(/^The path names '.*', which .+\. Tunewise did not use it\.$/s)
    } else {
      const expected = join(realpathSync(root), ...row.expect.accepted.split('/'))
      expect(safePath(root, row.rel)).toBe(expected)
    }
  })
})

describe('isInside', () => {
  it.each(hostilePaths.map((row) => [row.name, row] as const))('hostile table, lexically: %s', (_name, row) => {
    const root = resolve('/srv/tunewise/root')
    expect(isInside(root, resolve(root, row.rel))).toBe(row.lexicallyInside)
  })

  it.each(containmentCases.map((c) => [`${c.root} ∋ ${c.candidate}`, c] as const))('%s', (_name, c) => {
    expect(isInside(c.root, c.candidate)).toBe(c.inside)
  })
})

describe('messages', () => {
  it('say what named the path, where it had to stay and what Tunewise did', () => {
    const { root } = sandbox()
    const err = refusal(() =>
      safePath(root, '../../../escape.bin', {
        namedBy: "The model's weight manifest",
        folder: 'its folder',
        outcome: 'Tunewise did not import it.',
        code: 'bad_data',
      }),
    )
    expect(err.code).toBe('bad_data')
    expect(err.message).toBe(
      "The model's weight manifest names '../../../escape.bin', which is outside its folder. Tunewise did not import it.",
    )
  })

  it('show control characters and shorten very long paths', () => {
    const { root } = sandbox()
    expect(refusal(() => safePath(root, 'a\u0000b')).message).toBe(
      "The path names 'a\\x00b', which is not a valid file name. Tunewise did not use it.",
    )
    const long = refusal(() => safePath(root, `${'x'.repeat(300)}/end`)).message
    expect(long).toMatch(/^The path names 'x{60}…x{11}\/end', which is longer than the file system allows\./)
  })

  it('name a link that leaves the folder as a link', () => {
    const { root, outside } = sandbox()
    symlinkSync(outside, join(root, 'out'))
    expect(refusal(() => safePath(root, 'out/x', { folder: 'the dataset folder' })).message).toBe(
      "The path names 'out/x', which is a link to a place outside the dataset folder. Tunewise did not use it.",
    )
  })
})

describe('roots', () => {
  it('checks paths under a root that does not exist yet', () => {
    const { base } = sandbox()
    const root = join(base, 'not', 'yet')
    expect(safePath(root, 'a/b.bin')).toBe(join(realpathSync(base), 'not', 'yet', 'a', 'b.bin'))
    expect(refusal(() => safePath(root, '../x')).reason).toBe('outside')
  })

  it('follows a root that is itself a link and answers with real paths', () => {
    const { base, root } = sandbox()
    const linked = join(base, 'linked-root')
    symlinkSync(root, linked)
    const real = realpathSync(root)
    expect(safePath(linked, 'x.bin')).toBe(join(real, 'x.bin'))
    expect(ensureInside(linked, join(linked, 'x.bin'))).toBe(join(real, 'x.bin'))
    expect(ensureInside(linked, join(real, 'x.bin'))).toBe(join(real, 'x.bin'))
  })
})

describe('ensureInside', () => {
  it('takes an absolute path under the root, the root itself, and nothing else', () => {
    const { root, outside, base } = sandbox()
    mkdirSync(join(root, 'cats'))
    writeFileSync(join(outside, 'secret.txt'), 's')
    symlinkSync(outside, join(root, 'out'))
    const real = realpathSync(root)
    expect(ensureInside(root, join(root, 'cats'))).toBe(join(real, 'cats'))
    expect(ensureInside(root, root)).toBe(real)
    expect(refusal(() => ensureInside(root, join(outside, 'secret.txt'))).reason).toBe('outside')
    expect(refusal(() => ensureInside(root, `${root}0`)).reason).toBe('outside')
    expect(refusal(() => ensureInside(root, join(root, 'out', 'secret.txt'))).reason).toBe('link-outside')
    expect(refusal(() => ensureInside(root, join(root, '..', 'outside'))).reason).toBe('outside')
    expect(refusal(() => ensureInside(root, 'cats')).reason).toBe('invalid')
    expect(refusal(() => ensureInside(root, `${root}/a\u0000b`)).reason).toBe('invalid')
    expect(refusal(() => ensureInside(join(base, 'root'), join(root, 'x'.repeat(256)))).reason).toBe('too-long')
  })
})

describe('safeJoin', () => {
  it('joins single names and refuses anything else', () => {
    const { root } = sandbox()
    expect(safeJoin(root, ['models', 'imported-x-1234'])).toBe(join(realpathSync(root), 'models', 'imported-x-1234'))
    expect(refusal(() => safeJoin(root, ['models', '..'])).reason).toBe('outside')
    expect(refusal(() => safeJoin(root, ['models', 'a/b'])).reason).toBe('outside')
    expect(refusal(() => safeJoin(root, ['models', 'a\\b'])).reason).toBe('outside')
    expect(refusal(() => safeJoin(root, ['models', ''])).reason).toBe('invalid')
    expect(refusal(() => safeJoin(root, ['.'])).reason).toBe('invalid')
    expect(refusal(() => safeJoin(root, ['x\u0000'])).reason).toBe('invalid')
  })
})
