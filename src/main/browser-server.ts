/**
 * Browser mode: serves the built renderer over HTTP and the same router over a WebSocket, to the
 * page that holds the per-launch token and to nothing else, however hostile the request.
 *
 * The token, and why it travels the way it does:
 * - It is random (192 bits), or TUNEWISE_TOKEN if that has at least 128 bits. The printed URL
 *   carries it once, as `?token=`. The page keeps it in sessionStorage (scoped to this origin,
 *   port included) and removes it from the address bar (`takeBrowserToken` in ws-client.ts).
 * - Data only flows over the WebSocket, and the socket needs the token itself, sent as a
 *   subprotocol (`Sec-WebSocket-Protocol: tunewise, tunewise.<token>`; the server answers
 *   `tunewise`, so the token is never echoed), and an Origin that is this server's own.
 *   A cookie never opens the socket.
 * - Static files (the renderer bundle, nothing else) open with the URL token or with a cookie set
 *   on that first load. Cookies ignore ports: every other server on this host receives the cookie.
 *   So it holds an HMAC of the token that opens static files only, never the token.
 * - `/ws?token=` does not open the socket (ACCEPT_QUERY_TOKEN_ON_SOCKET is off): a token in a URL
 *   ends up in logs and history.
 *
 * Hostile requests: every request target is parsed defensively (a bad URL or percent-encoding is a
 * 400, never a throw); the HTTP handler and the upgrade handler each answer 500 on any surprise;
 * every socket has an error handler; the Host header must name this server (DNS rebinding gets a
 * 421); a foreign Origin gets a 403. WebSocket messages are text only, at most MAX_MESSAGE_BYTES
 * (refused from the frame header, before buffering), and their JSON nesting and item count are
 * bounded by a linear byte scan before JSON.parse sees them.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, statSync, type Stats } from 'node:fs'
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import { isIP, isIPv4, isIPv6, type AddressInfo } from 'node:net'
import { hostname, networkInterfaces } from 'node:os'
import { extname, join, normalize, resolve, sep } from 'node:path'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { Result } from '../shared/contract'
import type { EventHub, Router } from './ipc'
import { CONTENT_SECURITY_POLICY } from './security'

export interface BrowserServerOptions {
  router: Router
  hub: EventHub
  /** Folder with the built renderer (index.html and assets). */
  staticDir: string
  /** Interface to bind. Default 127.0.0.1. Anything but loopback also needs `allowRemote`. */
  host?: string
  /** Must be true to bind a non-loopback host (`--allow-remote`). Default false. */
  allowRemote?: boolean
  /** Port; 0 picks a free one. */
  port?: number
  /** Per-launch token: at least 32 hexadecimal characters (128 bits). Default: 48 random ones. */
  token?: string
  /** Where unexpected server-side errors are written. Default console.error. */
  log?: (msg: string) => void
}

export interface BrowserServer {
  url: string
  port: number
  token: string
  close(): Promise<void>
}

/**
 * Largest WebSocket message accepted, in bytes: 32 MiB. `runs:predict` takes a dropped image as a
 * data URL of up to 30,000,000 characters; the envelope adds a little. A larger frame is refused
 * from its header (close 1009), before its payload is buffered.
 */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024
/** Deepest array/object nesting accepted in a message. Real messages nest less than 10 deep. */
export const MAX_JSON_DEPTH = 64
/**
 * Most commas (array items plus object members) in one message. The longest real list,
 * `datasets:exclude`'s files, has 100,000; a 32 MB array of small numbers would block JSON.parse
 * for seconds.
 */
export const MAX_JSON_ITEMS = 200_000
/** Longest request line target and largest header block accepted over HTTP, in bytes. */
const MAX_TARGET_CHARS = 8192
const MAX_HEADER_BYTES = 16 * 1024
/** Calls one socket may have waiting on the router at once; more are answered `unavailable`. */
const MAX_IN_FLIGHT = 64
/** Sockets open at once (a tab uses one); more are refused with 503. */
const MAX_SOCKETS = 32
/** Bytes queued for a socket that does not read before it is dropped. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024
/** Longest channel name accepted; real ones are under 30 characters. */
const MAX_CHANNEL_CHARS = 100

/** See the header comment: the query token on /ws stays until the renderer sends the subprotocol. */
const ACCEPT_QUERY_TOKEN_ON_SOCKET = false

/** The subprotocol the server selects; the token rides in a second one, `tunewise.<token>`. */
export const SOCKET_PROTOCOL = 'tunewise'

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

const COOKIE = 'tunewise_static'

