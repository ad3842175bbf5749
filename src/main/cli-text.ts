/**
 * What the command line prints, as pure functions (cli.ts prints what these return): text a terminal shows
 * as it is (control characters in file names escaped), long lists summarised, messages worded for the
 * command line rather than the wizard, and errors as one JSON line for --json.
 */
import { adviceFor } from '../shared/errors'
import type { DatasetReport, LayerInfo, MetricPoint, ModelCard, ProblemGroup } from '../shared/types'

/** The command that lists the model catalogue, as a user types it. */
export const MODELS_COMMAND = '`npm run tunewise -- models`'

/** How much of a long list the text output shows; --json always has all of it. */
export const SHOWN = {
  /** Rows of the class table. */
  classes: 20,
  /** File names named per problem group and duplicate sets per report. */
  examples: 3,
  /** Warnings, and blockers, each. */
  sentences: 10,
  /** Rows of the block table of `inspect MODEL_ID`. */
  blocks: 30,
  /** Classes up to which train prints the confusion matrix as a table. */
  confusionClasses: 12,
}

/**
 * C0 controls, DEL, C1 controls and the bidirectional overrides and isolates: each can break a line, move
 * the cursor, recolour the terminal or reorder what it shows, and a file name may hold any of them.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** `text` with every control character written as an escape (`\n`, `\x1b`, `\u202e`), so it stays on its line. */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.codePointAt(0)!
    return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`)
  })
}

/** Rows as aligned columns; every cell is escaped first, so a cell can never break its row. */
export function table(rows: string[][]): string {
  const safe = rows.map((r) => r.map(escapeControl))
  const widths = safe[0]!.map((_, c) => Math.max(...safe.map((r) => (r[c] ?? '').length)))
  return safe
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** An error as `--json` prints it: one line, `{"error":{"code","message"}}`. */
export function errorJson(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } })
}

/** Whole wizard sentences, and what the command line says instead. */
const CLI_SENTENCES: [RegExp, string][] = [
  [/Pick another on the Model step\./, `Run ${MODELS_COMMAND} to list them.`],
  [
    /Download it on the Model step first\./,
    `The command line does not download models: download it in the app (Model step) first, or pick a model ${MODELS_COMMAND} lists as ready.`,
  ],
  [/Choose its folder again on the Data step\./, 'Give its folder again with --data DIR.'],
  [/Raise the training share on the Split step\./, 'Raise split.train in the --config file.'],
  [/Choose the folder that holds your images\./, 'Give the folder that holds your images.'],
  [/Choose the folder that holds your class sub-folders\./, 'Give the folder that holds your class sub-folders.'],
]

/** Where the command line sets what a wizard step sets, for sentences not listed above. */
const STEP_ON_CLI: Record<string, string> = {
  Data: 'with --data DIR',
  Model: `with --model ID (${MODELS_COMMAND} lists them)`,
  Split: "in the --config file's split section",
  Freeze: "in the --config file's freeze section",
  Hyperparameters: "in the --config file's hyper section",
}

/**
 * A message written for the wizard ("Pick another on the Model step"), worded for the command line. Messages
 * come from the same services the app uses; the CLI rewords them here rather than each service knowing
 * who asked.
 */
export function forCli(message: string): string {
  let out = message
  for (const [wizard, cli] of CLI_SENTENCES) out = out.replace(wizard, cli)
  return out.replace(
    /\bon the (\w+) step\b/g,
    (_all, step: string) => STEP_ON_CLI[step] ?? `on the ${step} step of the app`,
  )
}

/** What to do about an error code, worded for the command line. */
export function cliAdvice(code: string | null | undefined): string {
  if (code === 'invalid_input')
    return 'Check the settings the message names; `npm run tunewise -- help` lists what each one accepts.'
  return forCli(adviceFor(code).advice)
}

const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`

/** Up to `SHOWN.examples` names, escaped, with how many more there are. */
function examples(names: readonly string[], total = names.length): string {
  const shown = names.slice(0, SHOWN.examples).map(escapeControl)
  const more = total - shown.length
  return more > 0 ? `${shown.join(', ')} and ${more.toLocaleString('en-US')} more` : shown.join(', ')
}

