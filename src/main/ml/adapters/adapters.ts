/**
 * A run's adapters: the LoRA adapters and LoReFT interventions it trains beside a frozen base, their weights
 * as plain arrays, and the small adapter file (adapter.json + adapter.bin) that keeps them apart from the
 * merged export, so a run can be resumed or its adapter applied to the base again (`mergeAdapters`).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LayersModel } from '@tensorflow/tfjs'
import { AppError } from '../../errors'
import { makeLora, type LoraAdapter } from './lora'
import { makeReft, type ReftIntervention } from './loreft'
import type { GraphEdits } from '../models/graph'

type Layer = LayersModel['layers'][number]

/** What to attach: layer names (checked against the base) with their ranks. */
export interface AdapterPlan {
  lora: string[]
  loraRank: number
  loraAlpha: number
  reft: string[]
  reftRank: number
  /** Seeds every adapter's initialisation (the run's training seed). */
  seed: number
}

/** The trainable adapters of one run, keyed by the base layer they act on. */
export interface AdapterSet {
  lora: Map<string, LoraAdapter>
  reft: Map<string, ReftIntervention>
}

export const emptyAdapters = (): AdapterSet => ({ lora: new Map(), reft: new Map() })

export function hasAdapters(set: AdapterSet | null | undefined): set is AdapterSet {
  return !!set && set.lora.size + set.reft.size > 0
}

/**
 * Creates the adapters of `plan` for `base` (not yet built: they build when the training graph applies them).
 * @throws AppError('invalid_input') for a name that is not a layer of the base or a layer LoRA cannot adapt.
 */
export function buildAdapters(base: LayersModel, plan: AdapterPlan): AdapterSet {
  const layer = (name: string): Layer => {
    const l = base.layers.find((x) => x.name === name)
    if (!l) throw new AppError('invalid_input', `The model's base has no layer '${name}'. Choose layers from its list.`)
    return l
  }
  const set = emptyAdapters()
  plan.lora.forEach((name, i) =>
    set.lora.set(name, makeLora(layer(name), plan.loraRank, plan.loraAlpha, plan.seed + i)),
  )
  plan.reft.forEach((name, i) => {
    layer(name)
    set.reft.set(name, makeReft(name, plan.reftRank, plan.seed + 1000 + i))
  })
  return set
}

/** The adapters as graph edits: LoRA replaces its layer, LoReFT follows its site. */
export function adapterEdits(set: AdapterSet): GraphEdits {
  return { replace: set.lora as ReadonlyMap<string, Layer>, after: set.reft as ReadonlyMap<string, Layer> }
}

/** How many numbers the adapters train. */
export function adapterParameters(set: AdapterSet): number {
  let n = 0
  for (const a of [...set.lora.values(), ...set.reft.values()]) n += a.countParams()
  return n
}

/** One LoRA adapter's weights. */
export interface LoraWeights {
  layer: string
  rank: number
  alpha: number
  /** Shape of the adapted layer's kernel. */
  kernelShape: number[]
  aShape: number[]
  a: Float32Array
  b: Float32Array
}

/** One LoReFT intervention's weights (R and W are [rank, dim], b is [rank]). */
export interface ReftWeights {
  layer: string
  rank: number
  dim: number
  r: Float32Array
  w: Float32Array
  b: Float32Array
}

/** An adapter's weights as plain arrays: what the adapter file holds and what the export merges. */
export interface AdapterWeights {
  lora: LoraWeights[]
  reft: ReftWeights[]
}

const f32 = (t: { read(): { dataSync(): ArrayLike<number> } }): Float32Array => Float32Array.from(t.read().dataSync())

