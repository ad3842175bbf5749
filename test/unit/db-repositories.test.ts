import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultRunConfig } from '../../src/shared/run-config'
import type { DatasetReport, Evaluation, MetricPoint, RunConfig } from '../../src/shared/types'
import { openDatabase, type TunewiseDb } from '../../src/main/db/database'
import {
  COMPARE_METRICS,
  METRICS_SQL,
  buildRunListQuery,
  createRepositories,
  type Repositories,
} from '../../src/main/db/repositories'

let db: TunewiseDb
let repos: Repositories
let clock: number

beforeEach(() => {
  db = openDatabase(':memory:')
  clock = Date.parse('2024-05-01T00:00:00.000Z')
  // Each stored timestamp is one second after the previous, so "newest first" is well defined.
  repos = createRepositories(db, { now: () => new Date((clock += 1000)) })
})
afterEach(() => {
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
  expect(db.pragma('foreign_key_check')).toEqual([])
  db.close()
})

function config(name: string, patch: (c: RunConfig) => void = () => {}): RunConfig {
  const c = defaultRunConfig('mobilenet-v2', 'ds-1', name)
  patch(c)
  return c
}

function report(id: string, path = `/data/${id}`): DatasetReport {
  return {
    id,
    path,
    fingerprint: `fp-${id}`,
    createdAt: '2024-04-01T00:00:00.000Z',
    total: 2,
    classes: [{ name: 'cat', count: 2, thumbnails: [] }],
    unreadable: [],
    duplicates: [],
    tinyClasses: [],
    minPerClass: 5,
    sizes: { minWidth: 1, maxWidth: 1, minHeight: 1, maxHeight: 1, medianWidth: 1, medianHeight: 1 },
    givenSplit: false,
    excludedFiles: [],
    excludedClasses: [],
    blockers: [],
    warnings: [],
  }
}

function evaluation(split: 'val' | 'test', preds: [string, string, string][]): Evaluation {
  const labels = ['cat', 'dog']
  return {
    split,
    accuracy: preds.filter(([, t, p]) => t === p).length / preds.length,
    loss: 0.4,
    labels,
    perClass: [],
    confusion: labels.map((t) => labels.map((p) => preds.filter(([, pt, pp]) => pt === t && pp === p).length)),
    misclassified: [],
    predictions: preds.map(([file, trueLabel, predicted]) => ({ file, trueLabel, predicted, confidence: 0.8 })),
  }
}

function points(epochs: number, valLoss: (e: number) => number): MetricPoint[] {
  const out: MetricPoint[] = []
  for (let e = 1; e <= epochs; e++) {
    out.push({ phase: 1, epoch: e, step: null, split: 'train', name: 'loss', value: 1 / e, t: e * 100 })
    out.push({ phase: 1, epoch: e, step: null, split: 'val', name: 'loss', value: valLoss(e), t: e * 100 })
    out.push({ phase: 1, epoch: e, step: null, split: 'val', name: 'acc', value: e / (epochs + 1), t: e * 100 })
  }
  return out
}

function countRows(runId: number): Record<string, number> {
  const tables = ['run_metrics', 'tags', 'run_evaluations', 'run_artifacts']
  return Object.fromEntries(
    tables.map((t) => [t, db.prepare(`SELECT count(*) FROM ${t} WHERE run_id = ?`).pluck().get(runId) as number]),
  )
}