/** `unreadable` grouped by reason, for reports saved before `problemGroups` existed. */
function problemGroupsOf(r: DatasetReport): ProblemGroup[] {
  if (r.problemGroups) return r.problemGroups
  const byReason = new Map<string, string[]>()
  for (const u of r.unreadable) byReason.set(u.reason, [...(byReason.get(u.reason) ?? []), u.file])
  return [...byReason].map(([reason, files]) => ({
    kind: 'other',
    reason,
    count: files.length,
    examples: files.slice(0, 5),
    action: '',
  }))
}

/** Up to `SHOWN.sentences` lines with a prefix, then one line saying how many more --json has. */
function sentences(prefix: string, items: readonly string[], what: string): string[] {
  const lines = items.slice(0, SHOWN.sentences).map((s) => `  ${prefix}${escapeControl(s)}`)
  const more = items.length - SHOWN.sentences
  if (more > 0) lines.push(`  … and ${plural(more, `more ${what}`)} (--json lists them all)`)
  return lines
}

/**
 * A dataset report for a terminal: the class table (the first classes by name), one line per kind of skipped
 * file with a few examples, one line for copies, then the warnings and blockers. Bounded whatever the folder
 * holds: a folder of thousands of broken files prints a few dozen lines, not one per file.
 */
export function reportLines(r: DatasetReport): string[] {
  const lines = [
    `${escapeControl(r.path)}: ${plural(r.total, 'image')} in ${plural(r.classes.length, 'class', 'classes')}${r.givenSplit ? ' (given train/val/test split)' : ''}`,
  ]
  const shownClasses = r.classes.slice(0, SHOWN.classes)
  lines.push(table([['class', 'images'], ...shownClasses.map((c) => [c.name, String(c.count)])]))
  const hidden = r.classes.slice(SHOWN.classes)
  if (hidden.length > 0)
    lines.push(
      `… and ${plural(hidden.length, 'more class', 'more classes')} with ${plural(
        hidden.reduce((n, c) => n + c.count, 0),
        'image',
      )} (--json lists them all)`,
    )

  const groups = problemGroupsOf(r)
  if (groups.length > 0) {
    lines.push(`Files skipped or noted: ${groups.reduce((n, g) => n + g.count, 0).toLocaleString('en-US')}`)
    for (const g of groups)
      lines.push(
        `  ${plural(g.count, 'file')}: ${escapeControl(g.reason)} (${examples(g.examples, g.count)}).${g.action ? ` ${escapeControl(g.action)}` : ''}`,
      )
  }
  if (r.duplicates.length > 0) {
    const extra = r.duplicates.reduce((n, d) => n + d.files.length - 1, 0)
    const across = r.duplicates.filter((d) => d.crossClass).length
    const sets = r.duplicates
      .slice(0, SHOWN.examples)
      .map(
        (d) =>
          d.files.slice(0, SHOWN.examples).map(escapeControl).join(' = ') +
          (d.files.length > SHOWN.examples ? ` = … (${d.files.length} copies)` : ''),
      )
    const more = r.duplicates.length - sets.length
    lines.push(
      `Identical copies: ${plural(r.duplicates.length, 'set')}, ${plural(extra, 'extra copy', 'extra copies')}` +
        `${across ? `, ${across.toLocaleString('en-US')} across classes` : ''} (${sets.join('; ')}${more > 0 ? `; and ${more.toLocaleString('en-US')} more` : ''}).`,
    )
  }
  lines.push(...sentences('warning: ', r.warnings, 'warning'))
  lines.push(...sentences('cannot train: ', r.blockers, 'problem'))
  return lines
}

/** Distinct epochs each phase ran, from a run's curves (Compare's "Epochs run" counts the same pairs). */
export function epochsByPhase(points: readonly MetricPoint[]): Record<number, number> {
  const seen = new Map<number, Set<number>>()
  for (const p of points) seen.set(p.phase, (seen.get(p.phase) ?? new Set()).add(p.epoch))
  return Object.fromEntries([...seen].map(([phase, epochs]) => [phase, epochs.size]))
}

/** Milliseconds as a person reads them: "850 ms", "12 s", "1 min 37 s", "2 h 5 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** A confusion matrix (`matrix[true][predicted]`) as a table, or a pointer to --json when it is too wide. */
export function confusionLines(labels: readonly string[], matrix: readonly (readonly number[])[]): string[] {
  if (labels.length > SHOWN.confusionClasses)
    return [`Confusion matrix: ${labels.length} classes, too wide to print here (--json has it).`]
  return [
    'Confusion matrix on the test images (rows: true class, columns: predicted):',
    table([['', ...labels], ...labels.map((label, i) => [label, ...(matrix[i] ?? []).map(String)])]),
  ]
}

