// The current state of each run, derived from the files alone (summary.json, lock, ledger), so
// any process on any node reaches the same answer without a server.
import * as fs from 'node:fs';
import { readJsonOrUndefined } from '../util/fs.ts';
import { inspectLock, type LockVerdict } from './lock.ts';
import { runFiles, type RunState } from './layout.ts';
import type { LedgerEntry } from './ledger.ts';

export interface RunStatusFile {
  id: string;
  state: RunState;
  attempt: number;
  attempts: AttemptRecord[];
  updated: string;
  error?: string;
}

export interface AttemptRecord {
  attempt: number;
  state: RunState;
  start: string;
  end?: string;
  wall_s?: number;
  pid: number;
  host: string;
  worker_pid?: number;
  exit_code?: number | null;
  signal?: string | null;
  error?: string;
  slurm_job?: string;
}

export interface RunView {
  state: RunState;
  error?: string;
  attempts: number;
  lock: LockVerdict;
}

export function readSummary(sweepDir: string, id: string): Record<string, unknown> | undefined {
  const s = readJsonOrUndefined<Record<string, unknown>>(runFiles(sweepDir, id).summary);
  return s && typeof s === 'object' ? s : undefined;
}

export function readStatus(sweepDir: string, id: string): RunStatusFile | undefined {
  return readJsonOrUndefined<RunStatusFile>(runFiles(sweepDir, id).status);
}

/** A run is finished once summary.json exists; it is `diverged` if training said so. */
export function finishedState(sweepDir: string, id: string): 'done' | 'diverged' | undefined {
  const rf = runFiles(sweepDir, id);
  if (!fs.existsSync(rf.summary)) return undefined;
  const summary = readSummary(sweepDir, id);
  const status = readStatus(sweepDir, id);
  if (status?.state === 'diverged' || summary?.state === 'diverged' || summary?.diverged === true)
    return 'diverged';
  return 'done';
}

export function viewRun(sweepDir: string, id: string, ledger: LedgerEntry[] | undefined): RunView {
  const lock = inspectLock(runFiles(sweepDir, id).lock);
  const entries = ledger ?? [];
  const last = entries[entries.length - 1];
  const attempts = entries.reduce((m, e) => Math.max(m, e.attempt), 0);
  const lastError = [...entries].reverse().find((e) => e.error)?.error;
  const fin = finishedState(sweepDir, id);
  if (fin) return { state: fin, attempts, lock };
  if (lock.kind === 'live') return { state: 'running', attempts, lock };
  if (lock.kind === 'stale' || last?.state === 'running')
    return { state: 'lost', attempts, lock, error: lastError };
  // A ledger `done` whose summary.json is gone cannot count as done (done = summary exists).
  const state = !last || last.state === 'done' || last.state === 'diverged' ? 'planned' : last.state;
  return { state, attempts, lock, ...(state === 'planned' ? {} : { error: lastError }) };
}