describe('datasets, splits, models, drafts', () => {
  it('upserts and reads dataset reports, skipping a damaged one in list()', () => {
    repos.datasets.save(report('a'))
    repos.datasets.save(report('b'))
    repos.datasets.save({ ...report('a', '/moved/a'), total: 7 })
    expect(repos.datasets.get('a')).toMatchObject({ path: '/moved/a', total: 7 })
    expect(repos.datasets.get('nope')).toBeNull()
    expect(repos.datasets.list().map((d) => d.id)).toEqual(['a', 'b'])

    db.prepare("UPDATE datasets SET report = '{broken' WHERE id = 'b'").run()
    expect(repos.datasets.list().map((d) => d.id)).toEqual(['a'])
    expect(() => repos.datasets.get('b')).toThrow(expect.objectContaining({ code: 'bad_data' }))
  })

  it('stores splits only for a saved dataset', () => {
    const ratios = { train: 0.5, val: 0.25, test: 0.25, seed: 7 }
    const assignment = [{ file: 'cat/1.jpg', label: 'cat', split: 'train' as const }]
    expect(() => repos.splits.save({ id: 's', datasetId: 'missing', ratios, assignment })).toThrow(/FOREIGN KEY/)
    repos.datasets.save(report('ds-1'))
    repos.splits.save({ id: 's', datasetId: 'ds-1', ratios, assignment })
    expect(repos.splits.get('s')).toMatchObject({ id: 's', datasetId: 'ds-1', ratios, assignment })
    expect(repos.splits.get('other')).toBeNull()
  })

  it('records task ends and marks tasks a previous process left running interrupted', () => {
    const base = {
      kind: 'layers' as const,
      label: 'Reading the layers',
      progress: null,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: null,
      error: null,
      runId: null,
    }
    repos.tasks.record({ ...base, id: 't1', status: 'running' })
    repos.tasks.record({ ...base, id: 't2', status: 'running', runId: 999 })
    repos.tasks.record({
      ...base,
      id: 't1',
      status: 'failed',
      finishedAt: '2026-01-01T00:00:01.000Z',
      error: { code: 'timeout', message: 'took too long' },
    })
    expect(repos.tasks.markInterrupted()).toBe(1)
    const rows = Object.fromEntries(repos.tasks.recent().map((r) => [r.id, r]))
    expect(rows.t1).toMatchObject({ status: 'failed', errorCode: 'timeout' })
    // A run that does not exist is not linked (the foreign key would refuse it).
    expect(rows.t2).toMatchObject({ status: 'interrupted', errorCode: 'interrupted', runId: null })
  })

  it('saves drafts', () => {
    expect(repos.drafts.get('wizard')).toBeNull()
    repos.drafts.save('wizard', { step: 3, config: { name: 'x' } })
    expect(repos.drafts.get('wizard')).toEqual({ step: 3, config: { name: 'x' } })
    repos.drafts.save('wizard', null)
    expect(repos.drafts.get('wizard')).toBeNull()
  })
})

