/**
 * Picks the fastest TF.js backend this machine can run and hands the rest of the engine its `tf`.
 * Ladder: tfjs-node-gpu → tfjs-node → WASM → plain-JS cpu. Both tfjs-node packages are optional
 * dependencies that fail to install without libtensorflow, so they are required behind try/catch.
 */
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import * as tfjs from '@tensorflow/tfjs'
import type { BackendName } from '../../shared/types'

export type Tf = typeof tfjs

export interface BackendChoice {
  backend: BackendName
  /** Plain sentence for the UI: why this backend. */
  reason: string
  /** Backends tried before the chosen one, with why each was skipped. */
  tried: { name: BackendName; error: string }[]
}

const nodeRequire = createRequire(import.meta.url)
const ladder: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']
const nodePackages: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
}

let current: Tf = tfjs
let chosen: BackendChoice | null = null

/** The `tf` namespace every engine module must use (tfjs-node's when it loaded, else @tensorflow/tfjs). */
export function getTf(): Tf {
  return current
}

/** The last result of `initBackend`, or null before it ran. */
export function currentBackend(): BackendChoice | null {
  return chosen
}

function isBackendName(name: string): name is BackendName {
  return (ladder as string[]).includes(name)
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function isMissing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'MODULE_NOT_FOUND'
}

async function tryBackend(name: BackendName): Promise<void> {
  const pkg = nodePackages[name]
  if (pkg) {
    let mod: Tf
    try {
      mod = nodeRequire(pkg) as Tf
    } catch (err) {
      throw new Error(isMissing(err) ? `${pkg} is not installed` : `${pkg} failed to load: ${message(err)}`)
    }
    if (!(await mod.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not start`)
    await mod.ready()
    current = mod
    return
  }
  current = tfjs
  if (name === 'wasm') {
    const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as typeof import('@tensorflow/tfjs-backend-wasm')
    // The exports map hides dist/, but the main entry lives there; the trailing slash matters.
    wasm.setWasmPaths(dirname(nodeRequire.resolve('@tensorflow/tfjs-backend-wasm')) + '/')
    if (!(await tfjs.setBackend('wasm'))) throw new Error('the WASM backend did not start')
    await tfjs.ready()
    await registerGradKernels()
    return
  }
  if (!(await tfjs.setBackend('cpu'))) throw new Error('the cpu backend did not start')
  await tfjs.ready()
}

/** WASM lacks some gradient kernels phase 2 needs; another module adds them when present. */
async function registerGradKernels(): Promise<void> {
  try {
    const mod = (await import('./wasm-kernels')) as { registerWasmGradKernels?: () => void }
    mod.registerWasmGradKernels?.()
  } catch {
    // Without them phase 1 (cached features) still works; phase 2 reports the missing kernel.
  }
}

/**
 * Starts the best available backend. `preferred` (or env TUNEWISE_BACKEND = wasm | cpu | tensorflow |
 * tensorflow-gpu) forces one; if the forced one fails, the ladder continues below it and `reason` says so.
 */
export async function initBackend(preferred?: string): Promise<BackendChoice> {
  const forced = preferred || process.env.TUNEWISE_BACKEND || ''
  const tried: BackendChoice['tried'] = []
  let order = ladder
  if (forced) {
    if (!isBackendName(forced) || forced === 'unknown') {
      tried.push({
        name: 'unknown',
        error: `unknown backend '${forced}' (use wasm, cpu, tensorflow or tensorflow-gpu)`,
      })
    } else {
      order = [forced, ...ladder.filter((b) => b !== forced && ladder.indexOf(b) > ladder.indexOf(forced))]
    }
  }
  for (const name of order) {
    try {
      await tryBackend(name)
      const skipped = tried.map((t) => `${t.name}: ${t.error}`).join('; ')
      const why =
        forced && name === forced
          ? `${name} was requested${preferred ? '' : ' by TUNEWISE_BACKEND'}`
          : `${name} is the fastest backend available here`
      chosen = { backend: name, reason: skipped ? `${why} (skipped ${skipped})` : why, tried }
      return chosen
    } catch (err) {
      tried.push({ name, error: message(err) })
    }
  }
  throw new Error(`No TF.js backend could start: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`)
}

/**
 * Images per forward pass when a network only predicts (feature extraction, export checks). On the
 * single-threaded backends (WASM, plain JS) the speed per image does not depend on it (MobileNetV2 at
 * 224×224 on WASM, measured here: 14–17 images/s at 2, 4, 8 and 16), but memory does: ~140 MB of
 * activations at 4, ~250 MB at 8, ~430 MB at 16, and WASM never returns memory it grew into. A cancel
 * waits for at most one batch (~0.3 s at 4). Native TensorFlow (and a GPU) wants larger batches.
 */
export function inferenceBatch(): number {
  const backend = getTf().getBackend()
  return backend === 'wasm' || backend === 'cpu' ? 4 : 16
}
