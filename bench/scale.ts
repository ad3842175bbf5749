/**
 * `npm run bench:scale`: how time and memory grow with the number of images. For each size (default 500,
 * 2,000 and 10,000 photo-like 640×480 JPEGs in 10 classes) it runs the real engine path in a fresh "main"
 * process, as the CLI's `train` does: services, the scan task, the split, a training job (extraction over the
 * worker processes, 50 head epochs, evaluation, export), then "try your own image" cold and warm. Meanwhile
 * this process samples every process of that tree (/proc/<pid>/status: VmHWM, the peak resident set) and
 * names each by the task it ran. Writes bench/results-scale.json, bench/results-scale.md and
 * docs/scale.png (drawn here as SVG and rendered with sharp).
 *
 * Flags: `--sizes 500,2000` (default 500,2000,10000), `--work DIR` (datasets are generated once there and
 * reused; default <tmp>/tunewise-scale), `--cancel N` (also time a cancel during the scan, the extraction and
 * the training at N images), `--merge` (keep rows of earlier sizes from bench/results-scale.json, so the 10,000
 * row can run on its own), `--json` (one JSON line at the end). Needs `npm run build` (the workers are the
 * built ones) and the bundled MobileNetV2.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { performance } from 'node:perf_hooks'
import sharp from 'sharp'

const projectRoot = join(import.meta.dirname, '..')
const MODEL_ID = 'mobilenet-v2-nsfwjs'
const EPOCHS = 50
const CLASSES = ['circle', 'square', 'triangle', 'star', 'ring', 'cross', 'diamond', 'stripes', 'hexagon', 'dots']
const WIDTH = 640
const HEIGHT = 480

const argv = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
/** `--out DIR`: another build's out/ folder (e.g. a copy of an older build), to compare against. */
const workerScript = join(flag('--out') ?? join(projectRoot, 'out'), 'main', 'job-worker.js')
/** `--results FILE`: where the JSON goes (default bench/results-scale.json; the .md and plot only then). */
const resultsFile = flag('--results')
const log = (msg: string): void => {
  process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}
const round = (x: number, digits = 3): number => Number(x.toPrecision(digits))
const mb = (kb: number): number => Math.round(kb / 1024)

// ------------------------------------------------------------------------------------------ the dataset

/** A small seeded generator (mulberry32), so every run draws the same images. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The SVG of class `k`'s shape at (x, y), size s, rotation r degrees, in `fill`. */
function shape(k: number, x: number, y: number, s: number, r: number, fill: string): string {
  const t = `transform="rotate(${r.toFixed(0)} ${x.toFixed(0)} ${y.toFixed(0)})"`
  const poly = (n: number, inner = 0): string => {
    const pts: string[] = []
    for (let i = 0; i < n * (inner ? 2 : 1); i++) {
      const rad = inner && i % 2 ? s * inner : s
      const a = (Math.PI * 2 * i) / (n * (inner ? 2 : 1)) - Math.PI / 2
      pts.push(`${(x + rad * Math.cos(a)).toFixed(1)},${(y + rad * Math.sin(a)).toFixed(1)}`)
    }
    return `<polygon points="${pts.join(' ')}" fill="${fill}" ${t}/>`
  }
  switch (CLASSES[k]) {
    case 'circle':
      return `<circle cx="${x}" cy="${y}" r="${s}" fill="${fill}"/>`
    case 'square':
      return `<rect x="${x - s}" y="${y - s}" width="${2 * s}" height="${2 * s}" fill="${fill}" ${t}/>`
    case 'triangle':
      return poly(3)
    case 'star':
      return poly(5, 0.45)
    case 'ring':
      return `<circle cx="${x}" cy="${y}" r="${s * 0.8}" fill="none" stroke="${fill}" stroke-width="${s * 0.35}"/>`
    case 'cross':
      return `<g ${t} fill="${fill}"><rect x="${x - s}" y="${y - s / 4}" width="${2 * s}" height="${s / 2}"/><rect x="${x - s / 4}" y="${y - s}" width="${s / 2}" height="${2 * s}"/></g>`
    case 'diamond':
      return poly(4)
    case 'stripes':
      return `<g ${t} fill="${fill}">${[-2, -1, 0, 1, 2].map((i) => `<rect x="${x - s}" y="${y + i * s * 0.4 - s * 0.1}" width="${2 * s}" height="${s * 0.2}"/>`).join('')}</g>`
    case 'hexagon':
      return poly(6)
    default:
      return [0, 1, 2, 3, 4, 5]
        .map((i) => {
          const a = (Math.PI * i) / 3 + r / 57
          return `<circle cx="${(x + s * 0.7 * Math.cos(a)).toFixed(1)}" cy="${(y + s * 0.7 * Math.sin(a)).toFixed(1)}" r="${(s * 0.22).toFixed(1)}" fill="${fill}"/>`
        })
        .join('')
  }
}

