import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ModelService } from '../../src/main/api/model-service'
import { EventHub } from '../../src/main/ipc'
import type { Repositories } from '../../src/main/db/repositories'
import { defaultRunConfig } from '../../src/shared/run-config'

const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('the estimate’s timing probe', () => {
  it('runs once for estimates asked while it measures, and is remembered after', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tunewise-probe-'))
    dirs.push(dataDir)
    let probes = 0
    let finish: (v: { backend: string; secondsPerImage: number }) => void = () => undefined
    const tasks = {
      run: (kind: string) => {
        expect(kind).toBe('probe')
        probes++
        return new Promise((ok) => (finish = ok))
      },
    } as unknown as ConstructorParameters<typeof ModelService>[3]
    const svc = new ModelService(dataDir, new EventHub(), {} as Repositories, tasks)
    const config = defaultRunConfig('mobilenet-v2-nsfwjs', 'd', 'x')
    await svc.list() // the catalogue's module loaded, so the three estimates reach the probe together
    const asked = [svc.estimate(config, 100), svc.estimate(config, 100), svc.estimate(config, 200)]
    await vi.waitFor(() => expect(probes).toBeGreaterThan(0))
    // Without sharing, the other two would have started their own probes by now.
    await new Promise((r) => setTimeout(r, 200))
    expect(probes).toBe(1)
    finish({ backend: process.env.TUNEWISE_BACKEND ?? 'wasm', secondsPerImage: 0.05 })
    const [a, b, c] = await Promise.all(asked)
    expect(a.totalSeconds).toBe(b.totalSeconds)
    expect(c.extractionSeconds).toBeGreaterThan(a.extractionSeconds)
    const timings = join(dataDir, 'cache', 'timings.json')
    expect(existsSync(timings)).toBe(true)
    expect(Object.values(JSON.parse(readFileSync(timings, 'utf8')) as Record<string, number>)).toEqual([0.05])
    await svc.estimate(config, 100)
    expect(probes).toBe(1)
  })
})
