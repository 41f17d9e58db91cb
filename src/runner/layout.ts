// Where everything of a sweep lives on disk (docs/runner.md section 4). One place, so the local runner,
// `exec` on a SLURM node and `status` can never disagree about a path.
import * as path from 'node:path';
import type { RunState } from './records.ts';

/** Bumped when the on-disk layout changes incompatibly; plan.json records it. */
export const SWEEP_FORMAT_VERSION = 1;

export { RUN_STATES, type RunState } from './records.ts';

/** States that count as a failure for exit codes and `max_failures`. */
export const FAILED_STATES: ReadonlySet<RunState> = new Set(['failed', 'timed_out']);

export function sweepFiles(sweepDir: string) {
  return {
    sweepYaml: path.join(sweepDir, 'sweep.yaml'),
    plan: path.join(sweepDir, 'plan.json'),
    planLock: path.join(sweepDir, 'plan.lock'),
    ledger: path.join(sweepDir, 'ledger.jsonl'),
    runsDir: path.join(sweepDir, 'runs'),
    slurmDir: path.join(sweepDir, 'slurm'),
    slurmJobs: path.join(sweepDir, 'slurm', 'jobs.jsonl'),
  };
}

export function runFiles(sweepDir: string, id: string) {
  const dir = path.join(sweepDir, 'runs', id);
  return {
    dir,
    config: path.join(dir, 'config.json'),
    status: path.join(dir, 'status.json'),
    summary: path.join(dir, 'summary.json'),
    metrics: path.join(dir, 'metrics.jsonl'),
    log: path.join(dir, 'log.txt'),
    lock: path.join(dir, 'lock'),
    attempts: path.join(dir, 'attempts'),
  };
}
