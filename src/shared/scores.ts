/**
 * One definition per number Tunewise shows about a run, used by the Train and Results screens,
 * History, Compare, the CLI and the exported model card. Every score is a proportion of examples
 * (images, or clips of recordings), so each carries its 95 % interval (src/shared/stats.ts); clips of one
 * recording count as one unit of evidence. Pure TypeScript.
 */
import { clusteredMcnemar, clusteredWilson, wilson, type Interval, type McNemar, type UnitCount } from './stats'
import type { Evaluation } from './types'

/**
 * The independent unit an example belongs to: a clip (`rec.wav#t=1,2`) is one of its recording's clips, an
 * image is its own unit.
 */
export function exampleUnit(file: string): string {
  return file.replace(/#t=\d+(?:\.\d+)?,\d+(?:\.\d+)?$/, '')
}

type Scored = Pick<Evaluation, 'confusion'> & Partial<Pick<Evaluation, 'predictions'>>

/**
 * Right answers per unit among the predictions `keep` selects, or null when every unit holds one example (or
 * the predictions are not all there): then the plain Wilson interval on the confusion counts is the answer.
 */
function unitCounts(
  ev: Scored,
  total: number,
  keep: (p: Evaluation['predictions'][number]) => boolean,
): UnitCount[] | null {
  const all = ev.predictions
  if (!all || all.length !== correctOf(ev).total) return null
  const units = new Map<string, UnitCount>()
  let kept = 0
  for (const p of all) {
    if (!keep(p)) continue
    kept++
    const key = exampleUnit(p.file)
    const u = units.get(key) ?? { successes: 0, trials: 0 }
    u.trials++
    if (p.predicted === p.trueLabel) u.successes++
    units.set(key, u)
  }
  if (kept !== total || units.size === kept) return null
  return [...units.values()]
}

/**
 * A proportion of examples with its 95 % interval: Wilson's, or `clusteredWilson` when examples share a unit
 * (clips of one recording), so the interval counts recordings' worth of evidence, not clips'.
 */
function proportion(
  ev: Scored,
  successes: number,
  trials: number,
  keep: (p: Evaluation['predictions'][number]) => boolean,
): Interval {
  const units = trials > 0 ? unitCounts(ev, trials, keep) : null
  if (!units) return wilson(successes, trials)
  return clusteredWilson(units)
}

/** What each shown score means, in one sentence (tooltips, the card, the CLI's help). */
export const scoreMeanings = {
  testAccuracy:
    'Share of the test examples (images, or clips of recordings), never seen in training, that the kept model labels correctly.',
  valAccuracy:
    'Share of the validation examples the kept model labels correctly; the kept weights are those of the epoch early stopping restored, or of the last epoch.',
  recall: 'Of the test examples of this class, the share the model found.',
  precision: 'Of the test examples the model put in this class, the share that belong there.',
} as const

/** Correct answers and images of an evaluation, read off the confusion matrix's diagonal. */
export function correctOf(ev: Pick<Evaluation, 'confusion'>): { correct: number; total: number } {
  let correct = 0
  let total = 0
  ev.confusion.forEach((row, i) =>
    row.forEach((n, j) => {
      total += n
      if (i === j) correct += n
    }),
  )
  return { correct, total }
}

/**
 * Accuracy of an evaluation with its 95 % interval. With the evaluation's predictions, clips of one recording
 * count as one unit of evidence (`clusteredWilson`); images are always independent.
 */
export function accuracyOf(ev: Scored): Interval {
  const { correct, total } = correctOf(ev)
  return proportion(ev, correct, total, () => true)
}

/** Recall of each class with its 95 % interval (the class's row of the confusion matrix). */
export function recallsOf(ev: Scored & Pick<Evaluation, 'labels'>): { label: string; recall: Interval }[] {
  return ev.labels.map((label, i) => {
    const row = ev.confusion[i] ?? []
    const support = row.reduce((a, b) => a + b, 0)
    return { label, recall: proportion(ev, row[i] ?? 0, support, (p) => p.trueLabel === label) }
  })
}

/** Precision of each class with its 95 % interval (the class's column of the confusion matrix). */
export function precisionsOf(ev: Scored & Pick<Evaluation, 'labels'>): { label: string; precision: Interval }[] {
  return ev.labels.map((label, j) => {
    const said = ev.confusion.reduce((a, row) => a + (row[j] ?? 0), 0)
    return { label, precision: proportion(ev, ev.confusion[j]?.[j] ?? 0, said, (p) => p.predicted === label) }
  })
}

/** The scores of a run, from its stored evaluations of the kept model. */
export interface RunScores {
  /** Validation accuracy of the kept weights (the restored epoch, or the last). */
  val: Interval | null
  test: Interval | null
}

export function runScores(evaluations: readonly Evaluation[]): RunScores {
  const val = evaluations.find((e) => e.split === 'val')
  const test = evaluations.find((e) => e.split === 'test')
  return { val: val ? accuracyOf(val) : null, test: test ? accuracyOf(test) : null }
}

/**
 * A plain sentence about a score's uncertainty: "between 70 % and 95 % — more test images would narrow it".
 * `split` and `examples` name what measured it ("validation", "clips"); when clips share recordings the
 * interval counts recordings, and so does the advice.
 */
export function uncertaintyText(
  i: Interval,
  { split = 'test', examples = 'images' }: { split?: 'test' | 'validation'; examples?: 'images' | 'clips' } = {},
): string {
  const width = i.high - i.low
  const pct = (x: number): string => `${Math.round(x * 100)} %`
  const range = `between ${pct(i.low)} and ${pct(i.high)}`
  if (i.trials === 0) return `no ${examples} to measure it on`
  // Clips of one recording are not independent checks: more recordings narrow it, not longer ones.
  const more = `more ${split} ${i.clustered ? 'recordings' : examples}`
  return width > 0.1 ? `${range} — ${more} would narrow it` : range
}

/**
 * Whether two runs differ beyond chance on the same test examples, from the examples only one of them got
 * right: McNemar's exact test, or its clustered form when clips share recordings (`clusteredMcnemar`).
 */
export function pairedDifference(onlyFirstRight: readonly string[], onlySecondRight: readonly string[]): McNemar {
  const units = new Map<string, { onlyFirst: number; onlySecond: number }>()
  const unit = (file: string) => {
    const key = exampleUnit(file)
    const u = units.get(key) ?? { onlyFirst: 0, onlySecond: 0 }
    units.set(key, u)
    return u
  }
  for (const f of onlyFirstRight) unit(f).onlyFirst++
  for (const f of onlySecondRight) unit(f).onlySecond++
  return clusteredMcnemar([...units.values()])
}
