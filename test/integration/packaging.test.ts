/**
 * electron-builder packages the built app offline (a stub stands in for the Electron binary, which
 * cannot be downloaded here): the asar holds the bundles and no sources or tests, and the native
 * modules, WASM binaries and bundled models are unpacked where Node can load them. The stub carries
 * a fuse wire laid out as in a real Electron binary (sentinel, version, length, one byte a fuse), so
 * the afterPack hook's fuse flipping is checked on the packaged file.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { listPackage } from '@electron/asar'
import { FuseState, FuseV1Options, getCurrentFuseWire } from '@electron/fuses'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(__dirname, '../..')
const work = mkdtempSync(join(tmpdir(), 'tw-pack-'))
const appDir = join(work, 'out', 'linux-unpacked')
const stubBinary = join(work, 'electron-dist', 'electron')

/** The fuse sentinel Electron's binaries carry (@electron/fuses searches for it). */
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX'
/** Electron's own defaults, one byte a fuse ('1' on, '0' off): RunAsNode on ... WasmTrapHandlers on. */
const STOCK_WIRE = '101100011'

beforeAll(() => {
  if (!existsSync(join(root, 'out', 'main', 'index.js'))) throw new Error('Build first: npm run build (npm test does).')
  mkdirSync(join(work, 'electron-dist'))
  writeFileSync(
    stubBinary,
    Buffer.concat([
      Buffer.from('#!/bin/sh\necho stub\nexit 0\n'),
      Buffer.from(FUSE_SENTINEL),
      Buffer.from([1, STOCK_WIRE.length]),
      Buffer.from(STOCK_WIRE),
    ]),
  )
  chmodSync(stubBinary, 0o755)
  const stub = join(work, 'electron-dist')
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

  it('flips the security fuses in the packaged binary (afterPack hook)', async () => {
    const packaged = join(appDir, 'tunewise')
    // The stub went in with Electron's defaults, so any '0'/'1' that differs below was set by the hook.
    expect(readFileSync(stubBinary).includes(Buffer.from(FUSE_SENTINEL + '\x01\x09' + STOCK_WIRE))).toBe(true)
    const wire = await getCurrentFuseWire(packaged)
    expect(wire[FuseV1Options.RunAsNode]).toBe(FuseState.DISABLE)
    expect(wire[FuseV1Options.EnableCookieEncryption]).toBe(FuseState.ENABLE)
    expect(wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(FuseState.DISABLE)
    expect(wire[FuseV1Options.EnableNodeCliInspectArguments]).toBe(FuseState.DISABLE)
    expect(wire[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(FuseState.ENABLE)
    expect(wire[FuseV1Options.OnlyLoadAppFromAsar]).toBe(FuseState.ENABLE)
    expect(wire[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(FuseState.DISABLE)
    // Fuses the hook does not set keep Electron's value.
    expect(wire[FuseV1Options.WasmTrapHandlers]).toBe(FuseState.ENABLE)
  })

  it('names the binary the fuses live in on each platform as electron-builder does', async () => {
    const hook = (await import(pathToFileURL(join(root, 'scripts', 'after-pack.mjs')).href)) as {
      electronBinaryPath(context: unknown): string
    }
    const packager = { appInfo: { productFilename: 'Tunewise' }, executableName: 'tunewise' }
    const at = (electronPlatformName: string): string =>
      hook.electronBinaryPath({ appOutDir: '/o', electronPlatformName, packager })
    expect(at('linux')).toBe(join('/o', 'tunewise'))
    expect(at('win32')).toBe(join('/o', 'Tunewise.exe'))
    expect(at('darwin')).toBe(join('/o', 'Tunewise.app'))
  })
})
