/**
 * Browser mode: serves the built renderer over HTTP and the same router over a WebSocket.
 * Every request needs the per-launch token (in the URL once, then an HttpOnly cookie); without it
 * the server answers 403 and the socket is refused — no data, no page.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import type { EventHub, Router } from './ipc'
import { CONTENT_SECURITY_POLICY } from './security'

export interface BrowserServerOptions {
  router: Router
  hub: EventHub
  /** Folder with the built renderer (index.html and assets). */
  staticDir: string
  /** Interface to bind. Default 127.0.0.1; `--host 0.0.0.0` opens it to the network (token still required). */
  host?: string
  /** Port; 0 picks a free one. */
  port?: number
  token?: string
}

export interface BrowserServer {
  url: string
  port: number
  token: string
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
}

const COOKIE = 'tunewise_token'

function sameToken(a: string | null | undefined, b: string): boolean {
  if (!a) return false
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function tokenFrom(req: IncomingMessage): { query: string | null; cookie: string | null } {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const cookies = Object.fromEntries(
    (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim().split('='))
      .filter((p) => p.length === 2),
  ) as Record<string, string>
  return { query: url.searchParams.get('token'), cookie: cookies[COOKIE] ?? null }
}

export async function startBrowserServer(opts: BrowserServerOptions): Promise<BrowserServer> {
  const token = opts.token ?? randomBytes(24).toString('hex')
  const root = resolve(opts.staticDir)
  const host = opts.host ?? '127.0.0.1'

  const authorised = (req: IncomingMessage): boolean => {
    const t = tokenFrom(req)
    return sameToken(t.query, token) || sameToken(t.cookie, token)
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!authorised(req)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('Forbidden: open the exact URL Tunewise printed (it carries a one-time token).')
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    let rel = decodeURIComponent(url.pathname)
    if (rel === '/' || rel === '') rel = '/index.html'
    const file = normalize(join(root, rel))
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('Not found')
      return
    }
    const headers: Record<string, string> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    }
    if (sameToken(tokenFrom(req).query, token)) {
      headers['set-cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`
    }
    res.writeHead(200, headers)
    createReadStream(file).pipe(res)
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: 40 * 1024 * 1024 })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== '/ws' || !authorised(req)) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })

  wss.on('connection', (ws: WebSocket) => {
    const unsubscribe = opts.hub.subscribe((event, payload) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event, payload }))
    })
    ws.on('close', unsubscribe)
    ws.on('message', async (raw) => {
      let msg: { id?: unknown; channel?: unknown; payload?: unknown }
      try {
        msg = JSON.parse(String(raw)) as typeof msg
      } catch {
        return
      }
      if (typeof msg.id !== 'number' || typeof msg.channel !== 'string') return
      const result = await opts.router.call(msg.channel, msg.payload)
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: msg.id, result }))
    })
  })

  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(opts.port ?? 0, host, () => ok())
  })
  const port = (server.address() as AddressInfo).port
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((ok) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.close(() => ok())
        server.closeAllConnections()
      }),
  }
}
