/**
 * Electron main process: lifecycle and window only. Security settings live here; everything else
 * is built by the composition root in services.ts.
 */
import { app, BrowserWindow, dialog, ipcMain, protocol, session, shell, utilityProcess } from 'electron'
import { join } from 'node:path'
import { bindElectronIpc } from './ipc'
import type { WorkerLauncher } from './tasks/worker-process'
import { defaultDataDir } from './paths'
import {
  APP_INDEX_URL,
  APP_SCHEME,
  APP_SCHEME_PRIVILEGES,
  CONTENT_SECURITY_POLICY,
  DEV_CONTENT_SECURITY_POLICY,
  isAllowedExternalUrl,
  isOwnPageUrl,
  serveRendererFile,
} from './security'
import { createServices, type Services } from './services'

const isDev = !app.isPackaged && process.env.NODE_ENV === 'development'
/** electron-vite's dev server, used only in development; the packaged app loads app://tunewise/. */
const devServerUrl = isDev ? process.env.ELECTRON_RENDERER_URL : undefined
/** The built renderer: the only folder app:// serves (inside app.asar when packaged). */
const rendererDir = join(__dirname, '../renderer')
let mainWindow: BrowserWindow | null = null
let services: Services | null = null

/** Every task's worker runs in Electron's utilityProcess: a Node process that does not block the UI. */
const utilityLauncher: WorkerLauncher = (script, env) => {
  const child = utilityProcess.fork(script, [], { env: { ...process.env, ...env }, serviceName: 'Tunewise worker' })
  return {
    get pid() {
      return child.pid
    },
    send: (msg) => {
      try {
        child.postMessage(msg)
      } catch {
        // The worker already exited; its exit handler reports the end.
      }
    },
    onMessage: (listener) => child.on('message', (m) => listener(m)),
    onExit: (listener) => child.on('exit', (code) => listener(code, null)),
    kill: () => {
      child.kill()
    },
  }
}

/** True only for our window's top frame showing our own page (not an iframe, not a navigated page). */
function isOwnMainFrame(frame: unknown): boolean {
  if (!mainWindow || mainWindow.isDestroyed()) return false
  const main = mainWindow.webContents.mainFrame
  const f = frame as Electron.WebFrameMain
  if (f.processId !== main.processId || f.routingId !== main.routingId) return false
  return isOwnPageUrl(f.url, devServerUrl)
}

/** Opens `url` in the user's browser when it is one of the pages we link to (security.ts); drops it otherwise. */
function openIfAllowed(url: string): void {
  if (isAllowedExternalUrl(url)) void shell.openExternal(url)
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 640,
    show: false,
    title: 'Tunewise',
    icon: join(__dirname, '../../resources/icon.png'),
    webPreferences: {
      preload: join(__dirname, '../preload/index.js'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      devTools: isDev,
    },
  })
  win.once('ready-to-show', () => win.show())
  // Nothing navigates away from the wizard or opens windows; links to the pages we list go to the browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    openIfAllowed(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (e) => {
    e.preventDefault()
    openIfAllowed(e.url)
  })
  win.webContents.on('will-attach-webview', (e) => e.preventDefault())
  void win.loadURL(devServerUrl ?? APP_INDEX_URL)
  return win
}

/** Brings the existing window forward (a second launch, or the dock icon on macOS), or opens one. */
function showMainWindow(): void {
  // Before ready, or when the services failed to start, there is nothing to show yet.
  if (!services) return
  if (!mainWindow || mainWindow.isDestroyed()) {
    mainWindow = createWindow()
    mainWindow.on('closed', () => (mainWindow = null))
    return
  }
  if (mainWindow.isMinimized()) mainWindow.restore()
  mainWindow.show()
  mainWindow.focus()
}

app.enableSandbox()

/** Builds the services, then opens the window. Runs once, in the first instance, when Electron is ready. */
function onReady(): void {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
  session.defaultSession.setPermissionCheckHandler(() => false)
  // The dev server's responses (app:// responses carry the header from serveRendererFile as well).
  const csp = devServerUrl ? DEV_CONTENT_SECURITY_POLICY : CONTENT_SECURITY_POLICY
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } })
  })
  protocol.handle(APP_SCHEME, (request) => serveRendererFile(rendererDir, request))

  const dataDir = defaultDataDir(app.getPath('userData'))
  try {
    services = createServices({
      dataDir,
      mode: 'electron',
      launcher: utilityLauncher,
      workerScript: join(__dirname, 'job-worker.js'),
      pickFolder: async (title) => {
        const result = mainWindow
          ? await dialog.showOpenDialog(mainWindow, { title, properties: ['openDirectory'] })
          : await dialog.showOpenDialog({ title, properties: ['openDirectory'] })
        return result.canceled ? null : (result.filePaths[0] ?? null)
      },
    })
  } catch (err) {
    dialog.showErrorBox('Tunewise cannot start', err instanceof Error ? err.message : String(err))
    app.quit()
    return
  }
  const svc = services
  bindElectronIpc(ipcMain, svc.router, (frame) => isOwnMainFrame(frame))
  svc.hub.subscribe((event, payload) => {
    if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(event, payload)
  })
  showMainWindow()
  app.on('activate', () => showMainWindow())
}

// One Tunewise at a time: two instances would share one data folder and database. A second launch tells the
// first (which comes to the front) and quits before it opens anything.
if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  // Before ready, as Electron requires: app:// becomes a standard, secure scheme with its own origin.
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: APP_SCHEME_PRIVILEGES }])

  app.on('second-instance', () => showMainWindow())

  void app.whenReady().then(onReady)

  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (e) => e.preventDefault())
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })

  app.on('before-quit', () => {
    services?.close()
  })
}
