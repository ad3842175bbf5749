/**
 * Every request channel: its zod input schema and (as a phantom type) its result.
 * Main parses every payload with these before a handler sees it. Pure TypeScript + zod.
 */
import { z } from 'zod'
import { runConfigSchema, splitRatiosSchema } from './run-config'
import type { ExportOutput, SuspectImage, TaskInfo } from './tasks'
import type { RunEstimate } from './estimate'
import type {
  AppInfo,
  DatasetReport,
  Evaluation,
  LayerInfo,
  MetricPoint,
  ModelCard,
  RunCard,
  RunConfig,
  RunDetail,
  RunProgress,
  RunStatus,
  RunSummary,
  SplitSummary,
} from './types'

/** Phantom marker that carries a result type without a runtime value. */
const out = <T>(): T => undefined as unknown as T

const path = z.string().min(1).max(4096)
const runId = z.number().int().positive()
const id = z.string().min(1).max(200)
const dataKind = z.enum(['image', 'audio'])

export interface FolderListing {
  path: string
  parent: string | null
  entries: { name: string; isDir: boolean }[]
}

/** A folder the person imported before, offered for one-click reuse on the Data step. */
export interface RecentFolder {
  path: string
  /** The folder's own name, for the button. */
  name: string
}

export interface CompareResult {
  runs: RunSummary[]
  /** One row per config field (dotted path); `differs` when not every run has the same value. */
  settings: { field: string; values: unknown[]; differs: boolean }[]
  /** One row per metric; `bestIndex` marks the best run (null when none has a value). */
  metrics: { name: string; values: (number | null)[]; higherIsBetter: boolean; bestIndex: number | null }[]
  confusions: ({ labels: string[]; matrix: number[][] } | null)[]
  /** Present when exactly two runs share the same test split. */
  exampleDiff: { fixed: string[]; broken: string[]; bothWrong: string[] } | null
}

export interface RunQuery {
  status?: RunStatus[]
  modelId?: string
  datasetId?: string
  tag?: string
  search?: string
  starred?: boolean
  sort?:
    | 'name'
    | 'createdAt'
    | 'modelId'
    | 'datasetId'
    | 'status'
    | 'bestValAccuracy'
    | 'testAccuracy'
    | 'durationMs'
    | 'backend'
  desc?: boolean
}

