/**
 * The browser-mode transport: the same TunewiseApi as the Electron preload, over one WebSocket.
 * DOM-free on purpose (the socket and the timers are injected) so it is testable under Node.
 *
 * Wire format: requests `{id, channel, payload}`, answers `{id, result: {ok, value} | {ok:false, error}}`,
 * events `{event, payload}`. Calls made while the socket is down wait in a queue and go out on open;
 * calls already sent when the socket drops are rejected (re-sending could start a run twice).
 */
import type {
  Channel,
  ChannelInput,
  ChannelOutput,
  EventName,
  Events,
  Result,
  TunewiseApi,
} from '../../../../shared/contract'
import { TunewiseError } from '../../../../shared/channels'

/** The part of the DOM WebSocket this client uses. */
export interface SocketLike {
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: unknown) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  send(data: string): void
  close(): void
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting'

export interface SocketClientOptions {
  url: string
  /** Subprotocols offered on every (re)connect; browser mode passes `tokenProtocols(token)`. */
  protocols?: string[]
  createSocket: (url: string, protocols?: string[]) => SocketLike
  /** Timer hooks; default the global setTimeout/clearTimeout. */
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (handle: unknown) => void
  /** First reconnect delay in ms (doubles per failure). Default 250. */
  minDelayMs?: number
  /** Longest reconnect delay in ms. Default 5000. */
  maxDelayMs?: number
  onState?: (state: ConnectionState) => void
}

export interface SocketClient extends TunewiseApi {
  readonly state: ConnectionState
  /** Called after every successful (re)connect; the argument is true for reconnects. */
  onOpen(listener: (reconnected: boolean) => void): () => void
  close(): void
}

const OPEN = 1

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

/** Delay before reconnect attempt `attempt` (0-based): min * 2^attempt, capped at max. */
export function backoffDelay(attempt: number, minMs = 250, maxMs = 5000): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20))
}

/** sessionStorage key of the browser-mode token. */
export const TOKEN_KEY = 'tunewise.token'

/**
 * Subprotocols that carry the browser-mode token (see browser-server.ts): the server selects the
 * plain `tunewise`, so the token is never echoed back.
 */
export function tokenProtocols(token: string): string[] {
  return token ? ['tunewise', `tunewise.${token}`] : []
}

/**
 * Takes the browser-mode token from the page address (`?token=`) once, keeps it in sessionStorage
 * (per origin, port included, so a server on another port cannot read it) and removes it from the
 * address bar and history. Later loads of the same tab read it back from storage. Without storage
 * the token stays in the address so that a reload still works.
 */
export function takeBrowserToken(
  href: string,
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void } | null,
  replaceUrl: (url: string) => void,
): string {
  const url = new URL(href)
  const fromUrl = url.searchParams.get('token')
  let stored: string | null = null
  try {
    if (fromUrl && storage) storage.setItem(TOKEN_KEY, fromUrl)
    stored = storage?.getItem(TOKEN_KEY) ?? null
  } catch {
    storage = null
  }
  if (fromUrl && storage && stored === fromUrl) {
    url.searchParams.delete('token')
    replaceUrl(url.pathname + url.search + url.hash)
  }
  return fromUrl ?? stored ?? ''
}

export function createSocketClient(opts: SocketClientOptions): SocketClient {
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
  const clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>))
  const minDelay = opts.minDelayMs ?? 250
  const maxDelay = opts.maxDelayMs ?? 5000

  let nextId = 1
  let socket: SocketLike | null = null
  let state: ConnectionState = 'connecting'
  let attempt = 0
  let everOpened = false
  let closed = false
  let timer: unknown = null
  const queue: string[] = []
  const inFlight = new Map<number, Pending>()
  const waiting = new Map<number, Pending>()
  const listeners = new Map<string, Set<(payload: unknown) => void>>()
  const openListeners = new Set<(reconnected: boolean) => void>()

  const setState = (s: ConnectionState): void => {
    if (s === state) return
    state = s
    opts.onState?.(s)
  }

  const connect = (): void => {
    timer = null
    if (closed) return
    const ws = opts.protocols ? opts.createSocket(opts.url, opts.protocols) : opts.createSocket(opts.url)
    socket = ws
    ws.onopen = () => {
      if (socket !== ws) return
      const reconnected = everOpened
      everOpened = true
      attempt = 0
      setState('open')
      // Queued calls move to in-flight as they go out.
      while (queue.length > 0) {
        const raw = queue.shift()!
        const id = (JSON.parse(raw) as { id: number }).id
        const p = waiting.get(id)
        if (!p) continue
        waiting.delete(id)
        inFlight.set(id, p)
        ws.send(raw)
      }
      for (const l of openListeners) l(reconnected)
    }
    ws.onmessage = (ev) => {
      if (socket !== ws) return
      handleMessage(ev.data)
    }
    ws.onerror = () => {
      // onclose follows and schedules the retry.
    }
    ws.onclose = () => {
      if (socket !== ws) return
      socket = null
      const lost = [...inFlight.values()]
      inFlight.clear()
      for (const p of lost) {
        p.reject(
          new TunewiseError(
            'unavailable',
            'The connection to Tunewise dropped before it answered. It reconnects by itself; try again in a moment.',
          ),
        )
      }
      if (closed) return
      setState('reconnecting')
      timer = setTimer(connect, backoffDelay(attempt++, minDelay, maxDelay))
    }
  }

  const handleMessage = (data: unknown): void => {
    let msg: { id?: unknown; result?: Result<unknown>; event?: unknown; payload?: unknown }
    try {
      msg = JSON.parse(String(data)) as typeof msg
    } catch {
      return
    }
    if (typeof msg.event === 'string') {
      for (const l of listeners.get(msg.event) ?? []) {
        try {
          l(msg.payload)
        } catch (err) {
          console.error(err)
        }
      }
      return
    }
    if (typeof msg.id !== 'number' || !msg.result) return
    const p = inFlight.get(msg.id)
    if (!p) return
    inFlight.delete(msg.id)
    const r = msg.result
    if (r.ok) p.resolve(r.value)
    else p.reject(new TunewiseError(r.error?.code ?? 'internal', r.error?.message ?? 'Something went wrong.'))
  }

  connect()

  return {
    get state() {
      return state
    },
    invoke<C extends Channel>(channel: C, input: ChannelInput<C>): Promise<ChannelOutput<C>> {
      if (closed) return Promise.reject(new TunewiseError('unavailable', 'The connection is closed.'))
      const id = nextId++
      const raw = JSON.stringify({ id, channel, payload: input ?? {} })
      return new Promise<ChannelOutput<C>>((resolve, reject) => {
        const p: Pending = { resolve: resolve as (v: unknown) => void, reject }
        if (socket && socket.readyState === OPEN) {
          inFlight.set(id, p)
          socket.send(raw)
        } else {
          waiting.set(id, p)
          queue.push(raw)
        }
      })
    },
    on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
      let set = listeners.get(event)
      if (!set) listeners.set(event, (set = new Set()))
      const l = listener as (payload: unknown) => void
      set.add(l)
      return () => set.delete(l)
    },
    onOpen(listener) {
      openListeners.add(listener)
      return () => openListeners.delete(listener)
    },
    close() {
      closed = true
      if (timer !== null) clearTimer(timer)
      socket?.close()
      for (const p of [...waiting.values(), ...inFlight.values()]) {
        p.reject(new TunewiseError('unavailable', 'The connection is closed.'))
      }
      waiting.clear()
      inFlight.clear()
      queue.length = 0
    },
  }
}
