import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { closest } from '../util/suggest.ts';
import { requireMetric } from '../metrics/names.ts';
import {
  baselineDeltas,
  bestOver,
  collectRuns,
  defaultGroupBy,
  defaultMetrics,
  groupRuns,
  keyValue,
  provenance,
  type ReportRun,
} from '../report/collect.ts';
import { readClaims, type ClaimsSection } from '../report/claims.ts';
import { renderHtml } from '../report/html.ts';
import { figureSvg, reportFigures, svgToPng, type Band } from '../report/plots.ts';
import { renderGroupsCsv, renderJson, renderLatex, renderMarkdown, renderRunsCsv, type RenderInput } from '../report/render.ts';
import { reportDirName, replaceDir, runProvenance } from '../report/output.ts';
import { runFiles } from '../runner/layout.ts';
import { checkClaims } from './check.ts';
import { claimsTable, renderClaimsMarkdown } from '../claims/render.ts';
import { claimsNote } from '../claims/evaluate.ts';
import { loadTask } from '../tasks/index.ts';
import { kindsReporting, TASK_KINDS } from '../tasks/kinds/registry.ts';

const FORMATS = ['md', 'csv', 'tex', 'json', 'html'] as const;

export function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The claims table of the sweeps' configs (as `seqlab check` prints it), when they have claims;
 *  a claim that cannot be evaluated is one line on stderr, not a failed report. */
function claimsSection(dirs: string[]): { table: string; section: ClaimsSection; written: string[] } | undefined {
  try {
    const { results, written } = checkClaims(dirs, {});
    return {
      table: renderClaimsMarkdown(results),
      section: { title: 'Claims (seqlab check)', ...claimsTable(results), note: claimsNote(results) },
      written,
    };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    // Sweeps without claims (or folders of runs without a sweep config) simply have no claims table.
    if (!/has no claims|no sweep\.yaml/.test(e.message))
      process.stderr.write(`seqlab: claims not evaluated: ${e.message.split('\n')[0]}\n`);
    return undefined;
  }
}

export interface ReportOptions {
  groupBy?: string;
  metric?: string;
  bestOver?: string;
  by?: string;
  baseline?: string;
  columns?: string;
}

/** Every dotted key of a config (for did-you-mean on --group-by). */
function dottedKeys(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return prefix ? [prefix] : [];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) => dottedKeys(v, prefix ? `${prefix}.${k}` : k));
}

