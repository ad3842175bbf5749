/**
 * Writes the spoken-word sample set (the one behind "Use sample sounds") into a folder, for trying the sound
 * path from the command line or for a larger bench set:
 *   npx tsx scripts/sample-sounds.ts <folder> [--per-word 32] [--long 2] [--seed 1] [--words yes,no,up,down]
 * Needs espeak-ng (Debian: apt install espeak-ng).
 */
import { resolve } from 'node:path'
import { makeSampleSounds } from '../src/main/ml/audio/sample-sounds'

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const dir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'))
if (!dir) {
  console.error('Usage: npx tsx scripts/sample-sounds.ts <folder> [--per-word 32] [--long 2] [--seed 1] [--words a,b]')
  process.exit(2)
}
makeSampleSounds(resolve(dir), {
  perWord: flag('per-word') ? Number(flag('per-word')) : undefined,
  longPerWord: flag('long') ? Number(flag('long')) : undefined,
  seed: flag('seed') ? Number(flag('seed')) : undefined,
  words: flag('words')?.split(',').filter(Boolean),
  onProgress: (done, total) => process.stdout.write(`\r${done}/${total} recordings`),
}).then(
  (written) => console.log(`\n${written} recordings written to ${resolve(dir)}.`),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err))
    process.exit(1)
  },
)