describe('RunRepository', () => {
  it('creates a queued run and reads it back with config, tags, evaluations and artifacts', () => {
    repos.datasets.save(report('ds-1', '/photos/pets'))
    const c = config('first')
    const id = repos.runs.create(c)
    repos.runs.update(id, { tags: ['b', ' a ', 'b', ''] })
    repos.runs.saveEvaluation(id, evaluation('test', [['1.jpg', 'cat', 'cat']]))
    repos.runs.saveEvaluation(id, evaluation('val', [['2.jpg', 'dog', 'cat']]))
    repos.runs.addArtifact(id, 'model', '/runs/1/model.json')
    const run = repos.runs.get(id)!
    expect(run).toMatchObject({ id, name: 'first', status: 'queued', datasetPath: '/photos/pets', tags: ['a', 'b'] })
    expect(run.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(run.config).toEqual(c)
    expect(run.evaluations.map((e) => e.split)).toEqual(['val', 'test'])
    expect(run.artifacts).toEqual([{ kind: 'model', path: '/runs/1/model.json' }])
    expect(repos.runs.get(id + 100)).toBeNull()
  })

  it('sets status with its fields and rejects an unknown run', () => {
    const id = repos.runs.create(config('r'))
    repos.runs.setStatus(id, 'running', { backend: 'wasm', startedAt: '2024-05-01T10:00:00.000Z' })
    repos.runs.setStatus(id, 'succeeded', { durationMs: 1234.6, bestValAccuracy: 0.9, testAccuracy: 0.85 })
    expect(repos.runs.get(id)).toMatchObject({
      status: 'succeeded',
      backend: 'wasm',
      startedAt: '2024-05-01T10:00:00.000Z',
      durationMs: 1235,
      bestValAccuracy: 0.9,
      testAccuracy: 0.85,
      error: null,
    })
    expect(() => repos.runs.setStatus(999, 'failed')).toThrow(expect.objectContaining({ code: 'not_found' }))
  })

  it('filters, searches notes case-insensitively, and sorts', () => {
    const a = repos.runs.create(config('Alpha'))
    const b = repos.runs.create(config('beta', (c) => (c.modelId = 'other-model')))
    const c = repos.runs.create(config('Gamma', (c) => (c.datasetId = 'ds-2')))
    const d = repos.runs.create(config('delta'))
    repos.runs.setStatus(a, 'succeeded', { bestValAccuracy: 0.7 })
    repos.runs.setStatus(b, 'failed', { error: 'out of memory' })
    repos.runs.setStatus(c, 'succeeded', { bestValAccuracy: 0.9 })
    repos.runs.update(b, { notes: 'Tried a HIGHER learning rate', starred: true })
    repos.runs.update(c, { tags: ['baseline'], notes: '100% sure' })

    const ids = (q: Parameters<typeof repos.runs.list>[0]) => repos.runs.list(q).map((r) => r.id)
    expect(ids({})).toEqual([d, c, b, a]) // newest first
    expect(ids({ sort: 'createdAt' })).toEqual([a, b, c, d])
    expect(ids({ status: ['succeeded'] })).toEqual([c, a])
    expect(ids({ status: ['failed', 'queued'] })).toEqual([d, b])
    expect(ids({ modelId: 'other-model' })).toEqual([b])
    expect(ids({ datasetId: 'ds-2' })).toEqual([c])
    expect(ids({ tag: 'baseline' })).toEqual([c])
    expect(ids({ starred: true })).toEqual([b])
    expect(ids({ starred: false })).toEqual([d, c, a])
    expect(ids({ search: 'higher LEARNING' })).toEqual([b]) // in notes only
    expect(ids({ search: 'ALPHA' })).toEqual([a]) // in name
    expect(ids({ search: '%' })).toEqual([c]) // a literal percent sign, not a wildcard
    expect(ids({ search: 'a', status: ['succeeded'], sort: 'name' })).toEqual([a, c])
    expect(ids({ sort: 'name' })).toEqual([a, b, d, c])
    expect(ids({ sort: 'name', desc: true })).toEqual([c, d, b, a])
    // Runs without a value come last in both directions.
    expect(ids({ sort: 'bestValAccuracy' })).toEqual([a, c, b, d])
    expect(ids({ sort: 'bestValAccuracy', desc: true })).toEqual([c, a, d, b])
  })

  it('stores metrics in one call and reads several runs, NaN included', () => {
    const a = repos.runs.create(config('a'))
    const b = repos.runs.create(config('b'))
    const pts = points(3, (e) => 2 / e)
    pts.push({ phase: 2, epoch: 1, step: 4, split: 'train', name: 'loss', value: NaN, t: 999.6 })
    repos.runs.addMetrics(a, pts)
    const got = repos.runs.metrics([a, b])
    expect(Object.keys(got).map(Number)).toEqual([a, b])
    expect(got[b]).toEqual([])
    expect(got[a]).toHaveLength(pts.length)
    const diverged = got[a].find((p) => p.phase === 2)!
    expect(diverged).toEqual({ phase: 2, epoch: 1, step: 4, split: 'train', name: 'loss', value: NaN, t: 1000 })
    const valAcc = got[a].filter((p) => p.split === 'val' && p.name === 'acc').map((p) => p.epoch)
    expect(valAcc).toEqual([1, 2, 3])
  })

  it('a failing point rolls back the whole batch', () => {
    const a = repos.runs.create(config('a'))
    const bad = {
      phase: 1,
      epoch: 2,
      step: null,
      split: 'nope',
      name: 'loss',
      value: 1,
      t: 0,
    } as unknown as MetricPoint
    expect(() => repos.runs.addMetrics(a, [...points(1, () => 1), bad])).toThrow(/CHECK/)
    expect(repos.runs.metrics([a])[a]).toEqual([])
  })

  it('markInterrupted turns running and queued runs into interrupted and leaves others alone', () => {
    const running = repos.runs.create(config('running'))
    const queued = repos.runs.create(config('queued'))
    const done = repos.runs.create(config('done'))
    const failed = repos.runs.create(config('failed'))
    repos.runs.setStatus(running, 'running')
    repos.runs.setStatus(done, 'succeeded', { error: null })
    repos.runs.setStatus(failed, 'failed', { error: 'disk full' })

    expect(repos.runs.markInterrupted('Tunewise closed while this run was training.')).toEqual([running, queued])
    const status = (id: number) => repos.runs.get(id)!
    expect(status(running)).toMatchObject({
      status: 'interrupted',
      error: 'Tunewise closed while this run was training.',
    })
    expect(status(queued)).toMatchObject({
      status: 'interrupted',
      error: 'Tunewise closed while this run was training.',
    })
    expect(status(done)).toMatchObject({ status: 'succeeded', error: null })
    expect(status(failed)).toMatchObject({ status: 'failed', error: 'disk full' })
    expect(repos.runs.markInterrupted('again')).toEqual([])
  })

  it('delete removes the run with its metrics, tags, evaluations and artifacts, and nothing of another run', () => {
    const fill = (id: number) => {
      repos.runs.addMetrics(
        id,
        points(4, () => 1),
      )
      repos.runs.update(id, { tags: ['x', 'y'] })
      repos.runs.saveEvaluation(id, evaluation('test', [['1.jpg', 'cat', 'cat']]))
      repos.runs.saveEvaluation(id, evaluation('val', [['1.jpg', 'cat', 'cat']]))
      repos.runs.addArtifact(id, 'model', `/runs/${id}/model.json`)
      repos.runs.addArtifact(id, 'export', `/runs/${id}/export`)
    }
    const gone = repos.runs.create(config('gone'))
    const kept = repos.runs.create(config('kept'))
    fill(gone)
    fill(kept)
    const keptBefore = countRows(kept)
    expect(keptBefore).toEqual({ run_metrics: 12, tags: 2, run_evaluations: 2, run_artifacts: 2 })

    expect(repos.runs.delete(gone)).toEqual({
      artifacts: [`/runs/${gone}/model.json`, `/runs/${gone}/export`],
      deleted: true,
    })
    expect(countRows(gone)).toEqual({ run_metrics: 0, tags: 0, run_evaluations: 0, run_artifacts: 0 })
    expect(countRows(kept)).toEqual(keptBefore)
    expect(repos.runs.get(gone)).toBeNull()
    expect(repos.runs.list().map((r) => r.id)).toEqual([kept])
    expect(repos.runs.delete(gone)).toEqual({ artifacts: [], deleted: false })
  })

  it('does not reuse the id of a deleted run, not even the newest one', () => {
    const first = repos.runs.create(config('first'))
    const newest = repos.runs.create(config('newest'))
    expect(repos.runs.delete(newest).deleted).toBe(true)
    const next = repos.runs.create(config('next'))
    expect(next).toBeGreaterThan(newest)
    expect(repos.runs.get(newest)).toBeNull()
    expect(repos.runs.get(next)?.name).toBe('next')

    // Deleting everything does not start the count again either.
    repos.runs.delete(first)
    repos.runs.delete(next)
    expect(repos.runs.list()).toEqual([])
    expect(repos.runs.create(config('after all'))).toBeGreaterThan(next)
  })

  it('compare lines up settings, metrics, confusions and the per-example diff', () => {
    const a = repos.runs.create(config('slow'))
    const b = repos.runs.create(config('fast', (c) => (c.hyper.learningRate = 1e-2)))
    repos.runs.setStatus(a, 'succeeded', { bestValAccuracy: 0.8, testAccuracy: 0.75, durationMs: 5000 })
    repos.runs.setStatus(b, 'succeeded', { bestValAccuracy: 0.9, testAccuracy: 0.5, durationMs: 3000 })
    repos.runs.addMetrics(
      a,
      points(3, (e) => 1 - e / 10),
    ) // final val loss 0.7
    repos.runs.addMetrics(
      b,
      points(5, (e) => 0.1 * e),
    ) // final val loss 0.5
    repos.runs.saveEvaluation(
      a,
      evaluation('test', [
        ['1', 'cat', 'dog'],
        ['2', 'dog', 'dog'],
        ['3', 'cat', 'dog'],
        ['4', 'cat', 'cat'],
      ]),
    )
    repos.runs.saveEvaluation(
      b,
      evaluation('test', [
        ['1', 'cat', 'cat'],
        ['2', 'dog', 'cat'],
        ['3', 'cat', 'dog'],
        ['4', 'cat', 'cat'],
      ]),
    )

    const result = repos.runs.compare([a, b])
    expect(result.runs.map((r) => r.name)).toEqual(['slow', 'fast'])
    expect(result.settings.filter((s) => s.differs)).toEqual([
      { field: 'hyper.learningRate', values: [1e-3, 1e-2], differs: true },
    ])
    const metric = (name: string) => result.metrics.find((m) => m.name === name)!
    expect(metric(COMPARE_METRICS.bestValAccuracy)).toMatchObject({ values: [0.8, 0.9], bestIndex: 1 })
    expect(metric(COMPARE_METRICS.testAccuracy)).toMatchObject({ values: [0.75, 0.5], bestIndex: 0 })
    expect(metric(COMPARE_METRICS.finalValLoss).values[0]).toBeCloseTo(0.7)
    expect(metric(COMPARE_METRICS.finalValLoss).values[1]).toBeCloseTo(0.5)
    expect(metric(COMPARE_METRICS.finalValLoss)).toMatchObject({ higherIsBetter: false, bestIndex: 1 })
    expect(metric(COMPARE_METRICS.finalTrainLoss).values).toEqual([1 / 3, 1 / 5])
    expect(metric(COMPARE_METRICS.durationMs)).toMatchObject({ values: [5000, 3000], bestIndex: 1 })
    expect(metric(COMPARE_METRICS.epochsRun)).toMatchObject({ values: [3, 5], bestIndex: null })
    expect(result.confusions).toEqual([
      {
        labels: ['cat', 'dog'],
        matrix: [
          [1, 2],
          [0, 1],
        ],
      },
      {
        labels: ['cat', 'dog'],
        matrix: [
          [2, 1],
          [1, 0],
        ],
      },
    ])
    expect(result.exampleDiff).toEqual({ fixed: ['1'], broken: ['2'], bothWrong: ['3'] })

    const c = repos.runs.create(config('no eval'))
    const three = repos.runs.compare([a, b, c])
    expect(three.exampleDiff).toBeNull()
    expect(three.confusions[2]).toBeNull()
    expect(repos.runs.compare([a, c]).exampleDiff).toBeNull()
    expect(() => repos.runs.compare([a, 999])).toThrow(expect.objectContaining({ code: 'not_found' }))
  })

  it('a damaged config does not break list() or compare(); get() says so plainly', () => {
    const ok = repos.runs.create(config('ok'))
    const broken = repos.runs.create(config('broken'))
    db.prepare("UPDATE runs SET config = '{not json' WHERE id = ?").run(broken)
    expect(repos.runs.list().map((r) => r.id)).toEqual([broken, ok])
    expect(() => repos.runs.get(broken)).toThrow(expect.objectContaining({ code: 'bad_data' }))
    const cmp = repos.runs.compare([ok, broken])
    expect(cmp.settings.find((s) => s.field === 'hyper.learningRate')).toEqual({
      field: 'hyper.learningRate',
      values: [1e-3, null],
      differs: true,
    })
  })

  it('update edits name, notes, tags and star, and rejects an unknown run', () => {
    const id = repos.runs.create(config('old'))
    const summary = repos.runs.update(id, { name: 'new', notes: 'n', tags: ['t'], starred: true })
    expect(summary).toMatchObject({ id, name: 'new', notes: 'n', tags: ['t'], starred: true })
    expect(repos.runs.update(id, { starred: false, tags: [] })).toMatchObject({ name: 'new', tags: [], starred: false })
    expect(() => repos.runs.update(999, { name: 'x' })).toThrow(expect.objectContaining({ code: 'not_found' }))
  })

  it('exports runs and metrics as properly quoted CSV', () => {
    const a = repos.runs.create(config('Run, "quoted"'))
    const b = repos.runs.create(config('plain'))
    repos.runs.update(a, { notes: 'line one\nline two', tags: ['x', 'y'] })
    repos.runs.addMetrics(
      a,
      points(1, () => 0.5),
    )
    repos.runs.addMetrics(
      b,
      points(2, () => 0.25),
    )

    const runs = repos.runs.exportRunsCsv()
    const lines = runs.split('\r\n')
    expect(lines[0]).toBe(
      'id,name,created_at,started_at,finished_at,model_id,dataset_id,dataset_path,status,backend,best_val_accuracy,test_accuracy,duration_ms,tags,starred,notes,error',
    )
    expect(runs).toContain(`${a},"Run, ""quoted""",`)
    expect(runs).toContain(',x;y,0,"line one\nline two",')
    expect(runs.endsWith('\r\n')).toBe(true)

    const all = repos.runs.exportMetricsCsv().trimEnd().split('\r\n')
    expect(all[0]).toBe('run_id,run_name,phase,epoch,step,split,name,value,t_ms')
    expect(all).toHaveLength(1 + 3 + 6)
    expect(all[1]).toBe(`${a},"Run, ""quoted""",1,1,,train,loss,1,100`)
    const onlyB = repos.runs.exportMetricsCsv([b]).trimEnd().split('\r\n')
    expect(onlyB).toHaveLength(1 + 6)
    expect(onlyB.slice(1).every((l) => l.startsWith(`${b},plain,`))).toBe(true)
  })

  it('list of 500 runs and metrics of 8 runs x 100 epochs are answered from indexes', () => {
    const insertRuns = db.transaction(() => {
      for (let i = 0; i < 500; i++) {
        repos.runs.create(config(`run ${i}`, (c) => (c.modelId = i % 2 ? 'a' : 'b')))
      }
    })
    insertRuns()
    const ids = repos.runs
      .list()
      .slice(0, 8)
      .map((r) => r.id)
    for (const id of ids)
      repos.runs.addMetrics(
        id,
        points(100, () => 0.5),
      )
    db.exec('ANALYZE')

    const plan = (sql: string, params: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail)

    const list = buildRunListQuery({})
    const listPlan = plan(list.sql, list.params)
    expect(listPlan).toContain('SCAN r USING INDEX runs_created_at')
    expect(listPlan.join('\n')).not.toMatch(/TEMP B-TREE|SCAN t\b/)
    const tagged = buildRunListQuery({ tag: 'x', status: ['succeeded'] })
    expect(plan(tagged.sql, tagged.params).join('\n')).toMatch(/USING (COVERING )?INDEX (runs_status|tags_tag)/)

    const metricsPlan = plan(METRICS_SQL, [ids[0]])
    expect(metricsPlan).toEqual(['SEARCH run_metrics USING INDEX run_metrics_run (run_id=?)'])

    expect(repos.runs.list()).toHaveLength(500)
    const curves = repos.runs.metrics(ids)
    expect(ids.every((id) => curves[id].length === 300)).toBe(true)
  })
})
