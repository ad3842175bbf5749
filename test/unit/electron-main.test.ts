/**
 * The Electron main process with electron mocked: the window's security settings, the CSP,
 * permission and navigation denial, IPC accepted only from our own window's main frame, the
 * app:// protocol, the external-link allow-list and the single-instance lock.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { catalogue } from '../../src/main/ml/models/catalogue'
import {
  APP_INDEX_URL,
  CONTENT_SECURITY_POLICY,
  isAllowedExternalUrl,
  isOwnPageUrl,
  serveRendererFile,
} from '../../src/main/security'

type Listener = (...args: unknown[]) => unknown

const state = vi.hoisted(() => ({
  windows: [] as {
    options: Record<string, unknown>
    webContents: Record<string, unknown>
    handlers: Map<string, (...a: unknown[]) => unknown>
    /** Every URL (or `file:` path) the window was asked to load. */
    loaded: string[]
  }[],
  ipcHandlers: new Map<string, (...a: unknown[]) => unknown>(),
  appHandlers: new Map<string, (...a: unknown[]) => unknown>(),
  permissionHandler: null as null | ((...a: unknown[]) => unknown),
  permissionCheck: null as null | ((...a: unknown[]) => unknown),
  headersHandler: null as null | ((...a: unknown[]) => unknown),
  sandboxEnabled: false,
  ready: null as null | (() => void),
  isReady: false,
  /** What requestSingleInstanceLock answers. */
  gotLock: true,
  /** Each registerSchemesAsPrivileged call, and whether the app was ready by then. */
  schemes: [] as { schemes: unknown; afterReady: boolean }[],
  protocolHandlers: new Map<string, (request: Request) => Promise<Response>>(),
  whenReadyCalls: 0,
}))

vi.mock('electron', () => {
  class BrowserWindow {
    webContents: Record<string, unknown>
    handlers = new Map<string, (...a: unknown[]) => unknown>()
    static getAllWindows = () => state.windows
    constructor(public options: Record<string, unknown>) {
      const handlers = this.handlers
      this.webContents = {
        mainFrame: { processId: 1, routingId: 1, url: 'app://tunewise/index.html' },
        setWindowOpenHandler: (fn: (...a: unknown[]) => unknown) => handlers.set('open', fn),
        on: (ev: string, fn: (...a: unknown[]) => unknown) => handlers.set(ev, fn),
        send: vi.fn(),
      }
      state.windows.push(this as never)
    }
    loaded: string[] = []
    minimized = false
    restore = vi.fn(() => (this.minimized = false))
    show = vi.fn()
    focus = vi.fn()
    once() {}
    on() {}
    loadFile(path: string) {
      this.loaded.push(`file:${path}`)
      return Promise.resolve()
    }
    loadURL(url: string) {
      this.loaded.push(url)
      return Promise.resolve()
    }
    isDestroyed() {
      return false
    }
    isMinimized() {
      return this.minimized
    }
  }
  const readyPromise = new Promise<void>(
    (ok) =>
      (state.ready = () => {
        state.isReady = true
        ok()
      }),
  )
  const electron = {
    app: {
      isPackaged: true,
      enableSandbox: () => (state.sandboxEnabled = true),
      requestSingleInstanceLock: () => state.gotLock,
      whenReady: () => {
        state.whenReadyCalls++
        return readyPromise
      },
      getPath: () => mkdtempSync(join(tmpdir(), 'tw-electron-')),
      on: (ev: string, fn: Listener) => state.appHandlers.set(ev, fn),
      quit: vi.fn(),
    },
    BrowserWindow,
    dialog: { showOpenDialog: vi.fn(), showErrorBox: vi.fn() },
    ipcMain: { handle: (ch: string, fn: Listener) => state.ipcHandlers.set(ch, fn) },
    protocol: {
      registerSchemesAsPrivileged: (schemes: unknown) => state.schemes.push({ schemes, afterReady: state.isReady }),
      handle: (scheme: string, fn: (request: Request) => Promise<Response>) => state.protocolHandlers.set(scheme, fn),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: Listener) => (state.permissionHandler = fn),
        setPermissionCheckHandler: (fn: Listener) => (state.permissionCheck = fn),
        webRequest: { onHeadersReceived: (fn: Listener) => (state.headersHandler = fn) },
      },
    },
    shell: { openExternal: vi.fn() },
    utilityProcess: { fork: vi.fn() },
  }
  return { ...electron, default: electron }
})

beforeAll(async () => {
  delete process.env.TUNEWISE_HOME
  await import('../../src/main/index')
  state.ready!()
  await vi.waitFor(() => expect(state.windows.length).toBe(1))
})

type Shell = { shell: { openExternal: ReturnType<typeof vi.fn> }; app: { quit: ReturnType<typeof vi.fn> } }
const electron = async (): Promise<Shell> => (await import('electron')) as unknown as Shell

