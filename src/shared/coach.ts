/**
 * The coach: plain-word findings about a finished run, from its stored curves and evaluation, each
 * with a code and (where one exists) a fix as changes to the field table's settings. The Results
 * screen, the CLI's `train --json` and the model card all read the same findings. Pure TypeScript.
 */
import { adviceFor, type ErrorCode } from './errors'
import { runConfigSchema, setPath, type RunConfig } from './run-config'
import { accuracyOf } from './scores'
import type { Evaluation, MetricPoint, RunStatus } from './types'

export type FindingCode =
  | 'diverged'
  | 'stuck-at-chance'
  | 'overfitting'
  | 'underfitting'
  | 'still-improving'
  | 'one-class-predicted'
  | 'class-too-small'
  | 'imbalance'
  | 'test-too-small'
  | 'failed'
  | 'learning-rate-high'

export interface Finding {
  code: FindingCode
  /** 'problem' needs attention; 'hint' may help. */
  severity: 'problem' | 'hint'
  title: string
  /** What was seen, with the numbers, and what it means. */
  detail: string
  /** A change to the run's settings that addresses it ("Train again with this fix"). */
  fix?: { label: string; changes: { path: string; value: unknown }[] }
}

export interface CoachInput {
  config: RunConfig
  status: RunStatus
  errorCode: ErrorCode | null
  points: readonly MetricPoint[]
  evaluations: readonly Evaluation[]
}

/** A gap between training and validation accuracy above this is over-fitting. */
export const OVERFIT_GAP = 0.15
/** Within this of chance level, a model has learned nothing. */
export const CHANCE_MARGIN = 0.05
/** Training accuracy below this (and above chance) is under-fitting. */
export const UNDERFIT_BELOW = 0.8
/** A test class with fewer images than this cannot be judged. */
export const MIN_CLASS_IMAGES = 5
/** One predicted class holding this share of all predictions. */
export const ONE_CLASS_SHARE = 0.9
/** Largest to smallest class size above this is an imbalance. */
export const IMBALANCE_RATIO = 3
/** Adaptive optimisers (Adam, RMSprop, Adagrad) at or above this rate overshoot on nearly every problem. */
export const ADAPTIVE_LR_HIGH = 0.05

/** A 95 % interval wider than this makes the score too uncertain to compare runs. */
export const WIDE_INTERVAL = 0.2

const pct = (x: number): string => `${Math.round(x * 100)} %`
const fmt = (x: number): string => String(Number(x.toPrecision(3)))

/** The per-epoch series of one metric in training order (phases in turn). */
function series(points: readonly MetricPoint[], split: 'train' | 'val', name: string): number[] {
  return points
    .filter((p) => p.split === split && p.name === name && p.step === null)
    .sort((a, b) => a.phase - b.phase || a.epoch - b.epoch)
    .map((p) => p.value)
}

const last = (xs: number[]): number | undefined => xs[xs.length - 1]

function lrChange(config: RunConfig, factor: number): Finding['fix'] {
  const lr = Math.min(1, Math.max(1e-6, Number((config.hyper.learningRate * factor).toPrecision(2))))
  return {
    label: `Train again at learning rate ${fmt(lr)}`,
    changes: [{ path: 'hyper.learningRate', value: lr }],
  }
}

