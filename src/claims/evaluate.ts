/**
 * Evaluating `claims:` over the finished runs of a sweep. Each claim (or each for_each instance of
 * it) compares the seed values of its metric on one selection of runs against a constant bound
 * (one-sample t-test) or against a second selection (one-sided Welch t-test, src/stats/welch.ts).
 * A side with fewer than two finite values makes the test undefined: the verdict is then
 * 'inconclusive', never 'pass'.
 */
import { isDeepStrictEqual } from 'node:util';
import { UserError, UserErrors } from '../errors.ts';
import type { Claim } from '../config/claims.ts';
import { closest } from '../config/suggest.ts';
import { bestOver, defaultGroupBy, keyValue, type ReportRun } from '../report/collect.ts';
import { welchOneSided, type Stats } from '../stats/welch.ts';

export type Verdict = 'pass' | 'fail' | 'inconclusive';
export type Selection = Record<string, unknown>;

export interface Side {
  selection: Selection;
  /** Ids of the selected finished runs (after best_over). */
  runs: string[];
  stats: Stats;
}

export interface ClaimResult {
  /** Position in the config's claims list. */
  index: number;
  name: string;
  metric: string;
  /** The for_each values of this instance ({} when the claim has no for_each). */
  instance: Selection;
  left: Side;
  /** '>' : left above the right side (at_least, greater_than); '<' : below (at_most, less_than). */
  op: '>' | '<';
  /** Either a constant bound or a second selection. */
  bound?: number;
  right?: Side;
  margin: number;
  level: number;
  test: 'one-sample t-test' | 'Welch t-test';
  t: number;
  df: number;
  p: number;
  verdict: Verdict;
  /** Why the verdict is inconclusive, when it is. */
  note?: string;
}

export const TEST_NOTE =
  'p: one-sided t-test over seeds (Welch unequal-variance t-test with Welch-Satterthwaite df against another selection; one-sample t-test against a bound); pass when p < level; n < 2 on a side is inconclusive.';

/** Whether a run matches every key of a selection (as sweep.exclude matches). */
export function matches(run: ReportRun, sel: Selection): boolean {
  return Object.entries(sel).every(([k, v]) => isDeepStrictEqual(keyValue(run, k), v));
}

