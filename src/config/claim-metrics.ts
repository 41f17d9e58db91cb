/**
 * Which metric names a claim may use: the summary.json keys of src/metrics/names.ts, with their
 * split prefix (valid_ / test_) and per-length suffix (@L), plus the per-split accuracy and the
 * extra evaluation sets' `test_accuracy@NAME` keys (induction: `test_accuracy@N=256`).
 */
import { METRICS, REGISTRY, resolveMetric } from '../metrics/names.ts';
import { closest } from '../util/suggest.ts';

const SPLITS = ['valid', 'test'] as const;

/** Every concrete metric name, with `@L` written as a template (for did-you-mean). */
export function metricCandidates(): string[] {
  const out: string[] = [];
  for (const m of REGISTRY) {
    if (m.per === 'split') for (const s of SPLITS) out.push(`${s}_${m.name}`);
    else if (m.per === 'length') out.push(`${m.name}@256`);
    else out.push(m.name);
  }
  for (const s of SPLITS) out.push(`${s}_accuracy`, `${s}_exact_match`);
  out.push('test_accuracy@N=256', 'test_exact_match@N=256');
  return out;
}

/** Whether `name` can be a summary key of some run. */
export function isKnownMetric(name: string): boolean {
  const at = name.indexOf('@');
  const base = at < 0 ? name : name.slice(0, at);
  const suffix = at < 0 ? undefined : name.slice(at + 1);
  for (const m of METRICS) {
    const names = m.per === 'split' ? SPLITS.map((s) => `${s}_${m.name}`) : [m.name];
    if (!names.includes(base)) continue;
    if (m.per === 'length') return suffix !== undefined && /^\d+$/.test(suffix);
    return suffix === undefined;
  }
  // Other registry metrics without split or length (train_loss, steps_to_target, ...).
  const r = suffix === undefined ? resolveMetric(name) : undefined;
  if (r && r.def.per === undefined) return true;
  // Synthetic tasks: per-split accuracy, and the extra eval sets (test split only).
  if (/^(valid|test)_(accuracy|exact_match)$/.test(base)) return suffix === undefined || (base.startsWith('test_') && suffix.length > 0);
  return false;
}

/** ` (did you mean "x"?)` for an unknown metric name, or ''. */
export function metricHint(name: string, present: readonly string[] = []): string {
  const c = closest(name, [...new Set([...present, ...metricCandidates()])]);
  return c ? ` (did you mean "${c}"?)` : '';
}