/** A grouping key must be an axis, case, sweep, seed or a config key some run has. */
export function checkKey(runs: ReportRun[], key: string, where: string): void {
  if (['case', 'sweep', 'seed'].includes(key) || runs.some((r) => keyValue(r, key) !== undefined)) return;
  const known = [...new Set([...runs.flatMap((r) => Object.keys(r.axes)), ...dottedKeys(runs[0]?.config)])];
  const guess = closest(key, known);
  throw new UserError(`${where}: no run has the key "${key}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
}

/** A metric must be in the registry and reported by some run. */
function checkMetric(runs: ReportRun[], metric: string, where: string): void {
  const present = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))];
  const r = requireMetric(metric, where, present);
  if (!runs.some((x) => typeof x.summary[metric] === 'number')) {
    const kinds = kindsReporting(r.def.name);
    const families = new Set(kinds.map((k) => k.family));
    const family =
      families.size === 1
        ? [...families][0] === 'lm'
          ? 'language-model tasks'
          : 'synthetic recall tasks'
        : kinds.map((k) => k.kind).join(', ');
    const applies = kinds.length && kinds.length < TASK_KINDS.length ? ` (it applies to ${family})` : '';
    throw new UserError(`${where}: no run reports "${metric}"${applies}`);
  }
}

export function buildReport(dirs: string[], opts: ReportOptions): RenderInput & { runs: ReportRun[] } {
  const all = collectRuns(dirs);
  // A run whose summary.json cannot be read has no result: left out, and said so (seqlab status lists it).
  for (const r of all.filter((x) => x.state !== 'done' && x.state !== 'diverged' && x.error?.startsWith('summary.json')))
    process.stderr.write(`seqlab: warning: ${r.sweep}/${r.id} left out: ${r.error}\n`);
  let runs = all.filter((r) => r.state === 'done' || r.state === 'diverged');
  if (runs.length === 0) throw new UserError(`${dirs.join(', ')}: no finished runs to report yet (see seqlab status)`);
  const groupBy = opts.groupBy !== undefined ? list(opts.groupBy) : defaultGroupBy(runs);
  for (const k of groupBy) checkKey(runs, k, '--group-by');
  const metrics = opts.metric ? list(opts.metric) : defaultMetrics(runs);
  for (const m of metrics) checkMetric(runs, m, '--metric');
  if (opts.bestOver) {
    if (!opts.by) throw new UserError('--best-over needs --by METRIC (e.g. --best-over train.lr --by valid_loss)');
    checkKey(runs, opts.bestOver, '--best-over');
    checkMetric(runs, opts.by, '--by');
    runs = bestOver(runs, groupBy, opts.bestOver, opts.by);
  }
  const effectiveGroupBy = opts.bestOver ? groupBy.filter((k) => k !== opts.bestOver) : groupBy;
  const groups = groupRuns(runs, effectiveGroupBy, metrics);
  const deltas = opts.baseline ? baselineDeltas(groups, opts.baseline, metrics) : undefined;
  const texColumns = opts.columns ? list(opts.columns) : undefined;
  for (const c of texColumns ?? [])
    if (!effectiveGroupBy.includes(c) && !metrics.includes(c)) {
      const guess = closest(c, [...effectiveGroupBy, ...metrics]);
      throw new UserError(
        `--columns: "${c}" is neither a group key (${effectiveGroupBy.join(', ')}) nor a reported metric (${metrics.join(', ')})${guess ? ` (did you mean "${guess}"?)` : ''}`,
      );
    }
  return {
    groups,
    groupBy: effectiveGroupBy,
    metrics,
    deltas,
    texColumns,
    footer: provenance(runs.map((r) => runFiles(r.sweepDir, r.id).dir)),
    runs,
  };
}

/** The accuracy chance level of the runs' task when they share one (mqar: 1/(V/2)). */
function chanceOf(runs: ReportRun[]): number | undefined {
  const seen = new Set<number>();
  const memo = new Map<string, number | undefined>();
  for (const r of runs) {
    if (typeof r.summary.accuracy !== 'number') continue;
    const task = r.config.task as { kind?: string } | undefined;
    if (!task || task.kind === 'lm') continue;
    const k = JSON.stringify(task);
    if (!memo.has(k)) {
      try {
        memo.set(k, loadTask(task as Parameters<typeof loadTask>[0]).chance);
      } catch {
        memo.set(k, undefined);
      }
    }
    const c = memo.get(k);
    if (c !== undefined) seen.add(c);
  }
  return seen.size === 1 ? [...seen][0] : undefined;
}

export interface WriteReportOptions extends ReportOptions {
  formats: string[];
  plots: boolean;
  png: boolean;
  band: Band;
  out?: string;
  /** the claims table, or a function that evaluates it once the report's inputs are known to be good */
  claims?: ClaimsSection | (() => ClaimsSection | undefined);
  /** the claims file given (part of the report's name) */
  claimsFile?: string;
  /** the command line, for the provenance */
  argv?: string[];
}

/** Build every output into a fresh directory, then swap it in (an earlier report of the same name is replaced whole). */
export async function writeReport(
  dirs: string[],
  o: WriteReportOptions,
): Promise<{ dir: string; files: string[]; render: RenderInput & { runs: ReportRun[] } }> {
  const r = buildReport(dirs, o);
  r.claims = typeof o.claims === 'function' ? o.claims() : o.claims;
  const out =
    o.out ??
    path.join(
      dirs[0]!,
      'reports',
      reportDirName(dirs, {
        groupBy: o.groupBy,
        metric: o.metric,
        bestOver: o.bestOver,
        by: o.by,
        baseline: o.baseline,
        columns: o.columns,
        band: o.band,
        claims: o.claimsFile,
        format: o.formats.join(','),
      }),
    );
  const files: string[] = [];
  const figures =
    o.plots || o.formats.includes('html')
      ? reportFigures({ groups: r.groups, groupBy: r.groupBy, band: o.band, chance: chanceOf(r.runs) })
      : [];
  await replaceDir(out, async (tmp) => {
    const put = (name: string, data: string | Buffer) => {
      fs.writeFileSync(path.join(tmp, name), data);
      files.push(name);
    };
    for (const f of o.formats) {
      if (f === 'md') put('table.md', renderMarkdown(r));
      if (f === 'csv') {
        put('runs.csv', renderRunsCsv(r));
        put('groups.csv', renderGroupsCsv(r));
      }
      if (f === 'tex') put('table.tex', renderLatex(r));
      if (f === 'json') put('table.json', renderJson(r));
    }
    if (o.plots) {
      for (const fig of figures) {
        const svg = await figureSvg(fig);
        put(`${fig.name}.svg`, svg);
        if (o.png) put(`${fig.name}.png`, svgToPng(svg));
      }
    }
    if (o.formats.includes('html')) {
      const prov = [
        `inputs: ${dirs.join(', ')}`,
        ...(o.argv ? [`command: ${o.argv.join(' ')}`] : []),
        ...runProvenance(r.runs.map((x) => runFiles(x.sweepDir, x.id).dir)),
      ];
      put(
        'index.html',
        renderHtml({
          title: `seqlab report: ${[...new Set(r.runs.map((x) => x.sweep))].join(', ')}`,
          render: r,
          figures,
          provenance: prov,
        }),
      );
    }
  });
  return { dir: out, files, render: r };
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'aggregate finished runs over seeds into tables (md, csv, tex, json), figures (svg, png) and an HTML page under SWEEP_DIR/reports/<name>/',
    )
    .argument('<sweep_dir...>', 'sweep directories (runs/<name>)')
    .option('--format <list>', `output formats, comma-separated (${FORMATS.join(',')})`, FORMATS.join(','))
    .option('--group-by <keys>', 'comma-separated keys to group by (default: the swept axes minus seed)')
    .option('--metric <list>', 'comma-separated summary metrics (default: the main ones present)')
    .option('--best-over <key>', 'keep the best value of this axis per group (zoology protocol)')
    .option('--by <metric>', 'metric that decides --best-over')
    .option('--baseline <key=value>', 'add relative deltas against this group')
    .option('--columns <list>', 'LaTeX: group keys and metrics to show (default: what varies and fits one column)')
    .option('--band <kind>', 'figure band around the seed mean: std (± 1 sample std) or ci95 (95% t-interval)', 'std')
    .option('--out <dir>', 'write the report here (default: SWEEP_DIR/reports/<name from inputs and options>)')
    .option('--claims <file>', 'show this claims table (JSON, e.g. from seqlab check) in the Markdown and HTML report')
    .option('--json', 'print the JSON record instead of the Markdown table')
    .option('--no-plots', 'skip the figures')
    .option('--no-png', 'SVG figures only')
    .addHelpText(
      'after',
      '\nExample:\n  $ seqlab report runs/quickstart\n  $ seqlab report runs/lr-sweep --best-over train.lr --by valid_loss --baseline model.preset=transformer',
    )
    .action(
      async (
        dirs: string[],
        opts: ReportOptions & { format: string; json?: boolean; plots: boolean; png: boolean; band: string; out?: string; claims?: string },
      ) => {
        const formats = list(opts.format);
        for (const f of formats)
          if (!(FORMATS as readonly string[]).includes(f))
            throw new UserError(
              `--format: unknown format "${f}" (expected ${FORMATS.join(', ')})${closest(f, FORMATS) ? ` (did you mean "${closest(f, FORMATS)}"?)` : ''}`,
            );
        if (opts.band !== 'std' && opts.band !== 'ci95') throw new UserError(`--band: expected std or ci95 (got "${opts.band}")`);
        // The claims table: a given claims file, else the sweep config's claims evaluated now (seqlab check).
        let checked: ReturnType<typeof claimsSection>;
        const claims = opts.claims ? readClaims(opts.claims) : () => (checked = claimsSection(dirs))?.section;
        const res = await writeReport(dirs, {
          ...opts,
          formats,
          band: opts.band,
          claims,
          claimsFile: opts.claims,
          argv: ['seqlab', ...process.argv.slice(2)],
        });
        process.stdout.write(opts.json ? renderJson(res.render) : renderMarkdown(res.render));
        if (!opts.json && checked) process.stdout.write(`\nClaims (seqlab check):\n\n${checked.table}`);
        process.stderr.write(`wrote ${res.dir}/ (${res.files.join(', ')})\n`);
      },
    );
}
