import type { Command } from 'commander';
import { renderStatus, sweepStatus } from '../runner/status-report.ts';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description(
      'counts by state, failures with their last error line, runs whose heartbeat is lost (reconciled with squeue for SLURM jobs)',
    )
    .argument('<sweep_dir>', 'a sweep directory (runs/<name>)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  $ seqlab status runs/quickstart\n  $ seqlab status runs/quickstart --json | jq .counts')
    .action((dir: string, opts: { json?: boolean }) => {
      const s = sweepStatus(dir);
      process.stdout.write((opts.json ? JSON.stringify(s, null, 2) : renderStatus(s)) + '\n');
    });
}
