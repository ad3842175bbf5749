/**
 * Command-line Tunewise: `npm run tunewise -- <command>`. Same services, same database, same
 * training jobs as the app.
 */
import { coachFindings } from '../shared/coach'
import { accuracyOf, recallsOf, uncertaintyText } from '../shared/scores'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { defaultRunConfig, mergeSettings, runConfigSchema, settingsHelp } from '../shared/run-config'
import { configNotes } from '../shared/run-rules'
import { ZodError } from 'zod'
import type {
  DatasetReport,
  LayerInfo,
  MetricPoint,
  ModelCard,
  RunConfig,
  RunDetail,
  SplitSummary,
} from '../shared/types'
import { AppError } from './errors'
import {
  MODELS_COMMAND,
  cliAdvice,
  confusionLines,
  epochsByPhase,
  errorJson,
  escapeControl,
  forCli,
  formatDuration,
  modelLines,
  reportLines,
  summariseLayers,
  table,
} from './cli-text'
import { forkLauncher } from './tasks/worker-process'
import { defaultDataDir } from './paths'
import { createServices, type Services } from './services'

const DEFAULT_MODEL = 'mobilenet-v2-nsfwjs'

const HELP = `Tunewise command line

  npm run tunewise -- models                      list the model catalogue
  npm run tunewise -- inspect DIR                 report on a folder of images or recordings (one sub-folder per class)
  npm run tunewise -- inspect MODEL_ID            a model's card and its layers, block by block
  npm run tunewise -- train --data DIR [--model ID] [--config run.json] [--json]
  npm run tunewise -- lr-find --data DIR [--model ID] [--config run.json] [--json]   suggest a learning rate
  npm run tunewise -- runs [--json]               list every run
  npm run tunewise -- compare RUN_A RUN_B [...] [--json]
  npm run tunewise -- export RUN OUT_DIR          write the trained model with its model card (README.md)
      [--format tfjs|teachable-machine] [--zip]   a TF.js folder (default) or a Teachable Machine one; --zip: one OUT_DIR.zip
      [--intended-use TEXT] [--force]             the card's intended use; --force replaces files already there
  npm run tunewise -- predict RUN IMAGE           classify one image with a trained run
  npm run demo                                    make a synthetic dataset and fine-tune on it

Add --json to any command for machine-readable output (train prints one JSON object as its last line).
With --json an error is one line on stdout, {"error":{"code":"…","message":"…"}}, and the exit code is not 0.

--config run.json holds any part of a run's settings; what it leaves out keeps its default, section
by section (objects merge key by key, arrays and values replace). For example:

  { "name": "small lr", "hyper": { "learningRate": 0.0003, "epochs": 5 } }

Every setting (path in the file, default, what it accepts, what it does):
${settingsHelp()}

A settings file saved from the app works as it is. "datasetId" is always the folder given with --data;
--model overrides "modelId".

Data lives in ${defaultDataDir()} (set TUNEWISE_HOME to change it).`

interface Args {
  positional: string[]
  flags: Record<string, string | true>
}

function parseArgs(argv: string[]): Args {
  const positional: string[] = []
  const flags: Record<string, string | true> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined]
      if (v !== undefined) flags[k] = v
      else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--') && k !== 'json') flags[k] = argv[++i]!
      else flags[k] = true
    } else positional.push(a)
  }
  return { positional, flags }
}

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`)

/** Accuracies as percentages, counts and durations as whole numbers, losses with 4 decimals. */
function showMetric(name: string, v: number | null): string {
  if (v === null) return '—'
  if (/accuracy/i.test(name)) return pct(v)
  if (Number.isInteger(v)) return String(v)
  return v.toFixed(4)
}

/** A run id from the command line, or an AppError saying what was expected. */
function runId(arg: string | undefined, usage: string): number {
  const id = Number(arg)
  if (!arg || !Number.isInteger(id) || id < 1)
    throw new AppError('invalid_input', `'${arg ?? ''}' is not a run number. Usage: ${usage} (see \`runs\`).`)
  return id
}

