/**
 * Turning stored metric points and live progress into uPlot's aligned columns. Pure.
 */
import type { MetricPoint } from '../../../../shared/types'

/** One curve: x values and matching y values (null = gap). */
export interface Curve {
  x: number[]
  y: (number | null)[]
}

/**
 * Joins curves with different x values into uPlot's aligned form: [xs, ys1, ys2, ...], xs sorted and
 * unique, each y column null where that curve has no point at that x.
 */
export function alignCurves(curves: readonly Curve[]): [number[], ...(number | null)[][]] {
  const xs = [...new Set(curves.flatMap((c) => c.x))].sort((a, b) => a - b)
  const index = new Map(xs.map((x, i) => [x, i]))
  const cols = curves.map((c) => {
    const col: (number | null)[] = new Array(xs.length).fill(null)
    c.x.forEach((x, i) => {
      col[index.get(x)!] = c.y[i] ?? null
    })
    return col
  })
  return [xs, ...cols]
}

/** Exponential moving average (bias-corrected like TensorBoard's smoothing). weight 0 = raw. */
export function smooth(values: readonly number[], weight = 0.8): number[] {
  const out: number[] = []
  let last = 0
  let n = 0
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(out.length ? out[out.length - 1]! : v)
      continue
    }
    n++
    last = last * weight + (1 - weight) * v
    out.push(last / (1 - weight ** n))
  }
  return out
}

/** Key of a metric point's curve, e.g. "val:acc". Points arrive in one shape (src/shared/metrics.ts). */
export function metricKey(p: Pick<MetricPoint, 'split' | 'name'>): string {
  return `${p.split}:${p.name}`
}

/**
 * Per-epoch curves of one run, keyed by metricKey, with x = the epoch number counted across
 * phases (phase 2's first epoch follows phase 1's last) or the time in seconds.
 * Batch-level points (step !== null) are left out. Also returns where phase 2 starts on that axis.
 */
export function epochCurves(
  points: readonly MetricPoint[],
  xBy: 'epoch' | 'time' = 'epoch',
): { curves: Map<string, Curve>; phase2At: number | null } {
  const epochPoints = points.filter((p) => p.step === null || p.step === undefined)
  const epochs = [...new Set(epochPoints.map((p) => p.phase * 100000 + p.epoch))].sort((a, b) => a - b)
  const ordinal = new Map(epochs.map((e, i) => [e, i + 1]))
  const curves = new Map<string, Curve>()
  let phase2At: number | null = null
  for (const p of epochPoints) {
    const n = ordinal.get(p.phase * 100000 + p.epoch)!
    const x = xBy === 'epoch' ? n : p.t / 1000
    if (p.phase === 2 && (phase2At === null || x < phase2At)) phase2At = x
    const key = metricKey(p)
    let c = curves.get(key)
    if (!c) curves.set(key, (c = { x: [], y: [] }))
    c.x.push(x)
    c.y.push(p.value)
  }
  for (const c of curves.values()) {
    const order = c.x.map((_, i) => i).sort((a, b) => c.x[a]! - c.x[b]!)
    c.x = order.map((i) => c.x[i]!)
    c.y = order.map((i) => c.y[i]!)
  }
  if (phase2At !== null && xBy === 'epoch') phase2At -= 0.5
  return { curves, phase2At }
}

/** Number of distinct epochs recorded per phase, from epoch-level points (to place live batch points). */
export function epochsPerPhase(points: readonly MetricPoint[]): { 1: number; 2: number } {
  const seen = { 1: new Set<number>(), 2: new Set<number>() }
  for (const p of points) {
    if (p.step !== null && p.step !== undefined) continue
    if (p.phase === 1 || p.phase === 2) seen[p.phase].add(p.epoch)
  }
  return { 1: seen[1].size, 2: seen[2].size }
}

/** First index and count of rows to render in a virtual list, with `overscan` extra rows each side. */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 6,
): { start: number; end: number } {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight)
  const visible = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1
  const start = Math.min(count, Math.max(0, first - overscan))
  const end = Math.min(count, first + visible + overscan)
  return { start, end: Math.max(start, end) }
}
