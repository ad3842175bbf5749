import { describe, expect, it, vi } from 'vitest'
import { channelNames, eventNames } from '../../src/shared/channels'
import { contract, type Channel } from '../../src/shared/contract'
import { AppError } from '../../src/main/errors'
import { bindElectronIpc, createRouter, EventHub, type Handlers } from '../../src/main/ipc'

/** A handler per channel that records whether it was reached. */
function spyHandlers(): { handlers: Handlers; reached: Set<string> } {
  const reached = new Set<string>()
  const handlers = Object.fromEntries(
    Object.keys(contract).map((c) => [
      c,
      (input: unknown) => {
        reached.add(c)
        return { echoed: input }
      },
    ]),
  ) as unknown as Handlers
  return { handlers, reached }
}

// Payloads no channel accepts: wrong type entirely, or an unknown key on a strict object.
const malformed: unknown[] = ['not an object', 42, [1, 2], { unexpectedKey: true, runId: 'x', path: 7 }]

describe('router', () => {
  it('lists exactly the contract channels in the preload whitelist', () => {
    expect([...channelNames].sort()).toEqual(Object.keys(contract).sort())
    expect(new Set(eventNames).size).toBe(eventNames.length)
  })

  it.each(Object.keys(contract) as Channel[])(
    'answers invalid_input for malformed %s without reaching the handler',
    async (channel) => {
      const { handlers, reached } = spyHandlers()
      const router = createRouter(handlers)
      for (const payload of malformed) {
        const result = await router.call(channel, payload)
        expect(result.ok).toBe(false)
        if (!result.ok) expect(result.error.code).toBe('invalid_input')
      }
      expect(reached.has(channel)).toBe(false)
    },
  )

  it('passes parsed input (with defaults) to the handler', async () => {
    const { handlers, reached } = spyHandlers()
    const router = createRouter(handlers)
    const result = await router.call('runs:delete', { runId: 3 })
    expect(result).toEqual({ ok: true, value: { echoed: { runId: 3, keepArtifacts: false } } })
    expect(reached.has('runs:delete')).toBe(true)
  })

  it('rejects unknown channels', async () => {
    const router = createRouter(spyHandlers().handlers)
    const result = await router.call('fs:delete-everything', {})
    expect(result.ok).toBe(false)
  })

  it('turns AppError into its code and other errors into internal without a stack', async () => {
    const log = vi.fn()
    const router = createRouter(
      {
        'runs:get': () => {
          throw new AppError('not_found', 'Run 9 does not exist.')
        },
        'runs:list': () => {
          throw new Error('disk on fire')
        },
      },
      log,
    )
    expect(await router.call('runs:get', { runId: 9 })).toEqual({
      ok: false,
      error: { code: 'not_found', message: 'Run 9 does not exist.' },
    })
    const internal = await router.call('runs:list', {})
    expect(internal.ok).toBe(false)
    if (!internal.ok) {
      expect(internal.error.code).toBe('internal')
      expect(internal.error.message).not.toMatch(/\bat .*\(/)
    }
    expect(log).toHaveBeenCalledOnce()
  })
})

describe('Electron binding', () => {
  it('drops calls from any frame but our own window and never reaches the handler', async () => {
    const { handlers, reached } = spyHandlers()
    const router = createRouter(handlers)
    const registered = new Map<string, (event: { senderFrame: unknown }, payload: unknown) => unknown>()
    const ownFrame = { url: 'file:///app/index.html' }
    const foreignFrame = { url: 'https://evil.example/' }
    bindElectronIpc({ handle: (ch, fn) => registered.set(ch, fn) }, router, (frame) => frame === ownFrame)
    expect([...registered.keys()].sort()).toEqual(Object.keys(contract).sort())

    const listRuns = registered.get('runs:list')!
    const foreign = (await listRuns({ senderFrame: foreignFrame }, {})) as { ok: boolean }
    expect(foreign.ok).toBe(false)
    const orphan = (await listRuns({ senderFrame: null }, {})) as { ok: boolean }
    expect(orphan.ok).toBe(false)
    expect(reached.has('runs:list')).toBe(false)

    const own = (await listRuns({ senderFrame: ownFrame }, {})) as { ok: boolean }
    expect(own.ok).toBe(true)
    expect(reached.has('runs:list')).toBe(true)
  })
})

describe('EventHub', () => {
  it('fans out to every sink and survives a failing one', () => {
    const hub = new EventHub()
    const got: string[] = []
    hub.subscribe(() => {
      throw new Error('closed window')
    })
    const off = hub.subscribe((name) => got.push(name))
    hub.emit('run:status', { runId: 1, status: 'running' })
    off()
    hub.emit('run:status', { runId: 1, status: 'succeeded' })
    expect(got).toEqual(['run:status'])
  })
})
