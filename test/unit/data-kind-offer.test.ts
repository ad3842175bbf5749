/**
 * The kind of a folder on the Data step: the report counts the names of each kind (whichever kind was read), the
 * switch to the other kind is offered only when the folder has files of it, and "try your own sound" and the Model
 * step's sound marks decide from a file's name and type and a card's fields.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DatasetStore } from '../../src/main/api/dataset-store'
import { openDatabase } from '../../src/main/db/database'
import { createRepositories } from '../../src/main/db/repositories'
import { EventHub } from '../../src/main/ipc'
import { scanFolder } from '../../src/main/ml/audio/folder'
import { catalogue } from '../../src/main/ml/models/catalogue'
import {
  isSoundFile,
  offersOtherKind,
  otherKind,
  soundDataUrl,
  soundFit,
} from '../../src/renderer/src/lib/core/data-kind'
import type { ModelCard } from '../../src/shared/types'
import { tone, wav16 } from '../fixtures/audio/synth'

let base: string

function write(file: string, content: string | Buffer): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, content)
}

async function png(colour: number): Promise<Buffer> {
  return sharp({ create: { width: 16, height: 16, channels: 3, background: { r: colour, g: 0, b: 255 - colour } } })
    .png()
    .toBuffer()
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'tw-kind-offer-'))
  // Pictures only.
  for (const [label, colour] of [
    ['red', 250],
    ['blue', 5],
  ] as const)
    for (let i = 0; i < 3; i++) write(join(base, 'pictures', label, `${i}.png`), await png(colour - i))
  // Recordings with one picture among them (a cover).
  for (const [label, freq] of [
    ['low', 300],
    ['high', 3000],
  ] as const)
    for (let i = 0; i < 3; i++)
      write(join(base, 'sounds', label, `${i}.wav`), wav16(tone(freq + 10 * i, 16000, 1), 16000))
  write(join(base, 'sounds', 'low', 'cover.png'), await png(128))
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

describe('the kinds a folder holds', () => {
  it('are counted on the report, whichever kind the folder is read as', async () => {
    const pictures = await scanFolder(join(base, 'pictures'))
    expect(pictures.report.kind).toBe('image')
    expect(pictures.report.kindCounts).toEqual({ image: 6, audio: 0 })

    const sounds = await scanFolder(join(base, 'sounds'))
    expect(sounds.report.kind).toBe('audio')
    expect(sounds.report.kindCounts).toEqual({ image: 1, audio: 6 })

    // Read as the kind the user chose: the counts still describe the folder.
    const asImages = await scanFolder(join(base, 'sounds'), { kind: 'image' })
    expect(asImages.report.kind).toBe('image')
    expect(asImages.report.kindCounts).toEqual({ image: 1, audio: 6 })
  })

  it('are kept with the stored report', async () => {
    const store = new DatasetStore(join(base, 'data'), createRepositories(openDatabase(':memory:')), new EventHub())
    const report = await store.import(join(base, 'pictures'))
    expect(store.get(report.id).kindCounts).toEqual({ image: 6, audio: 0 })
  })

  it('decide whether the other kind is offered', () => {
    expect(otherKind('image')).toBe('audio')
    expect(otherKind('audio')).toBe('image')
    // A picture folder without recordings: no "read as sound".
    expect(offersOtherKind({ kind: 'image', kindCounts: { image: 6, audio: 0 } })).toBe(false)
    expect(offersOtherKind({ kind: 'image', kindCounts: { image: 6, audio: 1 } })).toBe(true)
    // Recordings with a cover picture: "read as images" is offered; without any picture it is not.
    expect(offersOtherKind({ kind: 'audio', kindCounts: { image: 1, audio: 6 } })).toBe(true)
    expect(offersOtherKind({ kind: 'audio', kindCounts: { image: 0, audio: 6 } })).toBe(false)
    // Reports saved before the counts (and before kinds) keep the offer.
    expect(offersOtherKind({ kind: 'audio' })).toBe(true)
    expect(offersOtherKind({})).toBe(true)
  })
})

describe('a file chosen to try a sound model', () => {
  it('is a recording by its extension or an audio type', () => {
    expect(isSoundFile({ name: 'bark.WAV', type: '' })).toBe(true)
    expect(isSoundFile({ name: 'bark.flac', type: 'application/octet-stream' })).toBe(true)
    expect(isSoundFile({ name: 'bark.ogg', type: 'video/ogg' })).toBe(true)
    expect(isSoundFile({ name: 'bark.mp3', type: 'audio/mpeg' })).toBe(true)
    // The engine names what it cannot read (e.g. M4A): the page lets audio types through.
    expect(isSoundFile({ name: 'bark.m4a', type: 'audio/mp4' })).toBe(true)
    expect(isSoundFile({ name: 'notes.txt', type: 'text/plain' })).toBe(false)
    expect(isSoundFile({ name: 'cat.png', type: 'image/png' })).toBe(false)
    expect(isSoundFile({ name: 'wav', type: '' })).toBe(false)
  })

  it('is sent with an audio type, from its extension when the browser gave none', () => {
    expect(soundDataUrl('data:audio/wav;base64,UklG', 'a.wav')).toBe('data:audio/wav;base64,UklG')
    expect(soundDataUrl('data:audio/x-flac;base64,ZkxhQw==', 'a.flac')).toBe('data:audio/x-flac;base64,ZkxhQw==')
    expect(soundDataUrl('data:application/octet-stream;base64,ZkxhQw==', 'a.flac')).toBe(
      'data:audio/flac;base64,ZkxhQw==',
    )
    expect(soundDataUrl('data:;base64,T2dnUw==', 'a.OGG')).toBe('data:audio/ogg;base64,T2dnUw==')
    expect(soundDataUrl('data:video/ogg;base64,T2dnUw==', 'a.oga')).toBe('data:audio/ogg;base64,T2dnUw==')
    expect(soundDataUrl('data:application/octet-stream;base64,SUQz', 'a.mp3')).toBe('data:audio/mpeg;base64,SUQz')
    // Extra parameters are dropped: main takes `data:audio/<type>;base64,` only.
    expect(soundDataUrl('data:audio/wav;codecs=1;base64,UklG', 'a.wav')).toBe('data:audio/wav;base64,UklG')
    expect(soundDataUrl('data:text/plain;base64,aGk=', 'notes.txt')).toBeNull()
    expect(soundDataUrl('data:audio/wav,UklG', 'a.wav')).toBeNull()
    expect(soundDataUrl('not a data url', 'a.wav')).toBeNull()
    // Main's check for a sound run accepts every URL this gives.
    const main = /^data:audio\/[a-z0-9.+-]+;base64,(.*)$/i
    for (const name of ['a.wav', 'a.wave', 'a.flac', 'a.mp3', 'a.ogg', 'a.oga'])
      expect(soundDataUrl('data:application/octet-stream;base64,AAAA', name)).toMatch(main)
  })
})

describe('which model cards suit sound', () => {
  const cards = catalogue.map((e) => e.card)

  it('all supported image classifiers of the catalogue, none of the unsupported ones', () => {
    for (const c of cards) expect(soundFit(c)).toBe(c.supported && c.task === 'image-classification' ? 'yes' : 'no')
    expect(soundFit(cards.find((c) => c.id === 'mobilenet-v2-nsfwjs')!)).toBe('yes')
    expect(soundFit(cards.find((c) => c.task === 'audio')!)).toBe('no')
  })

  it('an imported image classifier, or one whose input scaling is unknown, is untested', () => {
    const bundled = cards.find((c) => c.id === 'mobilenet-v2-nsfwjs')!
    const imported: ModelCard = { ...bundled, source: { kind: 'imported', description: 'Imported.' } }
    expect(soundFit(imported)).toBe('untested')
    const unknownScaling: ModelCard = { ...bundled, card: { ...bundled.card, unknown: ['preprocessing'] } }
    expect(soundFit(unknownScaling)).toBe('untested')
    expect(soundFit({ ...imported, supported: false })).toBe('no')
  })
})
