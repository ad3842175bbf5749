/**
 * The glossary (src/shared/glossary.ts): every entry is one plain line, no explanation leans on a term
 * that leads back to itself, the terms the screens draw with Term exist, and the field table's labels
 * find their term.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  glossary,
  glossaryKeys,
  glossaryTermsIn,
  termSegments,
  type GlossaryEntry,
  type GlossaryKey,
} from '../../src/shared/glossary'
import { fieldList } from '../../src/shared/run-config'
import { scoreMeanings } from '../../src/shared/scores'

const root = resolve(__dirname, '..', '..')
const entries = glossaryKeys.map((key) => [key, glossary[key] as GlossaryEntry] as const)

/** Words a first-time user does not know and the glossary does not explain: an explanation may not use them. */
const JARGON = [
  'gradient',
  'tensor',
  'logit',
  'softmax',
  'backprop',
  'hyperparameter',
  'activation',
  'embedding',
  'vector',
  'cross-entropy',
  'epsilon',
  'variance',
  'convolutional',
  'inference',
  'checkpoint',
  'fold',
  'iteration',
]

function svelteFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? svelteFiles(join(dir, d.name)) : d.name.endsWith('.svelte') ? [join(dir, d.name)] : [],
  )
}

describe('the glossary', () => {
  it('explains each term in one plain line', () => {
    for (const [key, e] of entries) {
      expect(e.term.trim(), key).not.toBe('')
      expect(e.explain, key).not.toMatch(/[\r\n]/)
      expect(e.explain.length, key).toBeLessThanOrEqual(160)
      expect(e.explain, key).toMatch(/^[A-Z“].*\.$/)
      // An explanation says something beyond the term itself.
      expect(e.explain.toLowerCase().startsWith(e.term.toLowerCase()), key).toBe(false)
      for (const word of JARGON)
        expect(e.explain.toLowerCase(), `${key} uses “${word}”`).not.toMatch(new RegExp(`\\b${word}s?\\b`))
    }
  })

  it('has no explanation that leads back to its own term through other terms', () => {
    const uses = new Map<GlossaryKey, GlossaryKey[]>(
      entries.map(([key, e]) => [key, [...new Set(glossaryTermsIn(e.explain).map((m) => m.key))]]),
    )
    // Depth-first search for a cycle; the path is reported when one is found.
    const done = new Set<GlossaryKey>()
    const visit = (key: GlossaryKey, path: GlossaryKey[]): void => {
      expect(path, `loop: ${[...path, key].join(' → ')}`).not.toContain(key)
      if (done.has(key)) return
      for (const next of uses.get(key) ?? []) visit(next, [...path, key])
      done.add(key)
    }
    for (const key of glossaryKeys) visit(key, [])
    // And the check can fail: the head is explained with the features, which must not need the head.
    expect(uses.get('head')).toContain('features')
  })

  it('gives every spelling to one entry only', () => {
    const owner = new Map<string, GlossaryKey>()
    for (const [key, e] of entries)
      for (const s of [e.term, ...(e.aliases ?? [])]) {
        const k = s.toLowerCase()
        expect(owner.get(k) ?? key, `“${s}” in ${key} and ${owner.get(k)}`).toBe(key)
        owner.set(k, key)
      }
  })

  it('has the terms the wizard is built on', () => {
    const needed = [
      'learning rate',
      'epoch',
      'batch size',
      'head',
      'base',
      'layer',
      'freeze',
      'unfreeze',
      'fine-tuning',
      'LoRA',
      'LoReFT',
      'intervention',
      'BatchNorm',
      'dropout',
      'L1 penalty',
      'L2 penalty',
      'label smoothing',
      'augmentation',
      'validation',
      'test set',
      'stratified',
      'seed',
      'accuracy',
      'precision',
      'recall',
      'F1',
      'loss',
      'test loss',
      'confusion matrix',
      'confidence interval',
      'early stopping',
      'optimizer',
      'feature cache',
      'parameters',
      'block',
    ]
    for (const words of needed)
      expect(
        glossaryTermsIn(words).map((m) => m.key),
        words,
      ).toHaveLength(1)
  })

  it('quotes the one definition of each score from scores.ts', () => {
    expect(glossary.precision.explain).toBe(scoreMeanings.precision)
    expect(glossary.recall.explain).toBe(scoreMeanings.recall)
    expect(glossary['test-accuracy'].explain).toBe(scoreMeanings.testAccuracy)
    expect(glossary['validation-accuracy'].explain).toBe(scoreMeanings.valAccuracy)
  })

  it('has every term a screen draws with Term, and every screen that owns terms uses it', () => {
    const files = svelteFiles(join(root, 'src', 'renderer', 'src'))
    const used = new Map<string, string>()
    for (const f of files) {
      const src = readFileSync(f, 'utf8')
      for (const m of src.matchAll(/<Term\s+term="([^"]+)"/g)) used.set(m[1]!, f)
      // Term keys kept in a screen's own tables ({ term: 'lora', … }).
      for (const m of src.matchAll(/\bterm: '([^']+)'/g)) used.set(m[1]!, f)
    }
    expect(used.size).toBeGreaterThan(20)
    for (const [key, file] of used) expect(glossaryKeys, `${key} in ${file}`).toContain(key)
    for (const screen of [
      'steps/ModelStep.svelte',
      'steps/SplitStep.svelte',
      'steps/FreezeStep.svelte',
      'steps/HyperStep.svelte',
      'steps/ResultsStep.svelte',
      'steps/CompareView.svelte',
      'components/ExportPanel.svelte',
      'components/LrFinder.svelte',
      'components/SuspectsPanel.svelte',
    ])
      expect(readFileSync(join(root, 'src', 'renderer', 'src', 'lib', screen), 'utf8'), screen).toMatch(
        /<Term(Text)?\s/,
      )
  })

  it("finds the term in the field table's labels, so every setting's label can explain it", () => {
    const label = (path: string): string => fieldList.find((f) => f.path === path)!.spec.label
    const termOf = (path: string): GlossaryKey | undefined => glossaryTermsIn(label(path))[0]?.key
    expect(termOf('hyper.learningRate')).toBe('learning-rate')
    expect(termOf('hyper.batchSize')).toBe('batch-size')
    expect(termOf('hyper.epochs')).toBe('epoch')
    expect(termOf('hyper.optimizer')).toBe('optimiser')
    expect(termOf('hyper.labelSmoothing')).toBe('label-smoothing')
    expect(termOf('hyper.earlyStopping.patience')).toBe('patience')
    expect(termOf('head.dropout')).toBe('dropout')
    expect(termOf('head.l1')).toBe('l1')
    expect(termOf('head.l2')).toBe('l2')
    expect(termOf('head.units')).toBe('hidden-layer')
    expect(termOf('split.seed')).toBe('seed')
    expect(termOf('phase2.lrFactor')).toBe('learning-rate')
    expect(termOf('adapters.loraRank')).toBe('rank')
    expect(termOf('adapters.loraAlpha')).toBe('alpha')
    expect(termOf('freeze.batchNormStatistics')).toBe('batchnorm')
    // Most settings that are not plain words name a term.
    const named = fieldList.filter((f) => !f.spec.custom && glossaryTermsIn(f.spec.label).length > 0)
    expect(named.length).toBeGreaterThan(fieldList.filter((f) => !f.spec.custom).length / 2)
  })
})

