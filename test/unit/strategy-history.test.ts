/**
 * History and Compare show each run's strategy and how many numbers it trained: the strategy line comes from
 * the stored config (`describeStrategy`), the count from the engine's per-epoch `trainable_params` metric.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import { TRAINABLE_PARAMS_METRIC } from '../../src/shared/metrics'
import type { MetricPoint, RunConfig } from '../../src/shared/types'
import { openDatabase, type TunewiseDb } from '../../src/main/db/database'
import { COMPARE_METRICS, createRepositories, type Repositories } from '../../src/main/db/repositories'

let db: TunewiseDb
let repos: Repositories

beforeEach(() => {
  db = openDatabase(':memory:')
  repos = createRepositories(db)
})
afterEach(() => db.close())

function run(name: string, patch: (c: RunConfig) => void, trainable: number[]): number {
  const c = defaultRunConfig('mobilenet-v2-nsfwjs', 'ds', name)
  patch(c)
  const id = repos.runs.create(c)
  const points: MetricPoint[] = trainable.map((value, i) => ({
    phase: i < 2 ? 1 : 2,
    epoch: (i % 2) + 1,
    step: null,
    split: 'train',
    name: TRAINABLE_PARAMS_METRIC,
    value,
    t: i,
  }))
  repos.runs.addMetrics(id, points)
  return id
}

describe('strategy and trainable parameters in History and Compare', () => {
  it('each run lists its strategy and the most numbers any phase trained; Compare has both as rows', () => {
    const head = run('head', () => undefined, [6405, 6405])
    const lora = run(
      'lora',
      (c) => {
        c.freeze.preset = 'lora'
        c.phase2.enabled = true
      },
      [6405, 6405, 44293, 44293],
    )
    const byId = new Map(repos.runs.list().map((r) => [r.id, r]))
    expect(byId.get(head)).toMatchObject({ strategy: 'New head only', trainableParams: 6405 })
    expect(byId.get(lora)).toMatchObject({ strategy: 'LoRA r=8, α=16 on the top 2 blocks', trainableParams: 44293 })

    const cmp = repos.runs.compare([head, lora])
    expect(cmp.settings[0]).toEqual({
      field: 'Strategy',
      values: ['New head only', 'LoRA r=8, α=16 on the top 2 blocks'],
      differs: true,
    })
    expect(cmp.metrics.find((m) => m.name === COMPARE_METRICS.trainableParams)).toEqual({
      name: COMPARE_METRICS.trainableParams,
      values: [6405, 44293],
      higherIsBetter: false,
      bestIndex: null,
    })
  })

  it('a run before its first epoch, or with a damaged config, shows no value rather than failing', () => {
    const id = run('fresh', () => undefined, [])
    db.prepare('UPDATE runs SET config = ? WHERE id = ?').run('{not json', id)
    const [r] = repos.runs.list()
    expect(r).toMatchObject({ id, strategy: null, trainableParams: null })
  })
})
