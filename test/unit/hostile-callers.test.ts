/**
 * The hostile path table (test/helpers/hostile-paths.ts) through each caller that takes a path from
 * a user or a file: the folder browser and dataset thumbnails. Whatever the row, nothing outside
 * the allowed folder is listed or read.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, describe, expect, it } from 'vitest'
import { thumbnailIn } from '../../src/main/api/dataset-store'
import { listFolder } from '../../src/main/api/handlers'
import { AppError } from '../../src/main/errors'
import { isInside } from '../../src/main/safe-path'
import { hostilePaths } from '../helpers/hostile-paths'

const sandboxes = mkdtempSync(join(tmpdir(), 'tw-hostile-callers-'))
afterAll(() => rmSync(sandboxes, { recursive: true, force: true }))
let count = 0

async function sandbox(): Promise<{ root: string; outside: string }> {
  const base = join(sandboxes, String(count++))
  const root = join(base, 'root')
  const outside = join(base, 'outside')
  mkdirSync(root, { recursive: true })
  mkdirSync(outside)
  // Something worth stealing outside: an image a thumbnail would happily show, and a folder to list.
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } })
    .png()
    .toBuffer()
  writeFileSync(join(outside, 'secret.png'), png)
  mkdirSync(join(outside, 'private'))
  return { root, outside }
}

describe.each(hostilePaths.map((row) => [row.name, row] as const))('hostile path: %s', (_name, row) => {
  it('the folder browser lists only inside the allowed folder', async () => {
    const { root, outside } = await sandbox()
    row.setup?.(root, outside)
    let listed: { path: string } | null = null
    try {
      listed = listFolder(join(root, row.rel), [root])
    } catch (err) {
      expect(err).toBeInstanceOf(AppError)
    }
    if ('refused' in row.expect) expect(listed).toBeNull()
    if (listed) expect(isInside(realpathSync(root), listed.path)).toBe(true)
  })

  it('a thumbnail is only ever made of a file inside the dataset folder', async () => {
    const { root, outside } = await sandbox()
    row.setup?.(root, outside)
    const thumb = await thumbnailIn(root, row.rel)
    if ('refused' in row.expect) expect(thumb).toBeNull()
  })
})

describe('the folder browser', () => {
  it('starts at the first root and never offers a parent above the roots', async () => {
    const { root } = await sandbox()
    mkdirSync(join(root, 'cats'))
    const top = listFolder(undefined, [root])
    expect(top.path).toBe(realpathSync(root))
    expect(top.parent).toBeNull()
    expect(top.entries).toEqual([{ name: 'cats', isDir: true }])
    expect(listFolder(join(root, 'cats'), [root]).parent).toBe(realpathSync(root))
    expect(() => listFolder('/etc', [root])).toThrow(/only browses/)
  })
})
