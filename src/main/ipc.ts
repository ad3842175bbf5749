/**
 * One router for both transports (Electron IPC and the browser-mode WebSocket): it parses every
 * payload with the channel's schema, calls the handler, and answers {ok,value}|{ok:false,error}.
 * No electron import here: `bindElectronIpc` receives ipcMain from index.ts.
 */
import { contract, type Channel, type ChannelOutput, type ChannelParsed, type Result } from '../shared/contract'
import type { EventName, Events } from '../shared/events'
import { AppError } from './errors'

export type Handler<C extends Channel> = (input: ChannelParsed<C>) => Promise<ChannelOutput<C>> | ChannelOutput<C>
export type Handlers = { [C in Channel]: Handler<C> }

export interface Router {
  call(channel: string, payload: unknown): Promise<Result<unknown>>
  channels(): Channel[]
}

function isChannel(name: string): name is Channel {
  return Object.prototype.hasOwnProperty.call(contract, name)
}

export function createRouter(handlers: Partial<Handlers>, log: (msg: string) => void = () => {}): Router {
  return {
    channels: () => Object.keys(contract) as Channel[],
    async call(channel, payload) {
      if (!isChannel(channel)) {
        return { ok: false, error: { code: 'invalid_input', message: `Unknown channel '${channel}'.` } }
      }
      const parsed = contract[channel].input.safeParse(payload ?? {})
      if (!parsed.success) {
        const first = parsed.error.issues[0]
        const where = first?.path.length ? ` (${first.path.join('.')})` : ''
        return {
          ok: false,
          error: { code: 'invalid_input', message: `${first?.message ?? 'Invalid input'}${where}` },
        }
      }
      const handler = handlers[channel] as ((input: unknown) => unknown) | undefined
      if (!handler) {
        return { ok: false, error: { code: 'unavailable', message: `'${channel}' is not available in this build.` } }
      }
      try {
        const value = await handler(parsed.data)
        return { ok: true, value }
      } catch (err) {
        if (err instanceof AppError) return { ok: false, error: { code: err.code, message: err.message } }
        log(`[${channel}] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
        const message = err instanceof Error ? err.message : String(err)
        return { ok: false, error: { code: 'internal', message: `Something went wrong: ${message}` } }
      }
    },
  }
}

/** Main -> renderer events, fanned out to every connected window or socket. */
export class EventHub {
  private sinks = new Set<(name: EventName, payload: unknown) => void>()

  subscribe(sink: (name: EventName, payload: unknown) => void): () => void {
    this.sinks.add(sink)
    return () => this.sinks.delete(sink)
  }

  emit<E extends EventName>(name: E, payload: Events[E]): void {
    for (const sink of this.sinks) {
      try {
        sink(name, payload)
      } catch {
        // A closed window or socket must not stop the others.
      }
    }
  }
}

/** The parts of Electron's ipcMain and event objects the router needs (keeps electron out of tests). */
export interface IpcMainLike {
  handle(channel: string, listener: (event: { senderFrame: unknown | null }, payload: unknown) => unknown): void
}

/**
 * Registers every channel on ipcMain. Calls from any frame but our own window's main frame are
 * dropped: the promise never resolves with data (electron/fiddle's rule), so a foreign page learns nothing.
 */
export function bindElectronIpc(ipcMain: IpcMainLike, router: Router, isOwnFrame: (frame: unknown) => boolean): void {
  for (const channel of router.channels()) {
    ipcMain.handle(channel, async (event, payload) => {
      if (!event.senderFrame || !isOwnFrame(event.senderFrame)) {
        return { ok: false, error: { code: 'invalid_input', message: 'Dropped: not from the Tunewise window.' } }
      }
      return router.call(channel, payload)
    })
  }
}
