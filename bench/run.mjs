// Thin launcher for `npm run bench`: runs bench/bench.ts through tsx (a dev dependency) so the benchmark
// imports the engine's TypeScript sources directly. Arguments pass through (--quick, --json).
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--max-old-space-size=4096', join(root, 'bench', 'bench.ts'), ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
)
process.exit(result.status ?? 1)
