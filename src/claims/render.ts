/** The claims table: Markdown for people (terminal, reports/claims.md) and JSON for machines. */
import { formatMetric } from '../metrics/table.ts';
import { markdownTable } from '../util/format.ts';
import { claimsNote, countVerdicts, describeSelection, type ClaimResult, type Side } from './evaluate.ts';

function sideCell(metric: string, s: Side): string {
  const { n, mean, std } = s.stats;
  if (n === 0) return `- (0)`;
  const sd = Number.isFinite(std) ? ` ± ${formatMetric(metric, std)}` : '';
  return `${formatMetric(metric, mean)}${sd} (${n})`;
}

function pCell(p: number): string {
  if (!Number.isFinite(p)) return '-';
  if (p === 0) return '0'; // only for a metric without a variance floor (src/claims/variance.ts)
  return p < 1e-4 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}

/** The keys where the right selection differs from the left one (what the claim compares). */
function contrast(r: ClaimResult): string {
  const right = r.right!.selection;
  const diff = Object.fromEntries(Object.entries(right).filter(([k, v]) => JSON.stringify(r.left.selection[k]) !== JSON.stringify(v)));
  return describeSelection(diff);
}

/** The effect with its 95% CI: "+0.41 [0.35, 0.47]" in the metric's display precision. */
function effectCell(r: ClaimResult): string {
  if (!Number.isFinite(r.diff)) return '-';
  const f = (v: number) => formatMetric(r.metric, v);
  const sign = r.diff > 0 ? '+' : '';
  if (r.test === 'exact (fixed by config)') return `${sign}${f(r.diff)} (exact)`;
  return Number.isFinite(r.ci[0]) ? `${sign}${f(r.diff)} [${f(r.ci[0])}, ${f(r.ci[1])}]` : `${sign}${f(r.diff)}`;
}

export function verdictCell(r: ClaimResult): string {
  if (r.verdict === 'invalid') return `invalid: ${r.note}`;
  return r.verdict + (r.note ? ` (${r.note})` : '');
}

/** The claims table as header + rows of text cells (the Markdown table and the report's claims section). */
export function claimsTable(results: readonly ClaimResult[]): { columns: string[]; rows: string[][] } {
  const holm = results[0]?.correction !== 'none';
  const columns = [
    'claim',
    'metric',
    'left mean ± std (n)',
    '',
    'right',
    'margin',
    'difference [95% CI]',
    'p',
    ...(holm ? ['p (Holm)'] : []),
    'level',
    'verdict',
  ];
  const rows = results.map((r) => [
    (r.kind === 'precondition' ? '[control] ' : '') + r.name,
    r.metric,
    sideCell(r.metric, r.left),
    r.op,
    r.right ? `${sideCell(r.metric, r.right)} [${contrast(r)}]` : `${r.bound} (bound)`,
    r.margin ? String(r.margin) : '0',
    effectCell(r),
    pCell(r.p),
    ...(holm ? [pCell(r.pAdjusted)] : []),
    String(r.level),
    verdictCell(r),
  ]);
  return { columns, rows };
}

export function renderClaimsMarkdown(results: readonly ClaimResult[]): string {
  const { columns, rows } = claimsTable(results);
  const n = countVerdicts(results);
  return `${markdownTable(columns, rows)}\n\n${claimsNote(results)}\n${n.pass} pass, ${n.fail} fail, ${n.inconclusive} inconclusive${n.invalid ? `, ${n.invalid} invalid` : ''}.\n`;
}

const num = (v: number) => (Number.isFinite(v) ? v : null);

export function renderClaimsJson(results: readonly ClaimResult[]): string {
  const side = (s: Side) => ({
    selection: s.selection,
    runs: s.runs,
    n: s.stats.n,
    mean: num(s.stats.mean),
    std: num(s.stats.std),
    variance_floor: { kind: s.floor.kind, variance: s.floor.variance },
  });
  return (
    JSON.stringify(
      {
        test: claimsNote(results),
        correction: results[0]?.correction ?? 'holm',
        counts: countVerdicts(results),
        claims: results.map((r) => ({
          index: r.index,
          name: r.name,
          kind: r.kind,
          requires: r.requires,
          metric: r.metric,
          instance: r.instance,
          op: r.op,
          left: side(r.left),
          right: r.right ? side(r.right) : undefined,
          bound: r.bound,
          margin: r.margin,
          level: r.level,
          test: r.test,
          t: num(r.t),
          df: num(r.df),
          p: num(r.p),
          p_adjusted: num(r.pAdjusted),
          difference: num(r.diff),
          ci95: r.ci.map(num),
          verdict: r.verdict,
          note: r.note,
        })),
      },
      null,
      2,
    ) + '\n'
  );
}
