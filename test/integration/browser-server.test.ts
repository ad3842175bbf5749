import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  isLoopbackHost,
  jsonShapeProblem,
  launchProblem,
  MAX_JSON_DEPTH,
  servedHosts,
  startBrowserServer,
  tokenProblem,
  type BrowserServer,
} from '../../src/main/browser-server'
import { createRouter, EventHub } from '../../src/main/ipc'
import { exchange, statusOf } from '../helpers/raw-socket'

let server: BrowserServer
let base: string
let dir: string
const hub = new EventHub()
const logged: string[] = []
let reached = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-static-'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tunewise</title>')
  writeFileSync(join(dir, 'secret.txt'), 'outside?')
  const router = createRouter({
    'runs:list': () => {
      reached++
      return []
    },
    'drafts:save': () => {
      reached++
      return { saved: true }
    },
  })
  server = await startBrowserServer({ router, hub, staticDir: dir, port: 0, log: (m) => logged.push(m) })
  base = `http://127.0.0.1:${server.port}`
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Opened {
  ws: WebSocket
  messages: unknown[]
  closed: Promise<number>
}

/** Opens a socket with the token as a subprotocol (the default) and our own Origin. */
function openSocket(
  o: { url?: string; origin?: string | null; protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<Opened> {
  return new Promise((ok, fail) => {
    const origin = o.origin === undefined ? base : o.origin
    const ws = new WebSocket(o.url ?? `ws://127.0.0.1:${server.port}/ws`, o.protocols ?? tokenProtocols(), {
      headers: o.headers,
      ...(origin === null ? {} : { origin }),
    })
    const messages: unknown[] = []
    ws.on('message', (raw) => messages.push(JSON.parse(String(raw))))
    const closed = new Promise<number>((c) => ws.once('close', (code) => c(code)))
    ws.once('open', () => ok({ ws, messages, closed }))
    ws.once('error', fail)
    ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)))
  })
}

function tokenProtocols(): string[] {
  return ['tunewise', `tunewise.${server.token}`]
}

function callOnce(ws: WebSocket, channel: string, payload: unknown, id = 1): Promise<unknown> {
  return new Promise((ok) => {
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { id?: number; result?: unknown }
      if (msg.id === id) ok(msg.result)
    })
    ws.send(JSON.stringify({ id, channel, payload }))
  })
}

/** The server still serves the page and answers a call: it survived whatever came before. */
async function stillServing(): Promise<void> {
  expect((await fetch(server.url)).status).toBe(200)
  const { ws } = await openSocket()
  expect(await callOnce(ws, 'runs:list', {}, 99)).toEqual({ ok: true, value: [] })
  ws.close()
}

describe('browser mode server', () => {
  it('binds to loopback and prints a URL with the token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/)
  })

  it('refuses the page without or with a wrong token', async () => {
    for (const url of [`${base}/`, `${base}/?token=wrong`, `${base}/index.html?token=${'0'.repeat(48)}`]) {
      const res = await fetch(url)
      expect(res.status).toBe(403)
      expect(await res.text()).not.toContain('Tunewise</title>')
    }
  })

  it('serves the page with the token, sets a cookie (not the token) for the assets, and a CSP', async () => {
    const res = await fetch(server.url)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('<title>Tunewise</title>')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin')
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    // Cookies ignore ports: a server on another port of this host receives this one.
    expect(cookie).not.toContain(server.token)
    const asset = await fetch(`${base}/index.html`, { headers: { cookie } })
    expect(asset.status).toBe(200)
    const escape = await fetch(`${base}/..%2F..%2Fetc%2Fpasswd`, { headers: { cookie } })
    expect(escape.status).toBe(404)
    // The cookie opens static files, never the data.
    await expect(openSocket({ protocols: [], headers: { cookie } })).rejects.toThrow(/403/)
  })

  it('refuses the WebSocket without the token and the handler is never reached', async () => {
    const before = reached
    await expect(openSocket({ protocols: [] })).rejects.toThrow(/403/)
    await expect(openSocket({ protocols: ['tunewise', 'tunewise.nope'] })).rejects.toThrow(/403/)
    await expect(openSocket({ url: `ws://127.0.0.1:${server.port}/ws?token=nope`, protocols: [] })).rejects.toThrow(
      /403/,
    )
    expect(reached).toBe(before)
  })

  it('answers calls and forwards events with the token as a subprotocol, never echoing it', async () => {
    const { ws } = await openSocket()
    expect(ws.protocol).toBe('tunewise')
    expect(await callOnce(ws, 'runs:list', {})).toEqual({ ok: true, value: [] })
    const event = new Promise((ok) =>
      ws.on('message', (raw) => {
        const msg = JSON.parse(String(raw)) as { event?: string; payload?: unknown }
        if (msg.event) ok(msg)
      }),
    )
    hub.emit('run:status', { runId: 5, status: 'running' })
    expect(await event).toEqual({ event: 'run:status', payload: { runId: 5, status: 'running' } })
    ws.close()
  })

  it('refuses the token in the socket URL: it travels only as a subprotocol', async () => {
    await expect(
      openSocket({ url: `ws://127.0.0.1:${server.port}/ws?token=${server.token}`, protocols: [] }),
    ).rejects.toThrow(/403/)
  })
})

