/**
 * The statistics behind every score Tunewise shows: a 95 % Wilson interval for a proportion
 * (accuracy, recall) and McNemar's exact test for two runs scored on the same images. One
 * definition each, used by every screen, the CLI and the exported model card. Pure TypeScript.
 */

/** z for a two-sided 95 % interval. */
const Z95 = 1.959963984540054

export interface Interval {
  /** Successes / trials; null when there were no trials. */
  value: number | null
  low: number
  high: number
  successes: number
  trials: number
  /**
   * Set when the trials come in groups that are not independent (the clips of one recording): the number of
   * groups, and the trials' worth of independent evidence the interval was computed from (see `clusteredWilson`).
   */
  clustered?: { units: number; effectiveTrials: number }
}

/**
 * The Wilson score interval (95 %) for `successes` out of `trials`: unlike value ± 1.96·SE it stays
 * inside [0, 1] and is honest for small counts and for 0 % or 100 % (30 of 30 correct gives 89–100 %).
 */
export function wilson(successes: number, trials: number, z = Z95): Interval {
  if (trials <= 0) return { value: null, low: 0, high: 1, successes: 0, trials: 0 }
  const p = successes / trials
  const z2 = z * z
  const denom = 1 + z2 / trials
  const centre = (p + z2 / (2 * trials)) / denom
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denom
  // At 0 % and 100 % the interval touches the bound exactly (floating point lands a hair inside).
  return {
    value: p,
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === trials ? 1 : Math.min(1, centre + half),
    successes,
    trials,
  }
}

/** Trials that belong together (the clips of one recording) and how many of them were right. */
export interface UnitCount {
  successes: number
  trials: number
}

/**
 * The 95 % interval of a proportion whose trials come in groups (units) that are not independent: the clips
 * of one recording sound alike, so ten clips of one recording are not ten independent checks. The interval is
 * Wilson's on the effective number of trials n / deff (Kish's design effect; Korn & Graubard 1998 use the same
 * effective size for survey proportions), with the variance of the proportion estimated across units, not
 * trials (the cluster-robust variance of a ratio, with its k/(k−1) small-sample factor). When every unit is
 * all right or all wrong the evidence is the units themselves (n_eff = k); n_eff never exceeds n. One trial a
 * unit is exactly `wilson`.
 */
export function clusteredWilson(units: readonly UnitCount[], z = Z95): Interval {
  const used = units.filter((u) => u.trials > 0)
  const n = used.reduce((a, u) => a + u.trials, 0)
  const successes = used.reduce((a, u) => a + u.successes, 0)
  const k = used.length
  if (k === n) return wilson(successes, n, z)
  const p = successes / n
  let spread = 0
  for (const u of used) spread += (u.successes - p * u.trials) ** 2
  const variance = k > 1 ? ((k / (k - 1)) * spread) / (n * n) : Infinity
  const effective =
    k === 1 ? 1 : variance === 0 ? (p === 0 || p === 1 ? k : n) : Math.min(n, Math.max(1, (p * (1 - p)) / variance))
  const w = wilson(p * effective, effective, z)
  return { ...w, value: p, successes, trials: n, clustered: { units: k, effectiveTrials: effective } }
}

/** "between 72 % and 95 %", whole percents (one decimal when the interval is narrower than 2 points). */
export function describeInterval(i: Interval): string {
  const narrow = i.high - i.low < 0.02
  const pct = (x: number): string => `${(x * 100).toFixed(narrow ? 1 : 0)} %`
  return `between ${pct(i.low)} and ${pct(i.high)}`
}

/** log of n choose k, for exact binomial tails without overflow. */
function logChoose(n: number, k: number): number {
  let s = 0
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i)
  return s
}

export interface McNemar {
  /** Images only the first run got right. */
  onlyFirst: number
  /** Images only the second run got right. */
  onlySecond: number
  /** Two-sided exact p-value (binomial on the discordant pairs); 1 when none differ. */
  p: number
  /** True when p < 0.05: the difference is unlikely to be noise. */
  significant: boolean
  /** Set when the examples come in units that are not independent (clips of recordings): the units involved. */
  clustered?: { units: number }
}

/**
 * McNemar's exact test on two runs' answers for the same images: only images where exactly one
 * run is right carry information; under "no difference" each is a coin toss.
 */
export function mcnemar(onlyFirst: number, onlySecond: number): McNemar {
  const n = onlyFirst + onlySecond
  if (n === 0) return { onlyFirst, onlySecond, p: 1, significant: false }
  const k = Math.min(onlyFirst, onlySecond)
  let tail = 0
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2)
  const p = Math.min(1, 2 * tail)
  return { onlyFirst, onlySecond, p, significant: p < 0.05 }
}

/** erfc(x) for x ≥ 0 (W. J. Cody's rational Chebyshev fit as in Numerical Recipes' erfcc: relative error < 1.2e-7). */
function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * x)
  const poly =
    -x * x -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886187 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
  return t * Math.exp(poly)
}

/** Discordant answers within one unit (a recording): examples only the first run, or only the second, got right. */
export interface UnitPair {
  onlyFirst: number
  onlySecond: number
}

/**
 * McNemar's test when the examples come in units that are not independent (the clips of one recording):
 * Durkalski et al.'s (2003) clustered form, X² = (B − C)² / Σₖ (bₖ − cₖ)², χ² with one degree of freedom,
 * where bₖ and cₖ are unit k's discordant counts. When no unit holds more than one discordant example it
 * reduces to McNemar's own statistic, and the exact binomial form (`mcnemar`) is used, which is better for
 * small counts.
 */
export function clusteredMcnemar(units: readonly UnitPair[]): McNemar {
  const used = units.filter((u) => u.onlyFirst + u.onlySecond > 0)
  const onlyFirst = used.reduce((a, u) => a + u.onlyFirst, 0)
  const onlySecond = used.reduce((a, u) => a + u.onlySecond, 0)
  if (used.every((u) => u.onlyFirst + u.onlySecond === 1)) return mcnemar(onlyFirst, onlySecond)
  const spread = used.reduce((a, u) => a + (u.onlyFirst - u.onlySecond) ** 2, 0)
  const p = spread === 0 ? 1 : Math.min(1, erfc(Math.abs(onlyFirst - onlySecond) / Math.sqrt(2 * spread)))
  return { onlyFirst, onlySecond, p, significant: p < 0.05, clustered: { units: used.length } }
}