/** Reads the adapters' current weights. */
export function adapterWeights(set: AdapterSet): AdapterWeights {
  return {
    lora: [...set.lora.entries()].map(([layer, a]) => ({
      layer,
      rank: a.rank,
      alpha: a.alpha,
      kernelShape: [...a.target.weights[0]!.shape] as number[],
      aShape: [...a.a.shape] as number[],
      a: f32(a.a),
      b: f32(a.b),
    })),
    reft: [...set.reft.entries()].map(([layer, r]) => ({
      layer,
      rank: r.rank,
      dim: r.r.shape[1]!,
      r: f32(r.r),
      w: f32(r.w),
      b: f32(r.b),
    })),
  }
}

/** adapter.json: what the weights in adapter.bin are, in order. */
interface AdapterManifest {
  format: 'tunewise-adapter'
  version: 1
  /** The base model the adapter belongs to. */
  modelId: string
  lora: (Omit<LoraWeights, 'a' | 'b'> & { a: [number, number]; b: [number, number] })[]
  reft: (Omit<ReftWeights, 'r' | 'w' | 'b'> & { r: [number, number]; w: [number, number]; b: [number, number] })[]
}

export const ADAPTER_JSON = 'adapter.json'
export const ADAPTER_BIN = 'adapter.bin'

/**
 * Writes `weights` to `dir` as adapter.json (layers, ranks, shapes, offsets) + adapter.bin (float32, little
 * endian), via a temporary folder renamed into place.
 */
export async function saveAdapter(dir: string, weights: AdapterWeights, modelId: string): Promise<void> {
  const parts: Float32Array[] = []
  let offset = 0
  const slot = (a: Float32Array): [number, number] => {
    parts.push(a)
    offset += a.length
    return [offset - a.length, a.length]
  }
  const manifest: AdapterManifest = {
    format: 'tunewise-adapter',
    version: 1,
    modelId,
    lora: weights.lora.map((l) => ({ ...l, a: slot(l.a), b: slot(l.b) })),
    reft: weights.reft.map((r) => ({ ...r, r: slot(r.r), w: slot(r.w), b: slot(r.b) })),
  }
  const data = new Float32Array(offset)
  let at = 0
  for (const p of parts) {
    data.set(p, at)
    at += p.length
  }
  const tmp = `${dir}.tmp-${process.pid}`
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true })
  await writeFile(join(tmp, ADAPTER_JSON), JSON.stringify(manifest, null, 2))
  await writeFile(join(tmp, ADAPTER_BIN), Buffer.from(data.buffer, data.byteOffset, data.byteLength))
  await rm(dir, { recursive: true, force: true })
  await rename(tmp, dir)
}

/**
 * Reads an adapter folder written by `saveAdapter`.
 * @throws AppError('bad_data') when the files are missing, malformed or do not match each other.
 */
export async function loadAdapter(dir: string): Promise<{ modelId: string; weights: AdapterWeights }> {
  let manifest: AdapterManifest
  let bin: Buffer
  try {
    manifest = JSON.parse(await readFile(join(dir, ADAPTER_JSON), 'utf8')) as AdapterManifest
    bin = await readFile(join(dir, ADAPTER_BIN))
  } catch (err) {
    throw new AppError(
      'bad_data',
      `The adapter in '${dir}' cannot be read (${err instanceof Error ? err.message : String(err)}). Train the run again.`,
    )
  }
  if (manifest?.format !== 'tunewise-adapter' || manifest.version !== 1)
    throw new AppError('bad_data', `'${dir}' does not hold a Tunewise adapter (adapter.json format 1).`)
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength))
  const take = ([from, length]: [number, number]): Float32Array => {
    if (!(from >= 0 && length >= 0 && from + length <= all.length))
      throw new AppError(
        'bad_data',
        `The adapter in '${dir}' is damaged: adapter.bin is shorter than adapter.json says.`,
      )
    return all.slice(from, from + length)
  }
  return {
    modelId: manifest.modelId,
    weights: {
      lora: manifest.lora.map((l) => ({ ...l, a: take(l.a), b: take(l.b) })),
      reft: manifest.reft.map((r) => ({ ...r, r: take(r.r), w: take(r.w), b: take(r.b) })),
    },
  }
}
