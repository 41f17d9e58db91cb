/**
 * Evaluating `claims:` over the finished runs of a sweep. Each claim (or each for_each instance of
 * it) compares the seed values of its metric on one selection of runs against a constant bound
 * (one-sample t-test) or against a second selection (one-sided Welch t-test, src/stats/welch.ts),
 * with a variance floor (src/claims/variance.ts) so that zero spread never gives p = 0. The
 * p-values of one `check` are Holm-corrected together (src/stats/holm.ts), then the preconditions
 * (positive controls) gate the claims that depend on them (docs/runner.md 6.1).
 * A side with fewer than two finite values makes the test undefined: the verdict is then
 * 'inconclusive', never 'pass'.
 */
import { isDeepStrictEqual } from 'node:util';
import { UserError, UserErrors } from '../errors.ts';
import type { Claim } from '../config/claims.ts';
import { closest } from '../util/suggest.ts';
import { bestOver, defaultGroupBy, keyValue, type ReportRun } from '../report/collect.ts';
import { holm } from '../stats/holm.ts';
import { welchOneSided, type Stats } from '../stats/welch.ts';
import { fixedByConfig, varianceFloor, type Floor } from './variance.ts';

export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'invalid';
/** Multiple-comparison correction over the claims of one check. */
export type Correction = 'holm' | 'none';
export const CORRECTIONS: readonly Correction[] = ['holm', 'none'];
export type Selection = Record<string, unknown>;

export interface Side {
  selection: Selection;
  /** Ids of the selected finished runs (after best_over). */
  runs: string[];
  stats: Stats;
  /** least variance of one value used by the test (src/claims/variance.ts) */
  floor: Floor;
}

export interface ClaimResult {
  /** Position in the config's claims list. */
  index: number;
  /** Which config of the check (0 for the first argument): requires and preconditions stay within one. */
  group: number;
  /** The claim's `name` as written (what `requires` refers to); undefined when unnamed. */
  claim?: string;
  kind: 'claim' | 'precondition';
  /** Controls this result depends on: its requires, plus every required_by: all precondition for a claim. */
  requires: string[];
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
  test: 'one-sample t-test' | 'Welch t-test' | 'exact (fixed by config)';
  t: number;
  df: number;
  /** one-sided p-value of the claim alone */
  p: number;
  /** p after the check's correction (Holm; equal to p with --correction none); NaN when untested */
  pAdjusted: number;
  correction: Correction;
  /** Effect: mean(left) - mean(right) (or - bound), in the metric's unit, with its 95% CI. */
  diff: number;
  ci: [number, number];
  verdict: Verdict;
  /** Why the verdict is inconclusive or invalid, when it is. */
  note?: string;
}

export const TEST_NOTE =
  "p: one-sided t-test over seeds (Welch unequal-variance t-test with Welch-Satterthwaite df against another selection; one-sample t-test against a bound), the variance of one run never taken below its floor (binomial p(1-p)/n for a fraction on n held-out examples, else the rounding variance of the metric's reported precision); difference: mean(left) - mean(right or bound) with its 95% CI; n < 2 on a side is inconclusive; a claim whose precondition (control) does not pass is invalid.";

/** The line under a claims table: the test, and the correction for multiplicity actually applied. */
export function claimsNote(results: readonly ClaimResult[]): string {
  const m = results.filter((r) => Number.isFinite(r.p)).length;
  const corr =
    results[0]?.correction === 'none'
      ? 'No correction for multiplicity (--correction none): each claim passes when its own p < level.'
      : `Holm-Bonferroni correction over the ${m} tested claim${m === 1 ? '' : 's'} of this check: a claim passes when its adjusted p < level (--correction none to opt out).`;
  return `${TEST_NOTE} ${corr}`;
}

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
    const values = [
      ...new Set(
        runs
          .map((r) => keyValue(r, k))
          .filter((x) => x !== undefined)
          .map(label),
      ),
    ];
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
  const floor = varianceFloor(metric, chosen, values);
  return { side: { selection: sel, runs: chosen.map((r) => r.id), stats: { n: values.length, mean: NaN, std: NaN }, floor }, values };
}

/**
 * Test every claim over `runs` (finished runs of the sweep) on its own: raw p-values, verdicts not
 * yet corrected or gated (see finishClaims). Throws UserErrors (exit 2), one line per bad claim,
 * when a metric is reported by no selected run or a selection matches no run.
 */