export const contract = {
  'app:info': { input: z.strictObject({}), output: out<AppInfo>() },
  'app:pick-folder': {
    input: z.strictObject({ title: z.string().max(200).optional() }),
    output: out<{ path: string | null }>(),
  },
  'fs:list': { input: z.strictObject({ path: path.optional() }), output: out<FolderListing>() },
  /**
   * A typed, pasted or dropped folder path, checked: its real path when it is an existing folder Tunewise
   * may open (in browser mode, inside the folders it may browse); otherwise an error saying why.
   */
  'fs:check-folder': { input: z.strictObject({ path: z.string().max(4096) }), output: out<{ path: string }>() },
  /** The folders imported most recently, newest first (at most 8), only those that still exist and are allowed. */
  'fs:recent': { input: z.strictObject({}), output: out<RecentFolder[]>() },

  'models:list': { input: z.strictObject({}), output: out<ModelCard[]>() },
  'models:layers': { input: z.strictObject({ modelId: id }), output: out<LayerInfo[]>() },
  'models:import': { input: z.strictObject({ path }), output: out<ModelCard>() },
  'models:download': { input: z.strictObject({ modelId: id }), output: out<ModelCard>() },

  /** `kind`: what the user confirmed the folder holds; detected from the files when absent. */
  'datasets:import': { input: z.strictObject({ path, kind: dataKind.optional() }), output: out<DatasetReport>() },
  /** The drawn shapes, or (`kind: 'audio'`) words spoken by the eSpeak NG synthesizer. */
  'datasets:sample': { input: z.strictObject({ kind: dataKind.optional() }), output: out<DatasetReport>() },
  'datasets:get': { input: z.strictObject({ datasetId: id }), output: out<DatasetReport>() },
  'datasets:exclude': {
    input: z.strictObject({
      datasetId: id,
      files: z.array(z.string().max(4096)).max(100000).default([]),
      classes: z.array(z.string().max(500)).max(10000).default([]),
      /** true puts them back. */
      restore: z.boolean().default(false),
    }),
    output: out<DatasetReport>(),
  },
  'datasets:thumbnails': {
    input: z.strictObject({ datasetId: id, files: z.array(z.string().max(4096)).max(200) }),
    output: out<{ file: string; dataUrl: string | null }[]>(),
  },

  /**
   * A sound dataset's clip to play: a WAV data URL of clip `file` (`rec.wav#t=1,2`), or of a whole recording
   * (its first 30 s); null when it is not a recording of this dataset or cannot be read.
   */
  'datasets:clip': {
    input: z.strictObject({ datasetId: id, file: z.string().max(4096) }),
    output: out<{ file: string; dataUrl: string | null }>(),
  },

  'splits:preview': {
    input: z.strictObject({ datasetId: id, ratios: splitRatiosSchema }),
    output: out<SplitSummary>(),
  },

  'runs:start': { input: z.strictObject({ config: runConfigSchema }), output: out<{ runId: number }>() },
  'runs:estimate': {
    input: z.strictObject({ config: runConfigSchema }),
    output: out<RunEstimate>(),
  },
  'runs:cancel': { input: z.strictObject({ runId }), output: out<{ cancelled: boolean }>() },
  'runs:active': {
    input: z.strictObject({}),
    output: out<{ runId: number | null; progress: RunProgress | null; queued: number[] }>(),
  },
  'runs:list': {
    input: z.strictObject({
      status: z.array(z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'])).optional(),
      modelId: id.optional(),
      datasetId: id.optional(),
      tag: z.string().max(100).optional(),
      search: z.string().max(200).optional(),
      starred: z.boolean().optional(),
      sort: z
        .enum([
          'name',
          'createdAt',
          'modelId',
          'datasetId',
          'status',
          'bestValAccuracy',
          'testAccuracy',
          'durationMs',
          'backend',
        ])
        .optional(),
      desc: z.boolean().optional(),
    }),
    output: out<RunSummary[]>(),
  },
  'runs:get': { input: z.strictObject({ runId }), output: out<RunDetail>() },
  'runs:metrics': {
    input: z.strictObject({ runIds: z.array(runId).min(1).max(8) }),
    output: out<Record<number, MetricPoint[]>>(),
  },
  'runs:update': {
    input: z.strictObject({
      runId,
      name: z.string().min(1).max(200).optional(),
      notes: z.string().max(20000).optional(),
      tags: z.array(z.string().min(1).max(100)).max(50).optional(),
      starred: z.boolean().optional(),
    }),
    output: out<RunSummary>(),
  },
  'runs:delete': {
    input: z.strictObject({ runId, keepArtifacts: z.boolean().default(false) }),
    output: out<{ deleted: boolean }>(),
  },
  'runs:compare': {
    input: z.strictObject({ runIds: z.array(runId).min(2).max(8) }),
    output: out<CompareResult>(),
  },
  'runs:export': {
    input: z.strictObject({
      runId,
      /** An absolute path the user chose (dialog or typed). */
      dir: path,
      /** Replace what an earlier export left in a non-empty folder; without it, such a folder is refused. */
      overwrite: z.boolean().default(false),
      /** 'tfjs': a TF.js layers folder; 'teachable-machine': a folder Teachable Machine's image library loads. */
      format: z.enum(['tfjs', 'teachable-machine']).default('tfjs'),
      /** One .zip file (`dir` + '.zip' unless it ends so) instead of a folder. */
      zip: z.boolean().default(false),
      /** What the model is for, in the user's words: the card's "Intended use". */
      intendedUse: z.string().max(5000).optional(),
    }),
    output: out<ExportOutput>(),
  },
  /** The run's model card as an export would write it (without the export-time check). */
  'runs:card': {
    input: z.strictObject({
      runId,
      format: z.enum(['tfjs', 'teachable-machine']).default('tfjs'),
      intendedUse: z.string().max(5000).optional(),
    }),
    output: out<RunCard>(),
  },
  'runs:predict': {
    input: z
      .strictObject({
        runId,
        file: path.optional(),
        /** A dropped image as a data URL (browser mode has no file path). */
        dataUrl: z.string().max(30_000_000).optional(),
      })
      .refine((v) => (v.file === undefined) !== (v.dataUrl === undefined), {
        message: 'Give a file or an image, not both.',
      }),
    output: out<{ label: string; confidence: number }[]>(),
  },
  'runs:evaluation': {
    input: z.strictObject({ runId, split: z.enum(['val', 'test']) }),
    output: out<Evaluation | null>(),
  },
  'runs:export-history': {
    input: z.strictObject({ format: z.enum(['runs-csv', 'metrics-csv', 'run-json']), runId: runId.optional() }),
    output: out<{ filename: string; content: string }>(),
  },
  'runs:import-settings': { input: z.strictObject({ json: z.string().max(1_000_000) }), output: out<RunConfig>() },

  /** The learning-rate range test for a config's model, dataset, split and head (training images only). */
  'runs:lr-find': {
    input: z.strictObject({ config: runConfigSchema }),
    output: out<{ points: { lr: number; loss: number }[]; suggestion: number }>(),
  },
  /** Images of a config's dataset whose labels look wrong, most confidently contradicted first. */
  'datasets:suspects': { input: z.strictObject({ config: runConfigSchema }), output: out<SuspectImage[]>() },

  'tasks:list': { input: z.strictObject({}), output: out<TaskInfo[]>() },
  'tasks:cancel': {
    input: z.strictObject({ taskId: z.string().uuid() }),
    output: out<{ cancelled: boolean }>(),
  },

  'drafts:get': { input: z.strictObject({}), output: out<{ draft: unknown }>() },
  'drafts:save': { input: z.strictObject({ draft: z.unknown() }), output: out<{ saved: boolean }>() },
} as const

export type Contract = typeof contract
export type Channel = keyof Contract
export type ChannelInput<C extends Channel> = z.input<Contract[C]['input']>
export type ChannelParsed<C extends Channel> = z.output<Contract[C]['input']>
export type ChannelOutput<C extends Channel> = Contract[C]['output']

export type { ErrorInfo } from './errors'
import type { ErrorInfo } from './errors'

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo }

/** What the preload exposes as `window.tunewise`: plain envelopes, since errors lose their code across contextBridge. */
export interface PreloadApi {
  invoke(channel: string, input: unknown): Promise<Result<unknown>>
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void
  /** Where a dropped file or folder is on disk (Electron's webUtils.getPathForFile); '' when it has no path. */
  pathForFile(file: File): string
}

/** The typed API the renderer uses; the page-side wrapper over the preload and the WebSocket client both implement it. */
export interface TunewiseApi {
  invoke<C extends Channel>(channel: C, input: ChannelInput<C>): Promise<ChannelOutput<C>>
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void
}

export type { Events, EventName } from './events'
import type { Events, EventName } from './events'
