/**
 * The preload hands the page plain `{ok}` envelopes (an Error thrown across contextBridge loses its
 * code), and the page rebuilds the error with its code. Electron is mocked: no window opens here.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { PreloadApi } from '../../src/shared/contract'
import { TunewiseError, unwrapResult } from '../../src/shared/channels'

const exposed: Record<string, unknown> = {}
const invoke = vi.fn()
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (name: string, api: unknown) => (exposed[name] = api) },
  ipcRenderer: { invoke: (...args: unknown[]) => invoke(...args), on: vi.fn(), removeListener: vi.fn() },
  webUtils: {
    getPathForFile: (file: { name: string }) => {
      if (file.name === 'broken') throw new Error('not a File')
      return file.name === 'pasted' ? '' : `/dropped/${file.name}`
    },
  },
}))

beforeEach(async () => {
  invoke.mockReset()
  if (!exposed.tunewise) await import('../../src/preload/index')
})

describe('the preload bridge', () => {
  it('passes an error envelope through as data, never as a thrown Error', async () => {
    const api = exposed.tunewise as PreloadApi
    invoke.mockResolvedValue({ ok: false, error: { code: 'conflict', message: 'Busy.' } })
    await expect(api.invoke('runs:list', {})).resolves.toEqual({
      ok: false,
      error: { code: 'conflict', message: 'Busy.' },
    })
    expect(invoke).toHaveBeenCalledWith('runs:list', {})
  })

  it('refuses an unknown channel without calling main', async () => {
    const api = exposed.tunewise as PreloadApi
    await expect(api.invoke('fs:delete-everything', {})).resolves.toMatchObject({
      ok: false,
      error: { code: 'invalid_input' },
    })
    expect(invoke).not.toHaveBeenCalled()
  })

  it('the page side rebuilds the error with its code', () => {
    expect(unwrapResult({ ok: true, value: 3 })).toBe(3)
    try {
      unwrapResult({ ok: false, error: { code: 'nan_loss', message: 'Diverged.' } })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(TunewiseError)
      expect(err).toMatchObject({ code: 'nan_loss', message: 'Diverged.' })
    }
  })

  it('gives a dropped folder its path, and an empty one for anything without a path', () => {
    const api = exposed.tunewise as PreloadApi
    expect(api.pathForFile({ name: 'holiday photos' } as File)).toBe('/dropped/holiday photos')
    expect(api.pathForFile({ name: 'pasted' } as File)).toBe('')
    expect(api.pathForFile({ name: 'broken' } as File)).toBe('')
  })
})
