// An honest comparison of two result sets: refuse sets whose tasks or data differ (unless forced),
// pair groups by their axes, and flag a regression only when the change is beyond the threshold
// in the metric's bad direction AND significant over seeds (one-sided Welch t-test at level
// alpha, src/stats/welch.ts). With one seed on a side there is no test, and the verdict says so.
// mfu is recomputed against one matmul peak per machine and backend, so runs compare.
import * as path from 'node:path';
import { directionOf, formatValue } from '../metrics/names.ts';
import { welchOneSided } from '../stats/welch.ts';
import { readJsonOrUndefined } from '../util/fs.ts';
import { runFiles } from '../runner/layout.ts';
import { getPath, splitKey } from '../config/load.ts';
import type { ReportGroup, ReportRun } from './collect.ts';
import { statText } from '../metrics/table.ts';
import { meanStd } from '../stats/welch.ts';

/** Config subtrees that define what is measured: two sets that differ here are not comparable. */
export const COMPARABLE_ROOTS = ['task', 'eval'] as const;

function leaves(obj: unknown, prefix: string): [string, string][] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [[prefix, JSON.stringify(obj)]];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) => leaves(v, `${prefix}.${k}`));
}

/**
 * The task / data / eval keys whose values differ between A and B, ignoring the keys the groups
 * are paired by (a swept task.seq_len is an axis, not a difference): [key, values in A, values in B].
 */
export function incomparableKeys(a: ReportRun[], b: ReportRun[], pairedBy: string[]): [string, string[], string[]][] {
  const values = (runs: ReportRun[]) => {
    const m = new Map<string, Set<string>>();
    for (const r of runs) {
      for (const root of COMPARABLE_ROOTS) {
        for (const [k, v] of leaves(getPath(r.config, splitKey(root)), root)) {
          if (pairedBy.includes(k) || v === undefined) continue;
          if (!m.has(k)) m.set(k, new Set());
          m.get(k)!.add(v);
        }
      }
    }
    return m;
  };
  const va = values(a);
  const vb = values(b);
  const out: [string, string[], string[]][] = [];
  // What the task is and which data it reads first, then the other task keys, then evaluation.
  const rank = (k: string) => (['task.kind', 'task.corpus', 'task.tokenizer'].includes(k) ? 0 : k.startsWith('task.') ? 1 : 2);
  for (const k of [...new Set([...va.keys(), ...vb.keys()])].sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : 1))) {
    const sa = [...(va.get(k) ?? [])].sort();
    const sb = [...(vb.get(k) ?? [])].sort();
    if (JSON.stringify(sa) !== JSON.stringify(sb)) out.push([k, sa, sb]);
  }
  return out;
}

/** Machine and backend identity of a run (env.json): runs with one identity share one matmul peak. */
function machineOf(env: Record<string, unknown>): string {
  return JSON.stringify([env.hostname, env.cpu_model, env.cpu_count, env.backend, env.matmul_path, env.matmul_threads]);
}

/**
 * Recompute `mfu` of every run against one peak per machine and backend: the median of the peaks
 * measured on that machine (env.matmul_peak_gflops), so run-to-run noise in the peak measurement
 * does not show up as an mfu change. Returns the peaks used, by identity.
 */
export function normaliseMfu(runs: ReportRun[]): Map<string, number> {
  const envs = new Map<ReportRun, Record<string, unknown>>();
  const peaks = new Map<string, number[]>();
  for (const r of runs) {
    const env = readJsonOrUndefined<Record<string, unknown>>(path.join(runFiles(r.sweepDir, r.id).dir, 'env.json'));
    if (!env || typeof env.matmul_peak_gflops !== 'number') continue;
    envs.set(r, env);
    const id = machineOf(env);
    peaks.set(id, [...(peaks.get(id) ?? []), env.matmul_peak_gflops]);
  }
  const median = new Map(
    [...peaks].map(([id, xs]) => {
      const s = [...xs].sort((x, y) => x - y);
      return [id, s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2];
    }),
  );
  for (const [r, env] of envs) {
    if (typeof r.summary.mfu !== 'number') continue;
    const achieved = r.summary.mfu * (env.matmul_peak_gflops as number);
    r.summary = { ...r.summary, mfu: achieved / median.get(machineOf(env))! };
  }
  return median;
}

export type Verdict = 'regression' | 'improvement' | 'within threshold' | 'not significant' | 'untested (n = 1)' | 'no direction';

export interface CompareRow {
  group: string;
  metric: string;
  a: string;
  b: string;
  change: number;
  p: number;
  verdict: Verdict;
}

export interface CompareOptions {
  metrics: string[];
  /** relative change that counts, e.g. 0.05 */
  threshold: number;
  /** significance level of the one-sided Welch test */
  alpha: number;
}

const values = (g: ReportGroup, m: string) =>
  g.runs.map((r) => r.summary[m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

/** One row per paired group and metric. */
export function compareGroups(pairs: [string, ReportGroup, ReportGroup][], o: CompareOptions): CompareRow[] {
  const rows: CompareRow[] = [];
  for (const [name, ga, gb] of pairs) {
    for (const m of o.metrics) {
      const xa = values(ga, m);
      const xb = values(gb, m);
      if (xa.length === 0 || xb.length === 0) continue;
      const sa = meanStd(xa);
      const sb = meanStd(xb);
      const change = (sb.mean - sa.mean) / Math.abs(sa.mean);
      const dir = directionOf(m);
      let verdict: Verdict;
      let p = NaN;
      if (dir === 0) verdict = 'no direction';
      else {
        const worse = dir * change > o.threshold;
        const better = -dir * change > o.threshold;
        // H1: B is worse than A (higher when lower is better, lower when higher is better).
        const tWorse = welchOneSided(xb, xa, dir === 1 ? 'greater' : 'less');
        const tBetter = welchOneSided(xb, xa, dir === 1 ? 'less' : 'greater');
        p = worse ? tWorse.p : better ? tBetter.p : NaN;
        if (!worse && !better) verdict = 'within threshold';
        else if (sa.n < 2 || sb.n < 2) verdict = 'untested (n = 1)';
        else if (p < o.alpha) verdict = worse ? 'regression' : 'improvement';
        else verdict = 'not significant';
      }
      rows.push({ group: name, metric: m, a: `${statText(m, sa)} (n=${sa.n})`, b: `${statText(m, sb)} (n=${sb.n})`, change, p, verdict });
    }
  }
  return rows;
}

export function formatChange(change: number): string {
  return Number.isFinite(change) ? `${change >= 0 ? '+' : ''}${(100 * change).toFixed(1)}%` : '-';
}

export function formatP(p: number): string {
  return Number.isNaN(p) ? '-' : p < 1e-4 ? '<1e-4' : p.toPrecision(2);
}

export { formatValue };
