/**
 * Fuzzes browser mode over loopback with a seeded generator: malformed HTTP requests (bad request
 * lines, URLs, percent-encodings, huge headers, foreign Host and Origin, broken bodies, mutations
 * of a valid request) and WebSocket handshakes and frames (oversized, binary, invalid UTF-8,
 * truncated, fragmented, bad JSON, deep nesting, unknown channels), with and without the token.
 *
 * The server runs on the real services (a tiny model, a synthetic dataset, training in a child
 * process). It must never throw or log an unexpected error, and never serve the page or open a
 * socket for a request that lacks the token, our Host or our Origin. A client that connected
 * before the fuzz starts a real run, keeps calling and receiving events during it, and the run
 * succeeds. Afterwards a normal page load and call still work.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startBrowserServer, type BrowserServer } from '../../src/main/browser-server'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { RunDetail } from '../../src/shared/types'
import { FuzzRandom } from '../helpers/fuzz-random'
import { startTinyServices, type TinyServices } from '../helpers/tiny-services'
import { afterHead, exchange, frame, handshake, OP, statusOf, type Exchange } from '../helpers/raw-socket'

const SEED = 0x7e57_f022
const HTTP_CASES = 5200
const SOCKET_CASES = 2400
/** Exchanges in flight at once. */
const CONCURRENCY = 12
const PAGE_MARKER = 'tunewise-fuzz-page'

/** Marks the test's own events, so they are told apart from the real run's. */
const MARK_RUN = -1

const root = mkdtempSync(join(tmpdir(), 'tw-fuzz-'))
let tiny: TinyServices
let server: BrowserServer
let host: string
let origin: string
let staticCookie: string
const logged: string[] = []

beforeAll(async () => {
  tiny = await startTinyServices(root)
  const dir = join(root, 'static')
  mkdirSync(dir)
  writeFileSync(join(dir, 'index.html'), `<!doctype html><title>${PAGE_MARKER}</title>`)
  server = await startBrowserServer({
    router: tiny.svc.router,
    hub: tiny.svc.hub,
    staticDir: dir,
    port: 0,
    log: (m) => logged.push(m),
  })
  host = `127.0.0.1:${server.port}`
  origin = `http://${host}`
  const res = await fetch(server.url)
  staticCookie = res.headers.get('set-cookie')!.split(';')[0]!
})
afterAll(async () => {
  await server?.close()
  await tiny?.svc.jobs.whenIdle()
  tiny?.svc.close()
  rmSync(root, { recursive: true, force: true })
})

interface HttpCase {
  bytes: Buffer
  /** Whether the request carries a key (token or cookie) and our Host: only then may it get the page. */
  mayServe: boolean
}

