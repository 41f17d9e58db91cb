// Messages between the scheduler and a worker process (child_process IPC).
import type { Progress } from '../train/types.ts';

export interface WorkerStart {
  runDir: string;
  backend: string;
  threads?: number;
}

export type WorkerMessage =
  | ({ type: 'progress' } & Progress)
  | { type: 'result'; state: 'done' | 'diverged' }
  /** `disk`: the failure was a write the user can fix (disk full, read-only folder), not the run's fault. */
  | { type: 'error'; message: string; disk?: boolean };

/** Exit code a worker uses after reporting a thrown error (the `error` failure class). */
export const WORKER_ERROR_EXIT = 3;
/** Exit code after a SIGTERM-requested stop (cancel or timeout). */
export const WORKER_CANCELLED_EXIT = 130;