/** Film grain: a few seeded noise tiles, composited over each image so JPEGs decode like photos. */
function grainTiles(count: number): Buffer[] {
  const next = rng(99)
  return Array.from({ length: count }, () => {
    const buf = Buffer.alloc(WIDTH * HEIGHT * 4)
    for (let i = 0; i < buf.length; i += 4) {
      const v = Math.floor(next() * 256)
      buf[i] = buf[i + 1] = buf[i + 2] = v
      buf[i + 3] = 40
    }
    return buf
  })
}

/**
 * `perClass` JPEGs per class under `dir`: a background gradient in colours drawn around the class's hue, a few
 * distractor blobs, the class's shape at a random place, size and rotation, and grain. Generated once (a
 * `.complete` marker) and reused by later runs.
 */
async function ensureDataset(dir: string, perClass: number): Promise<void> {
  if (existsSync(join(dir, '.complete'))) return
  await rm(dir, { recursive: true, force: true })
  const t0 = performance.now()
  const tiles = grainTiles(6)
  const jobs: { k: number; i: number }[] = []
  for (let k = 0; k < CLASSES.length; k++) {
    await mkdir(join(dir, CLASSES[k]!), { recursive: true })
    for (let i = 0; i < perClass; i++) jobs.push({ k, i })
  }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const { k, i } = jobs[next++]!
      const r = rng(k * 1_000_003 + i * 7919 + 1)
      const hue = (k * 36 + (r() - 0.5) * 80 + 360) % 360
      const hue2 = (hue + 60 + r() * 120) % 360
      const blobs = Array.from(
        { length: 3 },
        () =>
          `<ellipse cx="${(r() * WIDTH).toFixed(0)}" cy="${(r() * HEIGHT).toFixed(0)}" rx="${(20 + r() * 80).toFixed(0)}" ry="${(20 + r() * 60).toFixed(0)}" fill="hsl(${(r() * 360).toFixed(0)},40%,${(30 + r() * 40).toFixed(0)}%)" opacity="0.6"/>`,
      ).join('')
      const s = 50 + r() * 90
      const x = s + r() * (WIDTH - 2 * s)
      const y = s + r() * (HEIGHT - 2 * s)
      const fill = `hsl(${((hue + 180 + (r() - 0.5) * 60) % 360).toFixed(0)},${(55 + r() * 35).toFixed(0)}%,${(35 + r() * 30).toFixed(0)}%)`
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}"><defs><linearGradient id="g" x1="0" y1="0" x2="${r().toFixed(2)}" y2="1">` +
        `<stop offset="0" stop-color="hsl(${hue.toFixed(0)},50%,${(25 + r() * 30).toFixed(0)}%)"/><stop offset="1" stop-color="hsl(${hue2.toFixed(0)},45%,${(45 + r() * 30).toFixed(0)}%)"/>` +
        `</linearGradient></defs><rect width="${WIDTH}" height="${HEIGHT}" fill="url(#g)"/>${blobs}${shape(k, x, y, s, r() * 360, fill)}</svg>`
      await sharp(Buffer.from(svg))
        .composite([{ input: tiles[i % tiles.length]!, raw: { width: WIDTH, height: HEIGHT, channels: 4 } }])
        .removeAlpha()
        .jpeg({ quality: 85 })
        .toFile(join(dir, CLASSES[k]!, `${CLASSES[k]}-${String(i).padStart(5, '0')}.jpg`))
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  await writeFile(join(dir, '.complete'), '')
  log(`generated ${jobs.length} JPEGs (${WIDTH}×${HEIGHT}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
}

// ------------------------------------------------------------------------------------------ the main process

/** What the main process reports on stdout, one JSON object a line. */
type ChildLine =
  | { type: 'pid'; pid: number; kind: string }
  | { type: 'result'; result: MainResult }
  | { type: 'cancel'; stage: string; seconds: number; status: string }

interface MainResult {
  images: number
  scanSeconds: number
  splitSeconds: number
  split: { train: number; val: number; test: number }
  stages: Record<string, number>
  runSeconds: number
  status: string
  testAccuracy: number | null
  /** Seconds between the first and the last progress message of each stage, and the longest silence. */
  progress: Record<string, { events: number; longestGapSeconds: number; etaShown: boolean }>
  predict: { coldSeconds: number; warmSeconds: number[] }
  predictSame: boolean
  /** Export (TF.js folder) with its check over the test split, in the warm worker; null above 2,000 images. */
  exportSeconds: number | null
}

async function mainProcess(): Promise<void> {
  const { createServices } = await import('../src/main/services')
  const { forkLauncher } = await import('../src/main/tasks/worker-process')
  const { defaultRunConfig } = await import('../src/shared/run-config')
  const data = flag('--data')!
  const home = flag('--home')!
  const cancelStage = flag('--cancel-stage')
  const emit = (line: ChildLine): void => void process.stdout.write(`${JSON.stringify(line)}\n`)
  const svc = createServices({ dataDir: home, mode: 'browser', launcher: forkLauncher, workerScript, log: () => {} })
  const call = async <T>(channel: string, payload: unknown): Promise<T> => {
    const r = await svc.router.call(channel, payload)
    if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`)
    return r.value as T
  }
  const seen = new Set<string>()
  let scanTaskId: string | null = null
  const stageAt: Record<string, number> = {}
  const lastAt: Record<string, number> = {}
  const progress: MainResult['progress'] = {}
  let status = ''
  let statusAt = 0
  svc.hub.subscribe((event, payload) => {
    const now = performance.now()
    if (event === 'task:update') {
      const info = payload as { id: string; kind: string; status: string }
      if (info.kind === 'scan') scanTaskId = info.id
      const pid = svc.tasks.pidOf(info.id)
      if (info.status === 'running' && pid !== undefined && !seen.has(`${pid}`)) {
        seen.add(`${pid}`)
        emit({ type: 'pid', pid, kind: info.kind })
      }
    } else if (event === 'run:progress') {
      const p = payload as { stage: string; etaSeconds: number | null }
      stageAt[p.stage] ??= now
      const row = (progress[p.stage] ??= { events: 0, longestGapSeconds: 0, etaShown: false })
      row.events++
      if (lastAt[p.stage] !== undefined)
        row.longestGapSeconds = Math.max(row.longestGapSeconds, round((now - lastAt[p.stage]!) / 1000))
      lastAt[p.stage] = now
      if (p.etaSeconds !== null) row.etaShown = true
    } else if (event === 'run:status') {
      status = (payload as { status: string }).status
      statusAt = now
    }
  })

  try {
    const t0 = performance.now()
    if (cancelStage === 'scan') {
      const importing = call('datasets:import', { path: data }).then(
        () => 'done',
        (e: Error) => e.message,
      )
      // Cancel once the scan has read a good part of the folder.
      await new Promise<void>((ok) => {
        const off = svc.hub.subscribe((event, payload) => {
          if (event === 'dataset:progress' && (payload as { done: number }).done >= 200) {
            off()
            ok()
          }
        })
      })
      const tc = performance.now()
      await call('tasks:cancel', { taskId: scanTaskId })
      const outcome = await importing
      emit({ type: 'cancel', stage: 'scan', seconds: round((performance.now() - tc) / 1000), status: outcome })
      return
    }
    const report = await call<{ id: string }>('datasets:import', { path: data })
    const t1 = performance.now()
    const config = defaultRunConfig(MODEL_ID, report.id, `scale ${data}`)
    config.hyper.epochs = EPOCHS
    config.hyper.earlyStopping.enabled = false
    const split = await call<{ perClass: { train: number; val: number; test: number }[] }>('splits:preview', {
      datasetId: report.id,
      ratios: config.split,
    })
    const t2 = performance.now()
    const counts = { train: 0, val: 0, test: 0 }
    for (const c of split.perClass) for (const k of ['train', 'val', 'test'] as const) counts[k] += c[k]
    const { runId } = await call<{ runId: number }>('runs:start', { config })
    const tRun = performance.now()
    if (cancelStage) {
      await new Promise<void>((ok) => {
        const timer = setInterval(() => {
          const at = stageAt[cancelStage]
          // Well into the stage: a second after it started.
          if (at !== undefined && performance.now() - at > 1000) {
            clearInterval(timer)
            ok()
          }
        }, 20)
      })
      const tc = performance.now()
      await call('runs:cancel', { runId })
      await svc.jobs.whenIdle()
      emit({ type: 'cancel', stage: cancelStage, seconds: round((statusAt - tc) / 1000), status })
      return
    }
    await svc.jobs.whenIdle()
    const tEnd = performance.now()
    const run = await call<{
      status: string
      testAccuracy: number | null
      evaluations: { split: string; predictions: { file: string }[] }[]
    }>('runs:get', { runId })
    const stages: Record<string, number> = {}
    const order = ['loading', 'extracting', 'training', 'evaluating', 'exporting']
    const present = order.filter((s) => stageAt[s] !== undefined)
    present.forEach((s, i) => {
      const end = i + 1 < present.length ? stageAt[present[i + 1]!]! : tEnd
      stages[s] = round((end - stageAt[s]!) / 1000)
    })
    const tests = run.evaluations.find((e) => e.split === 'test')?.predictions ?? []
    const file = (i: number): string => join(data, tests[i % Math.max(1, tests.length)]!.file)
    const time = async (f: string): Promise<[number, unknown]> => {
      const t = performance.now()
      const out = await call('runs:predict', { runId, file: f }).catch((e: Error) => `failed: ${e.message}`)
      return [round((performance.now() - t) / 1000), out]
    }
    const [coldSeconds, coldOut] = await time(file(0))
    const warmSeconds: number[] = []
    let sameOut: unknown = null
    for (let i = 1; i <= 5; i++) {
      const [s, out] = await time(file(i === 5 ? 0 : i))
      warmSeconds.push(s)
      if (i === 5) sameOut = out
    }
    // The export's check predicts every test image again: it grows with the test split, so only on small sets.
    let exportSeconds: number | null = null
    if (tests.length <= 200) {
      const t = performance.now()
      await call('runs:export', { runId, dir: `${home}-export` })
      exportSeconds = round((performance.now() - t) / 1000)
    }
    emit({
      type: 'result',
      result: {
        images: counts.train + counts.val + counts.test,
        scanSeconds: round((t1 - t0) / 1000),
        splitSeconds: round((t2 - t1) / 1000),
        split: counts,
        stages,
        runSeconds: round((tEnd - tRun) / 1000),
        status: run.status,
        testAccuracy: run.testAccuracy,
        progress,
        predict: { coldSeconds, warmSeconds },
        predictSame: JSON.stringify(coldOut) === JSON.stringify(sameOut),
        exportSeconds,
      },
    })
  } finally {
    svc.close()
  }
}

