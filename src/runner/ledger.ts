// The append-only ledger of state transitions (docs/runner.md section 4). Several runner processes
// (local or SLURM tasks) append to the same file; each entry is one short O_APPEND write.
import * as os from 'node:os';
import { appendJsonl, readJsonl } from '../util/fs.ts';
import { sweepFiles } from './layout.ts';
import { ledgerEntrySchema, type LedgerEntry, type RunState } from './records.ts';

export type { LedgerEntry };

export function appendLedger(sweepDir: string, e: { id: string; state: RunState; attempt: number; error?: string }): LedgerEntry {
  const entry: LedgerEntry = {
    id: e.id,
    state: e.state,
    attempt: e.attempt,
    time: new Date().toISOString(),
    pid: process.pid,
    host: os.hostname(),
  };
  if (e.error !== undefined) entry.error = e.error;
  const job = slurmJobId();
  if (job) entry.slurm_job = job;
  appendJsonl(sweepFiles(sweepDir).ledger, entry);
  return entry;
}

export function readLedger(sweepDir: string): LedgerEntry[] {
  // A line that is not a ledger entry (hand-edited, another tool's) is no transition.
  const out: LedgerEntry[] = [];
  for (const line of readJsonl(sweepFiles(sweepDir).ledger)) {
    const e = ledgerEntrySchema.safeParse(line);
    if (e.success) out.push(e.data);
  }
  return out;
}

/** Per run: its entries in time order. */
export function ledgerByRun(entries: LedgerEntry[]): Map<string, LedgerEntry[]> {
  const m = new Map<string, LedgerEntry[]>();
  for (const e of entries) {
    let list = m.get(e.id);
    if (!list) m.set(e.id, (list = []));
    list.push(e);
  }
  return m;
}

/** The attempt number the next start of a run gets: one more than any attempt recorded. */
export function nextAttempt(entries: LedgerEntry[] | undefined): number {
  let max = 0;
  for (const e of entries ?? []) if (e.attempt > max) max = e.attempt;
  return max + 1;
}

/** `<array job>_<task>` inside a SLURM array task, the job id in a plain job, else undefined. */
export function slurmJobId(): string | undefined {
  const env = process.env;
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID !== undefined) return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID || undefined;
}

/** Last non-empty line of an error message or log, trimmed to something a table can show. */
export function lastLine(text: string, max = 300): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.length ? lines[lines.length - 1]! : '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}