describe('Electron main process', () => {
  it('creates the window sandboxed, isolated, without Node', () => {
    expect(state.sandboxEnabled).toBe(true)
    const prefs = state.windows[0]!.options.webPreferences as Record<string, unknown>
    expect(prefs.contextIsolation).toBe(true)
    expect(prefs.sandbox).toBe(true)
    expect(prefs.nodeIntegration).toBe(false)
    expect(prefs.webSecurity).toBe(true)
    expect(prefs.devTools).toBe(false)
    expect(String(prefs.preload)).toMatch(/preload[\\/]index\.js$/)
  })

  it('sends a strict CSP with every response', () => {
    let headers: Record<string, string[]> = {}
    state.headersHandler!(
      { responseHeaders: {} },
      (r: { responseHeaders: Record<string, string[]> }) => (headers = r.responseHeaders),
    )
    const csp = headers['Content-Security-Policy']![0]!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("style-src 'self'")
    expect(csp).not.toContain('unsafe-eval')
    expect(csp).not.toContain('unsafe-inline')
  })

  it('denies permissions, navigation and new windows', () => {
    const answer = vi.fn()
    state.permissionHandler!({}, 'media', answer)
    expect(answer).toHaveBeenCalledWith(false)
    expect(state.permissionCheck!()).toBe(false)
    const win = state.windows[0]!
    expect((win.handlers.get('open')!({ url: 'https://example.com' }) as { action: string }).action).toBe('deny')
    const event = { preventDefault: vi.fn(), url: 'https://example.com/' }
    win.handlers.get('will-navigate')!(event)
    expect(event.preventDefault).toHaveBeenCalled()
  })

  it('answers IPC from its own main frame only', async () => {
    const handler = state.ipcHandlers.get('app:info')!
    const own = (await handler(
      { senderFrame: { processId: 1, routingId: 1, url: 'app://tunewise/index.html' } },
      {},
    )) as {
      ok: boolean
      value?: { schemaVersion: number }
    }
    expect(own.ok).toBe(true)
    expect(own.value!.schemaVersion).toBeGreaterThanOrEqual(2)
    for (const frame of [
      { processId: 1, routingId: 2, url: 'app://tunewise/index.html' },
      { processId: 1, routingId: 1, url: 'https://evil.example/' },
      // The page no longer comes from file://: a file page in our frame is not ours.
      { processId: 1, routingId: 1, url: 'file:///app/out/renderer/index.html' },
      { processId: 1, routingId: 1, url: 'app://elsewhere/index.html' },
      null,
    ]) {
      const r = (await handler({ senderFrame: frame }, {})) as { ok: boolean; value?: unknown }
      expect(r.ok).toBe(false)
      expect(r.value).toBeUndefined()
    }
  })
})

describe('the app:// protocol', () => {
  it('is registered as a privileged standard, secure, fetch-capable scheme before ready', () => {
    expect(state.schemes).toEqual([
      {
        schemes: [{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }],
        afterReady: false,
      },
    ])
  })

  it('loads the window from app://tunewise/, not file://', () => {
    expect(state.windows[0]!.loaded).toEqual([APP_INDEX_URL])
  })

  it('serves the built renderer with the CSP, and nothing outside it', async () => {
    // Under test, main's bundle folder is src/main, so the renderer folder is src/renderer (its index.html).
    const handle = state.protocolHandlers.get('app')!
    const ok = await handle(new Request('app://tunewise/index.html'))
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(ok.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY)
    expect(await ok.text()).toContain('<div id="app">')
    expect((await handle(new Request('app://tunewise/'))).status).toBe(200)
    for (const url of [
      'app://tunewise/..%2Fmain%2Findex.ts',
      'app://tunewise/..%5Cmain%5Cindex.ts',
      'app://tunewise/%2e%2e/main/index.ts',
      'app://tunewise/%2Fetc%2Fpasswd',
      'app://tunewise//etc/passwd',
      'app://tunewise/%E0%A4%A',
      'app://other/index.html',
    ]) {
      const r = await handle(new Request(url))
      expect(r.status, url).toBe(404)
      expect(await r.text()).not.toContain('import')
    }
    expect((await handle(new Request('app://tunewise/index.html', { method: 'POST', body: 'x' }))).status).toBe(405)
  })

  it('follows no link out of the renderer folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-app-'))
    mkdirSync(join(dir, 'renderer', 'assets'), { recursive: true })
    writeFileSync(join(dir, 'renderer', 'assets', 'a.js'), 'export {}')
    writeFileSync(join(dir, 'secret.txt'), 'secret')
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'renderer', 'assets', 'link.txt'))
    const js = await serveRendererFile(join(dir, 'renderer'), new Request('app://tunewise/assets/a.js'))
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(js.headers.get('x-content-type-options')).toBe('nosniff')
    const link = await serveRendererFile(join(dir, 'renderer'), new Request('app://tunewise/assets/link.txt'))
    expect(link.status).toBe(404)
    expect(await link.text()).not.toContain('secret')
    // A folder is not a file.
    expect((await serveRendererFile(join(dir, 'renderer'), new Request('app://tunewise/assets'))).status).toBe(404)
  })

  it('counts only app://tunewise pages as ours, or the dev server origin in development', () => {
    expect(isOwnPageUrl('app://tunewise/index.html')).toBe(true)
    expect(isOwnPageUrl('app://tunewise.evil/index.html')).toBe(false)
    expect(isOwnPageUrl('file:///x/out/renderer/index.html')).toBe(false)
    expect(isOwnPageUrl('not a url')).toBe(false)
    expect(isOwnPageUrl('http://localhost:5173/', 'http://localhost:5173')).toBe(true)
    expect(isOwnPageUrl('http://localhost:51730/', 'http://localhost:5173')).toBe(false)
    expect(isOwnPageUrl('app://tunewise/index.html', 'http://localhost:5173')).toBe(false)
  })
})