// ------------------------------------------------------------------------------------------ sampling

interface ProcPeak {
  pid: number
  role: string
  peakKb: number
}

function readStatus(pid: number): { ppid: number; hwmKb: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const ppid = Number(/PPid:\s+(\d+)/.exec(s)?.[1] ?? -1)
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0)
    return { ppid, hwmKb }
  } catch {
    return null
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/**
 * Samples the tree under `root` every 200 ms: each process's VmHWM (the kernel's own peak, so a short spike
 * between samples still counts) and its role. Returns a stop function that yields the peaks.
 */
function sampleTree(root: number, kinds: Map<number, string>): () => ProcPeak[] {
  const peaks = new Map<number, ProcPeak>()
  const tick = (): void => {
    const parent = new Map<number, number>()
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      const st = readStatus(Number(name))
      if (st) parent.set(Number(name), st.ppid)
    }
    const inTree = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 10; p = parent.get(p) ?? 0, hops++) if (p === root) return true
      return false
    }
    for (const pid of parent.keys()) {
      if (!inTree(pid)) continue
      const st = readStatus(pid)
      if (!st) continue
      const cmd = cmdline(pid)
      const role =
        pid === root
          ? 'main'
          : cmd.includes('extract-worker')
            ? 'extraction worker'
            : cmd.includes('job-worker')
              ? `${kinds.get(pid) ?? 'task'} worker`
              : null
      if (!role) continue
      const prev = peaks.get(pid)
      peaks.set(pid, {
        pid,
        role: prev?.role.startsWith('task') ? role : (prev?.role ?? role),
        peakKb: Math.max(prev?.peakKb ?? 0, st.hwmKb),
      })
      // A job worker's kind arrives on stdout a moment after it starts.
      const p = peaks.get(pid)!
      if (p.role === 'task worker' && kinds.has(pid)) p.role = `${kinds.get(pid)} worker`
    }
  }
  const timer = setInterval(tick, 200)
  tick()
  return () => {
    clearInterval(timer)
    tick()
    return [...peaks.values()]
  }
}

