/**
 * One app per data folder. The first Tunewise to open a data folder owns it: it writes
 * `tunewise.lock` (its pid, host and a heartbeat every few seconds), recovers runs a crash left
 * running, and is the only one that trains or writes. A second app (or a CLI read command) opens
 * the same folder read-only and says so. A lock whose process is gone, or whose heartbeat stopped,
 * is taken over. No electron import.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'

/** What the lock file holds. */
export interface LockHolder {
  pid: number
  host: string
  startedAt: string
  /** ISO time of the holder's last heartbeat. */
  heartbeat: string
}

export interface DataLock {
  /** True when this process owns the data folder. */
  owner: boolean
  /** Who owns it when this process does not. */
  holder: LockHolder | null
  release(): void
}

/** A heartbeat older than this means the holder hung or its machine slept through it. */
export const STALE_AFTER_MS = 30_000
const HEARTBEAT_MS = 5_000

export function lockFile(dataDir: string): string {
  return join(dataDir, 'tunewise.lock')
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.heartbeat !== 'string') return null
    return v as LockHolder
  } catch {
    return null
  }
}

/** Whether a recorded holder still holds the folder (its process runs here, or its heartbeat is fresh). */
export function holderIsLive(h: LockHolder, now = Date.now()): boolean {
  const fresh = now - Date.parse(h.heartbeat) < STALE_AFTER_MS
  if (h.host !== hostname()) return fresh
  return fresh && alive(h.pid)
}

function write(file: string, h: LockHolder): void {
  // Replace atomically, so a reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(h))
  renameSync(tmp, file)
}

/**
 * Takes the data folder's lock if nobody live holds it. `want: 'reader'` never takes it (a CLI read
 * command): it only reports who holds it.
 */
export function acquireDataLock(dataDir: string, want: 'owner' | 'reader' = 'owner'): DataLock {
  const file = lockFile(dataDir)
  const current = readHolder(file)
  if (want === 'reader' || (current && holderIsLive(current))) {
    return { owner: false, holder: current && holderIsLive(current) ? current : null, release: () => undefined }
  }
  const now = new Date().toISOString()
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: now, heartbeat: now }
  if (current) {
    // Stale: the holder is gone. Remove it, then race for the exclusive create like a fresh start.
    rmSync(file, { force: true })
  }
  let fd: number
  try {
    fd = openSync(file, 'wx')
  } catch {
    // Someone else created it between our read and our create: they own it.
    const other = readHolder(file)
    return { owner: false, holder: other, release: () => undefined }
  }
  writeSync(fd, JSON.stringify(me))
  closeSync(fd)
  const timer = setInterval(() => {
    try {
      const onDisk = readHolder(file)
      if (onDisk && onDisk.pid !== process.pid) return
      write(file, { ...me, heartbeat: new Date().toISOString() })
    } catch {
      // A full disk or a removed folder: the lock goes stale and another app may take over.
    }
  }, HEARTBEAT_MS)
  timer.unref()
  let released = false
  return {
    owner: true,
    holder: null,
    release() {
      if (released) return
      released = true
      clearInterval(timer)
      const onDisk = readHolder(file)
      if (onDisk?.pid === process.pid) rmSync(file, { force: true })
    },
  }
}
