import * as fs from 'node:fs';
import * as path from 'node:path';

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
  constructor(
    readonly messages: string[],
    exitCode = 2,
  ) {
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
  // A UserError's message is already the user's line (a run that failed on one, e.g. a refused training checkpoint).
  return `${err.name === 'Error' || err instanceof UserError ? '' : err.name + ': '}${err.message}`;
}

/** Filesystem failures the user fixes (disk full, read-only or unwritable folder), not seqlab bugs. */
const DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM']);

/** The nearest folder of `p` that exists (where a recursive mkdir really failed). */
function existingAncestor(p: string): string {
  let dir = path.resolve(p);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** Why `dir` cannot be written, or undefined when it can. */
function unwritable(dir: string): string | undefined {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EROFS' ? 'on a read-only filesystem' : 'not writable (permission denied)';
  }
}

/**
 * A failed write the user can fix, as one line naming the path and the cause, or undefined for
 * any other error. Node reports a recursive mkdir under a read-only folder as ENOENT, and a full
 * disk on write() without a path: `where` (or the path util/fs attaches) names it.
 */
export function diskErrorMessage(e: unknown, where?: string): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err !== 'object' || typeof err.code !== 'string') return undefined;
  const file = err.path ?? where;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT')
    return `no space left on the disk${file ? ` holding ${file}` : ''} (${err.code}): free some space, then run the same command again (finished runs are kept)`;
  if (err.code === 'ENOENT' && err.syscall === 'mkdir' && file) {
    const parent = existingAncestor(file);
    const why = unwritable(parent);
    return why
      ? `cannot create ${file}: the folder ${parent} is ${why}; choose a writable output.root (or --set output.root=DIR)`
      : undefined;
  }
  if (!DISK_CODES.has(err.code) || !file) return undefined;
  const dir = fs.existsSync(file) && fs.statSync(file).isDirectory() ? file : existingAncestor(path.dirname(file));
  const why = err.code === 'EROFS' ? 'on a read-only filesystem' : (unwritable(dir) ?? 'not writable (permission denied)');
  return `cannot write ${file}: the folder ${dir} is ${why}; choose a writable output.root (or --set output.root=DIR)`;
}

/** The user error a filesystem failure stands for (exit 2, one line), or undefined. */
export function diskUserError(e: unknown, where?: string): UserError | undefined {
  const msg = diskErrorMessage(e, where);
  return msg === undefined ? undefined : new UserError(msg);
}
