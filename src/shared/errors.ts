/**
 * Every error code Tunewise uses, with the plain advice a person gets for it. A code travels end
 * to end (worker → task manager → database → UI, CLI and coach); the advice is looked up here,
 * never guessed from a message's text. Pure TypeScript.
 */

export const errorCodes = {
  invalid_input: {
    title: 'Settings Tunewise cannot use',
    advice: 'Check the highlighted settings; each one says what it accepts.',
  },
  not_found: {
    title: 'Not found',
    advice: 'It may have been moved or deleted. Choose it again.',
  },
  conflict: {
    title: 'Not possible right now',
    advice: 'Finish or cancel what is running, then try again.',
  },
  bad_data: {
    title: 'A file or folder could not be used',
    advice: 'Fix or remove what the message names, then scan the folder again.',
  },
  internal: {
    title: 'Something went wrong inside Tunewise',
    advice: 'Try again. If it happens again, the message helps us find the cause.',
  },
  unavailable: {
    title: 'Not available on this machine',
    advice: 'Choose another option; the message says which one works here.',
  },
  cancelled: {
    title: 'Cancelled',
    advice: 'Nothing was lost. Start it again when you are ready.',
  },
  nan_loss: {
    title: 'Training diverged',
    advice:
      'The learning rate is probably too high: try one ten times smaller (for example 0.0001), or the Adam optimiser.',
  },
  interrupted: {
    title: 'Interrupted',
    advice: 'The process doing the work stopped before it finished. Nothing else was affected; start it again.',
  },
  timeout: {
    title: 'Took too long',
    advice: 'It was stopped. Try again, or with fewer images.',
  },
  disk_full: {
    title: 'The disk is full',
    advice: 'Free some space on the disk that holds the Tunewise data folder, then start it again.',
  },
  out_of_memory: {
    title: 'Out of memory',
    advice: 'Use a smaller batch size or fewer unfrozen layers, or close other programs.',
  },
} as const satisfies Record<string, { title: string; advice: string }>

export type ErrorCode = keyof typeof errorCodes

export const errorCodeList = Object.keys(errorCodes) as ErrorCode[]

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorCodes, code)
}

/** The advice for a code; unknown codes (from an older database) get the general one. */
export function adviceFor(code: string | null | undefined): { title: string; advice: string } {
  return isErrorCode(code) ? errorCodes[code] : errorCodes.internal
}

/** An error as it crosses every boundary: a code and a sentence that says what went wrong. */
export interface ErrorInfo {
  code: ErrorCode
  message: string
}
