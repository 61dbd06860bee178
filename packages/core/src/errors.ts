/**
 * An error the user can fix (bad folder, bad option, wrong weights file). The CLI prints its
 * message as one line, without a stack trace, and exits non-zero.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Raised when the user interrupts (Ctrl-C / SIGTERM) a stage between two units of work. */
export class InterruptedError extends UserError {
  constructor(what: string) {
    super(`interrupted: ${what}`);
    this.name = 'InterruptedError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'object' && error !== null ? JSON.stringify(error) : String(error);
}
