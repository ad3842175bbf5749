/**
 * Electron main process: lifecycle and window only. Security settings live here; everything else
 * is built by the composition root in services.ts.
 */
import { app, BrowserWindow, dialog, ipcMain, session, shell, utilityProcess } from 'electron'
import { join } from 'node:path'
import { bindElectronIpc } from './ipc'
import type { WorkerLauncher } from './tasks/worker-process'
import { defaultDataDir } from './paths'
import { CONTENT_SECURITY_POLICY } from './security'
import { createServices, type Services } from './services'

const isDev = !app.isPackaged && process.env.NODE_ENV === 'development'
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
  const url = f.url
  return isDev && process.env.ELECTRON_RENDERER_URL
    ? url.startsWith(process.env.ELECTRON_RENDERER_URL)
    : url.startsWith('file://') && url.includes('/renderer/index.html')
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
  // Nothing navigates away from the wizard or opens windows; links to the web go to the browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (e) => e.preventDefault())
  win.webContents.on('will-attach-webview', (e) => e.preventDefault())
  if (isDev && process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL)
  else void win.loadFile(join(__dirname, '../renderer/index.html'))
  return win
}

app.enableSandbox()

void app.whenReady().then(() => {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
  session.defaultSession.setPermissionCheckHandler(() => false)
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] },
    })
  })

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
  mainWindow = createWindow()
  mainWindow.on('closed', () => (mainWindow = null))

  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow()
  })
})

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
