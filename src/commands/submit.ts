import type { Command } from 'commander';
import { loadPlan } from '../config/plan.ts';
import { UserError } from '../errors.ts';
import { FAILED_STATES } from '../runner/layout.ts';
import { ledgerByRun, readLedger } from '../runner/ledger.ts';
import { selectRuns } from '../runner/select.ts';
import {
  clusterMaxArraySize,
  DEFAULT_MAX_ARRAY_SIZE,
  prepareArrays,
  readSlurmJobs,
  sbatch,
  slurmTaskOfRun,
  squeueStates,
  validatePartition,
  validateTime,
  writeArray,
} from '../runner/slurm.ts';
import { prepareSweepDir, readPlanFile } from '../runner/sweep-dir.ts';
import { viewRun } from '../runner/state.ts';

export interface SubmitOptions {
  slurm?: boolean;
  arrayLimit?: string;
  partition?: string;
  time?: string;
  dryRun?: boolean;
  maxArraySize?: string;
  set?: string[];
  profile?: string;
  only?: string[];
  retryFailed?: boolean;
  yes?: boolean;
}

function posInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} expects a positive integer, got "${v}"`);
  return n;
}

const IN_QUEUE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SUSPENDED']);

export async function submitCommand(file: string, opts: SubmitOptions): Promise<number> {
  if (!opts.slurm) throw new UserError('submit needs --slurm (SLURM job arrays are the only cluster backend)');
  const arrayLimit = posInt('--array-limit', opts.arrayLimit);
  const partition = validatePartition(opts.partition);
  const time = validateTime(opts.time);
  const plan = loadPlan(file, { set: opts.set ?? [], yes: opts.yes, profile: opts.profile });
  const chosen = selectRuns(plan.runs, { only: opts.only });
  if (!opts.dryRun) await prepareSweepDir(plan);
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
  const maxArraySize = posInt('--max-array-size', opts.maxArraySize) ?? clusterMaxArraySize() ?? DEFAULT_MAX_ARRAY_SIZE;
  const ex = plan.execution;
  const arrays = prepareArrays(plan.sweepDir, pending, {
    jobName: `seqlab-${plan.name.replace(/[^A-Za-z0-9._-]/g, '_')}`,
    arrayLimit,
    partition,
    time,
    cpusPerTask: typeof ex.blas_threads === 'number' ? ex.blas_threads : 1,
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
  if (!opts.dryRun) process.stdout.write(`follow with: seqlab status ${plan.sweepDir}\n`);
  return 0;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('hand the pending runs of a sweep to SLURM as job arrays and return')
    .argument('<file>', 'YAML config file')
    .option('--slurm', 'submit SLURM job arrays (required)')
    .option('--array-limit <n>', 'at most n tasks of an array run at once (%n)')
    .option('--partition <p>', 'SLURM partition')
    .option('--time <t>', 'time limit per task (SLURM format: 30, 2:00:00, 1-00:00:00)')
    .option('--dry-run', 'print the array scripts instead of writing and submitting them')
    .option('--max-array-size <n>', 'override MaxArraySize (default: from `scontrol show config`, else 1001)')
    .option('--set <key=value>', 'override a config key (value parsed as YAML); repeatable', collect, [])
    .option('--profile <name>', 'apply profiles.<name> of the config (after extends, before --set)')
    .option('--only <id...>', 'submit only these run ids (or unique prefixes)')
    .option('--retry-failed', 'also submit runs that failed or timed out before')
    .option('--yes', 'accept sweeps larger than execution.max_runs')
    .addHelpText(
      'after',
      '\nExamples:\n  $ seqlab submit configs/grid.yaml --slurm --array-limit 8 --partition gpu --time 2:00:00\n  $ seqlab submit configs/grid.yaml --slurm --dry-run',
    )
    .action(async (file: string, opts: SubmitOptions) => {
      process.exitCode = await submitCommand(file, opts);
    });
}
