/** Pure comparison logic for runs:compare, kept apart from SQL so it is testable on its own. */
import type { CompareResult } from '../../shared/contract'
import type { Evaluation, RunConfig } from '../../shared/types'

export type SettingRow = CompareResult['settings'][number]
export type ExampleDiff = NonNullable<CompareResult['exampleDiff']>

/**
 * Why runs cannot be compared side by side, or null when they can: runs of different kinds of data (pictures
 * and sound recordings) answer different questions, so their scores and settings do not line up. Configs
 * stored before sound existed are image runs.
 */
export function dataKindConflict(
  runs: readonly { id: number; config: Partial<Pick<RunConfig, 'dataKind'>> }[],
): string | null {
  const kindOf = (r: (typeof runs)[number]): 'image' | 'audio' => (r.config.dataKind === 'audio' ? 'audio' : 'image')
  const sound = runs.filter((r) => kindOf(r) === 'audio')
  if (sound.length === 0 || sound.length === runs.length) return null
  const images = runs.filter((r) => kindOf(r) === 'image')
  // "Run 3", "Runs 3 and 5", "Runs 3, 5 and 7".
  const named = (list: typeof runs): string => {
    const ids = list.map((r) => String(r.id))
    const tail = ids.length > 1 ? `${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}` : ids[0]
    return `${ids.length > 1 ? 'runs' : 'run'} ${tail}`
  }
  const first = named(sound)
  return (
    `${first[0]!.toUpperCase()}${first.slice(1)} trained on sound recordings and ${named(images)} on images: ` +
    'their scores and settings do not compare. Choose runs of one kind of data.'
  )
}

/**
 * One row per leaf field of the configs, as a dotted path (`hyper.learningRate`), in the order
 * fields first appear. Arrays are leaves and compare by their JSON. `name` is ignored (every run
 * has its own). A field missing from some config (an older run) shows as null there.
 */
export function diffSettings(configs: readonly RunConfig[]): SettingRow[] {
  const flat = configs.map((c) => flatten(c as unknown as Record<string, unknown>))
  const fields: string[] = []
  const seen = new Set<string>()
  for (const f of flat) {
    for (const key of f.keys()) {
      if (key === 'name' || seen.has(key)) continue
      seen.add(key)
      fields.push(key)
    }
  }
  return fields.map((field) => {
    const values = flat.map((f) => (f.has(field) ? f.get(field) : null))
    const first = JSON.stringify(values[0] ?? null)
    const differs = values.some((v) => JSON.stringify(v ?? null) !== first)
    return { field, values, differs }
  })
}

function flatten(obj: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (isPlainObject(value) && Object.keys(value).length > 0) flatten(value, path, out)
    else out.set(path, value === undefined ? null : value)
  }
  return out
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Per-example changes from run A to run B, from the evaluations' `predictions`.
 * fixed = A wrong and B right; broken = A right and B wrong; bothWrong = wrong in both.
 * Files are listed in A's order.
 * @returns null when the two evaluations do not cover exactly the same files.
 */
export function diffExamples(a: Evaluation, b: Evaluation): ExampleDiff | null {
  const bByFile = new Map(b.predictions.map((p) => [p.file, p]))
  const aFiles = new Set(a.predictions.map((p) => p.file))
  if (aFiles.size !== bByFile.size || aFiles.size !== a.predictions.length) return null
  for (const file of aFiles) if (!bByFile.has(file)) return null

  const result: ExampleDiff = { fixed: [], broken: [], bothWrong: [] }
  for (const pa of a.predictions) {
    const pb = bByFile.get(pa.file)!
    const aRight = pa.predicted === pa.trueLabel
    const bRight = pb.predicted === pb.trueLabel
    if (!aRight && bRight) result.fixed.push(pa.file)
    else if (aRight && !bRight) result.broken.push(pa.file)
    else if (!aRight && !bRight) result.bothWrong.push(pa.file)
  }
  return result
}

/**
 * Index of the best value, or null when no value is there. Ties go to the earlier run.
 * @param higherIsBetter true for accuracies, false for losses and durations.
 */
export function bestIndex(values: readonly (number | null)[], higherIsBetter: boolean): number | null {
  let best: number | null = null
  values.forEach((v, i) => {
    if (v === null || Number.isNaN(v)) return
    const current = best === null ? null : values[best]!
    if (current === null || (higherIsBetter ? v > current : v < current)) best = i
  })
  return best
}
