#!/usr/bin/env node
// `npm start`: build, then launch the Electron app.
//
// package.json's `allowScripts` keeps npm from running electron's postinstall, which downloads the
// Electron binary from GitHub and fails the whole install where GitHub cannot be reached. So on the
// first start the binary is fetched here, with electron's own install.js (same mirror, cache and
// checksums as the postinstall), and a progress line. Where that fails, one sentence says why and
// browser mode starts instead.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
const passArgs = process.argv.slice(2)
/** Give up on a download that has received nothing new for this long (milliseconds). */
const STALL_MS = 60_000

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

const electronDir = dirname(require.resolve('electron/package.json'))
const electronEntry = require.resolve('electron')
const electronVersion = JSON.parse(readFileSync(join(electronDir, 'package.json'), 'utf8')).version

/** The Electron binary when it is installed, else null (the package throws until install.js has run). */
function installedElectron() {
  try {
    const binary = require(electronEntry)
    return typeof binary === 'string' && existsSync(binary) ? binary : null
  } catch {
    return null
  } finally {
    delete require.cache[electronEntry]
  }
}

/** Bytes in the files under `dir`, 0 when there are none. */
function bytesUnder(dir) {
  let total = 0
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
      if (entry.isFile()) total += statSync(join(entry.parentPath ?? entry.path, entry.name)).size
  } catch {
    // The downloader creates and removes its folders as it goes.
  }
  return total
}

/** A download failure (install.js prints the error's stack) as a clause that follows "because". */
function reasonFrom(stderr) {
  const host = /\b(?:ENOTFOUND|EAI_AGAIN) (\S+)/.exec(stderr)
  if (host) return `${host[1]} cannot be reached from this machine`
  const net = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|CERT_\w+|SELF_SIGNED\w*)\b/.exec(stderr)
  if (net) return `the connection to the download server failed (${net[1]})`
  const http = /Response code (\d{3})/.exec(stderr)
  if (http) return `the download server answered HTTP ${http[1]}`
  if (/checksum/i.test(stderr)) return 'the download did not match its checksum'
  if (/ENOSPC/.test(stderr)) return 'the disk is full'
  const first = /^\s*(?:\w*Error: )?(.+)$/m.exec(stderr.trim())
  return first ? `of this error: ${first[1].slice(0, 200)}` : 'the download failed'
}

/**
 * Runs electron's install.js with a progress line; resolves null once the binary is in place, else
 * the reason it is not. The downloader writes into a temporary folder of its own (then moves the zip
 * to its cache and unpacks it into node_modules/electron/dist): pointing TMPDIR at a folder made here
 * lets the bytes received be read while it works.
 */
function fetchElectron() {
  console.log(
    `Fetching Electron ${electronVersion} for ${process.platform}-${process.arch} (first start only, about 100 MB)…`,
  )
  const tmp = mkdtempSync(join(tmpdir(), 'tunewise-electron-'))
  const dist = join(electronDir, 'dist')
  const tty = process.stdout.isTTY
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(electronDir, 'install.js')], {
      cwd: electronDir,
      env: { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c) => (stderr += c))
    let downloaded = 0
    let unpacked = 0
    let lastGrowth = Date.now()
    let lastShown = ''
    let lastLoggedMb = -Infinity
    let stalled = false
    let interrupted = false
    const tick = setInterval(() => {
      const down = bytesUnder(tmp)
      const out = bytesUnder(dist)
      if (down > downloaded || out > unpacked) lastGrowth = Date.now()
      downloaded = Math.max(downloaded, down)
      unpacked = Math.max(unpacked, out)
      if (Date.now() - lastGrowth > STALL_MS) {
        stalled = true
        child.kill()
        return
      }
      const text = out > 0 ? 'Unpacking…' : down > 0 ? `Downloading: ${(down / 1e6).toFixed(1)} MB` : null
      if (text === null || text === lastShown) return
      // A terminal gets one line rewritten in place; a log gets a line every 20 MB.
      if (tty) process.stdout.write(`\r  ${text}`.padEnd(40))
      else if (out > 0 || down / 1e6 - lastLoggedMb >= 20) {
        console.log(`  ${text}`)
        lastLoggedMb = down / 1e6
      } else return
      lastShown = text
    }, 500)
    const stop = () => {
      interrupted = true
      child.kill()
    }
    process.once('SIGINT', stop)
    child.once('close', (code) => {
      clearInterval(tick)
      process.off('SIGINT', stop)
      if (tty && lastShown) process.stdout.write('\n')
      rmSync(tmp, { recursive: true, force: true })
      if (interrupted) process.exit(130)
      if (stalled) resolve(`the download received nothing for ${STALL_MS / 1000} s`)
      else if (code === 0 && installedElectron()) resolve(null)
      else resolve(reasonFrom(stderr))
    })
    child.once('error', (err) => resolve(`of this error: ${err.message}`))
  })
}

if (!process.env.TUNEWISE_SKIP_BUILD)
  run(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'])

let electronBinary = installedElectron()
let why = null
if (!electronBinary) {
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) why = 'ELECTRON_SKIP_BINARY_DOWNLOAD is set'
  else {
    why = await fetchElectron()
    electronBinary = installedElectron()
  }
}

if (electronBinary) {
  // better-sqlite3 is compiled for Node by npm ci; Electron needs its own build. Check, then rebuild once.
  const probe = spawnSync(electronBinary, ['-e', "new (require('better-sqlite3'))(':memory:')"], {
    cwd: root,
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: 'ignore',
  })
  if (probe.status !== 0) {
    console.log('Preparing the database module for Electron (once)…')
    run(process.execPath, [join(root, 'node_modules/electron-builder/cli.js'), 'install-app-deps'])
  }
  const child = spawn(electronBinary, ['.', ...passArgs], { stdio: 'inherit', cwd: root })
  child.on('exit', (code) => process.exit(code ?? 0))
} else {
  console.log(
    `Electron ${electronVersion} is not installed because ${why}, so Tunewise starts in browser mode: open the URL below in your browser.`,
  )
  const child = spawn(process.execPath, [join(root, 'out/main/serve.js'), ...passArgs], { stdio: 'inherit', cwd: root })
  child.on('exit', (code) => process.exit(code ?? 0))
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
}