/** Why a token is refused, or null when it is fine: 32-256 hexadecimal characters. */
export function tokenProblem(token: string): string | null {
  if (!/^[0-9a-fA-F]*$/.test(token)) return 'it must contain only hexadecimal characters (0-9, a-f)'
  const chars = `${token.length} character${token.length === 1 ? '' : 's'}`
  if (token.length < 32) return `it has ${chars}, and at least 32 (128 bits) are needed`
  if (token.length > 256) return `it has ${chars}, and at most 256 are allowed`
  return null
}

export interface LaunchOptions {
  host: string
  allowRemote: boolean
  /** TUNEWISE_TOKEN, or undefined for a random token. */
  token: string | undefined
  port: number
}

/** Why `npm run serve` must not start with these options, in one plain sentence; or null. */
export function launchProblem(o: LaunchOptions): string | null {
  const problem = o.token === undefined ? null : tokenProblem(o.token)
  if (problem) {
    return `TUNEWISE_TOKEN was refused: ${problem}; unset it for a random token, or make one with \`openssl rand -hex 24\`.`
  }
  if (!isLoopbackHost(o.host) && !o.allowRemote) {
    return `--host ${o.host} would open Tunewise to other machines over plain HTTP, so it needs --allow-remote as well.`
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) return '--port must be a number from 0 to 65535.'
  return null
}

/** The warning printed when `--allow-remote` opens browser mode to the network. */
export function remoteWarning(host: string): string {
  return `Warning: --allow-remote: Tunewise listens on ${host} over plain HTTP; anyone who can see the URL or the traffic (the token included) can use it and read your data. Use it only on a network you trust, and stop it with Ctrl+C when done.`
}

function bare(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
}

/** True for names and addresses that only this machine can reach: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = bare(host)
  if (h === 'localhost') return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h)
  return false
}

function isWildcardHost(host: string): boolean {
  const h = bare(host)
  return h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0'
}

/** A host as it appears in a Host header: lower case, IPv6 in brackets. */
function hostName(host: string): string {
  const h = bare(host)
  return isIP(h) === 6 ? `[${h}]` : h
}

/**
 * The Host header values this server answers to. Bound to loopback: 127.0.0.1, localhost and
 * [::1] (plus the bound address). Bound to one remote address: that address. Bound to a wildcard:
 * the loopback names, every address of this machine and its host name. Each with the port, and
 * also without it on port 80.
 */
export function servedHosts(
  bindHost: string,
  port: number,
  nets: ReturnType<typeof networkInterfaces> = networkInterfaces(),
  machineName: string = hostname(),
): Set<string> {
  const names = new Set<string>()
  const loopback = ['127.0.0.1', 'localhost', '[::1]']
  if (isLoopbackHost(bindHost)) {
    for (const n of [...loopback, hostName(bindHost)]) names.add(n)
  } else if (isWildcardHost(bindHost)) {
    for (const n of loopback) names.add(n)
    for (const list of Object.values(nets)) {
      for (const a of list ?? []) if (!a.address.includes('%')) names.add(hostName(a.address))
    }
    if (machineName) names.add(machineName.toLowerCase())
  } else {
    names.add(hostName(bindHost))
  }
  const out = new Set<string>()
  for (const n of names) {
    out.add(`${n}:${port}`)
    if (port === 80) out.add(n)
  }
  return out
}

function sameSecret(a: string | null | undefined, b: string): boolean {
  if (!a) return false
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

interface Target {
  /** Decoded path, starting with '/'. */
  path: string
  token: string | null
}

/** Parses a request target (origin-form only); null for anything malformed. Never throws. */
function parseTarget(raw: string | undefined): Target | null {
  if (!raw || raw[0] !== '/' || raw.startsWith('//') || raw.length > MAX_TARGET_CHARS) return null
  let url: URL
  let path: string
  try {
    url = new URL(raw, 'http://target.invalid')
    path = decodeURIComponent(url.pathname)
  } catch {
    return null
  }
  if (path.includes('\0')) return null
  return { path, token: url.searchParams.get('token') }
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (typeof header !== 'string') return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

function headerValue(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name]
  return typeof v === 'string' ? v : null
}

/** Token from the `tunewise.<token>` subprotocol, if offered. */
function protocolToken(req: IncomingMessage): string | null {
  const header = headerValue(req, 'sec-websocket-protocol')
  if (!header) return null
  for (const p of header.split(',')) {
    const t = p.trim()
    if (t.startsWith(`${SOCKET_PROTOCOL}.`)) return t.slice(SOCKET_PROTOCOL.length + 1)
  }
  return null
}

/**
 * Why a message's JSON shape is refused ('too deep', 'too many items', 'malformed'), or null.
 * One pass over the bytes, skipping strings with indexOf: multi-byte UTF-8 never contains the
 * ASCII bytes looked for, so working on bytes is exact.
 */
export function jsonShapeProblem(buf: Uint8Array, maxDepth = MAX_JSON_DEPTH, maxItems = MAX_JSON_ITEMS): string | null {
  let depth = 0
  let items = 0
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]
    if (c === 0x22) {
      // Find the closing quote: one preceded by an even number of backslashes.
      let j = i
      for (;;) {
        j = buf.indexOf(0x22, j + 1)
        if (j < 0) return 'malformed'
        let k = j - 1
        while (buf[k] === 0x5c) k--
        if ((j - 1 - k) % 2 === 0) break
      }
      i = j
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return 'too deep'
    } else if (c === 0x5d || c === 0x7d) {
      if (--depth < 0) return 'malformed'
    } else if (c === 0x2c) {
      if (++items > maxItems) return 'too many items'
    }
  }
  return null
}

