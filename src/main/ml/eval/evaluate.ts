/** Metrics from predicted probabilities: accuracy, loss, per-class precision/recall/F1, confusion, mistakes. */
import type { Evaluation, PerClassMetrics } from '../../../shared/types'

/** Probabilities below this are clipped before the log, as Keras does, so one confident mistake stays finite. */
const EPS = 1e-7

export interface ScoredExample {
  file: string
  /** Index into `labels`. */
  label: number
}

/**
 * Scores `probs` (row-major [examples.length, labels.length]) against the true labels.
 * Loss is the mean categorical cross-entropy (no regularisation term). Misclassified examples are sorted by
 * confidence, most confident mistakes first.
 */
export function evaluatePredictions(
  probs: Float32Array | number[],
  examples: ScoredExample[],
  labels: string[],
  split: Evaluation['split'],
): Evaluation {
  const c = labels.length
  const confusion = labels.map(() => new Array<number>(c).fill(0))
  const predictions: Evaluation['predictions'] = []
  let correct = 0
  let lossSum = 0
  examples.forEach((ex, i) => {
    let best = 0
    for (let k = 1; k < c; k++) if (probs[i * c + k] > probs[i * c + best]) best = k
    const p = Math.min(Math.max(probs[i * c + ex.label], EPS), 1 - EPS)
    lossSum += -Math.log(p)
    if (best === ex.label) correct++
    confusion[ex.label][best]++
    predictions.push({
      file: ex.file,
      trueLabel: labels[ex.label],
      predicted: labels[best],
      confidence: probs[i * c + best],
    })
  })
  const n = examples.length
  const perClass: PerClassMetrics[] = labels.map((label, k) => {
    const tp = confusion[k][k]
    const support = confusion[k].reduce((a, b) => a + b, 0)
    const predicted = confusion.reduce((a, row) => a + row[k], 0)
    const precision = predicted > 0 ? tp / predicted : 0
    const recall = support > 0 ? tp / support : 0
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0
    return { label, precision, recall, f1, support }
  })
  const misclassified = predictions
    .filter((p) => p.predicted !== p.trueLabel)
    .sort((a, b) => b.confidence - a.confidence)
    .map(({ file, trueLabel, predicted, confidence }) => ({ file, trueLabel, predicted, confidence }))
  return {
    split,
    accuracy: n > 0 ? correct / n : 0,
    loss: n > 0 ? lossSum / n : 0,
    labels: [...labels],
    perClass,
    confusion,
    misclassified,
    predictions,
  }
}

/** Loss and accuracy only, for per-epoch validation. */
export function lossAndAccuracy(
  probs: Float32Array,
  labelIdx: number[],
  numClasses: number,
): { loss: number; acc: number } {
  let loss = 0
  let correct = 0
  labelIdx.forEach((y, i) => {
    let best = 0
    for (let k = 1; k < numClasses; k++) if (probs[i * numClasses + k] > probs[i * numClasses + best]) best = k
    if (best === y) correct++
    loss += -Math.log(Math.min(Math.max(probs[i * numClasses + y], EPS), 1 - EPS))
  })
  const n = labelIdx.length
  return { loss: n ? loss / n : 0, acc: n ? correct / n : 0 }
}