function httpCases(r: FuzzRandom, count: number): HttpCase[] {
  const t = server.token
  const valid = (path = `/?token=${t}`, extra: string[] = []): string =>
    [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...extra, 'Connection: close', '', ''].join('\r\n')
  const keyed = (s: string): boolean => s.includes(t) || s.includes(staticCookie)
  const badPercent = (): string => {
    const hex = '0123456789abcdefABCDEFgGzZ%'
    let s = '%'
    for (let i = r.int(0, 2); i > 0; i--) s += r.pick([...hex])
    return s
  }
  const makers: (() => string | Buffer)[] = [
    // Bad request lines.
    () =>
      r.pick([
        'GET http://[ HTTP/1.1',
        'GET http://[::1 HTTP/1.1',
        'GET * HTTP/1.1',
        'OPTIONS * HTTP/1.1',
        `CONNECT ${host} HTTP/1.1`,
        'GET  HTTP/1.1',
        'GET / HTTP/9.9',
        'GET / HTTP/1.1 extra',
        'GET /',
        '\x00\x01GET / HTTP/1.1',
        'G\tET / HTTP/1.1',
        `GET http://${host}/?token=${t} HTTP/1.1`,
        `GET //evil.example/?token=${t} HTTP/1.1`,
        `GET ${r.text(r.int(1, 60))} HTTP/1.1`,
        r.text(r.int(1, 200), true),
      ]) + `\r\nHost: ${host}\r\n\r\n`,
    // Bad URLs and percent-encodings, with the token.
    () => {
      let path = '/'
      for (let i = r.int(1, 6); i > 0; i--) {
        path += r.pick([
          badPercent(),
          '%E0%A4%A',
          '%00',
          '%2e%2e%2f',
          '..',
          '../',
          '%C0%AF',
          '%ff',
          'é',
          '\u202e',
          r.text(r.int(1, 10)),
        ])
      }
      return valid(`${path}?token=${t}${r.chance(0.3) ? `&token=${badPercent()}` : ''}`)
    },
    // Absurdly long targets.
    () => valid(`/${'a'.repeat(r.int(8000, 70_000))}?token=${t}`),
    // Huge headers: one enormous value, or thousands of small ones.
    () =>
      r.chance(0.5)
        ? valid(`/?token=${t}`, [`X-Big: ${'x'.repeat(r.int(15_000, 80_000))}`])
        : valid(
            `/?token=${t}`,
            Array.from({ length: r.int(300, 3000) }, (_, i) => `X-${i}: ${r.text(r.int(1, 8))}`),
          ),
    // Bad, missing, foreign or doubled Host.
    () => {
      const hosts = [
        '',
        'evil.example',
        `evil.example:${server.port}`,
        `127.0.0.1:${server.port}@evil.example`,
        `localhost:${server.port}.evil.example`,
        ` ${host}`,
        `${host}, evil.example`,
        `127.0.0.1:${server.port + 1}`,
        '[::1',
        r.text(r.int(1, 40)),
      ]
      const lines = [`GET /?token=${t} HTTP/1.1`]
      const n = r.int(0, 2)
      for (let i = 0; i < n; i++) lines.push(`Host: ${r.pick(hosts)}`)
      return [...lines, 'Connection: close', '', ''].join('\r\n')
    },
    // Foreign Origin on a request that has everything else.
    () =>
      valid(`/?token=${t}`, [
        `Origin: ${r.pick(['http://127.0.0.1:9911', 'null', 'https://evil.example', r.text(r.int(0, 30))])}`,
      ]),
    // Other methods, bodies that lie about their length, broken chunked encoding.
    () =>
      [
        `${r.pick(['POST', 'PUT', 'DELETE', 'TRACE', 'PATCH', 'PROPFIND', 'BREW'])} /?token=${t} HTTP/1.1`,
        `Host: ${host}`,
        r.pick([
          `Content-Length: ${r.int(0, 1_000_000)}`,
          'Transfer-Encoding: chunked',
          `Content-Length: 5\r\nTransfer-Encoding: chunked`,
          'Content-Length: -1',
          'Content-Length: 1, 2',
        ]),
        '',
        r.pick(['zz\r\nabc\r\n', '5\r\nabc\r\n0\r\n\r\n', r.text(r.int(0, 300), true), 'ffffffffffffffff\r\n']),
      ].join('\r\n'),
    // A valid request cut short.
    () => {
      const s = valid(`/?token=${t}`)
      return s.slice(0, r.int(0, s.length - 3))
    },
    // A valid request (token or cookie) with a few bytes changed, inserted or removed.
    () => {
      const s = r.chance(0.5) ? valid(`/?token=${t}`) : valid('/index.html', [`Cookie: ${staticCookie}`])
      const b = [...Buffer.from(s)]
      for (let i = r.int(1, 4); i > 0; i--) {
        const at = r.int(0, b.length - 1)
        const op = r.int(0, 2)
        if (op === 0) b[at] = r.int(0, 255)
        else if (op === 1) b.splice(at, 0, r.pick([0x0d, 0x0a, 0x00, 0x20, 0x25, 0x3a, 0x7f, 0xff]))
        else b.splice(at, 1)
      }
      return Buffer.from(b)
    },
    // Pipelined: junk and valid requests in one write.
    () => valid(`/?token=${t}`).replace('Connection: close\r\n', '') + r.text(r.int(1, 100), true) + '\r\n\r\n',
  ]
  const cases: HttpCase[] = []
  for (let i = 0; i < count; i++) {
    const made = r.pick(makers)()
    const bytes = typeof made === 'string' ? Buffer.from(made, 'latin1') : made
    const s = bytes.toString('latin1')
    // The first head's Host lines: exactly one, naming this server (spaces around it are allowed).
    const hostLines = s
      .split('\r\n\r\n')[0]!
      .split('\r\n')
      .filter((l) => /^host:/i.test(l))
    const ownHost = hostLines.length === 1 && hostLines[0]!.slice(5).trim().toLowerCase() === host
    cases.push({ bytes, mayServe: keyed(s) && ownHost })
  }
  return cases
}

