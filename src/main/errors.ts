import type { ErrorInfo } from '../shared/contract'

/** An error meant for the user: its message says what went wrong and what to do. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorInfo['code'],
    message: string,
  ) {
    super(message)
    this.name = 'AppError'
  }
}
