import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startBrowserServer, type BrowserServer } from '../../src/main/browser-server'
import { createRouter, EventHub } from '../../src/main/ipc'

let server: BrowserServer
const hub = new EventHub()
let reached = 0

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-static-'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tunewise</title>')
  writeFileSync(join(dir, 'secret.txt'), 'outside?')
  const router = createRouter({
    'runs:list': () => {
      reached++
      return []
    },
  })
  server = await startBrowserServer({ router, hub, staticDir: dir, port: 0 })
})
afterAll(() => server.close())

function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => ok(ws))
    ws.once('error', fail)
    ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)))
  })
}

function callOnce(ws: WebSocket, channel: string, payload: unknown): Promise<unknown> {
  return new Promise((ok) => {
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { id?: number; result?: unknown }
      if (msg.id === 1) ok(msg.result)
    })
    ws.send(JSON.stringify({ id: 1, channel, payload }))
  })
}

describe('browser mode server', () => {
  it('binds to loopback and prints a URL with the token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/)
  })

  it('refuses the page without or with a wrong token', async () => {
    const base = `http://127.0.0.1:${server.port}`
    for (const url of [`${base}/`, `${base}/?token=wrong`, `${base}/index.html?token=${'0'.repeat(48)}`]) {
      const res = await fetch(url)
      expect(res.status).toBe(403)
      expect(await res.text()).not.toContain('Tunewise</title>')
    }
  })

  it('serves the page with the token, sets a cookie for the assets, and a CSP', async () => {
    const res = await fetch(server.url)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('<title>Tunewise</title>')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    const asset = await fetch(`http://127.0.0.1:${server.port}/index.html`, { headers: { cookie } })
    expect(asset.status).toBe(200)
    const escape = await fetch(`http://127.0.0.1:${server.port}/..%2F..%2Fetc%2Fpasswd`, { headers: { cookie } })
    expect(escape.status).toBe(404)
  })

  it('refuses the WebSocket without the token and the handler is never reached', async () => {
    const before = reached
    await expect(openSocket(`ws://127.0.0.1:${server.port}/ws`)).rejects.toThrow(/403/)
    await expect(openSocket(`ws://127.0.0.1:${server.port}/ws?token=nope`)).rejects.toThrow(/403/)
    expect(reached).toBe(before)
  })

  it('answers calls and forwards events with the token', async () => {
    const ws = await openSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`)
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
})