/** One row of a model's layer summary: a block (as the Freeze step groups layers) and what it holds. */
export interface BlockSummary {
  name: string
  layers: number
  parameters: number
  /** Output shape of the block's last layer, batch dimension left out, e.g. "7×7×1280". */
  output: string
  /** False for layers above the feature layer: the new head replaces them. */
  inBase: boolean
}

export interface LayersSummary {
  count: number
  parameters: number
  featureLayer: string
  base: { layers: number; parameters: number }
  replaced: { layers: number; parameters: number }
  blocks: BlockSummary[]
}

/** A model's layers grouped by block, in order, with the base and what the new head replaces. */
export function summariseLayers(layers: readonly LayerInfo[], featureLayer: string): LayersSummary {
  const blocks: BlockSummary[] = []
  for (const l of layers) {
    let last = blocks[blocks.length - 1]
    if (!last || last.name !== l.block || last.inBase !== l.inBase) {
      last = { name: l.block, layers: 0, parameters: 0, output: '', inBase: l.inBase }
      blocks.push(last)
    }
    last.layers++
    last.parameters += l.params
    last.output = l.outputShape.slice(1).join('×')
  }
  const sum = (ls: readonly LayerInfo[]): number => ls.reduce((n, l) => n + l.params, 0)
  const base = layers.filter((l) => l.inBase)
  const replaced = layers.filter((l) => !l.inBase)
  return {
    count: layers.length,
    parameters: sum(layers),
    featureLayer,
    base: { layers: base.length, parameters: sum(base) },
    replaced: { layers: replaced.length, parameters: sum(replaced) },
    blocks,
  }
}

/** `inspect MODEL_ID` for a terminal: the model card, then the layers by block (or why they are not listed). */
export function modelLines(card: ModelCard, layers: LayersSummary | null, noLayers: string | null): string[] {
  const status = !card.supported ? 'not supported yet' : card.available ? 'ready' : 'not on this machine yet'
  const facts = [
    card.parameters ? plural(card.parameters, 'parameter') : null,
    card.inputSize[0] ? `input ${card.inputSize.join('×')} pixels` : null,
    `license ${card.license} (${card.licenseKind})`,
    `${card.source.kind}: ${card.source.description}`,
  ]
  const lines = [`${card.id}: ${card.name}, ${card.task}, ${status}`, `  ${facts.filter(Boolean).join(', ')}`]
  // The same sentence often fills several fields of a card for a model that is not supported yet.
  const said = new Set<string>()
  for (const [label, text] of [
    ['Not supported', card.supported ? undefined : card.unsupportedReason],
    ['What it is', card.card.summary],
    ['Trained on', card.card.trainedOn],
    ['Input', card.card.input],
    ['Preprocessing', card.card.preprocessing],
    ['Limitations', card.card.limitations],
  ] as const) {
    if (!text || said.has(text)) continue
    said.add(text)
    lines.push(`  ${label}: ${text}`)
  }
  if (!layers) {
    if (noLayers) lines.push(`Layers: ${noLayers}`)
    return lines.map(escapeControl)
  }
  lines.push(
    `Layers: ${plural(layers.count, 'layer')}, ${plural(layers.parameters, 'parameter')}. The base (up to ${layers.featureLayer}) keeps ` +
      `${plural(layers.base.layers, 'layer')} with ${plural(layers.base.parameters, 'parameter')}` +
      (layers.replaced.layers
        ? `; the new head replaces the top ${plural(layers.replaced.layers, 'layer')} (${plural(layers.replaced.parameters, 'parameter')}).`
        : '.'),
  )
  const shown = layers.blocks.slice(0, SHOWN.blocks)
  const out = lines.map(escapeControl)
  out.push(
    table([
      ['block', 'layers', 'parameters', 'output', ''],
      ...shown.map((b) => [
        b.name,
        String(b.layers),
        b.parameters.toLocaleString('en-US'),
        b.output,
        b.inBase ? '' : 'replaced by the new head',
      ]),
    ]),
  )
  const more = layers.blocks.length - shown.length
  if (more > 0) out.push(`… and ${plural(more, 'more block')} (--json lists every layer)`)
  return out
}
