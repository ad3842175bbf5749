/**
 * A small zip writer for exports: the files of one folder (no subfolders), each deflated when that makes it
 * smaller and stored otherwise, with CRC-32 from node:zlib. Classic zip (no Zip64): an export is far below the
 * 4 GiB limit, which is checked. Every unzip tool, Windows Explorer and macOS Finder open the result.
 */
import { crc32, deflateRawSync } from 'node:zlib'
import { readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError } from '../../errors'

const LIMIT = 0xffff_fffe

/** MS-DOS time and date of `d` (local time, 2-second resolution), as zip stores them. */
function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear())
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  }
}

/** One zip archive of `files` (name → bytes), in the given order. */
export function zipBuffers(files: { name: string; data: Buffer }[], when = new Date()): Buffer {
  const { time, date } = dosDateTime(when)
  const locals: Buffer[] = []
  const central: Buffer[] = []
  let offset = 0
  for (const { name, data } of files) {
    const nameBytes = Buffer.from(name, 'utf8')
    const crc = crc32(data)
    const deflated = deflateRawSync(data, { level: 9 })
    const useDeflate = deflated.length < data.length
    const body = useDeflate ? deflated : data
    if (data.length > LIMIT || body.length > LIMIT || offset > LIMIT)
      throw new AppError('invalid_input', 'The model is too large for a zip file (over 4 GB). Export it as a folder.')
    const method = useDeflate ? 8 : 0
    // Bit 11: names are UTF-8.
    const flags = 0x0800
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(flags, 6)
    local.writeUInt16LE(method, 8)
    local.writeUInt16LE(time, 10)
    local.writeUInt16LE(date, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(body.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    local.writeUInt16LE(0, 28)
    const entry = Buffer.alloc(46)
    entry.writeUInt32LE(0x02014b50, 0)
    entry.writeUInt16LE(0x031e, 4) // made by: Unix, spec 3.0
    entry.writeUInt16LE(20, 6)
    entry.writeUInt16LE(flags, 8)
    entry.writeUInt16LE(method, 10)
    entry.writeUInt16LE(time, 12)
    entry.writeUInt16LE(date, 14)
    entry.writeUInt32LE(crc, 16)
    entry.writeUInt32LE(body.length, 20)
    entry.writeUInt32LE(data.length, 24)
    entry.writeUInt16LE(nameBytes.length, 28)
    entry.writeUInt16LE(0, 30) // extra
    entry.writeUInt16LE(0, 32) // comment
    entry.writeUInt16LE(0, 34) // disk
    entry.writeUInt16LE(0, 36) // internal attributes
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38) // a plain file, rw-r--r--
    entry.writeUInt32LE(offset, 42)
    locals.push(local, nameBytes, body)
    central.push(entry, nameBytes)
    offset += local.length + nameBytes.length + body.length
  }
  const centralSize = central.reduce((s, b) => s + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(files.length, 8)
  end.writeUInt16LE(files.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...central, end])
}

/**
 * Zips the plain files directly inside `dir` (sorted by name) into `outFile`.
 * @returns the names stored.
 */
export async function zipFolder(dir: string, outFile: string): Promise<string[]> {
  const names: string[] = []
  for (const name of (await readdir(dir)).sort()) if ((await stat(join(dir, name))).isFile()) names.push(name)
  const files = await Promise.all(names.map(async (name) => ({ name, data: await readFile(join(dir, name)) })))
  await writeFile(outFile, zipBuffers(files))
  return names
}
