// One interface for handing a sweep's runs to an executor (as Hydra's launchers do): the local
// scheduler runs them here and waits; SLURM submits job arrays and returns. `run` and `submit`
// only parse options, load the plan and pick a launcher.
import { FAILED_STATES } from './layout.ts';
import { executeRuns } from './execute.ts';
import { ledgerByRun, readLedger } from './ledger.ts';
import type { ProgressSink } from './progress.ts';
import {
  clusterMaxArraySize,
  DEFAULT_MAX_ARRAY_SIZE,
  prepareArrays,
  readSlurmJobs,
  sbatch,
  shq,
  slurmTaskOfRun,
  squeueStates,
  writeArray,
  type RequeueOptions,
  type SbatchResources,
} from './slurm.ts';
import type { ExecutionSettings, RunRef } from './sweep-dir.ts';
import { viewRun } from './state.ts';

/** What a launcher is given: runs of one prepared sweep directory (plan.json already written). */
export interface LaunchRequest {
  name: string;
  sweepDir: string;
  runs: RunRef[];
  execution: ExecutionSettings;
  axisKeys?: string[];
}

export interface Launcher {
  /** Hand the runs over; resolves with the command's exit code (docs/runner.md section 1). */
  launch(req: LaunchRequest): Promise<number>;
}

export interface LocalOptions {
  jobs?: number;
  backend?: string;
  retryFailed?: boolean;
  failFast?: boolean;
  progress?: ProgressSink;
  /** `exec` in a SLURM task submitted with requeue (executeRuns). */
  maxRequeues?: number;
}

/** Worker processes on this machine, `jobs` at a time; returns when every run has ended. */
export class LocalLauncher implements Launcher {
  constructor(private o: LocalOptions = {}) {}

  async launch(req: LaunchRequest): Promise<number> {
    const { code } = await executeRuns({
      ...this.o,
      sweepDir: req.sweepDir,
      runs: req.runs,
      execution: req.execution,
      axisKeys: req.axisKeys,
    });
    return code;
  }
}

export interface SlurmOptions {
  resources: SbatchResources;
  requeue?: RequeueOptions;
  arrayLimit?: number;
  /** Default: `scontrol show config`, else DEFAULT_MAX_ARRAY_SIZE. */
  maxArraySize?: number;
  retryFailed?: boolean;
  /** Print the scripts instead of writing and submitting them. */
  dryRun?: boolean;
  out?: NodeJS.WritableStream;
}

/** SLURM states in which a task still holds its run (it will start or is running). */
const IN_QUEUE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SUSPENDED']);

/** SLURM job arrays of the pending runs (docs/runner.md section 7); returns once sbatch has them. */
export class SlurmLauncher implements Launcher {
  constructor(private o: SlurmOptions) {}

  /** Runs to submit: not done, not running, not already waiting in the queue (failed ones with retryFailed). */
  pending(req: LaunchRequest): { ids: string[]; inQueue: number } {
    const ledger = ledgerByRun(readLedger(req.sweepDir));
    const queue = squeueStates();
    const taskOf = slurmTaskOfRun(readSlurmJobs(req.sweepDir));
    const ids: string[] = [];
    let inQueue = 0;
    for (const r of req.runs) {
      const v = viewRun(req.sweepDir, r.id, ledger.get(r.id));
      const wanted =
        v.state === 'planned' || v.state === 'cancelled' || v.state === 'lost' || (this.o.retryFailed && FAILED_STATES.has(v.state));
      if (!wanted) continue;
      const task = taskOf.get(r.id);
      if (task && queue && IN_QUEUE.has(queue.get(task) ?? '')) inQueue++;
      else ids.push(r.id);
    }
    return { ids, inQueue };
  }

  async launch(req: LaunchRequest): Promise<number> {
    const out = this.o.out ?? process.stdout;
    const { ids, inQueue } = this.pending(req);
    if (ids.length === 0) {
      out.write(`${req.name}: nothing to submit (${req.runs.length} runs: none pending${inQueue ? `, ${inQueue} already queued` : ''})\n`);
      return 0;
    }
    const maxArraySize = this.o.maxArraySize ?? clusterMaxArraySize() ?? DEFAULT_MAX_ARRAY_SIZE;
    const { resources, arrayLimit, dryRun, requeue } = this.o;
    const ex = req.execution;
    const arrays = prepareArrays(req.sweepDir, ids, {
      jobName: `seqlab-${req.name.replace(/[^A-Za-z0-9._-]/g, '_')}`,
      arrayLimit,
      ...resources,
      requeue,
      cpusPerTask: resources.cpusPerTask ?? (typeof ex.blas_threads === 'number' ? ex.blas_threads : 1),
      maxArraySize,
    });
    const lines: string[] = [];
    for (const a of arrays) {
      if (dryRun) {
        out.write(`# ${a.script} (${a.ids.length} runs; ${a.idsFile}: ${a.ids.join(' ')})\n${a.text}\n`);
        continue;
      }
      writeArray(req.sweepDir, a);
      const job = sbatch(req.sweepDir, a);
      lines.push(`  array ${a.array}: job ${job}, ${a.ids.length} runs (${a.idsFile})`);
    }
    const head = `${req.name}: ${ids.length} pending run(s) in ${arrays.length} array(s) (MaxArraySize ${maxArraySize}${arrayLimit ? `, %${arrayLimit}` : ''})${inQueue ? `; ${inQueue} already queued` : ''}`;
    out.write(`${dryRun ? '[dry run] ' : ''}${head}\n${lines.join('\n')}${lines.length ? '\n' : ''}`);
    // A command to paste: the path is shell-quoted when it needs to be.
    if (!dryRun)
      out.write(`follow with: seqlab status ${/^[A-Za-z0-9_./=@:+-]+$/.test(req.sweepDir) ? req.sweepDir : shq(req.sweepDir)}\n`);
    return 0;
  }
}
