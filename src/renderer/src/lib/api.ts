/**
 * The one way the renderer talks to Tunewise: `window.tunewise` from the Electron preload when it
 * is there, otherwise a WebSocket to the browser-mode server on the same origin. Both implement
 * TunewiseApi from the shared contract (types only: zod stays out of the renderer bundle).
 */
import type { Channel, ChannelInput, ChannelOutput, PreloadApi, Result, TunewiseApi } from '$shared/contract'
import { unwrapResult } from '$shared/channels'
import {
  createSocketClient,
  takeBrowserToken,
  tokenProtocols,
  type ConnectionState,
  type SocketClient,
  type SocketLike as SocketClientSocket,
} from './core/ws-client'

declare global {
  interface Window {
    tunewise?: PreloadApi
  }
}

/** The browser-mode token: from `?token=` once, then sessionStorage; stripped from the address bar. */
function browserToken(): string {
  let storage: Storage | null = null
  try {
    storage = sessionStorage
  } catch {
    // Storage blocked: the token stays in the address so a reload still works.
  }
  return takeBrowserToken(location.href, storage, (u) => history.replaceState(history.state, '', u))
}

/** Connection state for the banner; Electron IPC is always 'open'. */
export const connection: { state: ConnectionState; listeners: Set<(s: ConnectionState) => void> } = {
  state: 'open',
  listeners: new Set(),
}

let socketClient: SocketClient | null = null

function makeApi(): TunewiseApi {
  const preload = window.tunewise
  if (preload) {
    return {
      // Svelte state is a Proxy, which Electron's structured clone refuses: send plain data.
      invoke: async <C extends Channel>(channel: C, input: ChannelInput<C>): Promise<ChannelOutput<C>> =>
        unwrapResult((await preload.invoke(channel, plain(input))) as Result<ChannelOutput<C>>),
      on: (event, listener) => preload.on(event, listener),
    }
  }
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  const url = `${scheme}://${location.host}/ws`
  connection.state = 'connecting'
  socketClient = createSocketClient({
    url,
    // The token travels as a subprotocol, never in a URL (see browser-server.ts).
    protocols: tokenProtocols(browserToken()),
    // The DOM handlers take richer event types than SocketLike declares; the client reads only `data`.
    createSocket: (u, p) => new WebSocket(u, p) as unknown as SocketClientSocket,
    onState: (s) => {
      connection.state = s
      for (const l of connection.listeners) l(s)
    },
  })
  return socketClient
}

function plain<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T)
}

export const api: TunewiseApi = makeApi()

/** Runs `listener` after every reconnect of the browser-mode socket (events sent meanwhile were missed). */
export function onReconnect(listener: () => void): () => void {
  if (!socketClient) return () => {}
  return socketClient.onOpen((reconnected) => {
    if (reconnected) listener()
  })
}

/** Mode without asking the backend: true when running inside Electron. */
export const isElectron = typeof window !== 'undefined' && window.tunewise !== undefined

/**
 * Where a dropped file or folder is on disk: Electron's preload knows; a browser never tells a page
 * (it hands over the files' contents, not their place), so there it is always ''.
 */
export function droppedPath(file: File): string {
  return window.tunewise?.pathForFile(file) ?? ''
}