describe('links to the web', () => {
  it('opens only the pages on the allow-list in the browser', async () => {
    const { shell } = await electron()
    const win = state.windows[0]!
    const allowed = 'https://github.com/infinitered/nsfwjs/blob/master/LICENSE'
    shell.openExternal.mockClear()
    expect((win.handlers.get('open')!({ url: allowed }) as { action: string }).action).toBe('deny')
    expect(shell.openExternal).toHaveBeenCalledWith(allowed)
    win.handlers.get('will-navigate')!({ preventDefault: vi.fn(), url: allowed })
    expect(shell.openExternal).toHaveBeenCalledTimes(2)
    shell.openExternal.mockClear()
    for (const url of ['https://example.com/', 'http://github.com/infinitered/nsfwjs', 'file:///etc/passwd']) {
      win.handlers.get('open')!({ url })
      win.handlers.get('will-navigate')!({ preventDefault: vi.fn(), url })
    }
    expect(shell.openExternal).not.toHaveBeenCalled()
  })

  it('allows https on the listed hosts and paths only', () => {
    for (const url of [
      'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_1.0_224/model.json',
      'https://github.com/infinitered/nsfwjs',
      'https://github.com/tensorflow/tfjs-models/tree/master/mobilenet',
    ])
      expect(isAllowedExternalUrl(url), url).toBe(true)
    for (const url of [
      'http://github.com/infinitered/nsfwjs',
      'https://github.com/infinitered/nsfwjs-evil',
      'https://github.com/evil/repo',
      'https://github.com/infinitered/nsfwjs/../../evil/repo',
      'https://evil.github.com/infinitered/nsfwjs',
      'https://github.com.evil.example/infinitered/nsfwjs',
      'https://user:pw@github.com/infinitered/nsfwjs',
      'https://github.com:8443/infinitered/nsfwjs',
      'https://storage.googleapis.com/attacker-bucket/page.html',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'app://tunewise/index.html',
      'not a url',
    ])
      expect(isAllowedExternalUrl(url), url).toBe(false)
  })

  it('covers every https link in the model catalogue', () => {
    const links = catalogue.flatMap((e) => [e.url, e.card.source.url]).filter((u): u is string => !!u)
    expect(links.length).toBeGreaterThan(0)
    for (const url of links) expect(isAllowedExternalUrl(url), url).toBe(true)
  })
})

describe('one instance at a time', () => {
  it('brings the existing window to the front when the app is launched again', () => {
    const win = state.windows[0]! as unknown as {
      minimized: boolean
      restore: ReturnType<typeof vi.fn>
      show: ReturnType<typeof vi.fn>
      focus: ReturnType<typeof vi.fn>
    }
    win.minimized = true
    state.appHandlers.get('second-instance')!({}, ['tunewise'], '/')
    expect(win.restore).toHaveBeenCalled()
    expect(win.show).toHaveBeenCalled()
    expect(win.focus).toHaveBeenCalled()
    expect(state.windows.length).toBe(1)
  })

  it('quits a second instance before it registers or opens anything', async () => {
    const { app } = await electron()
    const quits = app.quit.mock.calls.length
    const readyCalls = state.whenReadyCalls
    const schemes = state.schemes.length
    state.gotLock = false
    vi.resetModules()
    await import('../../src/main/index')
    expect(app.quit.mock.calls.length).toBe(quits + 1)
    expect(state.whenReadyCalls).toBe(readyCalls)
    expect(state.schemes.length).toBe(schemes)
    expect(state.windows.length).toBe(1)
  })
})