interface SocketCase {
  head: string
  frames: Buffer[]
  /** Send the frames without waiting for the server's answer to the handshake. */
  eager: boolean
  /** Whether the handshake carries the token, our Host and our Origin: only then may it get a 101. */
  mayOpen: boolean
}

function socketCases(r: FuzzRandom, count: number): SocketCase[] {
  const t = server.token
  const envelope = (channel: string, payload: unknown, id: unknown = r.int(1, 1e6)): string =>
    JSON.stringify({ id, channel, payload })
  const nested = (n: number): string => '['.repeat(n) + ']'.repeat(r.chance(0.7) ? n : r.int(0, n))
  const frameMakers: (() => Buffer | Buffer[])[] = [
    // Claims a length over the limit (up to 2^53), sends a little.
    () => frame(OP.text, r.text(r.int(0, 64)), { claimedLength: r.int(32 * 1024 * 1024 + 1, 2 ** 53) }),
    () => frame(OP.binary, r.bytes(r.int(0, 300))),
    () => frame(OP.text, Buffer.concat([r.bytes(r.int(0, 20)), Buffer.from([0xff, 0xfe, 0xc0, 0x80])])),
    // Truncated: the header promises more than follows.
    () => {
      const body = envelope('runs:list', {})
      return frame(OP.text, body.slice(0, r.int(0, body.length - 1)), { claimedLength: body.length })
    },
    () => frame(OP.text, r.pick(['{', '{"id":1', 'null', '[]', '"x"', '1e999999', '{"id":1,"channel":}', r.text(50)])),
    () => frame(OP.text, `{"id":1,"channel":"drafts:save","payload":{"draft":${nested(r.int(60, 200_000))}}}`),
    () => frame(OP.text, `{"id":1,"channel":"runs:list","payload":[${'0,'.repeat(r.int(190_000, 260_000))}0]}`),
    () => frame(OP.text, envelope(r.pick([r.text(r.int(0, 40)), 'x'.repeat(r.int(90, 5000)), '__proto__']), {})),
    () =>
      frame(
        OP.text,
        envelope(
          r.pick(['runs:list', 'app:info', 'runs:get', 'drafts:save', 'runs:predict', 'constructor']),
          r.pick([{}, null, [], 'x', { runId: -1 }, { __proto__: { polluted: 1 } }, { a: r.text(100) }]),
        ),
      ),
    () =>
      frame(
        OP.text,
        JSON.stringify({ id: r.pick(['1', 1.5, -0, 2 ** 60, null, {}, []]), channel: 'runs:list', payload: {} }),
      ),
    // Fragmented: good sequences and bad ones.
    () => [
      frame(OP.text, '{"id":7,"chan', { fin: false }),
      frame(OP.continuation, 'nel":"runs:list",', { fin: false }),
      frame(OP.continuation, '"payload":{}}'),
    ],
    () => frame(OP.continuation, r.text(10)),
    () => [frame(OP.text, '{"id":', { fin: false }), frame(OP.text, '1}')],
    () => [frame(OP.text, 'x', { fin: false }), frame(OP.continuation, 'y'.repeat(1000), { claimedLength: 2 ** 31 })],
    // Control frames: too long, fragmented, odd close codes and reasons.
    () => frame(OP.ping, r.text(r.int(126, 400))),
    () => frame(OP.ping, 'x', { fin: false }),
    () => frame(OP.ping, r.text(r.int(0, 125))),
    () => {
      const code = Buffer.alloc(2)
      code.writeUInt16BE(r.pick([0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535, 1000]))
      return frame(OP.close, Buffer.concat([code, r.chance(0.5) ? Buffer.from([0xff, 0xc0]) : Buffer.from('bye')]))
    },
    () => frame(OP.close, Buffer.from([0x03])),
    // Unmasked, reserved bits, reserved opcodes.
    () => frame(OP.text, envelope('runs:list', {}), { mask: false }),
    () => frame(OP.text, envelope('runs:list', {}), { rsv: r.int(1, 7) }),
    () => frame(r.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), r.text(r.int(0, 20))),
    () => r.bytes(r.int(1, 40)),
    // A well-formed call among the junk.
    () => frame(OP.text, envelope('runs:list', {})),
  ]
  const cases: SocketCase[] = []
  for (let i = 0; i < count; i++) {
    let o: Parameters<typeof handshake>[0] = { host, origin, protocols: `tunewise, tunewise.${t}` }
    let mayOpen = true
    const variant = r.int(0, 19)
    if (variant === 1) o = { ...o, protocols: null, path: `/ws?token=${t}` }
    else if (variant === 2) [o, mayOpen] = [{ ...o, protocols: null }, false]
    else if (variant === 3) [o, mayOpen] = [{ ...o, protocols: `tunewise, tunewise.${r.text(48)}` }, false]
    else if (variant === 4) {
      o = {
        ...o,
        origin: r.pick(['http://127.0.0.1:9911', 'null', 'https://evil.example', `http://evil:${server.port}`]),
      }
      mayOpen = false
    } else if (variant === 5) [o, mayOpen] = [{ ...o, origin: null }, false]
    else if (variant === 6) [o, mayOpen] = [{ ...o, host: r.pick(['evil.example', '', `127.0.0.1:1`]) }, false]
    else if (variant === 7) o = { ...o, key: r.pick(['', 'short', r.text(24), '!!!!']) }
    else if (variant === 8) o = { ...o, version: r.pick(['8', '99', '', 'x']) }
    else if (variant === 9) o = { ...o, protocols: `tunewise.${t},, ;tunewise ${r.text(5)}` }
    else if (variant === 10)
      [o, mayOpen] = [{ ...o, path: r.pick(['/ws/', '/WS', '/ws%00', '/%E0%A4%A', '/', '*']) }, false]
    else if (variant === 11) [o, mayOpen] = [{ ...o, protocols: null, extra: [`Cookie: ${staticCookie}`] }, false]
    else if (variant === 12) o = { ...o, extra: ['Upgrade: h2c'] }
    const frames: Buffer[] = []
    for (let k = r.int(1, 4); k > 0; k--) frames.push(...[r.pick(frameMakers)()].flat())
    cases.push({ head: handshake(o), frames, mayOpen, eager: r.chance(0.2) })
  }
  return cases
}

