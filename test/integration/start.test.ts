/**
 * `npm start` (scripts/start.mjs) on a machine where `npm ci` left Electron's binary out (package.json's
 * `allowScripts` denies electron's postinstall): it fetches the binary itself with electron's own install.js,
 * with a progress line, and when that fails says why in one sentence and starts browser mode.
 *
 * It runs in a copy of the project whose node_modules links to the real one except for `electron`, a copy
 * without the binary, so a machine that has Electron installed tests the same path. The download goes to a
 * local server (ELECTRON_MIRROR, as @electron/get honours it) and an empty download cache, so nothing is
 * fetched from the internet and the outcome does not depend on having it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(__dirname, '../..')
const work = mkdtempSync(join(tmpdir(), 'tw-start-'))
const project = join(work, 'project')
const electronCopy = join(project, 'node_modules', 'electron')
const started: ChildProcess[] = []
let server: Server
let mirror: string

beforeAll(async () => {
  if (!existsSync(join(root, 'out', 'main', 'serve.js'))) throw new Error('Build first: npm run build (npm test does).')
  mkdirSync(join(project, 'scripts'), { recursive: true })
  mkdirSync(electronCopy, { recursive: true })
  copyFileSync(join(root, 'scripts', 'start.mjs'), join(project, 'scripts', 'start.mjs'))
  copyFileSync(join(root, 'package.json'), join(project, 'package.json'))
  symlinkSync(join(root, 'out'), join(project, 'out'))
  for (const entry of readdirSync(join(root, 'node_modules')))
    if (entry !== 'electron') symlinkSync(join(root, 'node_modules', entry), join(project, 'node_modules', entry))
  // electron as npm ci leaves it with its postinstall denied: the package, its dependencies, no dist/.
  for (const entry of readdirSync(join(root, 'node_modules', 'electron'))) {
    const from = join(root, 'node_modules', 'electron', entry)
    if (entry === 'node_modules') symlinkSync(from, join(electronCopy, entry))
    else if (entry !== 'dist' && entry !== 'path.txt') copyFileSync(from, join(electronCopy, entry))
  }

  // A mirror that sends 30 MB of zeros, 1 MB every 50 ms: a download long enough to show progress,
  // which then fails electron's checksum.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(30e6) })
    let sent = 0
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer)
      res.write(Buffer.alloc(1e6))
      sent += 1e6
      if (sent >= 30e6) {
        clearInterval(timer)
        res.end()
      }
    }, 50)
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})

afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM')
  await new Promise((ok) => server.close(ok))
  rmSync(work, { recursive: true, force: true })
})

/** Runs `npm start` in the copy until browser mode prints its URL; returns everything printed until then. */
function startUntilUrl(env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [join(project, 'scripts', 'start.mjs')], {
    cwd: project,
    env: {
      ...process.env,
      TUNEWISE_SKIP_BUILD: '1',
      TUNEWISE_HOME: mkdtempSync(join(work, 'home-')),
      electron_config_cache: mkdtempSync(join(work, 'cache-')),
      ELECTRON_SKIP_BINARY_DOWNLOAD: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so the browser-mode server it starts is stopped with it.
    detached: true,
  })
  started.push(child)
  return new Promise((ok, fail) => {
    let out = ''
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      if (/^http:\/\/127\.0\.0\.1:\d+\/\?token=/m.test(out)) {
        process.kill(-child.pid!, 'SIGTERM')
        ok(out)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => fail(new Error(`npm start exited (${code}) before browser mode:\n${out}`)))
  })
}

describe('npm start without the Electron binary', () => {
  it('fetches it with a progress line, then says in one sentence why it could not and opens browser mode', async () => {
    const out = await startUntilUrl({ ELECTRON_MIRROR: mirror })
    const lines = out.split('\n')
    expect(lines[0]).toMatch(/^Fetching Electron \d+\.\d+\.\d+ for \w+-\w+ \(first start only/)
    expect(out).toMatch(/^ {2}Downloading: \d+\.\d MB$/m)
    const why = lines.find((l) => l.startsWith('Electron '))!
    expect(why).toMatch(
      /^Electron \d+\.\d+\.\d+ is not installed because the download did not match its checksum, so Tunewise starts in browser mode: open the URL below in your browser\.$/,
    )
    expect(out).toMatch(/Tunewise is running in browser mode/)
    // No stack trace from install.js reaches the user.
    expect(out).not.toMatch(/\n\s+at /)
    expect(existsSync(join(electronCopy, 'dist'))).toBe(false)
  })

  it('names an unreachable download server', async () => {
    // Port 1 on this machine refuses the connection at once.
    const out = await startUntilUrl({ ELECTRON_MIRROR: 'http://127.0.0.1:1/' })
    expect(out).toMatch(
      /^Electron \S+ is not installed because the connection to the download server failed \(ECONNREFUSED\), so Tunewise starts in browser mode/m,
    )
  })

  it('does not try when ELECTRON_SKIP_BINARY_DOWNLOAD is set, and says so', async () => {
    const out = await startUntilUrl({ ELECTRON_SKIP_BINARY_DOWNLOAD: '1', ELECTRON_MIRROR: mirror })
    expect(out).not.toMatch(/Fetching Electron/)
    expect(out).toMatch(/^Electron \S+ is not installed because ELECTRON_SKIP_BINARY_DOWNLOAD is set, so Tunewise/m)
  })
})