async function call<T>(svc: Services, channel: string, payload: unknown): Promise<T> {
  const result = await svc.router.call(channel, payload)
  // The services word their messages for the wizard; the command line says where things are set here.
  if (!result.ok) throw new AppError(result.error.code, forCli(result.error.message))
  return result.value as T
}

function printReport(r: DatasetReport): void {
  for (const line of reportLines(r)) console.log(line)
}

/**
 * `inspect MODEL_ID`: the model's card and its layers by block. Layers need the model on this machine (they
 * are read from its weights once, then kept in the data folder).
 */
async function inspectModel(svc: Services, id: string, json: boolean): Promise<number> {
  const card = (await call<ModelCard[]>(svc, 'models:list', {})).find((m) => m.id === id)
  if (!card)
    throw new AppError(
      'not_found',
      `'${id}' is neither a folder nor a model id. Give a data folder, or a model id: run ${MODELS_COMMAND} to list them.`,
    )
  let layers: LayerInfo[] | null = null
  let noLayers: string | null = null
  if (!card.supported) noLayers = 'not listed: Tunewise cannot load this kind of model yet.'
  else if (!card.available)
    noLayers = 'listed once the model is on this machine (download it in the app, on the Model step).'
  else layers = await call<LayerInfo[]>(svc, 'models:layers', { modelId: card.id })
  const summary = layers ? summariseLayers(layers, card.featureLayer) : null
  if (json) console.log(JSON.stringify({ model: card, layers: summary, layerList: layers }))
  else for (const line of modelLines(card, summary, noLayers)) console.log(line)
  return 0
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Reads a --config file and merges it onto `defaults`; throws an AppError that names the problem. */
function loadConfig(file: string, defaults: RunConfig, overrides: Partial<RunConfig>): RunConfig {
  if (!existsSync(file)) throw new AppError('invalid_input', `The config file ${file} does not exist.`)
  let given: unknown
  try {
    given = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new AppError('invalid_input', `The config file ${file} is not valid JSON: ${(err as Error).message}`)
  }
  if (!isPlainObject(given))
    throw new AppError(
      'invalid_input',
      `The config file ${file} must hold a JSON object, like {"hyper": {"epochs": 5}}.`,
    )
  const merged = mergeSettings(defaults as unknown as Record<string, unknown>, { ...given, ...overrides })
  try {
    return runConfigSchema.parse(merged)
  } catch (err) {
    if (!(err instanceof ZodError)) throw err
    const problems = err.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')
    throw new AppError('invalid_input', `The config file ${file} has settings Tunewise cannot use: ${problems}`)
  }
}

/** The learning-rate range test for a folder and settings, as the Hyperparameters step runs it. */
async function lrFind(svc: Services, args: Args, json: boolean): Promise<number> {
  const data = args.flags.data
  if (typeof data !== 'string') throw new AppError('invalid_input', 'Give the data folder: lr-find --data DIR')
  const report = await call<DatasetReport>(svc, 'datasets:import', { path: resolve(data) })
  if (report.blockers.length)
    throw new AppError('invalid_input', `Cannot train on ${report.path}: ${report.blockers.join(' ')}`)
  const flagModel = typeof args.flags.model === 'string' ? args.flags.model : undefined
  let config: RunConfig = defaultRunConfig(flagModel ?? DEFAULT_MODEL, report.id)
  if (typeof args.flags.config === 'string')
    config = loadConfig(resolve(args.flags.config), config, {
      datasetId: report.id,
      ...(flagModel ? { modelId: flagModel } : {}),
    })
  const r = await call<{ points: { lr: number; loss: number }[]; suggestion: number }>(svc, 'runs:lr-find', { config })
  if (json) console.log(JSON.stringify(r))
  else {
    const shown = r.points.filter((_, i) => i % Math.max(1, Math.floor(r.points.length / 12)) === 0)
    console.log(table([['learning rate', 'loss'], ...shown.map((p) => [p.lr.toExponential(1), p.loss.toFixed(3)])]))
    console.log(
      `Suggested learning rate: ${r.suggestion} (a tenth of the rate where the loss was lowest). ` +
        `Use it with a config file: {"hyper": {"learningRate": ${r.suggestion}}}`,
    )
  }
  return 0
}

async function train(svc: Services, args: Args, json: boolean): Promise<number> {
  const data = args.flags.data
  if (typeof data !== 'string') throw new AppError('invalid_input', 'Give the data folder: train --data DIR')
  const report = await call<DatasetReport>(svc, 'datasets:import', { path: resolve(data) })
  if (!json) printReport(report)
  if (report.blockers.length)
    throw new AppError('invalid_input', `Cannot train on ${report.path}: ${report.blockers.join(' ')}`)
  const flagModel = typeof args.flags.model === 'string' ? args.flags.model : undefined
  let config: RunConfig = defaultRunConfig(
    flagModel ?? DEFAULT_MODEL,
    report.id,
    `CLI · ${report.path.split(/[\\/]/).pop()}`,
  )
  if (typeof args.flags.config === 'string')
    config = loadConfig(resolve(args.flags.config), config, {
      datasetId: report.id,
      ...(flagModel ? { modelId: flagModel } : {}),
    })
  const notes = configNotes(config)
  if (!json) for (const note of notes) console.log(`note: ${escapeControl(note)}`)
  // The split's own warnings (a class too small to test, a missing val/ folder) join the scan's.
  const split = await call<SplitSummary>(svc, 'splits:preview', { datasetId: report.id, ratios: config.split })
  if (!json) for (const w of split.warnings) console.log(`  warning: ${escapeControl(w)}`)
  const dataWarnings = [...report.warnings, ...split.warnings]
  const { runId } = await call<{ runId: number }>(svc, 'runs:start', { config })
  // Ctrl-C (or a kill) cancels the run: it ends 'cancelled' and its worker stops before the CLI exits.
  const stop = (): void => {
    if (!json) console.log('\nCancelling…')
    svc.jobs.cancel(runId)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let lastLine = ''
  const off = svc.hub.subscribe((event, payload) => {
    if (json) return
    if (event === 'run:progress') {
      const p = payload as {
        stage: string
        phase: number
        epoch: number
        epochs: number
        metrics: Record<string, number>
        etaSeconds: number | null
        batch: number
        batches: number
      }
      const frac = p.stage === 'training' ? p.epoch / Math.max(1, p.epochs) : p.batch / Math.max(1, p.batches)
      const bar = '█'.repeat(Math.round(frac * 30)).padEnd(30, '░')
      const m = Object.entries(p.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join(' ')
      const line = `${bar} ${p.stage} phase ${p.phase} epoch ${p.epoch}/${p.epochs} ${m}${p.etaSeconds !== null ? ` ETA ${Math.round(p.etaSeconds)}s` : ''}`
      if (line !== lastLine && process.stdout.isTTY) process.stdout.write(`\r${line.slice(0, 140).padEnd(140)}`)
      lastLine = line
    } else if (event === 'run:log') {
      console.log(`\n${escapeControl((payload as { message: string }).message)}`)
    }
  })
  await svc.jobs.whenIdle()
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  off()
  const run = await call<RunDetail>(svc, 'runs:get', { runId })
  const val = run.evaluations.find((e) => e.split === 'val')
  const test = run.evaluations.find((e) => e.split === 'test')
  const curves = (await call<Record<number, MetricPoint[]>>(svc, 'runs:metrics', { runIds: [runId] }))[runId] ?? []
  const byPhase = epochsByPhase(curves)
  const epochs = {
    /** Distinct (phase, epoch) pairs, as Compare's "Epochs run". */
    run: Object.values(byPhase).reduce((n, e) => n + e, 0),
    phase1: byPhase[1] ?? 0,
    phase2: byPhase[2] ?? 0,
    phase1Planned: run.config.hyper.epochs,
    stoppedEarly: run.status === 'succeeded' && (byPhase[1] ?? 0) < run.config.hyper.epochs,
  }
  // The same findings and intervals the Results screen shows (src/shared/coach.ts, scores.ts).
  const findings = coachFindings({
    config: run.config,
    status: run.status,
    errorCode: run.errorCode,
    points: curves,
    evaluations: run.evaluations,
  })
  const interval = (ev: typeof test) => {
    if (!ev) return null
    const i = accuracyOf(ev)
    // `images` counts examples (clips for sound); `recordings` is set when clips share recordings and the
    // interval counts recordings' worth of evidence (src/shared/stats.ts clusteredWilson).
    return {
      low: i.low,
      high: i.high,
      correct: i.successes,
      images: i.trials,
      ...(i.clustered ? { recordings: i.clustered.units } : {}),
    }
  }
  if (json) {
    console.log(
      JSON.stringify({
        runId,
        status: run.status,
        backend: run.backend,
        error: run.error,
        errorCode: run.errorCode,
        advice: run.errorCode ? cliAdvice(run.errorCode) : null,
        config: run.config,
        notes,
        dataWarnings,
        epochs,
        durationMs: run.durationMs,
        findings,
        metrics: {
          val: val
            ? { accuracy: val.accuracy, interval: interval(val), loss: val.loss, best: run.bestValAccuracy }
            : null,
          test: test
            ? {
                accuracy: test.accuracy,
                /** 95 % Wilson interval of the accuracy. */
                interval: interval(test),
                loss: test.loss,
                perClass: test.perClass,
                /** 95 % Wilson interval of each class's recall. */
                recallIntervals: recallsOf(test).map((r) => ({
                  label: r.label,
                  low: r.recall.low,
                  high: r.recall.high,
                })),
                /** confusion.matrix[true][predicted], rows and columns in `labels` order. */
                confusion: { labels: test.labels, matrix: test.confusion },
              }
            : null,
        },
      }),
    )
  } else {
    console.log(
      `\nRun ${runId}: ${run.status}${run.error ? ` — ${escapeControl(run.error)}` : ''} (backend ${run.backend ?? '?'})`,
    )
    if (run.errorCode) console.log(`What to do: ${cliAdvice(run.errorCode)}`)
    console.log(
      `Trained ${epochs.run} epoch${epochs.run === 1 ? '' : 's'} (phase 1: ${epochs.phase1} of ${epochs.phase1Planned}` +
        `${epochs.stoppedEarly ? ', stopped early' : ''}${epochs.phase2 ? `; phase 2: ${epochs.phase2}` : ''})` +
        `${run.durationMs !== null ? ` in ${formatDuration(run.durationMs)}` : ''}.`,
    )
    if (test) {
      const t = accuracyOf(test)
      console.log(
        `Validation accuracy ${pct(val?.accuracy)}, test accuracy ${pct(test.accuracy)} (likely ${uncertaintyText(t, { examples: run.config.dataKind === 'audio' ? 'clips' : 'images' })}, 95 % interval)`,
      )
      console.log(
        table([
          ['class', 'precision', 'recall', 'F1', 'images'],
          ...test.perClass.map((c) => [c.label, pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)]),
        ]),
      )
      for (const line of confusionLines(test.labels, test.confusion)) console.log(line)
    }
    for (const f of findings)
      console.log(
        `Coach: ${f.title}. ${escapeControl(f.detail)}${f.fix ? ` Fix: ${f.fix.changes.map((c) => `${c.path}=${JSON.stringify(c.value)}`).join(', ')}.` : ''}`,
      )
  }
  return run.status === 'succeeded' ? 0 : run.status === 'cancelled' ? 130 : 1
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv)
  const json = args.flags.json === true
  const [command, ...rest] = args.positional
  if (!command || command === 'help' || args.flags.help) {
    console.log(HELP)
    return 0
  }
  // `inspect X` where X is no file or folder here: X names a model (or nothing), which only reads.
  const inspectsModel = command === 'inspect' && rest[0] !== undefined && !existsSync(rest[0])
  // Read commands never take the data folder's lock, so they never disturb an app that trains.
  const reader = ['models', 'runs', 'compare'].includes(command) || inspectsModel
  const svc = createServices({
    dataDir: defaultDataDir(),
    mode: 'browser',
    launcher: forkLauncher,
    workerScript: join(__dirname, 'job-worker.js'),
    role: reader ? 'reader' : 'owner',
    log: () => {},
  })
  if (!reader && svc.readOnly) {
    const holder = svc.info().lockHolder
    svc.close()
    throw new AppError(
      'conflict',
      `Another Tunewise${holder ? ` (process ${holder.pid})` : ''} is using ${defaultDataDir()}. Close it, or set TUNEWISE_HOME to another folder, then run '${command}' again.`,
    )
  }
  try {
    switch (command) {
      case 'models': {
        const models = await call<
          {
            id: string
            name: string
            task: string
            supported: boolean
            available: boolean
            license: string
            parameters: number
          }[]
        >(svc, 'models:list', {})
        if (json) console.log(JSON.stringify(models))
        else
          console.log(
            table([
              ['id', 'name', 'task', 'params', 'license', 'status'],
              ...models.map((m) => [
                m.id,
                m.name,
                m.task,
                m.parameters ? `${(m.parameters / 1e6).toFixed(1)}M` : '—',
                m.license,
                !m.supported ? 'not supported yet' : m.available ? 'ready' : 'download',
              ]),
            ]),
          )
        return 0
      }
      case 'inspect': {
        if (!rest[0])
          throw new AppError(
            'invalid_input',
            `Give a data folder or a model id: inspect DIR, or inspect MODEL_ID (${MODELS_COMMAND} lists them).`,
          )
        if (inspectsModel) return await inspectModel(svc, rest[0], json)
        const report = await call<DatasetReport>(svc, 'datasets:import', { path: resolve(rest[0]) })
        if (json)
          console.log(
            JSON.stringify({ ...report, classes: report.classes.map((c) => ({ ...c, thumbnails: undefined })) }),
          )
        else printReport(report)
        return report.blockers.length ? 1 : 0
      }
      case 'lr-find':
        return await lrFind(svc, args, json)
      case 'train':
        return await train(svc, args, json)
      case 'demo': {
        const report = await call<DatasetReport>(svc, 'datasets:sample', {})
        return await train(svc, { ...args, flags: { ...args.flags, data: report.path } }, json)
      }
      case 'runs': {
        const runs = await call<RunDetail[]>(svc, 'runs:list', {})
        if (json) console.log(JSON.stringify(runs))
        else
          console.log(
            table([
              ['id', 'name', 'status', 'model', 'best val', 'test', 'backend', 'created'],
              ...runs.map((r) => [
                String(r.id),
                r.name,
                r.status,
                r.modelId,
                pct(r.bestValAccuracy),
                pct(r.testAccuracy),
                r.backend ?? '—',
                r.createdAt,
              ]),
            ]),
          )
        return 0
      }
      case 'compare': {
        if (rest.length < 2) throw new AppError('invalid_input', 'Give two or more runs: compare RUN_A RUN_B')
        const runIds = rest.map((r) => runId(r, 'compare RUN_A RUN_B [...]'))
        const result = await call<{
          settings: { field: string; values: unknown[]; differs: boolean }[]
          metrics: { name: string; values: (number | null)[] }[]
          exampleDiff: { fixed: string[]; broken: string[]; bothWrong: string[] } | null
        }>(svc, 'runs:compare', { runIds })
        const differing = result.settings.filter((s) => s.differs)
        const out = {
          runIds,
          differingSettings: differing,
          metrics: result.metrics,
          exampleDiff: result.exampleDiff
            ? {
                fixed: result.exampleDiff.fixed.length,
                broken: result.exampleDiff.broken.length,
                bothWrong: result.exampleDiff.bothWrong.length,
              }
            : null,
        }
        if (json) console.log(JSON.stringify(out))
        else {
          console.log(
            table([
              ['setting', ...runIds.map((r) => `run ${r}`)],
              ...differing.map((s) => [s.field, ...s.values.map((v) => JSON.stringify(v))]),
            ]),
          )
          console.log(
            table([
              ['metric', ...runIds.map((r) => `run ${r}`)],
              ...result.metrics.map((m) => [m.name, ...m.values.map((v) => showMetric(m.name, v))]),
            ]),
          )
          if (out.exampleDiff)
            console.log(
              `B fixed ${out.exampleDiff.fixed}, broke ${out.exampleDiff.broken}, both wrong ${out.exampleDiff.bothWrong}`,
            )
        }
        return 0
      }
      case 'export': {
        // --force and --zip take no value: a word after them is still a positional argument.
        const positional = [...rest]
        for (const flag of ['force', 'zip']) {
          const v = args.flags[flag]
          if (typeof v === 'string') positional.push(v)
        }
        const [run, outDir] = positional
        const usage = 'export RUN OUT_DIR [--format tfjs|teachable-machine] [--zip] [--force] [--intended-use TEXT]'
        if (!run || !outDir) throw new AppError('invalid_input', `Usage: ${usage}`)
        const formatFlag = args.flags.format
        const format =
          formatFlag === undefined || formatFlag === 'tfjs'
            ? 'tfjs'
            : formatFlag === 'teachable-machine' || formatFlag === 'tm'
              ? 'teachable-machine'
              : null
        if (!format)
          throw new AppError(
            'invalid_input',
            `--format must be 'tfjs' or 'teachable-machine', not '${String(formatFlag)}'. Usage: ${usage}`,
          )
        const intendedUse = typeof args.flags['intended-use'] === 'string' ? args.flags['intended-use'] : undefined
        let res: {
          dir: string
          files: string[]
          replaced: string[]
          agreement: number
          maxDifference: number
        }
        try {
          res = await call(svc, 'runs:export', {
            runId: runId(run, usage),
            dir: resolve(outDir),
            overwrite: args.flags.force !== undefined,
            format,
            zip: args.flags.zip !== undefined,
            ...(intendedUse ? { intendedUse } : {}),
          })
        } catch (err) {
          // Never over files without being told: say how to tell.
          if (err instanceof AppError && err.code === 'conflict' && /already (holds|exists)/.test(err.message))
            throw new AppError('conflict', `${err.message} Nothing was written. Add --force to replace them.`)
          throw err
        }
        if (json) console.log(JSON.stringify(res))
        else
          console.log(
            `Wrote ${res.files.join(', ')} to ${res.dir}${res.replaced.length ? ` (replaced ${res.replaced.join(', ')})` : ''}. ` +
              `Re-checked: ${pct(res.agreement)} agreement (max difference ${res.maxDifference.toExponential(1)}); README.md records it.`,
          )
        return 0
      }
      case 'predict': {
        const [run, image] = rest
        if (!run || !image || !existsSync(image))
          throw new AppError('invalid_input', 'Usage: predict RUN IMAGE (an existing image file)')
        const res = await call<{ label: string; confidence: number }[]>(svc, 'runs:predict', {
          runId: runId(run, 'predict RUN IMAGE'),
          file: resolve(image),
        })
        if (json) console.log(JSON.stringify(res))
        else console.log(table([['label', 'confidence'], ...res.map((p) => [p.label, pct(p.confidence)])]))
        return 0
      }
      default:
        if (json)
          console.log(errorJson('invalid_input', `Unknown command '${command}'. Run \`npm run tunewise -- help\`.`))
        else console.error(`Unknown command '${escapeControl(command)}'.\n\n${HELP}`)
        return 2
    }
  } finally {
    svc.close()
  }
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    const code = err instanceof AppError ? err.code : 'internal'
    const message = err instanceof Error ? err.message : String(err)
    // With --json an error is JSON too, on stdout where the result would have been: one parse serves both.
    if (process.argv.slice(2).includes('--json')) console.log(errorJson(code, message))
    else console.error(escapeControl(message))
    process.exit(1)
  })
