// The current state of each run, derived from the files alone (summary.json, lock, ledger), so
// any process on any node reaches the same answer without a server.
import * as fs from 'node:fs';
import { readJsonOrUndefined } from '../util/fs.ts';
import { inspectLock, type LockVerdict } from './lock.ts';
import { runFiles } from './layout.ts';
import { runStatusSchema, type AttemptRecord, type RunState, type RunStatusFile } from './records.ts';
import type { LedgerEntry } from './ledger.ts';

export type { AttemptRecord, RunStatusFile };

export interface RunView {
  state: RunState;
  error?: string;
  attempts: number;
  lock: LockVerdict;
}

/** summary.json as the run left it: absent, unreadable (empty, torn by hand, not an object) or read. */
export type SummaryRead = { kind: 'missing' } | { kind: 'unreadable'; why: string } | { kind: 'ok'; summary: Record<string, unknown> };

export function inspectSummary(sweepDir: string, id: string): SummaryRead {
  const file = runFiles(sweepDir, id).summary;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { kind: 'missing' } : { kind: 'unreadable', why: `summary.json cannot be read (${code})` };
  }
  if (!text.trim()) return { kind: 'unreadable', why: 'summary.json is empty' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', why: 'summary.json is not valid JSON' };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return { kind: 'unreadable', why: 'summary.json does not hold a JSON object' };
  return { kind: 'ok', summary: value as Record<string, unknown> };
}

export function readSummary(sweepDir: string, id: string): Record<string, unknown> | undefined {
  const s = inspectSummary(sweepDir, id);
  return s.kind === 'ok' ? s.summary : undefined;
}

export function readStatus(sweepDir: string, id: string): RunStatusFile | undefined {
  const s = runStatusSchema.safeParse(readJsonOrUndefined(runFiles(sweepDir, id).status));
  return s.success ? s.data : undefined;
}

/**
 * A run is finished once a readable summary.json exists; it is `diverged` if training said so.
 * An unreadable summary is no result: the run is not finished (the next `run` shelves the file
 * under attempts/ and reruns it).
 */
export function finishedState(sweepDir: string, id: string): 'done' | 'diverged' | undefined {
  const s = inspectSummary(sweepDir, id);
  if (s.kind !== 'ok') return undefined;
  const status = readStatus(sweepDir, id);
  if (status?.state === 'diverged' || s.summary.state === 'diverged' || s.summary.diverged === true) return 'diverged';
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
  const summary = inspectSummary(sweepDir, id);
  if (summary.kind === 'unreadable')
    return {
      state: 'lost',
      attempts,
      lock,
      error: `${summary.why}: its result is lost; the next \`seqlab run\` keeps the file under attempts/ and reruns it`,
    };
  if (lock.kind === 'stale' || last?.state === 'running') return { state: 'lost', attempts, lock, error: lastError };
  // A ledger `done` whose summary.json is gone cannot count as done (done = summary exists).
  const state = !last || last.state === 'done' || last.state === 'diverged' ? 'planned' : last.state;
  return { state, attempts, lock, ...(state === 'planned' ? {} : { error: lastError }) };
}