/** Runs the main process for one dataset and samples its tree. */
async function measure(
  data: string,
  extra: string[] = [],
  keepHome?: string,
): Promise<{ lines: ChildLine[]; peaks: ProcPeak[] }> {
  const home = keepHome ?? join(tmpdir(), `tunewise-scale-home-${process.pid}-${Date.now()}`)
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(projectRoot, 'bench', 'scale.ts'),
      '--main',
      '--data',
      data,
      '--home',
      home,
      ...(flag('--out') ? ['--out', flag('--out')!] : []),
      ...extra,
    ],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TUNEWISE_BACKEND: 'wasm' } },
  )
  const kinds = new Map<number, string>()
  const lines: ChildLine[] = []
  const stop = sampleTree(child.pid!, kinds)
  const rl = createInterface({ input: child.stdout })
  rl.on('line', (text) => {
    try {
      const line = JSON.parse(text) as ChildLine
      lines.push(line)
      if (line.type === 'pid') kinds.set(line.pid, line.kind)
    } catch {
      process.stderr.write(`${text}\n`)
    }
  })
  const code = await new Promise<number | null>((ok) => child.on('exit', ok))
  const peaks = stop()
  for (const p of peaks) if (p.role === 'task worker' && kinds.has(p.pid)) p.role = `${kinds.get(p.pid)} worker`
  if (!keepHome) await rm(home, { recursive: true, force: true })
  await rm(`${home}-export`, { recursive: true, force: true })
  if (code !== 0) throw new Error(`the main process exited with code ${code}`)
  return { lines, peaks }
}

