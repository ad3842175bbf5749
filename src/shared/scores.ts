/**
 * One definition per number Tunewise shows about a run, used by the Train and Results screens,
 * History, Compare, the CLI and the exported model card. Every score is a proportion of images,
 * so each carries its 95 % interval (src/shared/stats.ts). Pure TypeScript.
 */
import { wilson, type Interval } from './stats'
import type { Evaluation } from './types'

/** What each shown score means, in one sentence (tooltips, the card, the CLI's help). */
export const scoreMeanings = {
  testAccuracy: 'Share of the test images, never seen in training, that the kept model labels correctly.',
  valAccuracy:
    'Share of the validation images the kept model labels correctly; the kept weights are those of the epoch early stopping restored, or of the last epoch.',
  recall: 'Of the test images of this class, the share the model found.',
  precision: 'Of the test images the model put in this class, the share that belong there.',
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

/** Accuracy of an evaluation with its 95 % interval. */
export function accuracyOf(ev: Pick<Evaluation, 'confusion'>): Interval {
  const { correct, total } = correctOf(ev)
  return wilson(correct, total)
}

/** Recall of each class with its 95 % interval (the class's row of the confusion matrix). */
export function recallsOf(ev: Pick<Evaluation, 'confusion' | 'labels'>): { label: string; recall: Interval }[] {
  return ev.labels.map((label, i) => {
    const row = ev.confusion[i] ?? []
    return {
      label,
      recall: wilson(
        row[i] ?? 0,
        row.reduce((a, b) => a + b, 0),
      ),
    }
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

/** A plain sentence about a score's uncertainty: "between 70 % and 95 % — test more images to narrow it". */
export function uncertaintyText(i: Interval): string {
  const width = i.high - i.low
  const pct = (x: number): string => `${Math.round(x * 100)} %`
  const range = `between ${pct(i.low)} and ${pct(i.high)}`
  if (i.trials === 0) return 'no images to measure it on'
  return width > 0.1 ? `${range} — more test images would narrow it` : range
}
