// `seqlab tasks`: every task kind and corpus with its options and defaults.
import type { Command } from 'commander';
import { corpusCatalog, taskCatalog } from '../tasks/catalog.ts';
import { TASK_KINDS } from '../tasks/kinds/registry.ts';

export function registerTasks(program: Command): void {
  program
    .command('tasks')
    .description(`list the tasks (${TASK_KINDS.join(', ')}) and corpora with their options, defaults, metrics and licences`)
    .option('--json', 'print machine-readable JSON')
    .addHelpText('after', '\nExamples:\n  $ seqlab tasks\n  $ seqlab tasks --json | jq \'.tasks[] | select(.kind=="mqar")\'')
    .action((opts: { json?: boolean }) => {
      const tasks = taskCatalog();
      const corpora = corpusCatalog();
      if (opts.json) {
        process.stdout.write(JSON.stringify({ tasks, corpora }, null, 2) + '\n');
        return;
      }
      const lines: string[] = [];
      for (const t of tasks) {
        lines.push(`task.kind: ${t.kind}${t.kind === 'lm' ? ' (default)' : ''} — ${t.description}`);
        const w = Math.max(...t.options.map((o) => o.key.length));
        for (const o of t.options) {
          lines.push(`  ${o.key.padEnd(w)}  ${o.type}  [default ${JSON.stringify(o.default)}]  ${o.description}`);
        }
        lines.push(`  reports per split: ${t.metrics.join(', ')}`, `  data: ${t.source}; licence: ${t.licence}`);
        lines.push('');
      }
      lines.push('corpora (task.corpus, for kind: lm):');
      for (const c of corpora)
        lines.push(`  ${c.name.padEnd(20)}  ${c.about}\n  ${''.padEnd(20)}  source: ${c.source}; licence: ${c.licence}; split: ${c.split}`);
      lines.push('', 'Statistics and reference floors of a corpus: seqlab data CORPUS [--tokenizer byte|char|bpe]');
      process.stdout.write(lines.join('\n') + '\n');
    });
}
