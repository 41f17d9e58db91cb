// Shared by `run` and `exec`: run a selection of a sweep's runs with the scheduler, handle
// Ctrl-C, then print the results table and the failures; returns the exit code (docs/runner.md 1).
import * as os from 'node:os';
import { BACKENDS } from '../backend/select.ts';
import { UserError } from '../errors.ts';
import { renderResultsTable, type ResultRow } from '../metrics/table.ts';
import { FAILED_STATES, runFiles } from './layout.ts';
import { machinesLine } from './provenance.ts';
import { slurmJobId } from './ledger.ts';
import { requeueSelf, slurmEndReason } from './slurm.ts';
import { createProgress, type ProgressSink } from './progress.ts';
import { Scheduler, type SchedulerResult } from './scheduler.ts';
import type { ExecutionSettings, RunRef } from './sweep-dir.ts';
import { readSummary } from './state.ts';

/** The backends a run may ask for: the config schema's list (backend/select.ts reads the same). */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INTERRUPTED = 130;

export interface ExecuteOptions {
  sweepDir: string;
  runs: RunRef[];
  execution: ExecutionSettings;
  jobs?: number;
  backend?: string;
  retryFailed?: boolean;
  failFast?: boolean;
  axisKeys?: string[];
  progress?: ProgressSink;
  out?: NodeJS.WritableStream;
  /** Inside a SLURM task submitted with requeue: SIGUSR1 stops the runs (they checkpoint) and requeues the task, at most this many times. */
  maxRequeues?: number;
}

