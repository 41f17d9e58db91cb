import type { Command } from 'commander';
import { loadPlan } from '../config/plan.ts';
import { UserError } from '../errors.ts';
import { collect, positiveInt } from './options.ts';
import { FAILED_STATES } from '../runner/layout.ts';
import { ledgerByRun, readLedger } from '../runner/ledger.ts';
import { selectRuns } from '../runner/select.ts';
import {
  clusterMaxArraySize,
  DEFAULT_MAX_ARRAY_SIZE,
  prepareArrays,
  readSlurmJobs,
  sbatch,
  shq,
  slurmTaskOfRun,
  squeueStates,
  validateResources,
  writeArray,
} from '../runner/slurm.ts';
import { prepareSweepDir, readPlanFile } from '../runner/sweep-dir.ts';
import { viewRun } from '../runner/state.ts';

export interface SubmitOptions {
  slurm?: boolean;
  arrayLimit?: string;
  partition?: string;
  time?: string;
  account?: string;
  qos?: string;
  mem?: string;
  gres?: string;
  cpusPerTask?: string;
  dryRun?: boolean;
  maxArraySize?: string;
  set?: string[];
  only?: string[];
  retryFailed?: boolean;
  yes?: boolean;
}

const IN_QUEUE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SUSPENDED']);

export async function submitCommand(file: string, opts: SubmitOptions): Promise<number> {
  if (!opts.slurm) throw new UserError('submit needs --slurm (SLURM job arrays are the only cluster backend)');
  const arrayLimit = positiveInt('--array-limit', opts.arrayLimit);
  const maxArraySizeOpt = positiveInt('--max-array-size', opts.maxArraySize);
  const resources = validateResources(opts);
  const plan = loadPlan(file, { set: opts.set ?? [], yes: opts.yes });
  const chosen = selectRuns(plan.runs, { only: opts.only });
  if (!opts.dryRun) await prepareSweepDir(plan, { source: file, yes: opts.yes });
  else readPlanFile(plan.sweepDir); // version check only

  // Only pending runs: not done, not running, not already waiting in the queue.
  const ledger = ledgerByRun(readLedger(plan.sweepDir));
  const queue = squeueStates();
  const taskOf = slurmTaskOfRun(readSlurmJobs(plan.sweepDir));
  const pending: string[] = [];
  let inQueue = 0;
  for (const r of chosen) {
    const v = viewRun(plan.sweepDir, r.id, ledger.get(r.id));
    const wanted = v.state === 'planned' || v.state === 'cancelled' || v.state === 'lost' || (opts.retryFailed && FAILED_STATES.has(v.state));
    if (!wanted) continue;
    const task = taskOf.get(r.id);
    if (task && queue && IN_QUEUE.has(queue.get(task) ?? '')) {
      inQueue++;
      continue;
    }
    pending.push(r.id);
  }
  if (pending.length === 0) {
    process.stdout.write(`${plan.name}: nothing to submit (${chosen.length} runs: none pending${inQueue ? `, ${inQueue} already queued` : ''})\n`);
    return 0;
  }
  const maxArraySize = maxArraySizeOpt ?? clusterMaxArraySize() ?? DEFAULT_MAX_ARRAY_SIZE;
  const ex = plan.execution;
  const arrays = prepareArrays(plan.sweepDir, pending, {
    jobName: `seqlab-${plan.name.replace(/[^A-Za-z0-9._-]/g, '_')}`,
    arrayLimit,
    ...resources,
    cpusPerTask: resources.cpusPerTask ?? (typeof ex.blas_threads === 'number' ? ex.blas_threads : 1),
    maxArraySize,
  });
  const lines: string[] = [];
  for (const a of arrays) {
    if (opts.dryRun) {
      process.stdout.write(`# ${a.script} (${a.ids.length} runs; ${a.idsFile}: ${a.ids.join(' ')})\n${a.text}\n`);
      continue;
    }
    writeArray(plan.sweepDir, a);
    const job = sbatch(plan.sweepDir, a);
    lines.push(`  array ${a.array}: job ${job}, ${a.ids.length} runs (${a.idsFile})`);
  }
  const head = `${plan.name}: ${pending.length} pending run(s) in ${arrays.length} array(s) (MaxArraySize ${maxArraySize}${arrayLimit ? `, %${arrayLimit}` : ''})${inQueue ? `; ${inQueue} already queued` : ''}`;
  process.stdout.write(`${opts.dryRun ? '[dry run] ' : ''}${head}\n${lines.join('\n')}${lines.length ? '\n' : ''}`);
  if (!opts.dryRun) process.stdout.write(`follow with: seqlab status ${/^[A-Za-z0-9_./=@:+-]+$/.test(plan.sweepDir) ? plan.sweepDir : shq(plan.sweepDir)}\n`);
  return 0;
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('hand the pending runs of a sweep to SLURM as job arrays and return')
    .argument('<file>', 'YAML config file')
    .option('--slurm', 'submit SLURM job arrays (required)')
    .option('--array-limit <n>', 'at most n tasks of an array run at once (%n)')
    .option('--partition <p>', 'SLURM partition')
    .option('--time <t>', 'time limit per task (SLURM format: 30, 2:00:00, 1-00:00:00)')
    .option('--account <a>', 'SLURM account to charge')
    .option('--qos <q>', 'SLURM quality of service')
    .option('--mem <size>', 'memory per task node (SLURM format: 4000, 500M, 16G)')
    .option('--gres <list>', 'generic resources per task (e.g. gpu:1, gpu:a100:2)')
    .option('--cpus-per-task <n>', 'CPUs per task (default: execution.blas_threads, else 1); exec uses them as matmul threads')
    .option('--dry-run', 'print the array scripts instead of writing and submitting them')
    .option('--max-array-size <n>', 'override MaxArraySize (default: from `scontrol show config`, else 1001)')
    .option('--set <key=value>', 'override a config key (value parsed as YAML); repeatable', collect, [])
    .option('--only <id...>', 'submit only these run ids (or unique prefixes)')
    .option('--retry-failed', 'also submit runs that failed or timed out before')
    .option('--yes', 'accept sweeps larger than execution.max_runs, and adding runs to a sweep of the same name made by another config')
    .addHelpText(
      'after',
      '\nExamples:\n  $ seqlab submit configs/grid.yaml --slurm --array-limit 8 --partition gpu --time 2:00:00\n  $ seqlab submit configs/grid.yaml --slurm --account proj42 --qos normal --mem 16G --gres gpu:1 --cpus-per-task 4\n  $ seqlab submit configs/grid.yaml --slurm --dry-run',
    )
    .action(async (file: string, opts: SubmitOptions) => {
      process.exitCode = await submitCommand(file, opts);
    });
}