describe('glossaryTermsIn and termSegments', () => {
  it('finds whole words only, the longest spelling first, and leaves quoted names alone', () => {
    expect(glossaryTermsIn('the database')).toEqual([])
    expect(glossaryTermsIn('already')).toEqual([])
    expect(glossaryTermsIn('Test loss')).toEqual([{ key: 'test-loss', start: 0, end: 9 }])
    expect(glossaryTermsIn('Learning-rate factor')).toEqual([{ key: 'learning-rate', start: 0, end: 13 }])
    expect(glossaryTermsIn('The LoRA rank').map((m) => m.key)).toEqual(['rank'])
    expect(glossaryTermsIn('It answers “seed” for almost everything')).toEqual([])
    expect(glossaryTermsIn('more EPOCHS would help').map((m) => m.key)).toEqual(['epoch'])
  })

  it('marks each term once, keeps the text, and honours skip and only', () => {
    const text = 'The learning rate is too high: lower the learning rate or train fewer epochs.'
    const parts = termSegments(text)
    expect(parts.map((p) => (typeof p === 'string' ? p : p.text)).join('')).toBe(text)
    expect(parts.filter((p) => typeof p !== 'string').map((p) => (p as { key: string }).key)).toEqual([
      'learning-rate',
      'epoch',
    ])
    expect(termSegments(text, ['learning-rate']).filter((p) => typeof p !== 'string')).toHaveLength(1)
    expect(termSegments(text, [], ['epoch']).filter((p) => typeof p !== 'string')).toEqual([
      { key: 'epoch', text: 'epochs' },
    ])
  })
})
