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

/**
 * A one-line explanation of an internal error. The wasm backend's heap is capped at 4 GB; when an
 * allocation fails the module aborts and the next kernel returns nothing, which surfaces as an
 * unrelated TypeError deep in tfjs. Say what happened instead.
 */
export function explainError(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  if (err instanceof TypeError && /runKernelFunc/.test(err.stack ?? '') && /reading '(map|shape|dataId)'/.test(err.message)) {
    return 'the tfjs backend aborted, most likely out of memory (the wasm heap is limited to 4 GB): reduce train.batch_size or task.seq_len, or use a chunked form / --backend cpu';
  }
  return `${err.name === 'Error' ? '' : err.name + ': '}${err.message}`;
}