describe('a foreign page or name gets nothing', () => {
  it('refuses a WebSocket from a foreign Origin, even with the token, and the handler is never reached', async () => {
    const before = reached
    const foreign = ['http://127.0.0.1:9911', 'http://localhost:1', 'https://evil.example', 'null', 'file://']
    for (const origin of foreign) {
      await expect(openSocket({ origin })).rejects.toThrow(/403/)
      await expect(
        openSocket({ origin, url: `ws://127.0.0.1:${server.port}/ws?token=${server.token}`, protocols: [] }),
      ).rejects.toThrow(/403/)
    }
    // A browser always sends Origin; a socket without one is not our page.
    await expect(openSocket({ origin: null })).rejects.toThrow(/403/)
    expect(reached).toBe(before)
  })

  it('accepts the other loopback names of this server as Origin', async () => {
    for (const origin of [`http://localhost:${server.port}`, `http://[::1]:${server.port}`]) {
      const { ws } = await openSocket({ origin })
      ws.close()
    }
  })

  it('answers a foreign Host (DNS rebinding) with an empty 421, token or not', async () => {
    for (const host of ['evil.example', `evil.example:${server.port}`, '127.0.0.1:1', '']) {
      const r = await exchange(
        server.port,
        `GET /?token=${server.token} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      )
      expect(statusOf(r.data)).toBe(421)
      expect(r.data.toString()).toMatch(/content-length: 0\r\n/i)
      expect(r.data.toString()).not.toContain('Tunewise')
      expect(r.data.toString()).not.toContain('set-cookie')
    }
    // Two Host headers: Node keeps the first, a proxy might read the second.
    const two = await exchange(
      server.port,
      `GET /?token=${server.token} HTTP/1.1\r\nHost: ${base.slice(7)}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
    )
    expect(statusOf(two.data)).toBe(421)
    const before = reached
    await expect(openSocket({ headers: { host: 'evil.example' } })).rejects.toThrow(/421/)
    expect(reached).toBe(before)
  })

  it('answers only GET and HEAD', async () => {
    expect((await fetch(server.url, { method: 'POST', body: 'x' })).status).toBe(405)
    const head = await fetch(server.url, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
  })

  it('answers a foreign Origin on a page request with an empty 403', async () => {
    const res = await fetch(server.url, { headers: { origin: 'http://127.0.0.1:9911' } })
    expect(res.status).toBe(403)
    expect(await res.text()).toBe('')
  })
})

describe('requests that used to kill browser mode', () => {
  it('an invalid URL in the request line, without the token, is a 400', async () => {
    const r = await exchange(server.port, `GET http://[ HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`)
    expect(statusOf(r.data)).toBe(400)
    await stillServing()
  })

  it('a broken percent-encoding, with the token, is a 400', async () => {
    const res = await fetch(`${base}/%E0%A4%A?token=${server.token}`)
    expect(res.status).toBe(400)
    await stillServing()
  })

  it('a 40 MB frame closes that socket with 1009, before it reaches the router', async () => {
    const before = reached
    const { ws, closed } = await openSocket()
    ws.on('error', () => {})
    ws.send(JSON.stringify({ id: 1, channel: 'drafts:save', payload: { draft: 'x'.repeat(40 * 1024 * 1024) } }))
    expect(await closed).toBe(1009)
    expect(reached).toBe(before)
    await stillServing()
  })

  it('a 4-byte invalid UTF-8 text frame closes that socket with 1007', async () => {
    const { ws, closed } = await openSocket()
    ws.on('error', () => {})
    ws.send(Buffer.from([0xff, 0xfe, 0xc0, 0x80]), { binary: false })
    expect(await closed).toBe(1007)
    await stillServing()
  })

  it('a binary frame closes that socket with 1003', async () => {
    const { ws, closed } = await openSocket()
    ws.send(Buffer.from('{"id":1,"channel":"runs:list","payload":{}}'), { binary: true })
    expect(await closed).toBe(1003)
    await stillServing()
  })

  it('a 10 MB nested JSON message is refused without being parsed or reaching the router', async () => {
    const before = reached
    const depth = 5 * 1024 * 1024
    const { ws, closed, messages } = await openSocket()
    ws.send(`{"id":1,"channel":"drafts:save","payload":{"draft":${'['.repeat(depth)}${']'.repeat(depth)}}}`)
    expect(await closed).toBe(1008)
    expect(messages).toEqual([])
    expect(reached).toBe(before)
    await stillServing()
  })

  it('nesting up to the limit is fine; one level more is refused', async () => {
    const nested = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`
    // The envelope and the payload object take two levels.
    const { ws } = await openSocket()
    const ok = await callOnce(ws, 'drafts:save', { draft: JSON.parse(nested(MAX_JSON_DEPTH - 3)) as unknown })
    expect(ok).toEqual({ ok: true, value: { saved: true } })
    expect(jsonShapeProblem(Buffer.from(nested(MAX_JSON_DEPTH)))).toBeNull()
    expect(jsonShapeProblem(Buffer.from(nested(MAX_JSON_DEPTH + 1)))).toBe('too deep')
    // Brackets inside strings, escaped quotes included, do not count.
    expect(jsonShapeProblem(Buffer.from(`["\\"${'['.repeat(100)}"]`))).toBeNull()
    expect(jsonShapeProblem(Buffer.from(`[${'0,'.repeat(300_000)}0]`))).toBe('too many items')
    expect(jsonShapeProblem(Buffer.from('["unterminated'))).toBe('malformed')
    ws.close()
  })

  it('logged no unexpected server error along the way', () => {
    expect(logged).toEqual([])
  })
})

describe('tokens and hosts', () => {
  it('refuses a token shorter than 128 bits, with a clear message', async () => {
    const router = createRouter({})
    for (const token of ['a', 'ab'.repeat(15) + 'a', 'not hex at all, but long enough to pass a length check']) {
      await expect(startBrowserServer({ router, hub, staticDir: tmpdir(), token })).rejects.toThrow(
        /token was refused: it (has \d+ characters?, and at least 32 \(128 bits\)|must contain only hexadecimal)/,
      )
    }
    expect(tokenProblem('0123456789abcdef0123456789ABCDEF')).toBeNull()
    expect(launchProblem({ host: '127.0.0.1', allowRemote: false, token: 'a', port: 0 })).toMatch(
      /^TUNEWISE_TOKEN was refused: it has 1 character, and at least 32 \(128 bits\) are needed;/,
    )
  })

  it('refuses a non-loopback host unless remote access is allowed explicitly', async () => {
    await expect(
      startBrowserServer({ router: createRouter({}), hub, staticDir: tmpdir(), host: '0.0.0.0' }),
    ).rejects.toThrow(/not a loopback address/)
    expect(launchProblem({ host: '0.0.0.0', allowRemote: false, token: undefined, port: 0 })).toBe(
      '--host 0.0.0.0 would open Tunewise to other machines over plain HTTP, so it needs --allow-remote as well.',
    )
    expect(launchProblem({ host: '0.0.0.0', allowRemote: true, token: undefined, port: 0 })).toBeNull()
    expect(launchProblem({ host: '127.0.0.1', allowRemote: false, token: undefined, port: 0 })).toBeNull()
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(h)).toBe(true)
    for (const h of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '::ffff:10.0.0.1']) {
      expect(isLoopbackHost(h)).toBe(false)
    }
  })

  it('answers to the loopback names on loopback, to the bound name on a remote host, to local addresses on a wildcard', () => {
    expect([...servedHosts('127.0.0.1', 5000)].sort()).toEqual(['127.0.0.1:5000', '[::1]:5000', 'localhost:5000'])
    expect([...servedHosts('192.168.1.5', 5000)]).toEqual(['192.168.1.5:5000'])
    const nets = {
      eth0: [
        { address: '10.1.2.3', family: 'IPv4' },
        { address: 'fe80::1%eth0', family: 'IPv6' },
        { address: 'FD00::5', family: 'IPv6' },
      ],
    } as unknown as Parameters<typeof servedHosts>[2]
    expect([...servedHosts('0.0.0.0', 80, nets, 'Box')].sort()).toEqual(
      [
        '127.0.0.1',
        '127.0.0.1:80',
        'localhost',
        'localhost:80',
        '[::1]',
        '[::1]:80',
        '10.1.2.3',
        '10.1.2.3:80',
        '[fd00::5]',
        '[fd00::5]:80',
        'box',
        'box:80',
      ].sort(),
    )
  })
})
