/**
 * Run names a person can tell apart. The wizard suggests a name from the model, the dataset and the
 * learning rate, so two runs with those in common would share it; History and Compare then show two
 * rows nobody can tell apart. A new run whose name is taken gets the next free number instead:
 * "MobileNetV2 · shapes · lr 0.001 (2)". Pure: main uses it when it records a run.
 */

/** The longest run name (the field table's limit). */
export const MAX_RUN_NAME = 200

const NUMBERED = / \((\d+)\)$/

/**
 * `name`, or `name (n)` with the smallest n ≥ 2 that no name in `taken` has (compared without case,
 * as History sorts). A name that already ends in a number counts on from it: "a (2)" -> "a (3)".
 */
export function uniqueRunName(name: string, taken: Iterable<string>): string {
  const used = new Set([...taken].map((t) => t.toLowerCase()))
  if (!used.has(name.toLowerCase())) return name
  const m = NUMBERED.exec(name)
  const base = m ? name.slice(0, m.index) : name
  for (let n = m ? Number(m[1]) + 1 : 2; ; n++) {
    const suffix = ` (${n})`
    const candidate = base.slice(0, MAX_RUN_NAME - suffix.length) + suffix
    if (!used.has(candidate.toLowerCase())) return candidate
  }
}
