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

/**
 * `npm run dist` for the Linux targets, as far as it can go here: electron-builder's own deb and AppImage
 * targets run on the app packed above (`prepackaged`), through every check of their configuration (homepage,
 * maintainer e-mail, description, category, icons, desktop entry), up to the point where they would start the
 * packaging tool. That last step is skipped through electron-builder's `effectiveOptionComputed` hook (its own
 * tests use it), because fpm and appimagetool are downloaded from GitHub on first use and there is no internet
 * here. The hook receives what would be handed to the tool, so the metadata is checked as fpm would get it.
 */
describe('the Linux packages (deb, AppImage)', () => {
  const HICOLOR_SIZES = [16, 24, 32, 48, 64, 128, 256, 512]
  let deb: string[]
  let appImageDesktop: string

  /** Runs electron-builder's API in its own process on the packed app; resolves its result or its error. */
  function linuxTargets(
    targets: string[],
    config: Record<string, unknown>,
  ): { ok: true; seen: unknown[] } | { ok: false; error: string } {
    const script = join(work, `linux-targets-${targets.join('-')}.cjs`)
    writeFileSync(
      script,
      `const { build, Platform, Arch } = require(${JSON.stringify(join(root, 'node_modules/electron-builder'))})
const seen = []
build({
  projectDir: ${JSON.stringify(root)},
  prepackaged: ${JSON.stringify(appDir)},
  targets: Platform.LINUX.createTarget(${JSON.stringify(targets)}, Arch.x64),
  config: ${JSON.stringify({ npmRebuild: false, directories: { output: join(work, 'linux-out') }, ...config })},
  // Called with the tool's input just before the tool would run; true skips the tool.
  effectiveOptionComputed: async (options) => { seen.push(options); return true },
}).then(
  () => console.log('RESULT ' + JSON.stringify({ ok: true, seen })),
  (err) => console.log('RESULT ' + JSON.stringify({ ok: false, error: String(err && err.message) })),
)
`,
    )
    const r = spawnSync(process.execPath, [script], { cwd: root, encoding: 'utf8' })
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
    if (!line) throw new Error(`electron-builder gave no result (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
    return JSON.parse(line.slice('RESULT '.length)) as { ok: true; seen: unknown[] } | { ok: false; error: string }
  }

  beforeAll(() => {
    const result = linuxTargets(['deb', 'AppImage'], {})
    if (!result.ok) throw new Error(`electron-builder refused the Linux targets: ${result.error}`)
    deb = result.seen.find((s): s is [string[], string] => Array.isArray(s))![0]
    appImageDesktop = (result.seen.find((s) => !Array.isArray(s)) as { desktop: string }).desktop
  }, 120_000)

  const arg = (name: string): string | undefined => deb[deb.indexOf(name) + 1]

  it('gives the deb a homepage, a maintainer with an e-mail, a description and a section', () => {
    expect(arg('--url')).toMatch(/^https:\/\/\S+$/)
    expect(arg('--maintainer')).toMatch(/^[^<>]+ <[^@\s]+@[^@\s]+\.[a-z]+>$/)
    // Debian's Description: a one-line synopsis, then the long text on continuation lines.
    const [synopsis, long] = arg('--description')!.split('\n')
    expect(synopsis!.length).toBeGreaterThan(10)
    expect(synopsis!.length).toBeLessThanOrEqual(80)
    expect(long!.trim().length).toBeGreaterThan(synopsis!.length)
    expect(arg('--category')).toBe('science')
    expect(arg('--license')).toBe('MIT')
  })

  it('installs an icon at every hicolor size, each PNG as large as its folder says', () => {
    const icons = deb
      .map((a) => /^(.+\.png)=\/usr\/share\/icons\/hicolor\/(\d+)x(\d+)\/apps\/tunewise\.png$/.exec(a))
      .filter((m) => m !== null)
    expect(icons.map((m) => Number(m[2])).sort((a, b) => a - b)).toEqual(HICOLOR_SIZES)
    for (const m of icons) {
      // PNG width and height sit at bytes 16 and 20 (the IHDR chunk).
      const png = readFileSync(m[1]!)
      expect([png.readUInt32BE(16), png.readUInt32BE(20)], m[1]).toEqual([Number(m[2]), Number(m[3])])
    }
    expect(deb.some((a) => a.endsWith('=/usr/share/applications/tunewise.desktop'))).toBe(true)
  })

  it("gives the AppImage's menu entry a category, an icon and a one-line comment", () => {
    const entry = Object.fromEntries(
      appImageDesktop
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
    expect(entry.Categories).toMatch(/^Science;/)
    expect(entry.Icon).toBe('tunewise')
    expect(entry.Comment).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).description)
  })

  it('still stops at the metadata check without it (the check this guards is live)', () => {
    const result = linuxTargets(['deb'], {
      extraMetadata: { homepage: null, author: 'Tunewise' },
      linux: { maintainer: null },
    })
    expect(result.ok).toBe(false)
    expect(!result.ok && result.error).toMatch(/Please specify project homepage/)
    expect(!result.ok && result.error).toMatch(/author 'email'/)
  })
})
