#!/usr/bin/env node
// `npm start`: build, then launch the Electron app. Where the Electron binary is not installed
// (an offline install with ELECTRON_SKIP_BINARY_DOWNLOAD=1), start browser mode instead.
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const passArgs = process.argv.slice(2)

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

if (!process.env.TUNEWISE_SKIP_BUILD)
  run(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'])

let electronBinary = null
try {
  // The electron package exports the binary's path and throws when the binary was never downloaded.
  electronBinary = require('electron')
} catch {
  electronBinary = null
}

if (typeof electronBinary === 'string') {
  // better-sqlite3 is compiled for Node by npm ci; Electron needs its own build. Check, then rebuild once.
  const probe = spawnSync(electronBinary, ['-e', "new (require('better-sqlite3'))(':memory:')"], {
    cwd: root,
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: 'ignore',
  })
  if (probe.status !== 0) {
    console.log('Preparing the database module for Electron (once)…')
    run(process.execPath, [join(root, 'node_modules/electron-builder/cli.js'), 'install-app-deps'])
  }
  const child = spawn(electronBinary, ['.', ...passArgs], { stdio: 'inherit', cwd: root })
  child.on('exit', (code) => process.exit(code ?? 0))
} else {
  console.log(
    'The Electron binary is not installed (offline install), so Tunewise starts in browser mode: open the URL below in your browser.',
  )
  const child = spawn(process.execPath, [join(root, 'out/main/serve.js'), ...passArgs], { stdio: 'inherit', cwd: root })
  child.on('exit', (code) => process.exit(code ?? 0))
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
}
