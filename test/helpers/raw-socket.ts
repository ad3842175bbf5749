/**
 * Raw HTTP and WebSocket bytes for tests that must send what no well-behaved client would:
 * malformed request lines, lying frame lengths, unmasked frames, invalid UTF-8.
 */
import { connect } from 'node:net'

export interface Exchange {
  /** Every byte the server sent before the connection closed. */
  data: Buffer
  /** The client-side socket error, if any (a reset after the server refused is normal). */
  error: string | null
}

/**
 * Connects to 127.0.0.1:port and writes `first`. If `then` is given, it is written once the server
 * has answered the head (a `\r\n\r\n`), or immediately if `eager`. The client then half-closes
 * (with `endAfterAnswer`, only once the server has sent something: Node drops an answer still
 * being prepared when the client half-closes first) and resolves when the server closes.
 * A connection still open after `limitMs` is destroyed (a guard against a hung test, not a timing
 * check).
 */
export function exchange(
  port: number,
  first: Buffer | string,
  opts: { then?: Buffer[]; eager?: boolean; endAfterAnswer?: boolean; limitMs?: number } = {},
): Promise<Exchange> {
  return new Promise((done) => {
    const chunks: Buffer[] = []
    let error: string | null = null
    let sentRest = false
    const socket = connect({ host: '127.0.0.1', port })
    const guard = setTimeout(() => socket.destroy(), opts.limitMs ?? 10_000)
    const sendRest = (): void => {
      if (sentRest) return
      sentRest = true
      for (const b of opts.then ?? []) if (socket.writable) socket.write(b)
      if (socket.writable && (!opts.endAfterAnswer || chunks.length > 0)) socket.end()
    }
    socket.on('error', (err) => {
      error = err.message
    })
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      if (opts.then && !sentRest && Buffer.concat(chunks).includes('\r\n\r\n')) sendRest()
      else if (opts.endAfterAnswer && sentRest && socket.writable) socket.end()
    })
    socket.on('close', () => {
      clearTimeout(guard)
      done({ data: Buffer.concat(chunks), error })
    })
    socket.on('connect', () => {
      socket.write(first)
      if (!opts.then || opts.eager) sendRest()
    })
  })
}

/** The status code of the first response in `data`, or null when there is none. */
export function statusOf(data: Buffer): number | null {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(data.subarray(0, 32).toString('latin1'))
  return m ? Number(m[1]) : null
}

/** The bytes after the first response head (WebSocket frames after a 101). */
export function afterHead(data: Buffer): Buffer {
  const i = data.indexOf('\r\n\r\n')
  return i < 0 ? Buffer.alloc(0) : data.subarray(i + 4)
}

export interface HandshakeOptions {
  host: string
  path?: string
  /** null leaves the header out. */
  origin?: string | null
  /** Sec-WebSocket-Protocol value; null leaves it out. */
  protocols?: string | null
  key?: string
  version?: string
  extra?: string[]
}

/** A client opening handshake for a WebSocket. */
export function handshake(o: HandshakeOptions): string {
  const lines = [
    `GET ${o.path ?? '/ws'} HTTP/1.1`,
    `Host: ${o.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${o.key ?? 'dGhlIHNhbXBsZSBub25jZQ=='}`,
    `Sec-WebSocket-Version: ${o.version ?? '13'}`,
  ]
  if (o.origin !== null && o.origin !== undefined) lines.push(`Origin: ${o.origin}`)
  if (o.protocols !== null && o.protocols !== undefined) lines.push(`Sec-WebSocket-Protocol: ${o.protocols}`)
  lines.push(...(o.extra ?? []))
  return `${lines.join('\r\n')}\r\n\r\n`
}

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const

/**
 * One WebSocket frame as a client sends it (masked unless `mask: false`). `claimedLength` writes a
 * length header that differs from the payload actually appended (truncated or oversized claims).
 */
export function frame(
  opcode: number,
  payload: Buffer | string,
  o: { fin?: boolean; mask?: boolean; rsv?: number; claimedLength?: number } = {},
): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const length = o.claimedLength ?? body.length
  const mask = o.mask ?? true
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f)]
  const maskBit = mask ? 0x80 : 0
  let ext: Buffer
  if (length < 126) {
    head.push(maskBit | length)
    ext = Buffer.alloc(0)
  } else if (length < 65536) {
    head.push(maskBit | 126)
    ext = Buffer.alloc(2)
    ext.writeUInt16BE(length)
  } else {
    head.push(maskBit | 127)
    ext = Buffer.alloc(8)
    ext.writeBigUInt64BE(BigInt(length))
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, body])
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d])
  const masked = Buffer.alloc(body.length)
  for (let i = 0; i < body.length; i++) masked[i] = body[i]! ^ key[i % 4]!
  return Buffer.concat([Buffer.from(head), ext, key, masked])
}

/** Server frames (unmasked) in `data`; a trailing partial frame is ignored. */
export function serverFrames(data: Buffer): { opcode: number; payload: Buffer }[] {
  const frames: { opcode: number; payload: Buffer }[] = []
  let i = 0
  while (i + 2 <= data.length) {
    const opcode = data[i]! & 0x0f
    let len = data[i + 1]! & 0x7f
    let at = i + 2
    if (len === 126) {
      if (at + 2 > data.length) break
      len = data.readUInt16BE(at)
      at += 2
    } else if (len === 127) {
      if (at + 8 > data.length) break
      len = Number(data.readBigUInt64BE(at))
      at += 8
    }
    if (at + len > data.length) break
    frames.push({ opcode, payload: data.subarray(at, at + len) })
    i = at + len
  }
  return frames
}

/** The close code in a server's close frame, if it sent one. */
export function closeCode(frames: { opcode: number; payload: Buffer }[]): number | null {
  const close = frames.find((f) => f.opcode === OP.close)
  return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null
}