/** Every finding for a run, most important first. */
export function coachFindings(input: CoachInput): Finding[] {
  const { config, points } = input
  const out: Finding[] = []
  const test = input.evaluations.find((e) => e.split === 'test') ?? input.evaluations.find((e) => e.split === 'val')
  const k = test?.labels.length ?? 0
  const chance = k > 0 ? 1 / k : 0
  const trainLoss = series(points, 'train', 'loss')
  const trainAcc = series(points, 'train', 'acc')
  const valAcc = series(points, 'val', 'acc')
  const valLoss = series(points, 'val', 'loss')

  // ---- The run itself.
  const diverged =
    input.errorCode === 'nan_loss' ||
    trainLoss.some((v) => !Number.isFinite(v)) ||
    (trainLoss.length >= 2 && k > 1 && last(trainLoss)! > 3 * Math.log(k))
  if (diverged) {
    out.push({
      code: 'diverged',
      severity: 'problem',
      title: 'The learning rate is too high',
      detail:
        input.errorCode === 'nan_loss'
          ? `The loss became NaN: each step at learning rate ${fmt(config.hyper.learningRate)} overshot so far that the numbers broke.`
          : `The training loss ended at ${fmt(last(trainLoss)!)}, far above the ${fmt(Math.log(Math.max(k, 2)))} of guessing: the steps at learning rate ${fmt(config.hyper.learningRate)} overshoot.`,
      fix: lrChange(config, config.hyper.learningRate > 0.01 ? 0.01 : 0.1),
    })
  } else if (input.status === 'failed' || input.status === 'interrupted') {
    out.push({
      code: 'failed',
      severity: 'problem',
      title: adviceFor(input.errorCode).title,
      detail: adviceFor(input.errorCode).advice,
    })
  }

  const adaptive = ['adam', 'rmsprop', 'adagrad'].includes(config.hyper.optimizer)
  if (!diverged && adaptive && config.hyper.learningRate >= ADAPTIVE_LR_HIGH) {
    out.push({
      code: 'learning-rate-high',
      severity: 'problem',
      title: 'The learning rate is too high',
      detail: `${fmt(config.hyper.learningRate)} is far above what ${config.hyper.optimizer === 'adam' ? 'Adam' : 'this optimiser'} works with (usually 0.0001 to 0.01): its steps jump past good weights, so the scores are lower than they could be.`,
      fix: {
        label: 'Train again at learning rate 0.001',
        changes: [{ path: 'hyper.learningRate', value: 0.001 }],
      },
    })
  }

  if (input.status === 'succeeded' && test && !diverged) {
    const acc = accuracyOf(test)
    const trainEnd = last(trainAcc)
    const valEnd = last(valAcc)
    const stuck = acc.value !== null && acc.value <= chance + CHANCE_MARGIN && (trainEnd ?? 0) <= chance + CHANCE_MARGIN
    if (stuck) {
      const tooHigh = (last(trainLoss) ?? 0) > 1.5 * Math.log(Math.max(k, 2)) || config.hyper.learningRate >= 0.05
      out.push({
        code: 'stuck-at-chance',
        severity: 'problem',
        title: 'The model learned nothing',
        detail: `It scores ${pct(acc.value!)} on the test images and ${pct(trainEnd ?? 0)} on its own training images — what guessing among ${k} classes gives (${pct(chance)}). ${tooHigh ? 'The learning rate is probably too high.' : 'The learning rate is probably too low, or training too short.'}`,
        fix: tooHigh ? lrChange(config, 0.1) : lrChange(config, 10),
      })
    } else {
      if (trainEnd !== undefined && valEnd !== undefined && trainEnd - valEnd > OVERFIT_GAP) {
        const bestValLossAt = valLoss.indexOf(Math.min(...valLoss))
        const rising = valLoss.length > 0 && bestValLossAt < valLoss.length - 2
        out.push({
          code: 'overfitting',
          severity: 'problem',
          title: 'The model memorises its training images',
          detail: `It gets ${pct(trainEnd)} of its training images right but ${pct(valEnd)} of the validation images${rising ? ', and the validation loss rose after epoch ' + (bestValLossAt + 1) : ''}. More dropout (or varied images) makes it learn what generalises.`,
          fix:
            config.head.dropout < 0.5
              ? {
                  label: `Train again with dropout ${fmt(Math.min(0.9, config.head.dropout + 0.2))}`,
                  changes: [
                    { path: 'head.dropout', value: Math.min(0.9, Number((config.head.dropout + 0.2).toFixed(2))) },
                  ],
                }
              : { label: 'Train again with augmentation', changes: [{ path: 'augment.enabled', value: true }] },
        })
      } else if (trainEnd !== undefined && trainEnd < UNDERFIT_BELOW) {
        out.push({
          code: 'underfitting',
          severity: 'hint',
          title: 'The model could learn more',
          detail: `It gets only ${pct(trainEnd)} of its own training images right. A bigger head or training the top blocks gives it more room.`,
          fix:
            config.freeze.preset === 'feature-extraction'
              ? {
                  label: 'Train again with the top 2 blocks in phase 2',
                  changes: [
                    { path: 'freeze.preset', value: 'top-blocks' },
                    { path: 'freeze.topBlocks', value: 2 },
                    { path: 'phase2.enabled', value: true },
                  ],
                }
              : { label: 'Train again with a hidden layer of 128', changes: [{ path: 'head.units', value: [128] }] },
        })
      }
      const ranAll = valLoss.length >= config.hyper.epochs
      const improving =
        valLoss.length >= 3 &&
        last(valLoss)! < Math.min(...valLoss.slice(0, -1)) &&
        valLoss[valLoss.length - 2]! < valLoss[valLoss.length - 3]!
      if (ranAll && improving && config.hyper.epochs < 1000)
        out.push({
          code: 'still-improving',
          severity: 'hint',
          title: 'It was still improving at the last epoch',
          detail: `The validation loss fell in each of the last epochs (to ${fmt(last(valLoss)!)}): more epochs would likely help.`,
          fix: {
            label: `Train again with ${Math.min(1000, config.hyper.epochs * 2)} epochs`,
            changes: [{ path: 'hyper.epochs', value: Math.min(1000, config.hyper.epochs * 2) }],
          },
        })
    }
  }

  if (input.status === 'succeeded' && test) {
    // ---- The predictions.
    const predicted = test.labels.map((_, j) => test.confusion.reduce((s, row) => s + (row[j] ?? 0), 0))
    const total = predicted.reduce((a, b) => a + b, 0)
    const top = Math.max(...predicted)
    if (k >= 2 && total > 0 && top / total >= ONE_CLASS_SHARE) {
      const label = test.labels[predicted.indexOf(top)]!
      out.push({
        code: 'one-class-predicted',
        severity: 'problem',
        title: `It answers “${label}” for almost everything`,
        detail: `${pct(top / total)} of the test images were labelled “${label}”. Usually a class imbalance or a learning rate that is off.`,
        fix:
          config.hyper.classWeights === 'none'
            ? {
                label: 'Train again with balanced class weights',
                changes: [{ path: 'hyper.classWeights', value: 'auto' }],
              }
            : lrChange(config, 0.1),
      })
    }
  }

  // ---- The data behind the numbers.
  if (test) {
    const support = test.labels.map((label, i) => ({ label, n: (test.confusion[i] ?? []).reduce((a, b) => a + b, 0) }))
    const small = support.filter((s) => s.n < MIN_CLASS_IMAGES)
    if (small.length > 0)
      out.push({
        code: 'class-too-small',
        severity: 'hint',
        title: `Too few test images of ${small.map((s) => `“${s.label}”`).join(', ')}`,
        detail: `${small.map((s) => `${s.label}: ${s.n}`).join(', ')}. A class's score on fewer than ${MIN_CLASS_IMAGES} images says little; add more images of it.`,
      })
    const sizes = support.map((s) => s.n).filter((n) => n > 0)
    if (sizes.length >= 2 && Math.max(...sizes) / Math.min(...sizes) > IMBALANCE_RATIO)
      out.push({
        code: 'imbalance',
        severity: config.hyper.classWeights === 'none' ? 'problem' : 'hint',
        title: 'The classes are very uneven',
        detail: `The largest class has ${Math.max(...sizes)} test images and the smallest ${Math.min(...sizes)}. ${config.hyper.classWeights === 'none' ? 'Balanced class weights keep the small ones from being ignored.' : 'Balanced class weights are on; more images of the small classes would help most.'}`,
        fix:
          config.hyper.classWeights === 'none'
            ? {
                label: 'Train again with balanced class weights',
                changes: [{ path: 'hyper.classWeights', value: 'auto' }],
              }
            : undefined,
      })
    const acc = accuracyOf(test)
    if (acc.trials > 0 && acc.high - acc.low > WIDE_INTERVAL) {
      const share = config.split.test
      out.push({
        code: 'test-too-small',
        severity: 'hint',
        title: 'Too few test images to tell runs apart',
        detail: `${acc.trials} test images: the accuracy is only known to lie between ${pct(acc.low)} and ${pct(acc.high)}. Two runs within that range may not really differ.`,
        fix:
          share < 0.25
            ? {
                label: 'Train again with 25 % of the images for testing',
                changes: [
                  { path: 'split.test', value: 0.25 },
                  { path: 'split.train', value: Number((1 - config.split.val - 0.25).toFixed(2)) },
                ],
              }
            : undefined,
      })
    }
  }
  return out
}

/** The run's config with a fix applied, checked by the schema (null when the result is not valid). */
export function applyFix(config: RunConfig, fix: NonNullable<Finding['fix']>): RunConfig | null {
  const next = structuredClone(config) as unknown as Record<string, unknown>
  for (const c of fix.changes) setPath(next, c.path, c.value)
  const parsed = runConfigSchema.safeParse(next)
  return parsed.success ? parsed.data : null
}
