/**
 * The field table is the one source of a run's settings: these tests check that the schema main
 * parses with, the wizard's validation, the CLI help and the README all say the same thing for
 * every field, because they are generated from it.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  conditionHolds,
  defaultRunConfig,
  describeLimits,
  fieldList,
  getPath,
  numberField,
  parseIntList,
  parseNumber,
  runConfigSchema,
  runFields,
  settingsHelp,
  settingsMarkdown,
  setPath,
  type NumberFieldSpec,
} from '../../src/shared/run-config'
import {
  configConflicts,
  configNotes,
  describeStrategy,
  phase2Runs,
  trainableLayerNames,
} from '../../src/shared/run-rules'
import type { LayerInfo } from '../../src/shared/types'

const root = join(__dirname, '..', '..')
const numbers = fieldList.filter((f) => f.spec.kind === 'number') as { path: string; spec: NumberFieldSpec }[]

function withValue(path: string, value: unknown): unknown {
  const c = structuredClone(defaultRunConfig('m', 'd')) as unknown as Record<string, unknown>
  setPath(c, path, value)
  // The split shares are also checked together (they add up to 100 %): balance the others.
  const s = c.split as { train: number; val: number; test: number }
  if (path === 'split.train') s.val = s.test = (1 - s.train) / 2
  if (path === 'split.val') [s.test, s.train] = [0, 1 - s.val]
  if (path === 'split.test') [s.val, s.train] = [0, 1 - s.test]
  return c
}

describe('the field table', () => {
  it('lists every setting once, with a label, help and a default the schema accepts', () => {
    const paths = fieldList.map((f) => f.path)
    expect(new Set(paths).size).toBe(paths.length)
    expect(paths).toContain('hyper.learningRate')
    expect(paths).toContain('hyper.labelSmoothing')
    for (const f of fieldList) {
      expect(f.spec.label.length, f.path).toBeGreaterThan(2)
      expect(f.spec.help, f.path).toMatch(/\.$/)
    }
    const defaults = defaultRunConfig('m', 'd')
    expect(runConfigSchema.parse(defaults)).toEqual(defaults)
    for (const f of fieldList) expect(getPath(defaults, f.path), f.path).toEqual(f.spec.default)
  })

  it('the schema and the wizard validation accept and refuse the same numbers for every number field', () => {
    for (const { path, spec } of numbers) {
      const tooLow = spec.minExclusive ? spec.min : spec.min - (spec.integer ? 1 : 1e-9)
      const tooHigh = spec.max + (spec.integer ? 1 : 1e-9)
      const cases: [number, boolean][] = [
        [spec.default, true],
        [spec.max, true],
        [tooLow, false],
        [tooHigh, false],
      ]
      if (!spec.minExclusive) cases.push([spec.min, true])
      if (spec.integer) cases.push([spec.default + 0.5, false])
      for (const [value, ok] of cases) {
        const schemaOk = runConfigSchema.safeParse(withValue(path, value)).success
        const uiOk = 'value' in parseNumber(String(value), spec)
        expect({ path, value, schema: schemaOk, ui: uiOk }).toEqual({ path, value, schema: ok, ui: ok })
      }
    }
  })

  it('says what to enter when a number is out of range', () => {
    expect(parseNumber('0.001', numberField('hyper.learningRate'))).toEqual({ value: 0.001 })
    expect(parseNumber('5', numberField('hyper.learningRate'))).toEqual({
      error: 'Enter a learning rate between 0.000001 and 1, e.g. 0.001',
    })
    expect(parseNumber('abc', numberField('hyper.batchSize'))).toHaveProperty('error')
    expect(parseNumber('16.5', numberField('hyper.batchSize'))).toHaveProperty('error')
    expect(parseNumber('0', numberField('hyper.schedule.gamma'))).toHaveProperty('error')
    expect(parseNumber('1', numberField('hyper.schedule.gamma'))).toEqual({ value: 1 })
  })

  it('reads hidden units as a comma list within the table limits', () => {
    const spec = runFields.head.units
    expect(parseIntList('', spec)).toEqual({ value: [] })
    expect(parseIntList('256, 128', spec)).toEqual({ value: [256, 128] })
    expect(parseIntList('12, x', spec)).toHaveProperty('error')
    expect(parseIntList('1,2,3,4,5', spec)).toHaveProperty('error')
    expect(runConfigSchema.safeParse(withValue('head.units', [1, 2, 3, 4, 5])).success).toBe(false)
  })

  it('refuses choices and switches the table does not offer', () => {
    expect(runConfigSchema.safeParse(withValue('hyper.optimizer', 'lion')).success).toBe(false)
    expect(runConfigSchema.safeParse(withValue('phase2.enabled', 'yes')).success).toBe(false)
    expect(runConfigSchema.safeParse({ ...defaultRunConfig('m', 'd'), extra: 1 }).success).toBe(false)
  })

  it('the CLI help lists every field with its default, limits and help, as the CLI prints it', () => {
    const help = settingsHelp()
    for (const f of fieldList) {
      const line = help.split('\n').find((l) => l.trim().startsWith(`${f.path} `))
      expect(line, f.path).toBeDefined()
      expect(line).toContain(describeLimits(f.spec))
      expect(line).toContain(f.spec.help)
      expect(line).toContain(f.spec.kind === 'choice' ? `"${f.spec.default}"` : JSON.stringify(f.spec.default))
    }
    // The built CLI prints the same text (it is generated, not written by hand).
    const printed = execFileSync(process.execPath, [join(root, 'out', 'main', 'cli.js'), 'help'], {
      encoding: 'utf8',
      env: { ...process.env, TUNEWISE_HOME: join(root, 'out', 'tmp-cli-help') },
    })
    expect(printed).toContain(help)
  })

  it('the README settings table is the generated one', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const section = /<!-- settings:start -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme)
    expect(section, 'README has a settings section; run `npm run docs`').not.toBeNull()
    expect(section![1]!.trim()).toBe(settingsMarkdown())
  })
})

describe('rules that combine settings', () => {
  const layers: LayerInfo[] = [
    {
      index: 0,
      name: 'conv1',
      type: 'Conv2D',
      outputShape: [],
      params: 10,
      hasWeights: true,
      inBase: true,
      block: 'stem',
    },
    {
      index: 1,
      name: 'b1',
      type: 'Conv2D',
      outputShape: [],
      params: 10,
      hasWeights: true,
      inBase: true,
      block: 'block_1',
    },
    {
      index: 2,
      name: 'b1_relu',
      type: 'ReLU',
      outputShape: [],
      params: 0,
      hasWeights: false,
      inBase: true,
      block: 'block_1',
    },
    {
      index: 3,
      name: 'b2',
      type: 'Conv2D',
      outputShape: [],
      params: 10,
      hasWeights: true,
      inBase: true,
      block: 'block_2',
    },
    {
      index: 4,
      name: 'top',
      type: 'Dense',
      outputShape: [],
      params: 10,
      hasWeights: true,
      inBase: false,
      block: 'top',
    },
  ]

  it('phase 2 runs only when it is on and the freeze choice unfreezes a layer', () => {
    const c = defaultRunConfig('m', 'd')
    c.phase2.enabled = true
    expect(phase2Runs(c)).toBe(false)
    c.freeze.preset = 'top-blocks'
    expect(phase2Runs(c, layers)).toBe(true)
    expect(describeStrategy(c)).toBe('Top 2 blocks + phase 2')
    c.phase2.enabled = false
    expect(phase2Runs(c)).toBe(false)
    c.phase2.enabled = true
    c.freeze = { ...c.freeze, preset: 'custom', trainableLayers: ['nope'] }
    expect(phase2Runs(c)).toBe(true)
    expect(phase2Runs(c, layers)).toBe(false)
  })

  it('refuses settings that cannot act together, with the reason, in the schema and the rule alike', () => {
    const refused = (patch: (c: ReturnType<typeof defaultRunConfig>) => void) => {
      const c = defaultRunConfig('m', 'd')
      patch(c)
      const parsed = runConfigSchema.safeParse(c)
      const issues = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
      expect(issues).toEqual(configConflicts(c).map((x) => `${x.path}: ${x.message}`))
      return issues
    }
    expect(refused(() => undefined)).toEqual([])
    // Phase 2 under "Train only a new head": it would have nothing to train.
    expect(refused((c) => (c.phase2.enabled = true))).toEqual([
      expect.stringMatching(
        /^phase2\.enabled: Phase 2 is on, but “Train only a new head” leaves nothing else to train\./,
      ),
    ])
    // Unfrozen layers or adapters without phase 2: they would never train.
    for (const preset of ['top-blocks', 'full', 'lora', 'loreft'] as const)
      expect(refused((c) => (c.freeze.preset = preset))).toEqual([
        expect.stringMatching(
          /^phase2\.enabled: .* trains in phase 2, but phase 2 is off, so only the head would train\./,
        ),
      ])
    // Choices that select nothing.
    expect(
      refused((c) => {
        c.freeze = { ...c.freeze, preset: 'top-blocks', topBlocks: 0 }
        c.phase2.enabled = true
      }),
    ).toEqual([expect.stringMatching(/^freeze\.topBlocks: .*with 0 blocks unfreezes nothing/)])
    expect(
      refused((c) => {
        c.freeze = { ...c.freeze, preset: 'custom', trainableLayers: [] }
        c.phase2.enabled = true
      }),
    ).toEqual([expect.stringMatching(/^freeze\.trainableLayers: “Custom” with no layer chosen/)])
    expect(
      refused((c) => {
        c.freeze = { ...c.freeze, preset: 'lora', topBlocks: 0 }
        c.phase2.enabled = true
      }),
    ).toEqual([expect.stringMatching(/^freeze\.topBlocks: .*adapts nothing/)])
    // Every strategy with phase 2 on is accepted.
    for (const preset of ['top-blocks', 'full', 'lora', 'loreft'] as const)
      expect(
        refused((c) => {
          c.freeze.preset = preset
          c.phase2.enabled = true
        }),
      ).toEqual([])
  })

  it('notes what a setting costs or does not do', () => {
    const c = defaultRunConfig('m', 'd')
    expect(configNotes(c)).toEqual([])
    c.freeze.batchNormStatistics = true
    expect(configNotes(c)[0]).toMatch(/has no effect here/)
    c.freeze.preset = 'top-blocks'
    c.phase2.enabled = true
    expect(configNotes(c)[0]).toMatch(/^BatchNorm learns from each batch: .*often makes fine-tuning worse/)
    c.augment.enabled = true
    expect(configNotes(c)[1]).toMatch(/^Augmentation is on/)
  })

  it('the top blocks are counted among layers with weights, in the base only', () => {
    const top1 = trainableLayerNames({ preset: 'top-blocks', topBlocks: 1, trainableLayers: [] }, layers)
    expect([...top1]).toEqual(['b2'])
    const full = trainableLayerNames({ preset: 'full', topBlocks: 0, trainableLayers: [] }, layers)
    expect([...full]).toEqual(['conv1', 'b1', 'b2'])
  })

  it('phase 2 fields are greyed out under feature extraction', () => {
    const c = defaultRunConfig('m', 'd')
    expect(conditionHolds(runFields.phase2.enabled.enabledWhen, c)).toBe(false)
    c.freeze.preset = 'full'
    expect(conditionHolds(runFields.phase2.enabled.enabledWhen, c)).toBe(true)
  })
})
