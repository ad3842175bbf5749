import type { ErrorCode } from '../shared/errors'

/** An error meant for the user: its message says what went wrong and what to do. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'AppError'
  }
}
