/**
 * The only bridge between the sandboxed renderer and main: a typed `window.tunewise` built from
 * the contract's channel list. The renderer never sees ipcRenderer itself.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron'
import { channelNames, eventNames, TunewiseError } from '../shared/channels'
import type { PreloadApi, Result } from '../shared/contract'

const channels = new Set<string>(channelNames)
const events = new Set<string>(eventNames)

/**
 * An Error thrown across contextBridge reaches the page as a new Error with only its message: the
 * code would be lost (electron PR #28346). So `invoke` hands the page the plain `{ok}` envelope and
 * the page rebuilds the error with its code (`unwrapResult` in src/renderer/src/lib/api.ts).
 */
const api: PreloadApi = {
  async invoke(channel, input) {
    if (!channels.has(channel))
      return { ok: false, error: { code: 'invalid_input', message: `Unknown channel '${channel}'.` } }
    return (await ipcRenderer.invoke(channel, input)) as Result<unknown>
  },
  on(event, listener) {
    if (!events.has(event)) throw new TunewiseError('invalid_input', `Unknown event '${event}'.`)
    const wrapped = (_e: IpcRendererEvent, payload: unknown): void => listener(payload as never)
    ipcRenderer.on(event, wrapped)
    return () => {
      ipcRenderer.removeListener(event, wrapped)
    }
  },
  // A sandboxed page sees no paths (File.path is gone since Electron 32): a dropped folder's path
  // comes from here. Only a path, no file access: main still checks it before opening anything.
  pathForFile(file) {
    try {
      return webUtils.getPathForFile(file)
    } catch {
      return ''
    }
  },
}

contextBridge.exposeInMainWorld('tunewise', api)
