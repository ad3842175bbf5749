#!/usr/bin/env node
// Tests run under Node. If better-sqlite3 was last built for Electron (npm start rebuilds it for
// Electron), build it for Node again before testing.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
try {
  const Database = require('better-sqlite3')
  new Database(':memory:').close()
} catch (err) {
  if (!/NODE_MODULE_VERSION|was compiled against a different/.test(String(err))) throw err
  console.log('Rebuilding better-sqlite3 for Node (it was built for Electron)…')
  const r = spawnSync('npm', ['rebuild', 'better-sqlite3'], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}