/** Cores this process may use: a SLURM task's allocation (--cpus-per-task), else the machine's. */
export function cores(): number {
  const slurm = Number(process.env.SLURM_CPUS_PER_TASK);
  if (Number.isInteger(slurm) && slurm > 0) return slurm;
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Parallel runs the machine takes without oversubscribing cores. */
export function autoJobs(ex: Pick<ExecutionSettings, 'blas_threads'>, ncores = cores()): number {
  const perRun = typeof ex.blas_threads === 'number' ? ex.blas_threads : 1;
  return Math.max(1, Math.floor(ncores / perRun));
}

/** Threads per run: the configured number, else the cores shared evenly between the jobs. */
export function threadsPerRun(ex: Pick<ExecutionSettings, 'blas_threads'>, jobs: number, ncores = cores()): number {
  return typeof ex.blas_threads === 'number' ? ex.blas_threads : Math.max(1, Math.floor(ncores / jobs));
}

export function checkBackend(b: string | undefined): string | undefined {
  if (b !== undefined && !(BACKENDS as readonly string[]).includes(b))
    throw new UserError(`--backend expects one of ${BACKENDS.join(', ')}, got "${b}"`);
  return b;
}

export async function executeRuns(o: ExecuteOptions): Promise<{ code: number; result: SchedulerResult }> {
  const out = o.out ?? process.stdout;
  const ex = o.execution;
  const jobs = o.jobs ?? (typeof ex.jobs === 'number' ? ex.jobs : autoJobs(ex));
  const backend = o.backend ?? ex.backend;
  const scheduler = new Scheduler({
    sweepDir: o.sweepDir,
    runs: o.runs,
    execution: ex,
    jobs,
    backend,
    threads: threadsPerRun(ex, jobs),
    retryFailed: o.retryFailed,
    failFast: o.failFast,
    progress: o.progress ?? createProgress(),
  });
  const onSignal = (sig: NodeJS.Signals) => {
    // SLURM ends a job that ran out of --time with SIGTERM (SIGKILL after KillWait): a timeout, not a cancel.
    const reason = sig === 'SIGTERM' ? slurmEndReason() : undefined;
    if (reason === 'TimeLimit' || reason === 'Deadline') {
      process.stderr.write(`\nseqlab: SIGTERM from SLURM (${reason}): stopping workers, runs are timed_out\n`);
      scheduler.cancel(`SLURM job ${slurmJobId() ?? ''} reached its ${reason === 'TimeLimit' ? 'time limit (sbatch --time)' : 'deadline'}`);
      return;
    }
    process.stderr.write(`\nseqlab: ${sig}: stopping workers (again to kill them now)\n`);
    scheduler.cancel();
  };
  // SLURM's warning before the time limit (sbatch --signal=B:USR1@s; docs/runner.md section 11).
  let requeue: string | undefined;
  const onWarning = () => {
    const used = Number(process.env.SLURM_RESTART_COUNT) || 0;
    const max = o.maxRequeues ?? 0;
    if (used >= max) {
      process.stderr.write(`\nseqlab: SIGUSR1 (time limit near): ${used} of ${max} requeues used, training goes on until the time limit\n`);
      return;
    }
    requeue = `SLURM time limit near: checkpointed and requeued (requeue ${used + 1} of ${max})`;
    process.stderr.write(
      `\nseqlab: SIGUSR1 (time limit near): stopping workers at their next step (they checkpoint), then requeueing (${used + 1} of ${max})\n`,
    );
    scheduler.cancel(undefined, requeue);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (o.maxRequeues !== undefined) process.on('SIGUSR1', onWarning);
  let result: SchedulerResult;
  try {
    result = await scheduler.run();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGUSR1', onWarning);
  }
  // Requeue only when a run was stopped for it (one that had already finished needs no second job).
  if (requeue && [...result.outcomes.values()].some((x) => x.state === 'cancelled')) {
    // Every run is recorded (cancelled, its checkpoint on disk) before SLURM restarts the script.
    const job = requeueSelf();
    process.stderr.write(`seqlab: requeued SLURM job ${job}; its runs resume from their checkpoints\n`);
    return { code: EXIT_INTERRUPTED, result };
  }

  const rows: ResultRow[] = o.runs.map((r) => {
    const oc = result.outcomes.get(r.id);
    const row: ResultRow = { id: r.id, axes: r.axes, state: oc?.state ?? 'planned' };
    if (r.case !== undefined) row.case = r.case;
    const summary = readSummary(o.sweepDir, r.id);
    if (summary) row.summary = summary;
    return row;
  });
  out.write(renderResultsTable(rows, { axisKeys: o.axisKeys, aggregateOver: [] }) + '\n');
  out.write(machinesLine(o.runs.map((r) => runFiles(o.sweepDir, r.id).dir)) + '\n');
  const outcomes = [...result.outcomes.values()];
  const failures = outcomes.filter((x) => FAILED_STATES.has(x.state));
  if (failures.length) {
    out.write(`\nfailures (${failures.length}):\n`);
    for (const f of failures) out.write(`  ${f.id} ${f.state}${f.error ? `: ${f.error}` : ''}\n`);
  }
  // Diverged is a result (non-finite loss; metrics kept, not retried), not a failure: exit 0.
  const diverged = outcomes.filter((x) => x.state === 'diverged');
  if (diverged.length) {
    out.write(`\ndiverged (${diverged.length}; non-finite loss, metrics so far kept, not retried):\n`);
    for (const d of diverged) {
      const step = readSummary(o.sweepDir, d.id)?.steps;
      out.write(`  ${d.id}${typeof step === 'number' ? ` at step ${step}` : ''}\n`);
    }
  }
  const notRun = o.runs.filter((r) => {
    const s = result.outcomes.get(r.id)?.state;
    return !s || s === 'planned' || s === 'cancelled' || s === 'lost' || s === 'running';
  }).length;
  const failed = [...result.outcomes.values()].filter((x) => FAILED_STATES.has(x.state)).length;
  if (result.interrupted && notRun) process.stderr.write(`interrupted: ${notRun} run(s) not finished; run again to resume them\n`);
  else if (result.interrupted) process.stderr.write('interrupted\n');
  else if (result.stopped && notRun) process.stderr.write(`stopped by the failure policy: ${notRun} run(s) not started\n`);
  const code = result.interrupted ? EXIT_INTERRUPTED : failed > 0 || notRun > 0 ? EXIT_FAILED : EXIT_OK;
  return { code, result };
}
