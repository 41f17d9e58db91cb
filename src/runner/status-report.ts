// `seqlab status`: what a sweep directory says about its runs, reconciled with squeue when runs
// were handed to SLURM.
import * as os from 'node:os';
import { ledgerByRun, readLedger } from './ledger.ts';
import { RUN_STATES, type RunState } from './layout.ts';
import { readSlurmJobs, slurmTaskOfRun, squeueStates } from './slurm.ts';
import { requirePlanFile } from './sweep-dir.ts';
import { viewRun } from './state.ts';
import { runFiles } from './layout.ts';
import { resumeStep } from '../train/state-files.ts';

export interface RunStatusRow {
  id: string;
  index: number;
  axes: Record<string, unknown>;
  state: RunState;
  attempts: number;
  error?: string;
  owner?: { host: string; pid: number; heartbeat_age_s: number; slurm_job?: string };
  slurm?: { task: string; state: string };
  /** An unfinished run with a training checkpoint: the step its next attempt starts from. */
  resume_step?: number;
}

export interface SweepStatus {
  name: string;
  sweep_dir: string;
  total: number;
  counts: Record<RunState, number>;
  /** Runs waiting in the SLURM queue (their files still say planned/cancelled/lost/failed). */
  queued_in_slurm: number;
  /** squeue was consulted (SLURM jobs recorded and squeue on PATH). */
  squeue: boolean;
  runs: RunStatusRow[];
  failures: RunStatusRow[];
  lost: RunStatusRow[];
  cancelled: RunStatusRow[];
}

export function sweepStatus(sweepDir: string): SweepStatus {
  const plan = requirePlanFile(sweepDir);
  const ledger = ledgerByRun(readLedger(sweepDir));
  const jobs = readSlurmJobs(sweepDir);
  const taskOf = slurmTaskOfRun(jobs);
  const queue = jobs.length ? squeueStates() : undefined;
  const counts = Object.fromEntries(RUN_STATES.map((s) => [s, 0])) as Record<RunState, number>;
  let queued = 0;
  const runs: RunStatusRow[] = plan.runs.map((r) => {
    const v = viewRun(sweepDir, r.id, ledger.get(r.id));
    const row: RunStatusRow = { id: r.id, index: r.index, axes: r.axes, state: v.state, attempts: v.attempts };
    if (v.error) row.error = v.error;
    if (v.lock.kind !== 'free' && v.lock.info) {
      const i = v.lock.info;
      row.owner = { host: i.host, pid: i.pid, heartbeat_age_s: Math.round((Date.now() - Date.parse(i.heartbeat)) / 1000) };
      if (i.slurm_job) row.owner.slurm_job = i.slurm_job;
    }
    const task = taskOf.get(r.id);
    if (task && queue) {
      const st = queue.get(task);
      row.slurm = { task, state: st ?? 'GONE' };
      if (st === 'PENDING' && row.state !== 'done' && row.state !== 'running') queued++;
      // A run whose SLURM job has left the queue cannot still be running (SEML's detect-killed).
      if (row.state === 'running' && row.owner?.slurm_job && row.owner.host !== os.hostname() && !queue.has(row.owner.slurm_job)) {
        row.state = 'lost';
        row.error = `SLURM job ${row.owner.slurm_job} is no longer in the queue`;
      }
    } else if (task) row.slurm = { task, state: 'unknown (no squeue)' };
    if (row.state !== 'done' && row.state !== 'diverged') {
      const step = resumeStep(runFiles(sweepDir, r.id).dir);
      if (step > 0) row.resume_step = step;
    }
    counts[row.state]++;
    return row;
  });
  return {
    name: plan.name,
    sweep_dir: sweepDir,
    total: runs.length,
    counts,
    queued_in_slurm: queued,
    squeue: !!queue,
    runs,
    failures: runs.filter((r) => r.state === 'failed' || r.state === 'timed_out' || r.state === 'diverged'),
    lost: runs.filter((r) => r.state === 'lost'),
    cancelled: runs.filter((r) => r.state === 'cancelled'),
  };
}

export function renderStatus(s: SweepStatus): string {
  const lines = [`${s.name} (${s.sweep_dir}): ${s.total} runs`];
  lines.push(
    '  ' +
      RUN_STATES.filter((k) => s.counts[k] > 0)
        .map((k) => `${k} ${s.counts[k]}`)
        .join(', '),
  );
  if (s.queued_in_slurm) lines.push(`  queued in SLURM: ${s.queued_in_slurm}`);
  const running = s.runs.filter((r) => r.state === 'running');
  if (running.length) {
    lines.push('running:');
    for (const r of running)
      lines.push(
        `  ${r.id} on ${r.owner?.host ?? '?'} pid ${r.owner?.pid ?? '?'}${r.owner?.slurm_job ? ` (SLURM ${r.owner.slurm_job})` : ''}, heartbeat ${r.owner?.heartbeat_age_s ?? '?'} s ago`,
      );
  }
  const resumes = (r: RunStatusRow) => (r.resume_step ? `; resumes from step ${r.resume_step}` : '');
  if (s.failures.length) {
    lines.push('failures:');
    for (const r of s.failures) lines.push(`  ${r.id} ${r.state} (attempt ${r.attempts}${resumes(r)})${r.error ? `: ${r.error}` : ''}`);
  }
  if (s.lost.length) {
    lines.push('lost (heartbeat stale or job gone; `seqlab run` reruns them):');
    for (const r of s.lost)
      lines.push(
        `  ${r.id}${r.owner ? ` last owner ${r.owner.host} pid ${r.owner.pid}, heartbeat ${r.owner.heartbeat_age_s} s ago` : ''}${r.resume_step ? ` (resumes from step ${r.resume_step})` : ''}${r.error ? `: ${r.error}` : ''}`,
      );
  }
  const resumable = s.cancelled.filter((r) => r.resume_step);
  if (resumable.length) {
    lines.push('cancelled (`seqlab run` resumes them):');
    for (const r of resumable) lines.push(`  ${r.id} resumes from step ${r.resume_step}${r.error ? `: ${r.error}` : ''}`);
  }
  return lines.join('\n');
}
