/** Where Tunewise keeps its data. `TUNEWISE_HOME` overrides the platform default. */
import { readFileSync } from 'node:fs'
import { homedir, platform } from 'node:os'
import { join, resolve } from 'node:path'

export function defaultDataDir(electronUserData?: string): string {
  if (process.env.TUNEWISE_HOME) return resolve(process.env.TUNEWISE_HOME)
  if (electronUserData) return electronUserData
  const home = homedir()
  switch (platform()) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'Tunewise')
    case 'win32':
      return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Tunewise')
    default:
      return join(process.env.XDG_CONFIG_HOME ?? join(home, '.config'), 'Tunewise')
  }
}

/** The project root: the nearest folder above this file (src/main, out/main or out/main/chunks) with our package.json. */
function findAppRoot(): string {
  let dir = __dirname
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }
      if (pkg.name === 'tunewise') return dir
    } catch {
      // Keep walking up.
    }
    dir = resolve(dir, '..')
  }
  return resolve(__dirname, '..', '..')
}
export const appRoot = findAppRoot()

let version: string | undefined
export function appVersion(): string {
  if (version === undefined) {
    try {
      version = (JSON.parse(readFileSync(join(appRoot, 'package.json'), 'utf8')) as { version: string }).version
    } catch {
      version = '0.0.0'
    }
  }
  return version
}