/** Runs `work` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      await work(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: limit }, lane))
}

interface ClientEvent {
  event: string
  payload: unknown
}

interface Client {
  ws: WebSocket
  events: ClientEvent[]
  call: (channel: string, payload: unknown) => Promise<{ ok: boolean; value?: unknown }>
  /** Resolves once an event matching `test` has arrived (or already had). */
  seen: (test: (e: ClientEvent) => boolean) => Promise<void>
}

function isStatus(payload: unknown, runId: number, status: string): boolean {
  const p = payload as { runId?: number; status?: string }
  return p.runId === runId && p.status === status
}

/** A well-behaved client, connected before the fuzz, that keeps using the socket during it. */
async function connectClient(): Promise<Client> {
  const ws = new WebSocket(`ws://${host}/ws`, ['tunewise', `tunewise.${server.token}`], { origin })
  await new Promise((ok, fail) => {
    ws.once('open', ok)
    ws.once('error', fail)
  })
  const events: ClientEvent[] = []
  const watchers = new Set<() => void>()
  const waiting = new Map<number, (r: { ok: boolean; value?: unknown }) => void>()
  let id = 0
  ws.on('message', (raw) => {
    const msg = JSON.parse(String(raw)) as {
      id?: number
      result?: { ok: boolean; value?: unknown }
      event?: string
      payload?: unknown
    }
    if (msg.event) {
      events.push({ event: msg.event, payload: msg.payload })
      for (const w of watchers) w()
    } else if (msg.id !== undefined && msg.result) waiting.get(msg.id)?.(msg.result)
  })
  const call: Client['call'] = (channel, payload) =>
    new Promise((ok) => {
      waiting.set(++id, ok)
      ws.send(JSON.stringify({ id, channel, payload }))
    })
  const seen: Client['seen'] = (test) =>
    new Promise((ok) => {
      const check = (): void => {
        if (!events.some(test)) return
        watchers.delete(check)
        ok()
      }
      watchers.add(check)
      check()
    })
  return { ws, events, call, seen }
}

