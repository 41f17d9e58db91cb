import type { Command } from 'commander';
import { loadPlan } from '../config/plan.ts';
import { UserError } from '../errors.ts';
import { SlurmLauncher } from '../runner/launcher.ts';
import { selectRuns } from '../runner/select.ts';
import { DEFAULT_SIGNAL_BEFORE_S, validateResources, type RequeueOptions } from '../runner/slurm.ts';
import { prepareSweepDir, readPlanFile } from '../runner/sweep-dir.ts';
import { collect, nonNegativeInt, positiveInt } from './options.ts';

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
  maxRequeues?: string;
  signalBefore?: string;
  dryRun?: boolean;
  maxArraySize?: string;
  set?: string[];
  profile?: string;
  only?: string[];
  retryFailed?: boolean;
  yes?: boolean;
}

/** `seqlab submit FILE --slurm`: the pending runs become SLURM job arrays (exit 0 once submitted). */
export async function submitCommand(file: string, opts: SubmitOptions): Promise<number> {
  if (!opts.slurm) throw new UserError('submit needs --slurm (SLURM job arrays are the only cluster backend)');
  const maxRequeues = nonNegativeInt('--max-requeues', opts.maxRequeues) ?? 0;
  const signalBefore = positiveInt('--signal-before', opts.signalBefore);
  if (signalBefore !== undefined && maxRequeues === 0)
    throw new UserError('--signal-before needs --max-requeues (the signal is the cue to checkpoint and requeue)');
  const requeue: RequeueOptions | undefined =
    maxRequeues > 0 ? { maxRequeues, signalBefore: signalBefore ?? DEFAULT_SIGNAL_BEFORE_S } : undefined;
  const launcher = new SlurmLauncher({
    resources: validateResources(opts),
    requeue,
    arrayLimit: positiveInt('--array-limit', opts.arrayLimit),
    maxArraySize: positiveInt('--max-array-size', opts.maxArraySize),
    retryFailed: opts.retryFailed,
    dryRun: opts.dryRun,
  });
  const plan = loadPlan(file, { set: opts.set ?? [], yes: opts.yes, profile: opts.profile });
  const runs = selectRuns(plan.runs, { only: opts.only });
  if (opts.dryRun)
    readPlanFile(plan.sweepDir); // version check only: a dry run writes nothing
  else await prepareSweepDir(plan, { source: file, yes: opts.yes });
  return launcher.launch({ name: plan.name, sweepDir: plan.sweepDir, runs, execution: plan.execution });
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
    .option(
      '--max-requeues <n>',
      'requeue a task that nears its --time up to n times: it checkpoints and goes on where it stopped (default 0: no requeue)',
    )
    .option(
      '--signal-before <s>',
      `with --max-requeues: seconds before the time limit that SLURM warns the task (sbatch --signal=B:USR1@s; default ${DEFAULT_SIGNAL_BEFORE_S})`,
    )
    .option('--dry-run', 'print the array scripts instead of writing and submitting them')
    .option('--max-array-size <n>', 'override MaxArraySize (default: from `scontrol show config`, else 1001)')
    .option('--set <key=value>', 'override a config key (value parsed as YAML); repeatable', collect, [])
    .option('--profile <name>', 'apply profiles.<name> of the config (after extends, before --set)')
    .option('--only <id...>', 'submit only these run ids (or unique prefixes)')
    .option('--retry-failed', 'also submit runs that failed or timed out before')
    .option('--yes', 'accept sweeps larger than execution.max_runs, and adding runs to a sweep of the same name made by another config')
    .addHelpText(
      'after',
      '\nExamples:\n  $ seqlab submit configs/grid.yaml --slurm --array-limit 8 --partition gpu --time 2:00:00\n  $ seqlab submit configs/grid.yaml --slurm --account proj42 --qos normal --mem 16G --gres gpu:1 --cpus-per-task 4\n  $ seqlab submit configs/grid.yaml --slurm --time 4:00:00 --max-requeues 5\n  $ seqlab submit configs/grid.yaml --slurm --dry-run',
    )
    .action(async (file: string, opts: SubmitOptions) => {
      process.exitCode = await submitCommand(file, opts);
    });
}
