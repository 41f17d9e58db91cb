import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { baselineDeltas, bestOver, collectRuns, defaultGroupBy, defaultMetrics, groupRuns, provenance, reportsDir, type ReportRun } from '../report/collect.ts';
import { benchVsLengthSvg, lossCurvesSvg, metricVsKeySvg } from '../report/plots.ts';
import { renderCsv, renderJson, renderLatex, renderMarkdown, type RenderInput } from '../report/render.ts';
import { runFiles } from '../runner/layout.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { checkClaims } from './check.ts';
import { renderClaimsMarkdown } from '../claims/render.ts';

const FORMATS = ['md', 'csv', 'tex', 'json'] as const;

export function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The claims table of the sweeps' configs (as `seqlab check` prints it), when they have claims;
 *  a claim that cannot be evaluated is one line on stderr, not a failed report. */
function claimsSection(dirs: string[]): { table: string; written: string[] } | undefined {
  try {
    const { results, written } = checkClaims(dirs, {});
    return { table: renderClaimsMarkdown(results), written };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    if (!/has no claims/.test(e.message)) process.stderr.write(`seqlab: claims not evaluated: ${e.message.split('\n')[0]}\n`);
    return undefined;
  }
}

export interface ReportOptions {
  groupBy?: string;
  metric?: string;
  bestOver?: string;
  by?: string;
  baseline?: string;
}

export function buildReport(dirs: string[], opts: ReportOptions): RenderInput & { runs: ReportRun[] } {
  const all = collectRuns(dirs);
  // A run whose summary.json cannot be read has no result: left out, and said so (seqlab status lists it).
  for (const r of all.filter((x) => x.state !== 'done' && x.state !== 'diverged' && x.error?.startsWith('summary.json')))
    process.stderr.write(`seqlab: warning: ${r.sweep}/${r.id} left out: ${r.error}\n`);
  let runs = all.filter((r) => r.state === 'done' || r.state === 'diverged');
  if (runs.length === 0) throw new UserError(`${dirs.join(', ')}: no finished runs to report yet (see seqlab status)`);
  const groupBy = opts.groupBy !== undefined ? list(opts.groupBy) : defaultGroupBy(runs);
  const metrics = opts.metric ? list(opts.metric) : defaultMetrics(runs);
  if (opts.bestOver) {
    if (!opts.by) throw new UserError('--best-over needs --by METRIC (e.g. --best-over train.lr --by valid_loss)');
    runs = bestOver(runs, groupBy, opts.bestOver, opts.by);
  }
  const effectiveGroupBy = opts.bestOver ? groupBy.filter((k) => k !== opts.bestOver) : groupBy;
  const groups = groupRuns(runs, effectiveGroupBy, metrics);
  const deltas = opts.baseline ? baselineDeltas(groups, opts.baseline, metrics) : undefined;
  return { groups, groupBy: effectiveGroupBy, metrics, deltas, footer: provenance(runs.map((r) => runFiles(r.sweepDir, r.id).dir)), runs };
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('aggregate finished runs over seeds into tables (md, csv, tex, json) and SVG plots under SWEEP_DIR/reports/')
    .argument('<sweep_dir...>', 'sweep directories (runs/<name>)')
    .option('--format <list>', `output formats, comma-separated (${FORMATS.join(',')})`, 'md,csv,tex,json')
    .option('--group-by <keys>', 'comma-separated keys to group by (default: the swept axes minus seed)')
    .option('--metric <list>', 'comma-separated summary metrics (default: the main ones present)')
    .option('--best-over <key>', 'keep the best value of this axis per group (zoology protocol)')
    .option('--by <metric>', 'metric that decides --best-over')
    .option('--baseline <key=value>', 'add relative deltas against this group')
    .option('--json', 'print the JSON record instead of the Markdown table')
    .option('--no-plots', 'skip the SVG plots')
    .addHelpText(
      'after',
      '\nExample:\n  $ seqlab report runs/quickstart\n  $ seqlab report runs/lr-sweep --best-over train.lr --by valid_loss --baseline model.preset=transformer',
    )
    .action(async (dirs: string[], opts: ReportOptions & { format: string; json?: boolean; plots: boolean }) => {
      const formats = list(opts.format);
      for (const f of formats) if (!(FORMATS as readonly string[]).includes(f)) throw new UserError(`--format: unknown format "${f}" (expected ${FORMATS.join(', ')})`);
      const r = buildReport(dirs, opts);
      const out = reportsDir(dirs[0]);
      fs.mkdirSync(out, { recursive: true });
      const renderers = { md: renderMarkdown, csv: renderCsv, tex: renderLatex, json: renderJson };
      const written: string[] = [];
      for (const f of formats) {
        const file = path.join(out, `table.${f}`);
        writeFileAtomic(file, renderers[f as keyof typeof renderers](r));
        written.push(file);
      }
      if (opts.plots) {
        const plots: [string, Promise<string | undefined>][] = [
          ['loss_curves.svg', lossCurvesSvg(r.groups)],
          ['decode_ms_vs_length.svg', benchVsLengthSvg(r.groups, 'decode_ms_per_token')],
          ['prefill_tokens_per_s_vs_length.svg', benchVsLengthSvg(r.groups, 'prefill_tokens_per_s')],
          ['train_tokens_per_s_vs_seq_len.svg', metricVsKeySvg(r.runs, r.groups, 'train_tokens_per_s', 'task.seq_len', true)],
          ['valid_bpb_vs_seq_len.svg', metricVsKeySvg(r.runs, r.groups, 'valid_bpb', 'task.seq_len', true)],
          ['accuracy_vs_width.svg', metricVsKeySvg(r.runs, r.groups, 'accuracy', 'model.d_model', true)],
        ];
        for (const [name, svg] of plots) {
          const text = await svg;
          if (text) {
            writeFileAtomic(path.join(out, name), text);
            written.push(path.join(out, name));
          }
        }
      }
      process.stdout.write(opts.json ? renderJson(r) : renderMarkdown(r));
      if (!opts.json) {
        const claims = claimsSection(dirs);
        if (claims) {
          process.stdout.write(`\nClaims (seqlab check):\n\n${claims.table}`);
          written.push(...claims.written);
        }
      }
      process.stderr.write(`wrote ${written.join(', ')}\n`);
    });
}