describe('browser mode under a seeded fuzz', () => {
  it('never throws, gives nothing without the token, our Host and Origin, and keeps serving', async () => {
    const r = new FuzzRandom(SEED)
    const client = await connectClient()
    // A real run, started before the fuzz, trains in its child process while the fuzz goes on.
    const config = defaultRunConfig(tiny.modelId, tiny.datasetId, 'under fuzz')
    config.hyper.epochs = 10
    const started = await client.call('runs:start', { config })
    expect(started.ok).toBe(true)
    const runId = (started.value as { runId: number }).runId
    const violations: string[] = []
    const answers: Promise<{ ok: boolean }>[] = []
    let statuses = 0
    let pages = 0
    const during = (i: number): void => {
      // The run's progress and a call from the honest client, every 100 cases.
      if (i % 100 !== 0) return
      tiny.svc.hub.emit('run:log', { runId: MARK_RUN, message: `step ${i / 100}` })
      answers.push(client.call('runs:list', {}))
    }

    const http = httpCases(r, HTTP_CASES)
    await pool(http, CONCURRENCY, async (c, i) => {
      during(i)
      // A complete head gets its answer before the client half-closes; a partial one never will.
      const res: Exchange = await exchange(server.port, c.bytes, { endAfterAnswer: c.bytes.includes('\r\n\r\n') })
      const served = res.data.toString('latin1').includes(PAGE_MARKER)
      if (served) pages++
      if (served && !c.mayServe)
        violations.push(`HTTP ${i} served the page: ${JSON.stringify(c.bytes.toString('latin1').slice(0, 200))}`)
      if (statusOf(res.data) !== null) statuses++
    })

    const sockets = socketCases(r, SOCKET_CASES)
    let opened = 0
    await pool(sockets, CONCURRENCY, async (c, i) => {
      during(HTTP_CASES + i)
      const res = await exchange(server.port, c.head, { then: c.frames, eager: c.eager })
      const status = statusOf(res.data)
      if (status === 101) {
        opened++
        if (!c.mayOpen) violations.push(`socket ${i} opened: ${JSON.stringify(c.head)}`)
      } else if (!c.mayOpen && afterHead(res.data).length > 0) {
        violations.push(`socket ${i} got bytes after a refusal`)
      }
    })

    const results = await Promise.all(answers)

    expect(violations).toEqual([])
    expect(logged).toEqual([])
    // Sanity: the fuzz reached the server, was served where it held the key, and opened sockets.
    expect(statuses).toBeGreaterThan(HTTP_CASES / 2)
    expect(pages).toBeGreaterThan(0)
    expect(opened).toBeGreaterThan(SOCKET_CASES / 4)
    // The honest client saw every event sent during the fuzz, in order, and every call was answered.
    const steps = Math.ceil((HTTP_CASES + SOCKET_CASES) / 100)
    const marked = client.events
      .filter((e) => e.event === 'run:log' && (e.payload as { runId: number }).runId === MARK_RUN)
      .map((e) => e.payload)
    expect(marked).toEqual(Array.from({ length: steps }, (_, k) => ({ runId: MARK_RUN, message: `step ${k}` })))
    expect(results.filter((x) => !x.ok)).toEqual([])
    expect(results).toHaveLength(steps)

    // The run started before the fuzz succeeded, and the client was told so over its socket.
    await tiny.svc.jobs.whenIdle()
    const run = await client.call('runs:get', { runId })
    expect((run.value as RunDetail).status).toBe('succeeded')
    await client.seen((e) => e.event === 'run:status' && isStatus(e.payload, runId, 'succeeded'))
    client.ws.close()

    // After the fuzz: a normal page load and a normal call.
    const page = await fetch(server.url)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain(PAGE_MARKER)
    const after = await connectClient()
    const list = await after.call('runs:list', {})
    expect(list.ok).toBe(true)
    expect(JSON.stringify(list.value)).toContain('under fuzz')
    after.ws.close()
  })
})
