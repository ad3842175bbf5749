/**
 * electron-builder packages the built app offline (a stub stands in for the Electron binary, which
 * cannot be downloaded here): the asar holds the bundles and no sources or tests, and the native
 * modules, WASM binaries and bundled models are unpacked where Node can load them.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { listPackage } from '@electron/asar'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(__dirname, '../..')
const work = mkdtempSync(join(tmpdir(), 'tw-pack-'))
const appDir = join(work, 'out', 'linux-unpacked')

beforeAll(() => {
  if (!existsSync(join(root, 'out', 'main', 'index.js'))) throw new Error('Build first: npm run build (npm test does).')
  const stub = join(work, 'electron-dist')
  mkdirSync(stub)
  writeFileSync(join(stub, 'electron'), '#!/bin/sh\necho stub\n')
  chmodSync(join(stub, 'electron'), 0o755)
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/electron-builder/cli.js'),
      '--linux',
      'dir',
      `-c.electronDist=${stub}`,
      '-c.npmRebuild=false',
      `-c.directories.output=${join(work, 'out')}`,
    ],
    { cwd: root, encoding: 'utf8' },
  )
  if (r.status !== 0) throw new Error(`electron-builder failed:\n${r.stdout}\n${r.stderr}`)
}, 180_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('the packaged app', () => {
  it('holds the bundles and package.json, and no sources or tests', () => {
    const files = listPackage(join(appDir, 'resources', 'app.asar'), { isPack: false })
    for (const f of [
      '/package.json',
      '/out/main/index.js',
      '/out/main/job-worker.js',
      '/out/main/extract-worker.js',
      '/out/preload/index.js',
      '/out/renderer/index.html',
    ])
      expect(files).toContain(f)
    expect(files.filter((f) => f.startsWith('/src/') || f.startsWith('/test/') || f.startsWith('/bench/'))).toEqual([])
    // Development tools stay out.
    for (const dev of ['electron', 'vite', 'vitest', 'playwright-core', 'typescript', 'svelte'])
      expect(files.some((f) => f.startsWith(`/node_modules/${dev}/`))).toBe(false)
  })

  it('unpacks native modules, WASM binaries and the bundled models', () => {
    const unpacked = join(appDir, 'resources', 'app.asar.unpacked', 'node_modules')
    expect(existsSync(join(unpacked, 'better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true)
    expect(existsSync(join(unpacked, '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'))).toBe(true)
    expect(existsSync(join(unpacked, 'nsfwjs/dist/models/mobilenet_v2'))).toBe(true)
    expect(spawnSync('sh', ['-c', `ls ${unpacked}/@img/*/lib/*.node`]).status).toBe(0)
  })
})