export function testClaims(
  claims: readonly Claim[],
  allRuns: ReportRun[],
  where: (i: number) => string = (i) => `claims.${i}`,
  group = 0,
): ClaimResult[] {
  const finished = allRuns.filter((r) => r.state === 'done' || r.state === 'diverged');
  if (finished.length === 0)
    throw new UserError(`${where(0).replace(/: claims\.0$/, '')}: no finished runs to check claims on yet (see seqlab status)`);
  const errors: string[] = [];
  const out: ClaimResult[] = [];
  const gates = claims.filter((c) => c.kind === 'precondition' && c.required_by === 'all').map((c) => c.name!); // the schema requires a precondition's name
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
    const requires = [...new Set([...c.requires, ...(c.kind === 'claim' ? gates : [])])];
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
      const alt = op === '>' ? 'greater' : 'less';
      const floors = { a: L.side.floor.variance, b: R?.side.floor.variance };
      const w =
        bound !== undefined
          ? welchOneSided(L.values, [bound], alt, c.margin, true, floors)
          : welchOneSided(L.values, R!.values, alt, c.margin, false, floors);
      L.side.stats = w.a;
      if (R) R.side.stats = w.b;
      const exact = fixedByConfig(c.metric);
      const small = [L.side.stats.n < (exact ? 1 : 2) ? 'left' : '', R && R.side.stats.n < (exact ? 1 : 2) ? 'right' : ''].filter(Boolean);
      // A metric fixed by the config has no sampling error: the claim is a comparison of the means, untested.
      const exactPass = (op === '>' ? w.diff : -w.diff) > c.margin;
      const noFloor =
        !exact &&
        w.a.std === 0 &&
        (R === undefined || w.b.std === 0) &&
        L.side.floor.kind === 'none' &&
        (R === undefined || R.side.floor.kind === 'none');
      let note: string | undefined;
      if (small.length) note = `n < ${exact ? 1 : 2} on the ${small.join(' and ')} side`;
      else if (noFloor) note = 'zero variance over seeds and no variance floor for this metric';
      const p = exact || small.length || noFloor ? NaN : w.p;
      const verdict: Verdict =
        note || (!exact && Number.isNaN(p)) ? 'inconclusive' : exact ? (exactPass ? 'pass' : 'fail') : p < c.level ? 'pass' : 'fail';
      const suffix = Object.keys(inst).length ? ` (${describeSelection(inst)})` : '';
      out.push({
        index,
        group,
        claim: c.name,
        kind: c.kind,
        requires,
        name: (c.name ?? defaultName(c)) + suffix,
        metric: c.metric,
        instance: inst,
        left: L.side,
        op,
        bound,
        right: R?.side,
        margin: c.margin,
        level: c.level,
        test: exact ? 'exact (fixed by config)' : bound !== undefined ? 'one-sample t-test' : 'Welch t-test',
        t: exact ? NaN : w.t,
        df: exact ? NaN : w.df,
        p,
        pAdjusted: p,
        correction: 'none',
        diff: w.diff,
        ci: exact ? [w.diff, w.diff] : w.ci,
        verdict,
        note,
      });
    }
  });
  if (errors.length === 1) throw new UserError(errors[0]!);
  if (errors.length) throw new UserErrors(errors);
  return out;
}

/**
 * The verdicts of one check: Holm's correction over every tested claim of all its configs (or
 * none), then the preconditions: a claim whose control did not pass is invalid, naming the control.
 */
export function finishClaims(results: ClaimResult[], correction: Correction = 'holm'): ClaimResult[] {
  const adjusted = correction === 'holm' ? holm(results.map((r) => r.p)) : results.map((r) => r.p);
  const out = results.map((r, i) => {
    const pAdjusted = adjusted[i]!;
    const tested = Number.isFinite(r.p);
    return { ...r, correction, pAdjusted, verdict: tested ? (pAdjusted < r.level ? 'pass' : 'fail') : r.verdict } as ClaimResult;
  });
  // Gate in dependency order (validate refuses cycles; a cycle here is treated as a control that does not pass).
  const memo = new Map<string, string | null>();
  const controlStatus = (group: number, name: string, seen: Set<string>): string | null => {
    const key = `${group}\u0000${name}`;
    if (memo.has(key)) return memo.get(key)!;
    if (seen.has(key)) return `control "${name}" depends on itself`;
    seen.add(key);
    const own = out.filter((r) => r.group === group && r.kind === 'precondition' && r.claim === name);
    let why: string | null = own.length === 0 ? `control "${name}" has no result` : null;
    for (const r of own) {
      gate(r, seen);
      if (r.verdict !== 'pass') {
        why = `control "${name}" ${r.verdict === 'fail' ? 'failed' : r.verdict === 'inconclusive' ? 'was inconclusive' : 'is invalid'}${own.length > 1 ? ` (${r.name})` : ''}`;
        break;
      }
    }
    memo.set(key, why);
    return why;
  };
  const gated = new Set<ClaimResult>();
  const gate = (r: ClaimResult, seen: Set<string>): void => {
    if (gated.has(r)) return;
    gated.add(r);
    for (const dep of r.requires) {
      const why = controlStatus(r.group, dep, seen);
      if (why !== null) {
        // Pass and fail become invalid; a claim its own data leave inconclusive stays so (it is
        // evidence neither way already), with the control named.
        if (r.verdict === 'inconclusive') r.note = `${r.note}; ${why}`;
        else {
          r.verdict = 'invalid';
          r.note = why;
        }
        return;
      }
    }
  };
  for (const r of out) gate(r, new Set());
  return out;
}

/** Test, correct and gate the claims of one config (testClaims + finishClaims). */
export function evaluateClaims(
  claims: readonly Claim[],
  allRuns: ReportRun[],
  where: (i: number) => string = (i) => `claims.${i}`,
  opts: { correction?: Correction } = {},
): ClaimResult[] {
  return finishClaims(testClaims(claims, allRuns, where), opts.correction ?? 'holm');
}

export interface ClaimCounts {
  pass: number;
  fail: number;
  inconclusive: number;
  invalid: number;
}

export function countVerdicts(results: readonly ClaimResult[]): ClaimCounts {
  const n: ClaimCounts = { pass: 0, fail: 0, inconclusive: 0, invalid: 0 };
  for (const r of results) n[r.verdict]++;
  return n;
}

/** `check`'s exit code: 1 when a claim fails or is invalid (or, with strict, is inconclusive), else 0. */
export function checkExitCode(results: readonly ClaimResult[], strict = false): 0 | 1 {
  const n = countVerdicts(results);
  return n.fail > 0 || n.invalid > 0 || (strict && n.inconclusive > 0) ? 1 : 0;
}
