import type { Command } from 'commander';
import { loadPlan } from '../config/plan.ts';
import { checkBackend } from '../runner/execute.ts';
import { LocalLauncher } from '../runner/launcher.ts';
import { collect, positiveInt } from './options.ts';
import { selectRuns } from '../runner/select.ts';
import { prepareSweepDir } from '../runner/sweep-dir.ts';

export interface RunCommandOptions {
  jobs?: string;
  set?: string[];
  profile?: string;
  only?: string[];
  shard?: string;
  retryFailed?: boolean;
  failFast?: boolean;
  backend?: string;
  yes?: boolean;
}

/** `seqlab run FILE`: returns the exit code (0 all done, 1 some failed, 130 interrupted). */
export async function runCommand(file: string, opts: RunCommandOptions): Promise<number> {
  const jobs = positiveInt('--jobs', opts.jobs);
  const backend = checkBackend(opts.backend);
  // The shapes are checked against the memory of the backend that will run them.
  const plan = loadPlan(file, { set: opts.set ?? [], yes: opts.yes, profile: opts.profile, backend });
  const ids = new Set(plan.runs.map((r) => r.id));
  // Select on the plan first so a bad --only fails before anything is written.
  const chosen = new Set(selectRuns(plan.runs, { only: opts.only, shard: opts.shard }).map((r) => r.id));
  const planFile = await prepareSweepDir(plan, { source: file, yes: opts.yes });
  const entries = planFile.runs.filter((r) => ids.has(r.id) && chosen.has(r.id));
  const order = new Map(plan.runs.map((r, k) => [r.id, k]));
  entries.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  process.stderr.write(`${plan.name}: ${entries.length} of ${plan.runs.length} runs selected -> ${plan.sweepDir}\n`);
  const launcher = new LocalLauncher({ jobs, backend, retryFailed: opts.retryFailed, failFast: opts.failFast });
  return launcher.launch({ name: plan.name, sweepDir: plan.sweepDir, runs: entries, execution: plan.execution, axisKeys: plan.axisKeys });
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('execute every run of a sweep that is not done yet, each in its own worker process; results table at the end')
    .argument('<file>', 'YAML config file')
    .option('-j, --jobs <n>', 'runs in parallel (default: execution.jobs; auto = cores / threads per run)')
    .option('--set <key=value>', 'override a config key (value parsed as YAML); repeatable', collect, [])
    .option('--profile <name>', 'apply profiles.<name> of the config (after extends, before --set)')
    .option('--only <id...>', 'run only these run ids (or unique id prefixes)')
    .option('--shard <i/n>', 'run only shard i of n (1-based, round-robin over the plan)')
    .option('--retry-failed', 'also rerun runs that failed or timed out before')
    .option('--fail-fast', 'start no new run after the first failure (execution.on_failure=stop)')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm, cpu, webgpu')
    .option('--yes', 'accept sweeps larger than execution.max_runs, and adding runs to a sweep of the same name made by another config')
    .addHelpText(
      'after',
      `
Exit codes: 0 all runs done, 1 some failed, 2 invalid input, 130 interrupted (run again to resume).

Examples:
  $ seqlab run configs/quickstart.yaml --jobs 2
  $ seqlab run configs/grid.yaml --set train.steps=50 --only 3fa2c1 --backend cpu
  $ seqlab run configs/grid.yaml --shard 1/4 --retry-failed`,
    )
    .action(async (file: string, opts: RunCommandOptions) => {
      process.exitCode = await runCommand(file, opts);
    });
}
