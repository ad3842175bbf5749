/** Plain-language number, time and name formatting for the wizard. Pure: no DOM, no Svelte. */

/**
 * A parameter count in a short human form: 2619461 -> "2.6 M", 12800 -> "12.8 K", 950 -> "950".
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—'
  const abs = Math.abs(n)
  if (abs >= 1e9) return `${trim(n / 1e9)} B`
  if (abs >= 1e6) return `${trim(n / 1e6)} M`
  if (abs >= 1e3) return `${trim(n / 1e3)} K`
  return String(Math.round(n))
}

function trim(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1).replace(/\.0$/, '')
}

/** Bytes as "14 MB", "820 KB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—'
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`
  return `${bytes} B`
}

/** A fraction in [0,1] as a percentage: 0.9234 -> "92.3%"; null -> "—". */
export function formatPercent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—'
  return `${(fraction * 100).toFixed(digits).replace(/\.0+$/, '')}%`
}

/** A duration in milliseconds as "1 h 4 min", "3 min 20 s", "12 s"; null -> "—". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`
  const h = Math.floor(m / 60)
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`
}

/**
 * A rough estimate in seconds as plain words: 95 -> "about 2 min", 20 -> "under a minute",
 * 5400 -> "about 1 h 30 min". Rounded, because an estimate is not a promise.
 */
export function formatEstimate(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—'
  if (seconds < 45) return 'under a minute'
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `about ${Math.max(1, minutes)} min`
  const h = Math.floor(minutes / 60)
  const m = Math.round((minutes % 60) / 5) * 5
  return m ? `about ${h} h ${m} min` : `about ${h} h`
}

/** A learning rate or other small number without float noise: 0.001 -> "0.001", 1e-7 -> "1e-7". */
export function formatNumber(x: number | null | undefined, maxDigits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  if (x !== 0 && Math.abs(x) < 1e-4) return x.toExponential()
  return String(Number(x.toPrecision(maxDigits)))
}

/**
 * A measured amount shown for reading, not for typing back (a loss, an F1, a p-value, a difference):
 * `digits` significant digits, 0 as "0", and anything closer to 0 than `floor` as "< 0.001" instead of
 * "3.1e-7" or "0.0e+0". 0.45678 -> "0.457", 12.345 -> "12.3", 0.0000031 -> "< 0.001"; null -> "—".
 */
export function formatMeasure(x: number | null | undefined, digits = 3, floor = 0.001): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  if (x === 0) return '0'
  if (Math.abs(x) < floor) return x > 0 ? `< ${floor}` : `> -${floor}`
  return String(Number(x.toPrecision(digits)))
}

/** ISO timestamp as a short local date and time. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })
}

/** Last segment of a path, for either separator: "/data/shapes/" -> "shapes". */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]+/).filter(Boolean)
  return parts[parts.length - 1] ?? path
}

/** Joins path segments with the separator the base path already uses (Windows paths keep "\"). */
export function joinPath(base: string, ...parts: string[]): string {
  const sep = base.includes('\\') && !base.includes('/') ? '\\' : '/'
  return [base.replace(/[\\/]+$/, ''), ...parts].join(sep)
}

/** A name safe as a folder name: "MobileNetV2 · shapes · lr 0.001" -> "MobileNetV2-shapes-lr-0.001". */
export function slug(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[^\w.-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
  return s.slice(0, 80) || 'run'
}

/** The default run name: "MobileNetV2 · shapes · lr 0.001". */
export function defaultRunName(modelName: string, datasetPath: string | null, learningRate: number): string {
  const parts = [modelName || 'Model']
  if (datasetPath) parts.push(baseName(datasetPath))
  parts.push(`lr ${formatNumber(learningRate)}`)
  return parts.join(' · ')
}

/** Text of an error thrown by the API (or anything else), without stack traces. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message
  if (typeof err === 'string') return err
  return 'Something went wrong.'
}
