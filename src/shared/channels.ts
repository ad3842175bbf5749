/**
 * The names of every channel and event, without zod, so the sandboxed preload can whitelist them
 * without bundling a dependency. A unit test checks this list against the contract.
 */
export const channelNames = [
  'app:info',
  'app:pick-folder',
  'fs:list',
  'fs:check-folder',
  'fs:recent',
  'models:list',
  'models:layers',
  'models:import',
  'models:download',
  'datasets:import',
  'datasets:sample',
  'datasets:get',
  'datasets:exclude',
  'datasets:thumbnails',
  'datasets:clip',
  'splits:preview',
  'runs:start',
  'runs:estimate',
  'runs:cancel',
  'runs:active',
  'runs:list',
  'runs:get',
  'runs:metrics',
  'runs:update',
  'runs:delete',
  'runs:compare',
  'runs:export',
  'runs:card',
  'runs:predict',
  'runs:evaluation',
  'runs:export-history',
  'runs:import-settings',
  'runs:lr-find',
  'datasets:suspects',
  'tasks:list',
  'tasks:cancel',
  'drafts:get',
  'drafts:save',
] as const

export const eventNames = [
  'run:progress',
  'run:status',
  'run:log',
  'run:epoch',
  'dataset:progress',
  'model:download',
  'task:update',
] as const

export class TunewiseError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'TunewiseError'
  }
}

/** The value of an `{ok}` envelope, or a TunewiseError that keeps the error's code. */
export function unwrapResult<T>(
  result: { ok: true; value: T } | { ok: false; error: { code: string; message: string } },
): T {
  if (!result.ok) throw new TunewiseError(result.error.code, result.error.message)
  return result.value
}
