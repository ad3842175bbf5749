/**
 * `npm run bench:estimate`: is the wizard's time estimate honest? For the three presets × the strategies on
 * the sample data, it asks the app for its estimate (`runs:estimate`, the number the wizard shows), then trains
 * the run the way the app does (services, task manager, forked workers) with a cold feature cache, and prints
 * measured ÷ estimated. The target is a ratio between 1/1.5 and 1.5 for every row. Writes
 * bench/results-estimate.{json,md}. `--quick`: the head-only and top-blocks strategies only.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunEstimate } from '../src/shared/estimate'
import { defaultRunConfig, hyperPresets } from '../src/shared/run-config'
import type { DatasetReport, FreezeConfig, RunConfig, RunDetail } from '../src/shared/types'
import { featureCacheDir, cacheDir } from '../src/main/ml/layout'
import { createServices, type Services } from '../src/main/services'
import { forkLauncher } from '../src/main/tasks/worker-process'

const root = join(import.meta.dirname, '..')
const MODEL_ID = 'mobilenet-v2-nsfwjs'
const quick = process.argv.includes('--quick')
const strategies: FreezeConfig['preset'][] = quick
  ? ['feature-extraction', 'top-blocks']
  : ['feature-extraction', 'top-blocks', 'lora', 'loreft', 'full']
const presets = Object.keys(hyperPresets) as (keyof typeof hyperPresets)[]

async function call<T>(svc: Services, channel: string, payload: unknown): Promise<T> {
  const r = await svc.router.call(channel, payload)
  if (!r.ok) throw new Error(`${channel}: ${r.error.message}`)
  return r.value as T
}

interface Row {
  preset: string
  strategy: string
  estimatedSeconds: number
  measuredSeconds: number
  ratio: number
  parts: Record<string, number>
  epochs: string
}

async function main(): Promise<void> {
  process.env.TUNEWISE_BACKEND ??= 'wasm'
  const dataDir = mkdtempSync(join(tmpdir(), 'tunewise-bench-estimate-'))
  const svc = createServices({
    dataDir,
    mode: 'browser',
    launcher: forkLauncher,
    workerScript: join(root, 'out', 'main', 'job-worker.js'),
    log: () => {},
  })
  const rows: Row[] = []
  try {
    const report = await call<DatasetReport>(svc, 'datasets:sample', {})
    for (const preset of presets)
      for (const strategy of strategies) {
        const config: RunConfig = defaultRunConfig(MODEL_ID, report.id, `${preset} · ${strategy}`)
        Object.assign(config.hyper, hyperPresets[preset])
        config.freeze.preset = strategy
        config.phase2.enabled = strategy !== 'feature-extraction'
        await call(svc, 'splits:preview', { datasetId: report.id, ratios: config.split })
        const estimate = await call<RunEstimate>(svc, 'runs:estimate', { config })
        // A cold cache for every run, as a first run meets it.
        rmSync(featureCacheDir(cacheDir(dataDir)), { recursive: true, force: true })
        const t0 = performance.now()
        const { runId } = await call<{ runId: number }>(svc, 'runs:start', { config })
        await svc.jobs.whenIdle()
        const measuredSeconds = (performance.now() - t0) / 1000
        const run = await call<RunDetail>(svc, 'runs:get', { runId })
        if (run.status !== 'succeeded') throw new Error(`${config.name}: ${run.status} ${run.error ?? ''}`)
        const curves =
          (await call<Record<number, { phase: number; epoch: number }[]>>(svc, 'runs:metrics', { runIds: [runId] }))[
            runId
          ] ?? []
        const epochsOf = (phase: number): number =>
          new Set(curves.filter((p) => p.phase === phase).map((p) => p.epoch)).size
        const row: Row = {
          preset,
          strategy,
          estimatedSeconds: round(estimate.totalSeconds),
          measuredSeconds: round(measuredSeconds),
          ratio: round(measuredSeconds / estimate.totalSeconds, 2),
          parts: Object.fromEntries(estimate.parts.map((p) => [p.key, round(p.seconds)])),
          epochs: config.phase2.enabled ? `${epochsOf(1)} + ${epochsOf(2)}` : String(epochsOf(1)),
        }
        rows.push(row)
        console.log(JSON.stringify(row))
      }
  } finally {
    svc.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
  const md = [
    `| Preset | Strategy | Estimated | Measured | Measured ÷ estimated | Epochs run (phase 1 + 2) |`,
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.preset} | ${r.strategy} | ${r.estimatedSeconds} s | ${r.measuredSeconds} s | ${r.ratio} | ${r.epochs} |`,
    ),
  ].join('\n')
  const worst = Math.max(...rows.map((r) => Math.max(r.ratio, 1 / r.ratio)))
  writeFileSync(
    join(root, 'bench', `results-estimate${quick ? '-quick' : ''}.json`),
    JSON.stringify({ rows, worst }, null, 2),
  )
  writeFileSync(join(root, 'bench', `results-estimate${quick ? '-quick' : ''}.md`), `${md}\n`)
  console.log(md)
  console.log(`worst factor: ${round(worst, 2)} (target ≤ 1.5)`)
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
