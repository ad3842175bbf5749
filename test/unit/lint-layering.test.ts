/**
 * The layering rule in eslint.config.mjs, run through ESLint itself: each bad import is reported at the place
 * it is written, and a good import from the same file is not. Files are virtual (`lintText` with a path under
 * src/), so the real config applies exactly as it does to the tree.
 */
import { join } from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const eslint = new ESLint({ cwd: root })
const RULE = 'tunewise/layering'

/** The layering messages for `code` linted as if it were the file `filePath`. */
async function crossings(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  const fatal = result.messages.filter((m) => m.fatal)
  expect(fatal, `parse errors in ${filePath}`).toEqual([])
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message)
}

/** Each rule: a file, an import it must not make, and one it may. */
const cases: { rule: string; file: string; bad: string; good: string }[] = [
  {
    rule: 'the engine does not import electron',
    file: 'src/main/ml/eval/bad.ts',
    bad: "import { app } from 'electron'\nexport const x = app",
    good: "import { join } from 'node:path'\nexport const x = join",
  },
  {
    rule: 'the database does not import electron (subpaths included)',
    file: 'src/main/db/bad.ts',
    bad: "import { app } from 'electron/main'\nexport const x = app",
    good: "import Database from 'better-sqlite3'\nexport const x = Database",
  },
  {
    rule: 'the renderer does not import from main',
    file: 'src/renderer/src/lib/stores/bad.svelte.ts',
    bad: "import { runDir } from '../../../../main/ml/layout'\nexport const x = runDir",
    good: "import type { RunConfig } from '../../../../shared/types'\nexport type X = RunConfig",
  },
  {
    rule: 'the renderer does not import from main (Svelte component)',
    file: 'src/renderer/src/lib/steps/Bad.svelte',
    bad: '<script lang="ts">\n  import { AppError } from \'../../../../main/errors\'\n  const x = AppError\n</script>\n<p>{x}</p>\n',
    good: '<script lang="ts">\n  import type { RunConfig } from \'$shared/types\'\n  let x: RunConfig | null = null\n</script>\n<p>{x}</p>\n',
  },
  {
    rule: 'the engine does not import the database',
    file: 'src/main/ml/train/bad.ts',
    bad: "import { openDatabase } from '../../db/database'\nexport const x = openDatabase",
    good: "import { writeExport } from '../export/export'\nexport const x = writeExport",
  },
  {
    rule: 'evaluation does not import training',
    file: 'src/main/ml/eval/bad.ts',
    bad: "import { extractFeatures } from '../train/features'\nexport const x = extractFeatures",
    good: "import { pixelsToTensor } from '../data/pixels'\nexport const x = pixelsToTensor",
  },
  {
    rule: 'export does not import training (re-export)',
    file: 'src/main/ml/export/bad.ts',
    bad: "export { buildHead } from '../train/head'",
    good: "export { readModelFolder } from '../models/load'",
  },
  {
    rule: 'models do not import training (type-only import)',
    file: 'src/main/ml/models/bad.ts',
    bad: "import type { TrainIo } from '../train/run-context'\nexport type X = TrainIo",
    good: "import type { Preprocess } from './catalogue'\nexport type X = Preprocess",
  },
  {
    rule: 'data does not import training (dynamic import)',
    file: 'src/main/ml/data/bad.ts',
    bad: "export const x = () => import('../train/random')",
    good: "export const x = () => import('./split')",
  },
]

describe('layering lint rule', () => {
  for (const c of cases) {
    it(c.rule, async () => {
      const bad = await crossings(c.file, c.bad)
      expect(bad).toHaveLength(1)
      expect(bad[0]).toMatch(/must not import/)
      expect(await crossings(c.file, c.good)).toEqual([])
    })
  }

  it('catches require(), import-equals and import types too', async () => {
    const code = [
      "const a = require('../train/head')",
      "import b = require('../train/random')",
      "export type C = import('../train/features').FeatureSet",
      'export const x = [a, b]',
    ].join('\n')
    expect(await crossings('src/main/ml/models/bad.ts', code)).toHaveLength(3)
  })

  it('main itself may import training and the database', async () => {
    const code =
      "import { trainRun } from '../ml/train/run-job'\nimport { openDatabase } from '../db/database'\nexport const x = [trainRun, openDatabase]"
    expect(await crossings('src/main/jobs/ok.ts', code)).toEqual([])
  })

  it('names the import, the part it reaches and why', async () => {
    const [message] = await crossings('src/main/ml/eval/bad.ts', "export * from '../train/features'")
    expect(message).toBe(
      "'../train/features' reaches src/main/ml/train/features, which src/main/ml/eval must not import: " +
        'training builds on these, not the other way round.',
    )
  })
})