function label(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function describeSelection(sel: Selection): string {
  const parts = Object.entries(sel).map(([k, v]) => `${k}=${label(v)}`);
  return parts.length ? parts.join(', ') : 'all runs';
}

/** The one-line reason a selection matches no run, with a did-you-mean on the value. */
function emptySelection(where: string, sel: Selection, runs: ReportRun[]): string {
  for (const [k, v] of Object.entries(sel)) {
    const values = [...new Set(runs.map((r) => keyValue(r, k)).filter((x) => x !== undefined).map(label))];
    if (!values.includes(label(v))) {
      const c = closest(label(v), values);
      const shown = values.length > 8 ? [...values.slice(0, 8), '...'] : values;
      return `${where}: no finished run has ${k} = ${label(v)}${c ? ` (did you mean "${c}"?)` : ''}; values: ${shown.join(', ') || 'none (the key is not set on any run)'}`;
    }
  }
  return `${where}: no finished run matches ${describeSelection(sel)} (each value exists, not together)`;
}

function defaultName(c: Claim): string {
  const sel = describeSelection(c.where);
  if (c.at_least !== undefined) return `${c.metric} [${sel}] > ${c.at_least}`;
  if (c.at_most !== undefined) return `${c.metric} [${sel}] < ${c.at_most}`;
  const other = describeSelection((c.greater_than ?? c.less_than)!);
  return `${c.metric} [${sel}] ${c.greater_than ? '>' : '<'} [${other}]`;
}

/** Distinct combinations of the for_each keys among the runs, in first-seen order. */
function instances(keys: string[], runs: ReportRun[]): Selection[] {
  if (keys.length === 0) return [{}];
  const seen = new Map<string, Selection>();
  for (const r of runs) {
    const inst = Object.fromEntries(keys.map((k) => [k, keyValue(r, k)]));
    const id = JSON.stringify(keys.map((k) => inst[k]));
    if (!seen.has(id)) seen.set(id, inst);
  }
  return [...seen.values()];
}

function side(runs: ReportRun[], sel: Selection, metric: string): { side: Side; values: number[] } {
  const chosen = runs.filter((r) => matches(r, sel));
  const values = chosen.map((r) => r.summary[metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return { side: { selection: sel, runs: chosen.map((r) => r.id), stats: { n: values.length, mean: NaN, std: NaN } }, values };
}

/**
 * Evaluate every claim over `runs` (finished runs of the sweep). Throws UserErrors (exit 2), one
 * line per bad claim, when a metric is reported by no selected run or a selection matches no run.
 */
export function evaluateClaims(claims: readonly Claim[], allRuns: ReportRun[], where: (i: number) => string = (i) => `claims.${i}`): ClaimResult[] {
  const finished = allRuns.filter((r) => r.state === 'done' || r.state === 'diverged');
  if (finished.length === 0) throw new UserError(`${where(0).replace(/: claims\.0$/, '')}: no finished runs to check claims on yet (see seqlab status)`);
  const errors: string[] = [];
  const out: ClaimResult[] = [];
  claims.forEach((c, index) => {
    const at = where(index);
    const runs = c.best_over !== undefined ? bestOver(finished, defaultGroupBy(finished), c.best_over, c.by) : finished;
    const base = runs.filter((r) => matches(r, c.where));
    if (base.length === 0) {
      errors.push(emptySelection(at, c.where, finished));
      return;
    }
    const present = [...new Set(finished.flatMap((r) => Object.keys(r.summary)))];
    if (!base.some((r) => typeof r.summary[c.metric] === 'number')) {
      const c2 = closest(c.metric, present);
      errors.push(`${at}: metric "${c.metric}" is not reported by any selected run${c2 ? ` (did you mean "${c2}"?)` : ''}`);
      return;
    }
    const other = c.greater_than ?? c.less_than;
    const op: '>' | '<' = c.at_least !== undefined || c.greater_than !== undefined ? '>' : '<';
    for (const inst of instances(c.for_each, base)) {
      const leftSel = { ...c.where, ...inst };
      const L = side(runs, leftSel, c.metric);
      let R: ReturnType<typeof side> | undefined;
      if (other) {
        const rightSel = { ...leftSel, ...other };
        R = side(runs, rightSel, c.metric);
        if (R.side.runs.length === 0) {
          errors.push(emptySelection(`${at} (${op === '>' ? 'greater_than' : 'less_than'})`, rightSel, finished));
          continue;
        }
      }
      const bound = c.at_least ?? c.at_most;
      const w =
        bound !== undefined
          ? welchOneSided(L.values, [bound], op === '>' ? 'greater' : 'less', c.margin, true)
          : welchOneSided(L.values, R!.values, op === '>' ? 'greater' : 'less', c.margin);
      L.side.stats = w.a;
      if (R) R.side.stats = w.b;
      const small = [L.side.stats.n < 2 ? 'left' : '', R && R.side.stats.n < 2 ? 'right' : ''].filter(Boolean);
      const verdict: Verdict = small.length > 0 || Number.isNaN(w.p) ? 'inconclusive' : w.p < c.level ? 'pass' : 'fail';
      const suffix = Object.keys(inst).length ? ` (${describeSelection(inst)})` : '';
      out.push({
        index,
        name: (c.name ?? defaultName(c)) + suffix,
        metric: c.metric,
        instance: inst,
        left: L.side,
        op,
        bound,
        right: R?.side,
        margin: c.margin,
        level: c.level,
        test: bound !== undefined ? 'one-sample t-test' : 'Welch t-test',
        t: w.t,
        df: w.df,
        p: w.p,
        verdict,
        note: small.length ? `n < 2 on the ${small.join(' and ')} side` : undefined,
      });
    }
  });
  if (errors.length === 1) throw new UserError(errors[0]!);
  if (errors.length) throw new UserErrors(errors);
  return out;
}

export interface ClaimCounts {
  pass: number;
  fail: number;
  inconclusive: number;
}

export function countVerdicts(results: readonly ClaimResult[]): ClaimCounts {
  const n: ClaimCounts = { pass: 0, fail: 0, inconclusive: 0 };
  for (const r of results) n[r.verdict]++;
  return n;
}

/** `check`'s exit code: 1 when a claim fails (or, with strict, is inconclusive), else 0. */
export function checkExitCode(results: readonly ClaimResult[], strict = false): 0 | 1 {
  const n = countVerdicts(results);
  return n.fail > 0 || (strict && n.inconclusive > 0) ? 1 : 0;
}
