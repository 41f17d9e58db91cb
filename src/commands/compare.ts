import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { markdownTable } from '../util/format.ts';
import { compareGroups, formatChange, formatP, incomparableKeys, normaliseMfu } from '../report/compare.ts';
import { defaultGroupBy, groupRuns } from '../report/collect.ts';
import { buildReport, checkKey, list } from './report.ts';

/** Parse `5%` or `0.05` as a fraction. */
export function parseThreshold(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(s);
  if (!m) throw new UserError(`--threshold ${s}: expected a percentage like 5% or a fraction like 0.05`);
  return m[2] ? Number(m[1]) / 100 : Number(m[1]);
}

function parseAlpha(s: string): number {
  const a = Number(s);
  if (!(a > 0 && a < 1)) throw new UserError(`--alpha ${s}: expected a significance level between 0 and 1, e.g. 0.05`);
  return a;
}

const short = (vs: string[]) => (vs.length ? vs.join(' | ') : '(unset)');

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description(
      'two result sets side by side, paired by their axes; exit 1 when a metric regresses beyond the threshold and significantly over seeds (Welch t-test)',
    )
    .argument('<a>', 'baseline sweep directory')
    .argument('<b>', 'candidate sweep directory')
    .option('--metric <list>', 'metrics to compare (default: the main ones present in both)')
    .option('--group-by <keys>', 'keys that pair groups across A and B (default: the swept axes of both, minus seed)')
    .option('--threshold <pct>', 'smallest relative change that counts', '5%')
    .option('--alpha <p>', 'significance level of the one-sided Welch t-test over seeds', '0.05')
    .option('--force', 'compare even when the task, data or evaluation settings differ')
    .addHelpText('after', '\nExample:\n  $ seqlab compare runs/main runs/my-branch --metric valid_bpb,train_tokens_per_s --threshold 5%')
    .action((a: string, b: string, opts: { metric?: string; groupBy?: string; threshold: string; alpha: string; force?: boolean }) => {
      const threshold = parseThreshold(opts.threshold);
      const alpha = parseAlpha(opts.alpha);
      const ra = buildReport([a], { metric: opts.metric });
      const rb = buildReport([b], { metric: opts.metric });
      const all = [...ra.runs, ...rb.runs];
      const groupBy = opts.groupBy !== undefined ? list(opts.groupBy) : defaultGroupBy(all).filter((k) => k !== 'sweep');
      for (const k of groupBy) checkKey(all, k, '--group-by');
      const diffs = incomparableKeys(ra.runs, rb.runs, groupBy);
      if (diffs.length && !opts.force) {
        const what = diffs
          .slice(0, 6)
          .map(([k, va, vb]) => `${k} (${short(va)} vs ${short(vb)})`)
          .join(', ');
        throw new UserError(
          `compare: ${a} and ${b} measure different things: ${what}${diffs.length > 6 ? `, +${diffs.length - 6} more` : ''}; pass --force to compare anyway`,
        );
      }
      normaliseMfu(all);
      const metrics = opts.metric ? list(opts.metric) : ra.metrics.filter((m) => rb.metrics.includes(m));
      const ga = groupRuns(ra.runs, groupBy, metrics);
      const gb = groupRuns(rb.runs, groupBy, metrics);
      const keyOf = (g: (typeof ga)[number]) => JSON.stringify(groupBy.map((k) => g.key[k]));
      const name = (g: (typeof ga)[number]) =>
        groupBy.map((k) => (typeof g.key[k] === 'string' ? g.key[k] : JSON.stringify(g.key[k]))).join(' / ') || 'all';
      const pairs = ga.flatMap((x) => {
        const y = gb.find((g) => keyOf(g) === keyOf(x));
        return y ? [[name(x), x, y] as [string, typeof x, typeof x]] : [];
      });
      const onlyA = ga.filter((x) => !gb.some((g) => keyOf(g) === keyOf(x))).map(name);
      const onlyB = gb.filter((x) => !ga.some((g) => keyOf(g) === keyOf(x))).map(name);
      const rows = compareGroups(pairs, { metrics, threshold, alpha });
      if (rows.length === 0)
        throw new UserError(`compare: ${a} and ${b} have no groups (by ${groupBy.join(', ') || 'nothing'}) and metrics in common`);
      process.stdout.write(
        markdownTable(
          ['group', 'metric', 'A', 'B', 'change', 'p', 'verdict'],
          rows.map((r) => [r.group, r.metric, r.a, r.b, formatChange(r.change), formatP(r.p), r.verdict]),
        ) + '\n',
      );
      const lines = [
        `Regression: worse by more than ${(100 * threshold).toFixed(1)}% and significant in a one-sided Welch t-test at level ${alpha} over seeds; mfu against one matmul peak per machine and backend.`,
      ];
      if (diffs.length) lines.push(`forced: the sets differ in ${diffs.map(([k]) => k).join(', ')}`);
      if (rows.some((r) => r.verdict === 'untested (n = 1)'))
        lines.push(
          'n = 1 on a side: the seed spread is unknown, so changes beyond the threshold are untested (run more seeds to test them).',
        );
      if (onlyA.length) lines.push(`only in A (not compared): ${onlyA.join(', ')}`);
      if (onlyB.length) lines.push(`only in B (not compared): ${onlyB.join(', ')}`);
      const regressions = rows.filter((r) => r.verdict === 'regression');
      if (regressions.length) {
        lines.push(
          `${regressions.length} regression(s):`,
          ...regressions.map((r) => `  ${r.group}: ${r.metric} ${r.a} -> ${r.b} (${formatChange(r.change)}, p = ${formatP(r.p)})`),
        );
        process.exitCode = 1;
      }
      process.stderr.write(lines.join('\n') + '\n');
    });
}
