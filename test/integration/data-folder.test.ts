/**
 * One app per data folder and faults that lose nothing: a second app on the same folder is
 * read-only while the first trains on; a stale lock is taken over; CLI read commands never mark a
 * live run interrupted; a database that cannot be written (a full disk) fails the run with its
 * code instead of taking the app down; Ctrl-C in the CLI cancels the run and waits for it.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { AppInfo, RunConfig, RunDetail } from '../../src/shared/types'
import { lockFile } from '../../src/main/data-lock'
import { createServices, INTERRUPTED_AT_START, type Services } from '../../src/main/services'
import { forkLauncher } from '../../src/main/tasks/worker-process'
import { startTinyServices, workerScript, type TinyServices } from '../helpers/tiny-services'

const root = mkdtempSync(join(tmpdir(), 'tw-folder-'))
const dataDir = join(root, 'home')
let tiny: TinyServices
const others: Services[] = []

function open(role: 'owner' | 'reader' = 'owner'): Services {
  const svc = createServices({ dataDir, mode: 'browser', launcher: forkLauncher, workerScript, role, log: () => {} })
  others.push(svc)
  return svc
}

async function call<T>(svc: Services, channel: string, payload: unknown): Promise<T> {
  const r = await svc.router.call(channel, payload)
  if (!r.ok) throw Object.assign(new Error(`${channel}: ${r.error.message}`), { code: r.error.code })
  return r.value as T
}

function config(name: string, epochs = 3): RunConfig {
  const c = defaultRunConfig(tiny.modelId, tiny.datasetId, name)
  c.hyper.epochs = epochs
  c.hyper.earlyStopping.enabled = false
  return c
}

beforeAll(async () => {
  tiny = await startTinyServices(root)
}, 60_000)

afterAll(() => {
  for (const s of others) s.close()
  tiny?.svc.close()
  rmSync(root, { recursive: true, force: true })
})

describe('one app per data folder', () => {
  it('a second app is read-only, says so, and the first one’s run still succeeds', async () => {
    const { svc } = tiny
    expect(svc.readOnly).toBe(false)
    const lock = JSON.parse(readFileSync(lockFile(dataDir), 'utf8')) as { pid: number; host: string }
    expect(lock).toMatchObject({ pid: process.pid, host: hostname() })

    const { runId } = await call<{ runId: number }>(svc, 'runs:start', { config: config('first') })
    const second = open()
    expect(second.readOnly).toBe(true)
    const info = await call<AppInfo>(second, 'app:info', {})
    expect(info).toMatchObject({ readOnly: true, lockHolder: { pid: process.pid } })
    // It reads the history, but does not train, write or cancel.
    expect((await call<RunDetail[]>(second, 'runs:list', {})).map((r) => r.id)).toContain(runId)
    for (const [channel, payload] of [
      ['runs:start', { config: config('second') }],
      ['runs:cancel', { runId }],
      ['runs:delete', { runId }],
    ] as const) {
      await expect(call(second, channel, payload)).rejects.toMatchObject({ code: 'conflict' })
    }
    await expect(call(second, 'runs:start', { config: config('x') })).rejects.toThrow(/read-only/)
    expect(await call(second, 'drafts:save', { draft: { a: 1 } })).toEqual({ saved: false })
    // Opening it did not mark the first app's live run interrupted.
    expect((await call<RunDetail>(svc, 'runs:get', { runId })).status).not.toBe('interrupted')
    second.close()
    // Closing the read-only one leaves the owner's lock in place.
    expect(existsSync(lockFile(dataDir))).toBe(true)

    await svc.jobs.whenIdle()
    expect((await call<RunDetail>(svc, 'runs:get', { runId })).status).toBe('succeeded')
  }, 60_000)

  it('a CLI read command (reader) never recovers runs; only the owner does', async () => {
    const { svc } = tiny
    const runId = svc.repos.runs.create(config('left running'))
    svc.repos.runs.setStatus(runId, 'running', { startedAt: new Date().toISOString() })
    const reader = open('reader')
    expect(reader.readOnly).toBe(true)
    expect((await call<RunDetail>(reader, 'runs:get', { runId })).status).toBe('running')
    reader.close()
    svc.repos.runs.setStatus(runId, 'cancelled')
  })

  it('takes over a lock whose process is gone, and recovers that app’s runs and temporary files', async () => {
    tiny.svc.close()
    // A crashed app: its lock names a process that no longer exists, its run was still training,
    // and its worker died halfway through writing the model.
    const crashed = open()
    const runId = crashed.repos.runs.create(config('crashed'))
    crashed.repos.runs.setStatus(runId, 'running', { startedAt: new Date().toISOString() })
    crashed.close()
    const half = join(dataDir, 'runs', String(runId), 'model.tmp-123')
    mkdirSync(half, { recursive: true })
    writeFileSync(join(half, 'weights.bin'), 'partial')
    const stamp = new Date().toISOString()
    writeFileSync(
      lockFile(dataDir),
      JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), startedAt: stamp, heartbeat: stamp }),
    )

    const next = open()
    expect(next.readOnly).toBe(false)
    const run = await call<RunDetail>(next, 'runs:get', { runId })
    expect(run).toMatchObject({ status: 'interrupted', error: INTERRUPTED_AT_START, errorCode: 'interrupted' })
    expect(existsSync(half)).toBe(false)
    tiny.svc = next
  })
})

describe('a database that cannot be written', () => {
  it('fails the run with disk_full and the space left, keeps the app up and the database intact', async () => {
    const { svc } = tiny
    const runs = svc.repos.runs
    const original = runs.addMetrics.bind(runs)
    runs.addMetrics = () => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
    }
    try {
      const { runId } = await call<{ runId: number }>(svc, 'runs:start', { config: config('full disk', 5) })
      await svc.jobs.whenIdle()
      const run = await call<RunDetail>(svc, 'runs:get', { runId })
      expect(run.status).toBe('failed')
      expect(run.errorCode).toBe('disk_full')
      expect(run.error).toMatch(/MB are free on the disk that holds the data folder/)
      expect(svc.db.pragma('integrity_check', { simple: true })).toBe('ok')
      expect(svc.jobs.status().runId).toBeNull()
    } finally {
      runs.addMetrics = original
    }
    // The app goes on: the next run trains and records normally.
    const { runId } = await call<{ runId: number }>(svc, 'runs:start', { config: config('after', 2) })
    await svc.jobs.whenIdle()
    expect((await call<RunDetail>(svc, 'runs:get', { runId })).status).toBe('succeeded')
  }, 60_000)
})

describe('a folder full of copies (the false 100 %)', () => {
  it('never puts a copy of a training image in the test set, and says so where the score is shown', async () => {
    const { svc } = tiny
    // Half the images are byte-for-byte copies of the other half, under other names.
    const dir = join(root, 'copies')
    for (const label of ['circle', 'square']) {
      mkdirSync(join(dir, label), { recursive: true })
      for (let i = 0; i < 8; i++) {
        const ext = i % 3 === 2 ? 'jpg' : 'png'
        const src = readFileSync(join(root, 'shapes', label, `${label}-${String(i).padStart(3, '0')}.${ext}`))
        writeFileSync(join(dir, label, `a-${i}.${ext}`), src)
        writeFileSync(join(dir, label, `copy-of-a-${i}.${ext}`), src)
      }
    }
    const report = await call<{ id: string; warnings: string[]; duplicates: { files: string[] }[] }>(
      svc,
      'datasets:import',
      { path: dir },
    )
    expect(report.duplicates).toHaveLength(16)
    expect(report.warnings.join(' ')).toMatch(/exact cop(y|ies).*cannot inflate the test score/)
    const split = svc.datasets.split(report.id, { train: 0.5, val: 0.25, test: 0.25, seed: 1 })
    const where = new Map(split.assignment.map((a) => [a.file, a.split]))
    for (const d of report.duplicates) expect(new Set(d.files.map((f) => where.get(f))).size, d.files.join()).toBe(1)
    expect(split.assignment.filter((a) => a.split === 'test').length).toBeGreaterThan(0)
    // The run's Results screen reads the same warnings for its dataset.
    const again = await call<{ warnings: string[] }>(svc, 'datasets:get', { datasetId: report.id })
    expect(again.warnings).toEqual(report.warnings)
  }, 60_000)
})

describe('importing a settings file', () => {
  it('fills settings added since an older Tunewise wrote it with their defaults, and refuses bad values', async () => {
    const { svc } = tiny
    const old = { name: 'old file', modelId: tiny.modelId, datasetId: tiny.datasetId, hyper: { learningRate: 0.01 } }
    const config = await call<RunConfig>(svc, 'runs:import-settings', { json: JSON.stringify(old) })
    const defaults = defaultRunConfig(tiny.modelId, tiny.datasetId, 'old file')
    expect(config).toEqual({ ...defaults, hyper: { ...defaults.hyper, learningRate: 0.01 } })
    await expect(
      call(svc, 'runs:import-settings', { json: JSON.stringify({ ...old, hyper: { learningRate: 10 } }) }),
    ).rejects.toMatchObject({ code: 'bad_data' })
    await expect(call(svc, 'runs:import-settings', { json: '{' })).rejects.toMatchObject({ code: 'bad_data' })
  })
})

describe('export', () => {
  it('says so before writing anything when the test images have moved', async () => {
    const { svc } = tiny
    const { runId } = await call<{ runId: number }>(svc, 'runs:start', { config: config('to export', 2) })
    await svc.jobs.whenIdle()
    const target = join(root, 'exported')
    renameSync(join(root, 'shapes'), join(root, 'shapes-moved'))
    try {
      await expect(call(svc, 'runs:export', { runId, dir: target })).rejects.toThrow(
        /no longer at .*Nothing was written/,
      )
      expect(existsSync(target)).toBe(false)
    } finally {
      renameSync(join(root, 'shapes-moved'), join(root, 'shapes'))
    }
    // Back in place: it exports, and a second export into the same folder needs a confirmation.
    await call(svc, 'runs:export', { runId, dir: target })
    await expect(call(svc, 'runs:export', { runId, dir: target })).rejects.toMatchObject({ code: 'conflict' })
    await call(svc, 'runs:export', { runId, dir: target, overwrite: true })
  }, 60_000)
})

describe('Ctrl-C in the CLI', () => {
  it('cancels the running training, waits for it to end as cancelled, then exits', async () => {
    tiny.svc.close()
    const cli = resolve(__dirname, '../../out/main/cli.js')
    const file = join(root, 'long.json')
    writeFileSync(file, JSON.stringify({ hyper: { epochs: 1000, earlyStopping: { enabled: false } } }))
    const child = spawn(
      process.execPath,
      [cli, 'train', '--data', join(root, 'shapes'), '--model', tiny.modelId, '--config', file],
      { env: { ...process.env, TUNEWISE_HOME: dataDir, TUNEWISE_BACKEND: 'wasm' } },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    await expect.poll(() => out, { timeout: 60_000, interval: 100 }).toMatch(/Training on wasm/)
    child.kill('SIGINT')
    const code = await new Promise<number | null>((ok) => child.on('exit', ok))
    expect(code, out).toBe(130)
    expect(out).not.toMatch(/ERR_IPC_CHANNEL_CLOSED|\n\s+at /)
    expect(existsSync(lockFile(dataDir))).toBe(false)
    const reader = open('reader')
    const runs = await call<RunDetail[]>(reader, 'runs:list', {})
    expect(runs[0]).toMatchObject({ status: 'cancelled' })
  }, 90_000)
})
