import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { checkBackend } from '../runner/execute.ts';
import { LocalLauncher } from '../runner/launcher.ts';
import { LineProgress } from '../runner/progress.ts';
import { requirePlanFile } from '../runner/sweep-dir.ts';
import { nonNegativeInt } from './options.ts';

export interface ExecOptions {
  index: string;
  ids?: string;
  backend?: string;
  maxRequeues?: string;
}

/** `seqlab exec SWEEP_DIR --index I`: one planned run, as a SLURM array task runs it. */
export async function execCommand(sweepDir: string, opts: ExecOptions): Promise<number> {
  const backend = checkBackend(opts.backend);
  const plan = requirePlanFile(sweepDir);
  const index = Number(opts.index);
  if (!Number.isInteger(index) || index < 0) throw new UserError(`--index expects a non-negative integer, got "${opts.index}"`);
  let id: string | undefined;
  if (opts.ids) {
    const file = path.resolve(sweepDir, opts.ids);
    if (!fs.existsSync(file)) throw new UserError(`--ids: no such index file: ${file}`);
    const ids = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    id = ids[index];
    if (id === undefined) throw new UserError(`--index ${index} is past the end of ${opts.ids} (${ids.length} runs)`);
  } else {
    id = plan.runs[index]?.id;
    if (id === undefined) throw new UserError(`--index ${index} is past the end of the plan (${plan.runs.length} runs)`);
  }
  const entry = plan.runs.find((r) => r.id === id);
  if (!entry) throw new UserError(`run ${id} is not in ${path.join(sweepDir, 'plan.json')}`);
  // Submitted runs are run whatever their earlier outcome: `submit` chose them.
  const maxRequeues = opts.maxRequeues === undefined ? undefined : nonNegativeInt('--max-requeues', opts.maxRequeues);
  const launcher = new LocalLauncher({ jobs: 1, backend, retryFailed: true, progress: new LineProgress(process.stderr), maxRequeues });
  return launcher.launch({ name: plan.name, sweepDir, runs: [entry], execution: plan.execution });
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run one planned run of a sweep directory (what each SLURM array task calls)')
    .argument('<sweep_dir>', 'a sweep directory written by `seqlab run` or `seqlab submit`')
    .requiredOption('--index <i>', 'line of the --ids file (0-based), or the run index in plan.json')
    .option('--ids <file>', 'index file of run ids, relative to the sweep directory (written by submit)')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm, cpu, webgpu')
    .option(
      '--max-requeues <n>',
      'on SIGUSR1 (sbatch --signal), stop the run (it checkpoints) and requeue this task, at most n times in all (SLURM_RESTART_COUNT); written by submit --max-requeues',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ seqlab exec runs/quickstart --index 3\n  $ seqlab exec runs/quickstart --ids slurm/array-1.ids --index $SLURM_ARRAY_TASK_ID',
    )
    .action(async (dir: string, opts: ExecOptions) => {
      process.exitCode = await execCommand(dir, opts);
    });
}
