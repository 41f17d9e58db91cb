import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { direction } from '../report/collect.ts';
import { formatMetric } from '../report/table.ts';
import { markdownTable } from '../util/format.ts';
import { buildReport, list } from './report.ts';

/** Parse `5%` or `0.05` as a fraction. */
export function parseThreshold(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(s);
  if (!m) throw new UserError(`--threshold ${s}: expected a percentage like 5% or a fraction like 0.05`);
  return m[2] ? Number(m[1]) / 100 : Number(m[1]);
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('two result sets side by side with deltas; exit 1 when a metric regresses past the threshold')
    .argument('<a>', 'baseline sweep directory')
    .argument('<b>', 'candidate sweep directory')
    .option('--metric <list>', 'metrics to compare (default: the main ones present)')
    .option('--group-by <keys>', 'keys that match groups across A and B (default: the swept axes)')
    .option('--threshold <pct>', 'regression threshold on the relative change', '5%')
    .addHelpText('after', '\nExample:\n  $ seqlab compare runs/main runs/my-branch --metric valid_bpb,train_tokens_per_s --threshold 5%')
    .action((a: string, b: string, opts: { metric?: string; groupBy?: string; threshold: string }) => {
      const threshold = parseThreshold(opts.threshold);
      const ra = buildReport([a], { metric: opts.metric, groupBy: opts.groupBy });
      const rb = buildReport([b], { metric: opts.metric ?? ra.metrics.join(','), groupBy: opts.groupBy ?? ra.groupBy.join(',') });
      const metrics = opts.metric ? list(opts.metric) : ra.metrics.filter((m) => rb.metrics.includes(m));
      const rows: string[][] = [];
      const regressions: string[] = [];
      for (const ga of ra.groups) {
        const id = JSON.stringify(ga.key);
        const gb = rb.groups.find((g) => JSON.stringify(g.key) === id);
        if (!gb) continue;
        const name = Object.values(ga.key).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' / ') || 'all';
        for (const m of metrics) {
          const va = ga.stats[m]?.mean;
          const vb = gb.stats[m]?.mean;
          if (!Number.isFinite(va) || !Number.isFinite(vb)) continue;
          const rel = (vb - va) / Math.abs(va);
          const worse = direction(m) !== 0 && direction(m) * rel > threshold;
          if (worse) regressions.push(`${name}: ${m} ${formatMetric(m, va)} -> ${formatMetric(m, vb)} (${(100 * rel).toFixed(1)}%)`);
          rows.push([name, m, formatMetric(m, va), formatMetric(m, vb), `${rel >= 0 ? '+' : ''}${(100 * rel).toFixed(1)}%`, worse ? 'REGRESSION' : '']);
        }
      }
      if (rows.length === 0) throw new UserError(`${a} and ${b} have no groups and metrics in common to compare`);
      process.stdout.write(markdownTable(['group', 'metric', 'A', 'B', 'change', ''], rows) + '\n');
      if (regressions.length) {
        process.stderr.write(`${regressions.length} regression(s) beyond ${(100 * threshold).toFixed(1)}%:\n${regressions.map((r) => `  ${r}`).join('\n')}\n`);
        process.exitCode = 1;
      }
    });
}
