import type { Command } from 'commander';
import { loadPlan } from '../config/plan.ts';
import { cell, humanCount, markdownTable } from '../util/format.ts';
import { planRows } from '../runner/plan-rows.ts';
import { collect } from './options.ts';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('expand a sweep: one row per run with its id, axis values, params, FLOPs and state')
    .argument('<file>', 'YAML config file')
    .option('--set <key=value>', 'override a key (value parsed as YAML); repeatable', collect, [])
    .option('--profile <name>', 'apply profiles.<name> of the config (after extends, before --set)')
    .option('--json', 'machine-readable output')
    .option('--yes', 'accept sweeps larger than execution.max_runs')
    .addHelpText('after', '\nExample:\n  $ seqlab plan configs/grid.yaml\n  $ seqlab plan configs/grid.yaml --set seeds=[0,1,2] --json')
    .action((file: string, opts: { set: string[]; json?: boolean; yes?: boolean; profile?: string }) => {
      // The config alone: no corpus is read (run does the data step).
      const plan = loadPlan(file, { set: opts.set, yes: opts.yes, data: false, profile: opts.profile });
      const rows = planRows(plan);
      for (const note of plan.notes) process.stderr.write(note + '\n');
      if (opts.json) {
        const out = {
          name: plan.name,
          sweep_dir: plan.sweepDir,
          collapsed: plan.collapsed,
          excluded: plan.excluded,
          notes: plan.notes,
          runs: rows.map((r) => ({
            id: r.run.id,
            index: r.run.index,
            case: r.run.case,
            axes: r.run.axes,
            params: r.params,
            params_non_embedding: r.paramsNonEmbedding,
            flops_per_token_fwd: r.flopsPerToken,
            train_flops: r.trainFlops,
            ...(r.lowerBound
              ? { lower_bound: 'model.vocab_size is a lower bound (char vocabulary not read yet); params, flops and the config use it' }
              : {}),
            state: r.state,
            config: r.run.config,
          })),
        };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      const hasCases = plan.runs.some((r) => r.case);
      const header = ['#', 'id', ...(hasCases ? ['case'] : []), ...plan.axisKeys, 'params', 'FLOPs/tok', 'train FLOPs', 'state'];
      const body = rows.map((r) => [
        String(r.run.index),
        r.run.id,
        ...(hasCases ? [r.run.case ?? '-'] : []),
        ...plan.axisKeys.map((k) => cell(r.run.axes[k])),
        (r.lowerBound ? '≥' : '') + humanCount(r.params),
        (r.lowerBound ? '≥' : '') + humanCount(r.flopsPerToken),
        (r.lowerBound ? '≥' : '') + humanCount(r.trainFlops),
        r.state,
      ]);
      process.stdout.write(markdownTable(header, body) + '\n');
      const notes = [`${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'} -> ${plan.sweepDir}`];
      if (plan.collapsed) notes.push(`${plan.collapsed} duplicate config${plan.collapsed === 1 ? '' : 's'} collapsed`);
      if (plan.excluded) notes.push(`${plan.excluded} excluded`);
      if (rows.some((r) => r.lowerBound)) notes.push('≥: char vocabulary not known until run reads the corpus');
      process.stdout.write(notes.join('; ') + '\n');
    });
}