// ------------------------------------------------------------------------------------------ report

interface Row {
  images: number
  split: MainResult['split']
  seconds: {
    scan: number
    split: number
    loading: number
    extraction: number
    training: number
    evaluation: number
    export: number
    total: number
  }
  /** Peak resident memory in MB: main, and each worker role (the largest of that role). */
  peakMb: Record<string, number>
  extractionWorkers: number
  testAccuracy: number | null
  progress: MainResult['progress']
  predict: { coldSeconds: number; warmMedianSeconds: number; sameAnswer: boolean }
  /** Export with its check on the test images; null when not measured. */
  exportSeconds: number | null
  /** The machine's 1-minute load average when the row started (other work on the same cores slows it). */
  loadAvg?: number
}

interface Results {
  machine: Record<string, string | number>
  epochs: number
  rows: Row[]
  cancel: { images: number; stage: string; seconds: number; status: string }[]
}

function machine(): Record<string, string | number> {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''
  return {
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    backend: 'wasm',
    model: MODEL_ID,
    loadAvgAtStart: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    date: new Date().toISOString(),
  }
}

function toRow(result: MainResult, peaks: ProcPeak[]): Row {
  const peakMb: Record<string, number> = {}
  for (const p of peaks) peakMb[p.role] = Math.max(peakMb[p.role] ?? 0, mb(p.peakKb))
  const st = result.stages
  const warm = [...result.predict.warmSeconds].sort((a, b) => a - b)
  return {
    images: result.images,
    split: result.split,
    seconds: {
      scan: result.scanSeconds,
      split: result.splitSeconds,
      loading: st.loading ?? 0,
      extraction: st.extracting ?? 0,
      training: st.training ?? 0,
      evaluation: st.evaluating ?? 0,
      export: st.exporting ?? 0,
      total: round(result.scanSeconds + result.splitSeconds + result.runSeconds),
    },
    peakMb,
    extractionWorkers: peaks.filter((p) => p.role === 'extraction worker').length,
    testAccuracy: result.testAccuracy,
    progress: result.progress,
    predict: {
      coldSeconds: result.predict.coldSeconds,
      warmMedianSeconds: warm[Math.floor(warm.length / 2)] ?? 0,
      sameAnswer: result.predictSame,
    },
    exportSeconds: result.exportSeconds,
  }
}

const ROLES = ['main', 'scan worker', 'train worker', 'extraction worker', 'predict worker', 'export worker']

