/**
 * The Electron main process with electron mocked: the window's security settings, the CSP,
 * permission and navigation denial, and IPC accepted only from our own window's main frame.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it, vi } from 'vitest'

type Listener = (...args: unknown[]) => unknown

const state = vi.hoisted(() => ({
  windows: [] as {
    options: Record<string, unknown>
    webContents: Record<string, unknown>
    handlers: Map<string, (...a: unknown[]) => unknown>
  }[],
  ipcHandlers: new Map<string, (...a: unknown[]) => unknown>(),
  appHandlers: new Map<string, (...a: unknown[]) => unknown>(),
  permissionHandler: null as null | ((...a: unknown[]) => unknown),
  permissionCheck: null as null | ((...a: unknown[]) => unknown),
  headersHandler: null as null | ((...a: unknown[]) => unknown),
  sandboxEnabled: false,
  ready: null as null | (() => void),
}))

vi.mock('electron', () => {
  class BrowserWindow {
    webContents: Record<string, unknown>
    handlers = new Map<string, (...a: unknown[]) => unknown>()
    static getAllWindows = () => state.windows
    constructor(public options: Record<string, unknown>) {
      const handlers = this.handlers
      this.webContents = {
        mainFrame: { processId: 1, routingId: 1, url: 'file:///app/out/renderer/index.html' },
        setWindowOpenHandler: (fn: (...a: unknown[]) => unknown) => handlers.set('open', fn),
        on: (ev: string, fn: (...a: unknown[]) => unknown) => handlers.set(ev, fn),
        send: vi.fn(),
      }
      state.windows.push(this as never)
    }
    once() {}
    on() {}
    loadFile() {
      return Promise.resolve()
    }
    loadURL() {
      return Promise.resolve()
    }
    isDestroyed() {
      return false
    }
  }
  const readyPromise = new Promise<void>((ok) => (state.ready = ok))
  const electron = {
    app: {
      isPackaged: true,
      enableSandbox: () => (state.sandboxEnabled = true),
      whenReady: () => readyPromise,
      getPath: () => mkdtempSync(join(tmpdir(), 'tw-electron-')),
      on: (ev: string, fn: Listener) => state.appHandlers.set(ev, fn),
      quit: vi.fn(),
    },
    BrowserWindow,
    dialog: { showOpenDialog: vi.fn(), showErrorBox: vi.fn() },
    ipcMain: { handle: (ch: string, fn: Listener) => state.ipcHandlers.set(ch, fn) },
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
    expect(csp).not.toContain('unsafe-eval')
  })

  it('denies permissions, navigation and new windows', () => {
    const answer = vi.fn()
    state.permissionHandler!({}, 'media', answer)
    expect(answer).toHaveBeenCalledWith(false)
    expect(state.permissionCheck!()).toBe(false)
    const win = state.windows[0]!
    expect((win.handlers.get('open')!({ url: 'https://example.com' }) as { action: string }).action).toBe('deny')
    const event = { preventDefault: vi.fn() }
    win.handlers.get('will-navigate')!(event)
    expect(event.preventDefault).toHaveBeenCalled()
  })

  it('answers IPC from its own main frame only', async () => {
    const handler = state.ipcHandlers.get('app:info')!
    const own = (await handler(
      { senderFrame: { processId: 1, routingId: 1, url: 'file:///app/out/renderer/index.html' } },
      {},
    )) as {
      ok: boolean
      value?: { schemaVersion: number }
    }
    expect(own.ok).toBe(true)
    expect(own.value!.schemaVersion).toBeGreaterThanOrEqual(2)
    for (const frame of [
      { processId: 1, routingId: 2, url: 'file:///app/out/renderer/index.html' },
      { processId: 1, routingId: 1, url: 'https://evil.example/' },
      null,
    ]) {
      const r = (await handler({ senderFrame: frame }, {})) as { ok: boolean; value?: unknown }
      expect(r.ok).toBe(false)
      expect(r.value).toBeUndefined()
    }
  })
})
