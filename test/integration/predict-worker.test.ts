/**
 * "Try your own image" on a warm app: the prediction worker stays after a task with the model loaded,
 * so a second image neither starts a process nor loads the model again, and answers exactly as a cold
 * worker does. It leaves when idle too long, when told (a run was deleted), and after a cancel.
 * Uses the built job worker (`npm run build`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { TaskEvent, TaskInput } from '../../src/shared/tasks'
import type { RunDetail } from '../../src/shared/types'
import { TaskError, TaskManager } from '../../src/main/tasks/task-manager'
import { forkLauncher } from '../../src/main/tasks/worker-process'
import { startTinyServices, workerScript, type TinyServices } from '../helpers/tiny-services'

const root = mkdtempSync(join(tmpdir(), 'tw-predict-worker-'))
let tiny: TinyServices
let runId = 0
let input: TaskInput<'predict'>
let other: TaskInput<'predict'>

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const r = await tiny.svc.router.call(channel, payload)
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`)
  return r.value as T
}

const manager = (resident?: { idleMs: number }) =>
  new TaskManager({
    launcher: forkLauncher,
    scriptFor: () => workerScript,
    env: { TUNEWISE_BACKEND: 'wasm' },
    cancelGraceMs: 1500,
    ...(resident ? { resident: { kinds: ['predict'], idleMs: resident.idleMs } } : {}),
  })

/** Runs one prediction; returns its output, the model events and the worker's pid. */
async function predict(tasks: TaskManager, what: TaskInput<'predict'>) {
  const events: TaskEvent<'predict'>[] = []
  const handle = tasks.start('predict', what, { onEvent: (e) => events.push(e) })
  const pid = tasks.pidOf(handle.id)
  return { output: await handle.result, events, pid }
}

beforeAll(async () => {
  tiny = await startTinyServices(root)
  const config = defaultRunConfig(tiny.modelId, tiny.datasetId, 'short')
  config.hyper.epochs = 2
  runId = (await call<{ runId: number }>('runs:start', { config })).runId
  await tiny.svc.jobs.whenIdle()
  const run = await call<RunDetail>('runs:get', { runId })
  expect(run.status).toBe('succeeded')
  const modelDir = run.artifacts.find((a) => a.kind === 'model')!.path
  const test = run.evaluations.find((e) => e.split === 'test')!.predictions
  input = { modelDir, file: join(root, 'shapes', test[0]!.file) }
  other = { modelDir, file: join(root, 'shapes', test[1]!.file) }
}, 120_000)

afterAll(() => {
  tiny?.svc.close()
  rmSync(root, { recursive: true, force: true })
})

describe('the resident prediction worker', () => {
  it('serves a second prediction from the same process without loading the model, with the cold answers', async () => {
    const cold = manager()
    const first = await predict(cold, input)
    expect(first.events).toEqual([{ type: 'model', loaded: true, seconds: expect.any(Number) }])
    // Without `resident` the worker exits after its task, as every other worker does.
    await expect.poll(() => isAlive(first.pid!), { timeout: 5000 }).toBe(false)
    const coldOther = await predict(cold, other)

    const warm = manager({ idleMs: 60_000 })
    const a = await predict(warm, input)
    expect(warm.idlePid()).toBe(a.pid)
    const b = await predict(warm, other)
    const c = await predict(warm, input)
    expect([b.pid, c.pid]).toEqual([a.pid, a.pid])
    expect([a, b, c].map((r) => r.events.map((e) => e.loaded))).toEqual([[true], [false], [false]])
    expect(a.output).toEqual(first.output)
    expect(b.output).toEqual(coldOther.output)
    expect(c.output).toEqual(first.output)
    expect(a.output.map((p) => p.label).sort()).toEqual(['circle', 'square'])

    warm.releaseIdle()
    expect(warm.idlePid()).toBeUndefined()
    await expect.poll(() => isAlive(a.pid!), { timeout: 5000 }).toBe(false)
  }, 60_000)

  it('stays after a prediction that failed on its input, and leaves after a cancel and when idle too long', async () => {
    const tasks = manager({ idleMs: 60_000 })
    const a = await predict(tasks, input)
    const notImage = join(root, 'notes.png')
    writeFileSync(notImage, 'not an image')
    const err = await tasks.run('predict', { modelDir: input.modelDir, file: notImage }).catch((e: unknown) => e)
    expect((err as TaskError).code).toBe('bad_data')
    expect(tasks.idlePid()).toBe(a.pid)

    // A cancel ends the task cancelled, and its worker with it.
    const handle = tasks.start('predict', input)
    expect(tasks.pidOf(handle.id)).toBe(a.pid)
    handle.cancel()
    const cancelled = (await handle.result.catch((e: unknown) => e)) as TaskError
    expect(cancelled.status).toBe('cancelled')
    await expect.poll(() => isAlive(a.pid!), { timeout: 5000 }).toBe(false)
    expect(tasks.idlePid()).toBeUndefined()

    const brief = manager({ idleMs: 200 })
    const d = await predict(brief, input)
    await expect.poll(() => isAlive(d.pid!), { timeout: 5000 }).toBe(false)
    expect(brief.idlePid()).toBeUndefined()
  }, 60_000)

  it('in the app: a second try of an image reuses the warm worker; deleting a run lets it go', async () => {
    const first = await call<{ label: string; confidence: number }[]>('runs:predict', { runId, file: input.file })
    const pid = tiny.svc.tasks.idlePid()
    expect(pid).toBeDefined()
    const again = await call<{ label: string; confidence: number }[]>('runs:predict', { runId, file: input.file })
    expect(again).toEqual(first)
    expect(tiny.svc.tasks.idlePid()).toBe(pid)

    expect(await call('runs:delete', { runId })).toEqual({ deleted: true })
    expect(tiny.svc.tasks.idlePid()).toBeUndefined()
    await expect.poll(() => isAlive(pid!), { timeout: 5000 }).toBe(false)
  }, 60_000)
})
