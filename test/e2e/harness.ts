/**
 * End-to-end harness: starts Tunewise in browser mode (the built app, a fresh data directory) and
 * drives Debian's Chromium with playwright-core.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
// Debian's Chromium, headless, without reaching for the network this machine does not have.
import chromiumArgs from '../../scripts/chromium-args.json'

export const root = resolve(__dirname, '..', '..')

export interface App {
  url: string
  dataDir: string
  proc: ChildProcess
  output: () => string
  stop(): Promise<void>
}

export function requireBuild(): void {
  if (!existsSync(join(root, 'out', 'main', 'serve.js')) || !existsSync(join(root, 'out', 'renderer', 'index.html')))
    throw new Error('The app is not built: run `npm run build` (npm test does it first).')
}

/** Spawns a command that prints the browser-mode URL and resolves when it has. */
export function startApp(
  command: string,
  args: string[],
  opts: { dataDir?: string; env?: Record<string, string> } = {},
): Promise<App> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tunewise-e2e-'))
  const proc = spawn(command, args, {
    cwd: root,
    env: { ...process.env, TUNEWISE_HOME: dataDir, TUNEWISE_BACKEND: 'wasm', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`No URL printed within 120 s. Output:\n${out}`)), 120_000)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        ok({
          url: m[1]!,
          dataDir,
          proc,
          output: () => out,
          stop: () =>
            new Promise<void>((done) => {
              if (proc.exitCode !== null) return done()
              proc.once('exit', () => done())
              try {
                process.kill(-proc.pid!, 'SIGTERM')
              } catch {
                done()
              }
            }),
        })
      }
    }
    proc.stdout!.on('data', onData)
    proc.stderr!.on('data', onData)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`Exited with ${code} before printing a URL:\n${out}`))
    })
  })
}

/** Browser mode on a fresh (or the given) data directory; `env` adds variables, e.g. TUNEWISE_BROWSE_ROOTS. */
export function startServe(opts: { dataDir?: string; env?: Record<string, string> } = {}): Promise<App> {
  requireBuild()
  return startApp(process.execPath, [join(root, 'out', 'main', 'serve.js'), '--port', '0'], opts)
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: chromiumArgs,
  })
}

export async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(url)
  ;(page as Page & { errors?: string[] }).errors = errors
  return page
}

/** Runs the built CLI on `dataDir`; resolves with the last line of stdout as JSON. */
export function cliJson<T>(dataDir: string, ...args: string[]): Promise<T> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [join(root, 'out', 'main', 'cli.js'), ...args], {
      cwd: root,
      env: { ...process.env, TUNEWISE_HOME: dataDir, TUNEWISE_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    child.once('error', fail)
    child.once('close', (code) => {
      if (code !== 0) return fail(new Error(`cli ${args.join(' ')} exited ${code}:\n${out}\n${err}`))
      const lines = out.trim().split('\n')
      ok(JSON.parse(lines[lines.length - 1]!) as T)
    })
  })
}
