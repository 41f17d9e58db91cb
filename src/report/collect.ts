// Finished runs of one or more sweep directories, grouped by chosen keys and aggregated over seeds
// (n, mean, std with ddof 1), with zoology's best-over protocol and baseline deltas.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.ts';
import { getPath, splitKey } from '../config/load.ts';
import { readJsonOrUndefined, readJsonl } from '../util/fs.ts';
import { runFiles } from '../runner/layout.ts';
import { readLedger, ledgerByRun } from '../runner/ledger.ts';
import { requirePlanFile } from '../runner/sweep-dir.ts';
import { viewRun } from '../runner/state.ts';
import { machinesLine } from '../runner/provenance.ts';
import { meanStd, type Stats } from '../metrics/table.ts';
import { directionOf } from '../metrics/names.ts';

export interface ReportRun {
  sweep: string;
  sweepDir: string;
  id: string;
  axes: Record<string, unknown>;
  case?: string;
  state: string;
  /** Why the run is not finished (e.g. an unreadable summary.json), from the runner's view. */
  error?: string;
  config: Record<string, unknown>;
  summary: Record<string, unknown>;
}

export interface ReportGroup {
  key: Record<string, unknown>;
  runs: ReportRun[];
  stats: Record<string, Stats>;
}

export function collectRuns(sweepDirs: string[]): ReportRun[] {
  const out: ReportRun[] = [];
  for (const sweepDir of sweepDirs) {
    const plan = requirePlanFile(sweepDir);
    const ledger = ledgerByRun(readLedger(sweepDir));
    for (const entry of plan.runs) {
      const files = runFiles(sweepDir, entry.id);
      const view = viewRun(sweepDir, entry.id, ledger.get(entry.id));
      const summary = readJsonOrUndefined<Record<string, unknown>>(files.summary) ?? {};
      const config = readJsonOrUndefined<Record<string, unknown>>(files.config) ?? {};
      out.push({
        sweep: plan.name,
        sweepDir,
        id: entry.id,
        axes: entry.axes,
        case: entry.case,
        state: view.state,
        ...(view.error ? { error: view.error } : {}),
        config,
        summary,
      });
    }
  }
  return out;
}

/** The value of a grouping key for a run: a swept axis, `case`, `sweep`, or any dotted config key. */
export function keyValue(run: ReportRun, key: string): unknown {
  if (key === 'case') return run.case ?? '-';
  if (key === 'sweep') return run.sweep;
  if (key in run.axes) return run.axes[key];
  if (key === 'seed') return run.config.seed;
  return getPath(run.config, splitKey(key));
}

/** Metrics where lower is better (+1), higher is better (-1), or neither (0): the registry's direction. */
export const direction = directionOf;

export function defaultGroupBy(runs: ReportRun[]): string[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.axes)))].filter((k) => k !== 'seed');
  if (runs.some((r) => r.case)) keys.unshift('case');
  if (new Set(runs.map((r) => r.sweep)).size > 1) keys.unshift('sweep');
  return keys;
}

export function defaultMetrics(runs: ReportRun[]): string[] {
  const present = new Set(runs.flatMap((r) => Object.keys(r.summary)));
  const wanted = ['valid_bpb', 'test_bpb', 'accuracy', 'exact_match', 'params', 'flops_per_token_fwd', 'train_tokens_per_s', 'mfu'];
  const at = [...present]
    .filter((k) => k.startsWith('decode_ms_per_token@'))
    .sort((a, b) => Number(a.split('@')[1]) - Number(b.split('@')[1]));
  return [...wanted.filter((m) => present.has(m)), ...at, ...['peak_tensor_bytes'].filter((m) => present.has(m))];
}

export function groupRuns(runs: ReportRun[], groupBy: string[], metrics: string[]): ReportGroup[] {
  const groups = new Map<string, ReportGroup>();
  for (const run of runs) {
    const key = Object.fromEntries(groupBy.map((k) => [k, keyValue(run, k)]));
    const id = JSON.stringify(groupBy.map((k) => key[k]));
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key, runs: [], stats: {} }));
    g.runs.push(run);
  }
  for (const g of groups.values()) {
    for (const m of metrics) {
      g.stats[m] = meanStd(g.runs.map((r) => r.summary[m]).filter((v): v is number => typeof v === 'number'));
    }
  }
  return [...groups.values()];
}

/**
 * Zoology's protocol: within each group of the other keys, keep only the runs whose `axis` value
 * has the best mean `by` (e.g. the best learning rate per architecture by valid_loss).
 */
export function bestOver(runs: ReportRun[], groupBy: string[], axis: string, by: string): ReportRun[] {
  const dir = direction(by) || 1;
  const outer = groupRuns(
    runs,
    groupBy.filter((k) => k !== axis),
    [],
  );
  const kept: ReportRun[] = [];
  for (const g of outer) {
    const byValue = groupRuns(g.runs, [axis], [by]);
    const scored = byValue.filter((v) => Number.isFinite(v.stats[by].mean));
    if (scored.length === 0) continue;
    scored.sort((a, b) => dir * (a.stats[by].mean - b.stats[by].mean));
    kept.push(...scored[0].runs);
  }
  return kept;
}

/** Relative change of each metric's mean against the group matching `key=value` (same other keys). */
export function baselineDeltas(groups: ReportGroup[], baseline: string, metrics: string[]): Map<ReportGroup, Record<string, number>> {
  const eq = baseline.indexOf('=');
  if (eq <= 0) throw new UserError(`--baseline ${baseline}: expected KEY=VALUE, e.g. --baseline model.preset=transformer`);
  const key = baseline.slice(0, eq);
  const value = baseline.slice(eq + 1);
  const matches = (g: ReportGroup) => String(g.key[key]) === value;
  if (!groups.some(matches)) {
    throw new UserError(
      `--baseline ${baseline}: no group has ${key} = ${value} (group keys: ${Object.keys(groups[0]?.key ?? {}).join(', ') || 'none'})`,
    );
  }
  const others = (g: ReportGroup) => JSON.stringify(Object.entries(g.key).filter(([k]) => k !== key));
  const out = new Map<ReportGroup, Record<string, number>>();
  for (const g of groups) {
    const base = groups.find((b) => matches(b) && others(b) === others(g)) ?? groups.find(matches)!;
    const d: Record<string, number> = {};
    for (const m of metrics) d[m] = (g.stats[m].mean - base.stats[m].mean) / Math.abs(base.stats[m].mean);
    out.set(g, d);
  }
  return out;
}

/** Loss curves of a run from metrics.jsonl: [{step, name, value}] for train loss and eval losses. */
export function lossCurve(run: ReportRun): { step: number; series: string; value: number }[] {
  const file = runFiles(run.sweepDir, run.id).metrics;
  if (!fs.existsSync(file)) return [];
  const out: { step: number; series: string; value: number }[] = [];
  for (const line of readJsonl<Record<string, unknown>>(file)) {
    const step = Number(line.step);
    const split = typeof line.split === 'string' ? line.split : 'train';
    const value = typeof line.loss === 'number' ? line.loss : line[`${split}_loss`];
    if (Number.isFinite(step) && typeof value === 'number' && Number.isFinite(value)) out.push({ step, series: split, value });
  }
  return out;
}

export function reportsDir(sweepDir: string): string {
  return path.join(sweepDir, 'reports');
}

/** The report footer: backends and machines behind the runs, and what a cell means. */
export function provenance(runDirs: string[]): string {
  return `${machinesLine(runDirs)} Cells are mean ± std over seeds (ddof 1); n = finished runs.`;
}
