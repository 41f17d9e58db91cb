/**
 * An error the user caused (bad config, missing file, impossible shape). The CLI prints its
 * message as one line and exits with `exitCode`, never a stack trace (unless --debug).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Several user errors found at once (e.g. every schema error of one file). */
export class UserErrors extends UserError {
  constructor(readonly messages: string[], exitCode = 2) {
    super(messages.join('\n'), exitCode);
    this.name = 'UserErrors';
  }
}
