/**
 * The only bridge between the sandboxed renderer and main: a typed `window.tunewise` built from
 * the contract's channel list. The renderer never sees ipcRenderer itself.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { channelNames, eventNames, TunewiseError } from '../shared/channels'
import type { Result, TunewiseApi } from '../shared/contract'

const channels = new Set<string>(channelNames)
const events = new Set<string>(eventNames)

const api: TunewiseApi = {
  async invoke(channel, input) {
    if (!channels.has(channel)) throw new TunewiseError('invalid_input', `Unknown channel '${channel}'.`)
    const result = (await ipcRenderer.invoke(channel, input)) as Result<never>
    if (!result.ok) throw new TunewiseError(result.error.code, result.error.message)
    return result.value
  },
  on(event, listener) {
    if (!events.has(event)) throw new TunewiseError('invalid_input', `Unknown event '${event}'.`)
    const wrapped = (_e: IpcRendererEvent, payload: unknown): void => listener(payload as never)
    ipcRenderer.on(event, wrapped)
    return () => {
      ipcRenderer.removeListener(event, wrapped)
    }
  },
}

contextBridge.exposeInMainWorld('tunewise', api)