/** A file's stat, or null for any failure (missing, name too long, not a directory on the way). */
function statOrNull(file: string): Stats | null {
  try {
    return statSync(file)
  } catch {
    return null
  }
}

/** An unexpected error as one bounded log line: hostile input can make its message huge. */
function describeError(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err)
  return `[browser-server] ${text.length > 2000 ? `${text.slice(0, 2000)}…` : text}`
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

/** Answers a raw socket with a bare status line and closes it once written. */
function refuseSocket(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  socket.once('finish', () => socket.destroy())
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

function answer(res: ServerResponse, status: number, body = ''): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    connection: 'close',
  })
  res.end(body)
}

export async function startBrowserServer(opts: BrowserServerOptions): Promise<BrowserServer> {
  const token = opts.token ?? randomBytes(24).toString('hex')
  const problem = tokenProblem(token)
  if (problem) throw new Error(`The browser-mode token was refused: ${problem}. Leave it unset to get a random one.`)
  const host = bare(opts.host ?? '127.0.0.1')
  if (!isLoopbackHost(host) && !opts.allowRemote) {
    throw new Error(`Refusing to listen on ${host}: it is not a loopback address; pass allowRemote (--allow-remote).`)
  }
  const root = resolve(opts.staticDir)
  const log = opts.log ?? ((msg: string) => console.error(msg))
  const staticKey = createHmac('sha256', token).update('tunewise static files').digest('hex')
  // Filled in once the port is known; until then nothing is served.
  let hosts = new Set<string>()
  let allowedOrigins = new Set<string>()

  // Node keeps the first of several Host headers; a proxy may read another, so more than one is refused.
  const hostOk = (req: IncomingMessage): boolean =>
    req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host').length === 1 &&
    hosts.has((headerValue(req, 'host') ?? '').toLowerCase())
  const originOk = (origin: string | null): boolean => origin !== null && allowedOrigins.has(origin.toLowerCase())

  const serveStatic = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return answer(res, 405)
    }
    if (!hostOk(req)) return answer(res, 421)
    const origin = headerValue(req, 'origin')
    if (origin !== null && !originOk(origin)) return answer(res, 403)
    const target = parseTarget(req.url)
    if (!target) return answer(res, 400, 'Bad request.')
    const fromUrl = sameSecret(target.token, token)
    if (!fromUrl && !sameSecret(cookieValue(req.headers.cookie, COOKIE), staticKey)) {
      return answer(res, 403, 'Forbidden: open the exact URL Tunewise printed (it carries a one-time token).')
    }
    const rel = target.path === '/' ? '/index.html' : target.path
    const file = normalize(join(root, rel))
    const stat = file.startsWith(root + sep) ? statOrNull(file) : null
    if (!stat?.isFile()) return answer(res, 404, 'Not found.')
    const headers: Record<string, string | number> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-resource-policy': 'same-origin',
      'cross-origin-opener-policy': 'same-origin',
      'cache-control': 'no-store',
    }
    if (fromUrl) headers['set-cookie'] = `${COOKIE}=${staticKey}; HttpOnly; SameSite=Strict; Path=/`
    res.writeHead(200, headers)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    pipeline(createReadStream(file), res, () => {
      // A client that hangs up mid-file is not an error; pipeline has already closed both ends.
    })
  }

  const server = createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000 },
    (req, res) => {
      try {
        serveStatic(req, res)
      } catch (err) {
        log(describeError(err))
        try {
          answer(res, 500)
        } catch {
          res.destroy()
        }
      }
    },
  )
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's default handler does: a status line written while an earlier pipelined answer is
    // still going out would corrupt it, so then the connection is just dropped.
    const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
    if (err.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) return void socket.destroy()
    refuseSocket(socket, err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400)
  })

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    // Only called once the token has been checked: select the plain protocol, not the token.
    handleProtocols: (offered) =>
      offered.has(SOCKET_PROTOCOL)
        ? SOCKET_PROTOCOL
        : ([...offered].find((p) => p.startsWith(`${SOCKET_PROTOCOL}.`)) ?? false),
  })
  wss.on('error', (err) => log(`[browser-server] ${err.message}`))

  /** Status to refuse an upgrade with, or 0 to accept it. */
  const upgradeRefusal = (req: IncomingMessage): number => {
    if ((headerValue(req, 'upgrade') ?? '').toLowerCase() !== 'websocket') return 400
    if (!hostOk(req)) return 421
    const target = parseTarget(req.url)
    if (!target) return 400
    if (target.path !== '/ws') return 404
    if (!originOk(headerValue(req, 'origin'))) return 403
    const authorised =
      sameSecret(protocolToken(req), token) || (ACCEPT_QUERY_TOKEN_ON_SOCKET && sameSecret(target.token, token))
    if (!authorised) return 403
    if (wss.clients.size >= MAX_SOCKETS) return 503
    return 0
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the socket over without its own error handler.
    socket.on('error', () => socket.destroy())
    try {
      const refusal = upgradeRefusal(req)
      if (refusal) return refuseSocket(socket, refusal)
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
    } catch (err) {
      log(describeError(err))
      refuseSocket(socket, 500)
    }
  })

  wss.on('connection', (ws: WebSocket) => {
    // Protocol errors (bad UTF-8, oversized or malformed frames): ws has already written its close
    // frame (1007, 1009, 1002) before it emits this; nothing more is read from such a peer.
    ws.on('error', () => ws.terminate())
    const send = (data: string): void => {
      if (ws.readyState !== ws.OPEN) return
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return void ws.terminate()
      ws.send(data)
    }
    const reply = (id: number, result: Result<unknown>): void => {
      let text: string
      try {
        text = JSON.stringify({ id, result })
      } catch {
        text = JSON.stringify({ id, result: { ok: false, error: { code: 'internal', message: 'Unsendable answer.' } } })
      }
      send(text)
    }
    const unsubscribe = opts.hub.subscribe((event, payload) => send(JSON.stringify({ event, payload })))
    ws.on('close', unsubscribe)

    let inFlight = 0
    const onMessage = async (data: RawData, isBinary: boolean): Promise<void> => {
      if (ws.readyState !== ws.OPEN) return
      if (isBinary) return ws.close(1003, 'Text messages only.')
      const buf = toBuffer(data)
      if (buf.length > MAX_MESSAGE_BYTES) return ws.close(1009, 'Message too big.')
      const shape = jsonShapeProblem(buf)
      if (shape) return ws.close(1008, `JSON ${shape}.`)
      let msg: unknown
      try {
        msg = JSON.parse(buf.toString('utf8'))
      } catch {
        return ws.close(1008, 'Not JSON.')
      }
      const m = msg as { id?: unknown; channel?: unknown; payload?: unknown } | null
      if (
        typeof m !== 'object' ||
        m === null ||
        Array.isArray(m) ||
        typeof m.id !== 'number' ||
        !Number.isSafeInteger(m.id) ||
        typeof m.channel !== 'string' ||
        m.channel.length > MAX_CHANNEL_CHARS
      ) {
        return ws.close(1008, 'Expected {id, channel, payload}.')
      }
      const id = m.id
      if (inFlight >= MAX_IN_FLIGHT) {
        return reply(id, {
          ok: false,
          error: { code: 'unavailable', message: 'Too many calls at once on this connection; try again shortly.' },
        })
      }
      inFlight++
      let result: Result<unknown>
      try {
        result = await opts.router.call(m.channel, m.payload)
      } catch (err) {
        log(describeError(err))
        result = { ok: false, error: { code: 'internal', message: 'Something went wrong.' } }
      } finally {
        inFlight--
      }
      reply(id, result)
    }
    ws.on('message', (data, isBinary) => {
      onMessage(data, isBinary).catch((err: unknown) => {
        log(describeError(err))
        ws.terminate()
      })
    })
  })

  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', fail)
      ok()
    })
  })
  // After listening, an error (say, too many open files on accept) is logged, not fatal.
  server.on('error', (err) => log(`[browser-server] ${err.message}`))
  const port = (server.address() as AddressInfo).port
  hosts = servedHosts(host, port)
  allowedOrigins = new Set([...hosts].map((h) => `http://${h}`))
  const shownHost = isWildcardHost(host) ? '127.0.0.1' : host
  return {
    url: `http://${hostName(shownHost)}:${port}/?token=${token}`,
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
