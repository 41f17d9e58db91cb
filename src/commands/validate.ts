import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { loadPlan } from '../config/plan.ts';
import { collect } from './options.ts';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('parse and schema-check config files; print every error at once')
    .argument('<file...>', 'YAML config files')
    .option('--set <key=value>', 'override a key (value parsed as YAML); repeatable', collect, [])
    .option('--profile <name>', 'apply profiles.<name> of the config (after extends, before --set)')
    .addHelpText('after', '\nExample:\n  $ seqlab validate configs/*.yaml\n  $ seqlab validate configs/grid.yaml --set train.lr=1e-3')
    .action((files: string[], opts: { set: string[]; profile?: string }) => {
      const failures: string[] = [];
      for (const file of files) {
        try {
          // The config alone: no corpus is read (run does the data step).
          const plan = loadPlan(file, { set: opts.set, yes: true, data: false, profile: opts.profile });
          for (const note of plan.notes) process.stderr.write(note + '\n');
          process.stdout.write(`${file}: ok (${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'})\n`);
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          failures.push(e.message);
        }
      }
      if (failures.length) throw new UserError(failures.join('\n'));
    });
}