function markdown(r: Results): string {
  const fmt = (n: number): string => n.toLocaleString('en-US')
  const lines = [
    `Measured ${r.machine.date} on ${r.machine.cpu} (${r.machine.cores} cores), Node ${r.machine.node}, ${r.machine.backend}, ${r.machine.model}; ${r.epochs} head epochs, no early stopping. 640×480 JPEGs, 10 classes.`,
    '',
    '| images | load avg | scan s | extraction s | head training s | evaluation s | saving s | total s | main MB | scan worker MB | train worker MB | extraction worker MB | predict worker MB | export worker MB | predict cold s | predict warm s | export + check s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map(
      (row) =>
        `| ${fmt(row.images)} | ${row.loadAvg ?? '–'} | ${row.seconds.scan} | ${row.seconds.extraction} | ${row.seconds.training} | ${row.seconds.evaluation} | ${row.seconds.export} | ${row.seconds.total} | ` +
        ROLES.map((role) => row.peakMb[role] ?? '–').join(' | ') +
        ` | ${row.predict.coldSeconds} | ${row.predict.warmMedianSeconds} | ${row.exportSeconds ?? '–'} |`,
    ),
  ]
  if (r.cancel.length) {
    lines.push('', '| cancel during | images | seconds to cancelled | outcome |', '|---|---|---|---|')
    for (const c of r.cancel) lines.push(`| ${c.stage} | ${fmt(c.images)} | ${c.seconds} | ${c.status} |`)
  }
  return `${lines.join('\n')}\n`
}

/** A two-panel line chart (seconds and peak MB against images), as SVG for sharp to render. */
function plotSvg(r: Results): string {
  const W = 900
  const H = 430
  const rows = [...r.rows].sort((a, b) => a.images - b.images)
  const maxX = Math.max(...rows.map((x) => x.images))
  const panel = (
    x0: number,
    title: string,
    unit: string,
    series: { name: string; color: string; values: number[] }[],
  ): string => {
    const w = 380
    const h = 260
    const y0 = 60
    const maxY = Math.max(1, ...series.flatMap((s) => s.values))
    const decade = Math.pow(10, Math.floor(Math.log10(maxY)))
    const niceMax = decade * [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((f) => f * decade >= maxY)!
    const px = (v: number): number => x0 + 50 + (v / maxX) * (w - 60)
    const py = (v: number): number => y0 + h - (v / niceMax) * h
    const grid = [0, 0.25, 0.5, 0.75, 1]
      .map((f) => {
        const v = niceMax * f
        return `<line x1="${x0 + 50}" x2="${x0 + w - 10}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/><text x="${x0 + 44}" y="${py(v) + 4}" text-anchor="end" font-size="11">${round(v, 3)}</text>`
      })
      .join('')
    const xTicks = rows
      .map(
        (row) =>
          `<text x="${px(row.images)}" y="${y0 + h + 16}" text-anchor="middle" font-size="11">${row.images.toLocaleString('en-US')}</text>`,
      )
      .join('')
    const lines = series
      .map((s, i) => {
        const pts = rows.map((row, j) => `${px(row.images).toFixed(1)},${py(s.values[j] ?? 0).toFixed(1)}`).join(' ')
        const dots = rows
          .map((row, j) => `<circle cx="${px(row.images)}" cy="${py(s.values[j] ?? 0)}" r="3" fill="${s.color}"/>`)
          .join('')
        // The legend goes under the chart, two to a line.
        const lx = x0 + 50 + (i % 2) * 170
        const ly = y0 + h + 56 + Math.floor(i / 2) * 16
        return `<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>${dots}<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/><text x="${lx + 16}" y="${ly}" font-size="11">${s.name}</text>`
      })
      .join('')
    return (
      `<text x="${x0 + 50}" y="40" font-size="14" font-weight="bold">${title}</text>` +
      `<text x="${x0 + 12}" y="${y0 + h / 2}" font-size="11" transform="rotate(-90 ${x0 + 12} ${y0 + h / 2})" text-anchor="middle">${unit}</text>` +
      grid +
      `<line x1="${x0 + 50}" x2="${x0 + 50}" y1="${y0}" y2="${y0 + h}" stroke="#888"/>` +
      xTicks +
      `<text x="${x0 + 50 + (w - 60) / 2}" y="${y0 + h + 34}" text-anchor="middle" font-size="11">images</text>` +
      lines
    )
  }
  const col = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd']
  const time = panel(10, 'Time (seconds)', 'seconds', [
    { name: 'total', color: col[0]!, values: rows.map((x) => x.seconds.total) },
    { name: 'extraction', color: col[1]!, values: rows.map((x) => x.seconds.extraction) },
    { name: `head training (${r.epochs} epochs)`, color: col[2]!, values: rows.map((x) => x.seconds.training) },
    { name: 'scan', color: col[3]!, values: rows.map((x) => x.seconds.scan) },
    { name: 'evaluation', color: col[4]!, values: rows.map((x) => x.seconds.evaluation) },
  ])
  const mem = panel(460, 'Peak resident memory (MB)', 'MB', [
    { name: 'main', color: col[0]!, values: rows.map((x) => x.peakMb.main ?? 0) },
    { name: 'train worker', color: col[1]!, values: rows.map((x) => x.peakMb['train worker'] ?? 0) },
    { name: 'extraction worker', color: col[2]!, values: rows.map((x) => x.peakMb['extraction worker'] ?? 0) },
    { name: 'scan worker', color: col[3]!, values: rows.map((x) => x.peakMb['scan worker'] ?? 0) },
    { name: 'predict worker', color: col[4]!, values: rows.map((x) => x.peakMb['predict worker'] ?? 0) },
  ])
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">` +
    `<rect width="${W}" height="${H}" fill="white"/>${time}${mem}</svg>`
  )
}

