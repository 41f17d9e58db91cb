/** The claims table: Markdown for people (terminal, reports/claims.md) and JSON for machines. */
import { formatMetric } from '../metrics/table.ts';
import { markdownTable } from '../util/format.ts';
import { countVerdicts, describeSelection, TEST_NOTE, type ClaimResult, type Side } from './evaluate.ts';

function sideCell(metric: string, s: Side): string {
  const { n, mean, std } = s.stats;
  if (n === 0) return `- (0)`;
  const sd = Number.isFinite(std) ? ` ± ${formatMetric(metric, std)}` : '';
  return `${formatMetric(metric, mean)}${sd} (${n})`;
}

function pCell(p: number): string {
  if (!Number.isFinite(p)) return '-';
  if (p === 0) return '0'; // zero spread on both sides with the means apart
  return p < 1e-4 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}

/** The keys where the right selection differs from the left one (what the claim compares). */
function contrast(r: ClaimResult): string {
  const right = r.right!.selection;
  const diff = Object.fromEntries(Object.entries(right).filter(([k, v]) => JSON.stringify(r.left.selection[k]) !== JSON.stringify(v)));
  return describeSelection(diff);
}

/** The claims table as header + rows of text cells (the Markdown table and the report's claims section). */
export function claimsTable(results: readonly ClaimResult[]): { columns: string[]; rows: string[][] } {
  const columns = ['claim', 'metric', 'left mean ± std (n)', '', 'right', 'margin', 'p', 'level', 'verdict'];
  const rows = results.map((r) => [
    r.name,
    r.metric,
    sideCell(r.metric, r.left),
    r.op,
    r.right ? `${sideCell(r.metric, r.right)} [${contrast(r)}]` : `${r.bound} (bound)`,
    r.margin ? String(r.margin) : '0',
    pCell(r.p),
    String(r.level),
    r.verdict + (r.note ? ` (${r.note})` : ''),
  ]);
  return { columns, rows };
}

export function renderClaimsMarkdown(results: readonly ClaimResult[]): string {
  const { columns, rows } = claimsTable(results);
  const n = countVerdicts(results);
  return `${markdownTable(columns, rows)}\n\n${TEST_NOTE}\n${n.pass} pass, ${n.fail} fail, ${n.inconclusive} inconclusive.\n`;
}

const num = (v: number) => (Number.isFinite(v) ? v : null);

export function renderClaimsJson(results: readonly ClaimResult[]): string {
  const side = (s: Side) => ({ selection: s.selection, runs: s.runs, n: s.stats.n, mean: num(s.stats.mean), std: num(s.stats.std) });
  return (
    JSON.stringify(
      {
        test: TEST_NOTE,
        counts: countVerdicts(results),
        claims: results.map((r) => ({
          index: r.index,
          name: r.name,
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
          verdict: r.verdict,
          note: r.note,
        })),
      },
      null,
      2,
    ) + '\n'
  );
}
