/**
 * How many threads the kernels of one process get (docs/runner.md 10): the run's own setting, else
 * SEQLAB_BLAS_THREADS, else one per worker when a sweep runs several (SEQLAB_JOBS), else all cores.
 * Read once at backend start (select.ts, src/native/config.ts).
 */
import { availableParallelism } from 'node:os';
import { UserError } from '../errors.ts';

/** Threads: the caller's (execution.blas_threads), else SEQLAB_BLAS_THREADS, else 1 per worker when SEQLAB_JOBS > 1, else all cores. */
export function resolveThreads(threads?: number, env: NodeJS.ProcessEnv = process.env): number {
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1) throw new UserError(`matmul threads must be a positive integer, got ${threads}`);
    return threads;
  }
  const given = env.SEQLAB_BLAS_THREADS?.trim();
  if (given && given !== 'auto') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`SEQLAB_BLAS_THREADS must be a positive integer or 'auto', got '${given}'`);
    return n;
  }
  return Number(env.SEQLAB_JOBS ?? 1) > 1 ? 1 : availableParallelism();
}
