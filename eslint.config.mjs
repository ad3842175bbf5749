import { dirname, isAbsolute, relative, resolve, sep } from 'node:path'
import js from '@eslint/js'
import ts from 'typescript-eslint'
import svelte from 'eslint-plugin-svelte'
import prettier from 'eslint-config-prettier'
import globals from 'globals'

const root = import.meta.dirname

/**
 * Which part of the tree may not import which. `from` and path targets are folders relative to the repository
 * root; a target without a slash is a package (`electron` also covers `electron/main`).
 */
const boundaries = [
  {
    from: ['src/main/ml/', 'src/main/db/'],
    to: ['electron'],
    why: 'the engine and the database also run under plain Node (command line, job processes, tests)',
  },
  {
    from: ['src/renderer/'],
    to: ['src/main/'],
    why: 'the renderer reaches main only through the preload API; shared types live in src/shared',
  },
  {
    from: ['src/main/ml/'],
    to: ['src/main/db/'],
    why: 'only main writes the database; a job gets what it needs in its start message',
  },
  {
    from: ['src/main/ml/eval/', 'src/main/ml/export/', 'src/main/ml/models/', 'src/main/ml/data/'],
    to: ['src/main/ml/train/'],
    why: 'training builds on these, not the other way round',
  },
]

const toPosix = (p) => p.split(sep).join('/')

/** The import's target as a repository-relative folder path (`src/main/db/`), or its package name. */
function targetOf(source, filename) {
  if (source.startsWith('.') || isAbsolute(source)) {
    return { path: `${toPosix(relative(root, resolve(dirname(filename), source)))}/` }
  }
  const parts = source.split('/')
  return { pkg: source.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] }
}

function violated(fileRel, target) {
  return boundaries.find(
    (b) =>
      b.from.some((f) => fileRel.startsWith(f)) &&
      b.to.some((t) => (t.includes('/') ? target.path?.startsWith(t) : target.pkg === t)),
  )
}

/** Every string an import-like node loads: import/export … from, import(), require(), `import x = require()`. */
function sourceOf(node) {
  const literal =
    node.type === 'CallExpression'
      ? node.arguments[0]
      : node.type === 'TSImportEqualsDeclaration'
        ? node.moduleReference.expression
        : node.type === 'TSImportType'
          ? (node.source ?? node.argument?.literal)
          : node.source
  return literal?.type === 'Literal' && typeof literal.value === 'string' ? literal : null
}

/** Enforces `boundaries` on static, dynamic and type-only imports in .ts, .js and .svelte files. */
const layering = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep imports pointing the way the layers are stacked' },
    messages: { crossed: "'{{source}}' reaches {{target}}, which {{from}} must not import: {{why}}." },
    schema: [],
  },
  create(context) {
    const fileRel = toPosix(relative(root, context.filename))
    if (fileRel.startsWith('..')) return {}
    const check = (node) => {
      const literal = sourceOf(node)
      if (!literal) return
      const target = targetOf(literal.value, context.filename)
      const b = violated(fileRel, target)
      if (!b) return
      context.report({
        node: literal,
        messageId: 'crossed',
        data: {
          source: literal.value,
          target: target.pkg ?? target.path.replace(/\/$/, ''),
          from: b.from.find((f) => fileRel.startsWith(f)).replace(/\/$/, ''),
          why: b.why,
        },
      })
    }
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
      TSImportEqualsDeclaration: check,
      TSImportType: check,
      'CallExpression[callee.type="Identifier"][callee.name="require"]': check,
    }
  },
}

export default ts.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'resources/**'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs['flat/recommended'],
  prettier,
  ...svelte.configs['flat/prettier'],
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    files: ['src/**/*.{ts,mts,cts,js,mjs,cjs,svelte}'],
    plugins: { tunewise: { rules: { layering } } },
    rules: { 'tunewise/layering': 'error' },
  },
)