async function orchestrate(): Promise<void> {
  if (!existsSync(workerScript)) throw new Error('Build first: npm run build (npm run bench:scale does).')
  const sizes = (flag('--sizes') ?? '500,2000,10000').split(',').map(Number)
  const work = flag('--work') ?? join(tmpdir(), 'tunewise-scale')
  const cancelAt = flag('--cancel') ? Number(flag('--cancel')) : null
  const file = resultsFile ?? join(projectRoot, 'bench', 'results-scale.json')
  const previous: Results | null =
    argv.includes('--merge') && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Results) : null
  const results: Results = { machine: machine(), epochs: EPOCHS, rows: [], cancel: [] }
  const dataFor = async (n: number): Promise<string> => {
    const dir = join(work, `images-${n}`)
    await ensureDataset(dir, Math.round(n / CLASSES.length))
    return dir
  }
  for (const n of sizes) {
    const data = await dataFor(n)
    log(`${n} images: scan, split, train ${EPOCHS} epochs, evaluate, predict…`)
    const loadAvg = round(loadavg()[0]!, 2)
    const { lines, peaks } = await measure(data)
    const result = lines.find((l): l is Extract<ChildLine, { type: 'result' }> => l.type === 'result')?.result
    if (!result) throw new Error('the main process reported no result')
    const row = { ...toRow(result, peaks), loadAvg }
    log(`  ${JSON.stringify(row.seconds)} peak MB ${JSON.stringify(row.peakMb)} predict ${JSON.stringify(row.predict)}`)
    results.rows.push(row)
  }
  if (cancelAt !== null) {
    const data = await dataFor(cancelAt)
    // One data folder for the three: the training cancel reuses what the extraction cancel cached.
    const home = join(tmpdir(), `tunewise-scale-cancel-${process.pid}`)
    for (const stage of ['scan', 'extracting', 'training']) {
      log(`cancel during ${stage} at ${cancelAt} images…`)
      const { lines } = await measure(data, ['--cancel-stage', stage], home)
      const c = lines.find((l): l is Extract<ChildLine, { type: 'cancel' }> => l.type === 'cancel')
      if (c) results.cancel.push({ images: cancelAt, stage: c.stage, seconds: c.seconds, status: c.status })
      log(`  ${JSON.stringify(c)}`)
    }
    await rm(home, { recursive: true, force: true })
  }
  if (previous) {
    const have = new Set(results.rows.map((x) => x.images))
    results.rows.push(...previous.rows.filter((x) => !have.has(x.images)))
    results.rows.sort((a, b) => a.images - b.images)
    if (!results.cancel.length) results.cancel = previous.cancel
  }
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
  if (!resultsFile) {
    await writeFile(join(projectRoot, 'bench', 'results-scale.md'), markdown(results))
    await mkdir(join(projectRoot, 'docs'), { recursive: true })
    await sharp(Buffer.from(plotSvg(results)))
      .png()
      .toFile(join(projectRoot, 'docs', 'scale.png'))
  }
  process.stderr.write(markdown(results))
  if (argv.includes('--json')) console.log(JSON.stringify(results))
}

if (argv.includes('--main')) {
  mainProcess().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exit(1)
    },
  )
} else {
  orchestrate().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
