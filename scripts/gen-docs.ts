/**
 * Writes the README's generated sections from the code: the settings table comes from the field
 * table in src/shared/run-config.ts. `npm run docs`; a unit test fails when the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { settingsMarkdown } from '../src/shared/run-config'

const file = join(__dirname, '..', 'README.md')
const readme = readFileSync(file, 'utf8')
const start = '<!-- settings:start -->'
const end = '<!-- settings:end -->'
const a = readme.indexOf(start)
const b = readme.indexOf(end)
if (a < 0 || b < a) throw new Error(`README.md needs ${start} and ${end} markers.`)
writeFileSync(file, `${readme.slice(0, a + start.length)}\n${settingsMarkdown()}\n${readme.slice(b)}`)
console.log('README.md: settings table written.')
