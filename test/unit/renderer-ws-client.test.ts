import { describe, expect, it } from 'vitest'
import {
  backoffDelay,
  createSocketClient,
  takeBrowserToken,
  TOKEN_KEY,
  tokenProtocols,
  type SocketLike,
} from '../../src/renderer/src/lib/core/ws-client'

class FakeSocket implements SocketLike {
  readyState = 0
  sent: string[] = []
  onopen: ((ev: unknown) => void) | null = null
  onclose: ((ev: unknown) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  constructor(
    readonly url: string,
    readonly protocols?: string[],
  ) {}
  send(data: string): void {
    this.sent.push(data)
  }
  close(): void {
    this.drop()
  }
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }
  drop(): void {
    this.readyState = 3
    this.onclose?.({})
  }
  reply(msg: unknown): void {
    this.onmessage?.({ data: JSON.stringify(msg) })
  }
}

function setup() {
  const sockets: FakeSocket[] = []
  const timers: { fn: () => void; ms: number }[] = []
  const states: string[] = []
  const client = createSocketClient({
    url: 'ws://host/ws?token=t',
    createSocket: (url) => {
      const s = new FakeSocket(url)
      sockets.push(s)
      return s
    },
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => {},
    onState: (s) => states.push(s),
  })
  return { client, sockets, timers, states }
}

describe('browser-mode socket client', () => {
  it('queues calls until the socket opens, then matches answers by id', async () => {
    const { client, sockets } = setup()
    const info = client.invoke('app:info', {})
    const list = client.invoke('models:list', {})
    expect(sockets[0]!.sent).toEqual([])
    sockets[0]!.open()
    const sent = sockets[0]!.sent.map((s) => JSON.parse(s) as { id: number; channel: string; payload: unknown })
    expect(sent.map((m) => m.channel)).toEqual(['app:info', 'models:list'])
    expect(sent[0]!.payload).toEqual({})
    // Answers may come back in any order.
    sockets[0]!.reply({ id: sent[1]!.id, result: { ok: true, value: ['m'] } })
    sockets[0]!.reply({ id: sent[0]!.id, result: { ok: true, value: { version: '1' } } })
    await expect(list).resolves.toEqual(['m'])
    await expect(info).resolves.toEqual({ version: '1' })
  })

  it('rejects with the error code and message from {ok:false}', async () => {
    const { client, sockets } = setup()
    sockets[0]!.open()
    const p = client.invoke('runs:get', { runId: 9 })
    const { id } = JSON.parse(sockets[0]!.sent[0]!) as { id: number }
    sockets[0]!.reply({ id, result: { ok: false, error: { code: 'not_found', message: 'No run 9.' } } })
    await expect(p).rejects.toMatchObject({ code: 'not_found', message: 'No run 9.' })
  })

  it('delivers events to listeners until they unsubscribe', () => {
    const { client, sockets } = setup()
    sockets[0]!.open()
    const seen: number[] = []
    const off = client.on('run:progress', (p) => seen.push(p.epoch))
    sockets[0]!.reply({ event: 'run:progress', payload: { runId: 1, epoch: 3 } })
    off()
    sockets[0]!.reply({ event: 'run:progress', payload: { runId: 1, epoch: 4 } })
    expect(seen).toEqual([3])
  })

  it('reconnects with growing delays, rejects calls lost in flight and sends queued ones on reopen', async () => {
    const { client, sockets, timers, states } = setup()
    const reopened: boolean[] = []
    client.onOpen((r) => reopened.push(r))
    sockets[0]!.open()
    const lost = client.invoke('runs:active', {})
    sockets[0]!.drop()
    await expect(lost).rejects.toMatchObject({ code: 'unavailable' })
    expect(states).toEqual(['open', 'reconnecting'])
    expect(timers[0]!.ms).toBe(250)

    timers[0]!.fn()
    sockets[1]!.drop()
    expect(timers[1]!.ms).toBe(500)
    const queued = client.invoke('app:info', {})
    timers[1]!.fn()
    sockets[2]!.open()
    expect(reopened).toEqual([false, true])
    const { id, channel } = JSON.parse(sockets[2]!.sent[0]!) as { id: number; channel: string }
    expect(channel).toBe('app:info')
    sockets[2]!.reply({ id, result: { ok: true, value: 'ok' } })
    await expect(queued).resolves.toBe('ok')
    expect(sockets.map((s) => s.url)).toEqual(Array(3).fill('ws://host/ws?token=t'))
  })

  it('caps the backoff', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 250, 5000))).toEqual([250, 500, 1000, 2000, 5000])
  })

  it('offers the token as a subprotocol on every connect, not in the URL', () => {
    const sockets: FakeSocket[] = []
    const timers: (() => void)[] = []
    createSocketClient({
      url: 'ws://host/ws',
      protocols: tokenProtocols('ab12'),
      createSocket: (url, protocols) => {
        const s = new FakeSocket(url, protocols)
        sockets.push(s)
        return s
      },
      setTimer: (fn) => timers.push(fn),
      clearTimer: () => {},
    })
    sockets[0]!.drop()
    timers[0]!()
    expect(sockets.map((s) => [s.url, s.protocols])).toEqual([
      ['ws://host/ws', ['tunewise', 'tunewise.ab12']],
      ['ws://host/ws', ['tunewise', 'tunewise.ab12']],
    ])
    expect(tokenProtocols('')).toEqual([])
  })
})

describe('browser-mode token', () => {
  function memoryStorage(): {
    getItem(k: string): string | null
    setItem(k: string, v: string): void
    data: Map<string, string>
  } {
    const data = new Map<string, string>()
    return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) }
  }

  it('takes it from the address once, stores it and strips it from the address bar', () => {
    const storage = memoryStorage()
    const replaced: string[] = []
    const token = takeBrowserToken('http://127.0.0.1:5/?token=abc&x=1#step', storage, (u) => replaced.push(u))
    expect(token).toBe('abc')
    expect(storage.data.get(TOKEN_KEY)).toBe('abc')
    expect(replaced).toEqual(['/?x=1#step'])
    // A reload: the address has no token any more, storage has it.
    expect(takeBrowserToken('http://127.0.0.1:5/', storage, (u) => replaced.push(u))).toBe('abc')
    expect(replaced).toHaveLength(1)
  })

  it('keeps the token in the address when storage is unavailable, so a reload still works', () => {
    const replaced: string[] = []
    const broken = {
      getItem: (): string | null => {
        throw new Error('denied')
      },
      setItem: (): void => {
        throw new Error('denied')
      },
    }
    expect(takeBrowserToken('http://h/?token=abc', broken, (u) => replaced.push(u))).toBe('abc')
    expect(takeBrowserToken('http://h/?token=abc', null, (u) => replaced.push(u))).toBe('abc')
    expect(replaced).toEqual([])
  })
})
