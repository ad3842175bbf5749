/** Downloading an online catalogue model: model.json and its shards, verified, cached, written atomically. */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { io } from '@tensorflow/tfjs'
import type { ModelCard } from '../../../shared/types'
import { AppError } from '../../errors'
import { findEntry } from './catalogue'
import { modelDir } from './load'

export interface DownloadRecord {
  url: string
  downloadedAt: string
  totalBytes: number
  parameters: number
  files: { name: string; bytes: number; sha256: string }[]
}

export interface DownloadOptions {
  /** Replaces the folder the files come from (tests point it at a local server). */
  baseUrl?: string
  /** Extra attempts after a network error or 5xx. Default 3. */
  retries?: number
  /** First retry delay in ms, doubled each time. Default 500. */
  backoffMs?: number
  fetchImpl?: typeof fetch
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
  ) {
    super(`${status} ${statusText}`)
  }
}

async function fetchBytes(
  url: string,
  opts: Required<Pick<DownloadOptions, 'retries' | 'backoffMs'>> & { fetchImpl: typeof fetch },
  onChunk: (n: number) => void,
): Promise<Buffer> {
  let attempt = 0
  for (;;) {
    let received = 0
    try {
      const res = await opts.fetchImpl(url)
      if (!res.ok) throw new HttpError(res.status, res.statusText)
      const chunks: Buffer[] = []
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          chunks.push(Buffer.from(chunk))
          received += chunk.byteLength
          onChunk(chunk.byteLength)
        }
      } else {
        const buf = Buffer.from(await res.arrayBuffer())
        received = buf.length
        onChunk(buf.length)
        chunks.push(buf)
      }
      return Buffer.concat(chunks)
    } catch (err) {
      onChunk(-received)
      // 4xx will not change on retry; network errors and 5xx might.
      const retryable = !(err instanceof HttpError) || err.status >= 500
      if (!retryable || attempt >= opts.retries) throw err
      await new Promise((r) => setTimeout(r, opts.backoffMs * 2 ** attempt))
      attempt++
    }
  }
}

/**
 * Downloads an online model into `<dataDir>/models/<id>/` (temp folder, then rename), recording sizes and
 * SHA-256 sums in download.json. Already downloaded = no network at all. `onProgress(received, total)`
 * gets bytes so far and the expected total (the card's size, or null when unknown).
 */
export async function downloadModel(
  modelId: string,
  dataDir: string,
  onProgress?: (received: number, total: number | null) => void,
  opts: DownloadOptions = {},
): Promise<ModelCard> {
  const entry = findEntry(modelId)
  if (!entry || !entry.url) throw new AppError('not_found', `'${modelId}' is not a model that can be downloaded.`)
  const dest = modelDir(dataDir, modelId)
  const recordFile = join(dest, 'download.json')
  if (existsSync(recordFile)) {
    const record = JSON.parse(await readFile(recordFile, 'utf8')) as DownloadRecord
    return { ...entry.card, available: true, sizeBytes: record.totalBytes, parameters: record.parameters }
  }
  const base = opts.baseUrl ? opts.baseUrl.replace(/\/?$/, '/') : entry.url.replace(/model\.json$/, '')
  const modelUrl = new URL('model.json', base).toString()
  const fetchOpts = { retries: opts.retries ?? 3, backoffMs: opts.backoffMs ?? 500, fetchImpl: opts.fetchImpl ?? fetch }
  const total = opts.baseUrl ? null : (entry.card.sizeBytes ?? null)
  let received = 0
  const onChunk = (n: number) => {
    received += n
    onProgress?.(received, total)
  }
  const what = (file: string) => `'${file}' for ${entry.card.name}`
  const get = async (url: string, file: string) => {
    try {
      return await fetchBytes(url, fetchOpts, onChunk)
    } catch (err) {
      const why = err instanceof HttpError ? `the server answered ${err.message}` : `${(err as Error).message}`
      throw new AppError('unavailable', `Could not download ${what(file)}: ${why}. Check the connection and try again.`)
    }
  }

  const jsonBytes = await get(modelUrl, 'model.json')
  let json: io.ModelJSON
  try {
    json = JSON.parse(jsonBytes.toString('utf8')) as io.ModelJSON
  } catch {
    throw new AppError('bad_data', `The downloaded model.json for ${entry.card.name} is not valid JSON.`)
  }
  const files: { name: string; data: Buffer }[] = [{ name: 'model.json', data: jsonBytes }]
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) files.push({ name: p, data: await get(new URL(p, base).toString(), p) })
  }
  const parameters = (json.weightsManifest ?? [])
    .flatMap((g) => g.weights)
    .reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0)

  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`
  await mkdir(tmp, { recursive: true })
  try {
    for (const f of files) {
      await mkdir(join(tmp, f.name, '..'), { recursive: true })
      await writeFile(join(tmp, f.name), f.data)
    }
    const record: DownloadRecord = {
      url: modelUrl,
      downloadedAt: new Date().toISOString(),
      totalBytes: files.reduce((a, f) => a + f.data.length, 0),
      parameters,
      files: files.map((f) => ({
        name: f.name,
        bytes: f.data.length,
        sha256: createHash('sha256').update(f.data).digest('hex'),
      })),
    }
    await writeFile(join(tmp, 'download.json'), JSON.stringify(record, null, 2))
    await rm(dest, { recursive: true, force: true })
    await mkdir(join(dest, '..'), { recursive: true })
    await rename(tmp, dest)
    return { ...entry.card, available: true, sizeBytes: record.totalBytes, parameters }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
}
