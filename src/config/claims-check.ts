/**
 * Validate-time checks of `claims:` that the schema cannot express: the metric exists (names.ts),
 * every dotted key of a selection, for_each and best_over names a config key, and `requires` names
 * precondition claims of the same config without a cycle.
 */
import { dotted, keyExists, locate, splitKey, type LoadedConfig } from './load.ts';
import type { Claim } from './claims.ts';
import type { ExperimentConfig } from './schema.ts';
import { isKnownMetric, metricHint } from './claim-metrics.ts';
import { closest } from '../util/suggest.ts';

/** Keys a selection may use besides config keys. */
export const RUN_KEYS = ['case', 'seed'];

function keyError(key: string): string | undefined {
  if (RUN_KEYS.includes(key)) return undefined;
  const { ok, suggestion } = keyExists(splitKey(key));
  return ok ? undefined : `"${key}" names a config key that does not exist${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
}

export function claimErrors(loaded: LoadedConfig, cfg: ExperimentConfig): string[] {
  const errors: string[] = [];

  cfg.claims.forEach((c, i) => {
    const at = (...keys: (string | number)[]) => `${locate(loaded, ['claims', i, ...keys])}: ${dotted(['claims', i, ...keys])}`;
    if (!isKnownMetric(c.metric)) errors.push(`${at('metric')}: unknown metric "${c.metric}"${metricHint(c.metric)}`);
    if (c.best_over !== undefined && !isKnownMetric(c.by)) errors.push(`${at('by')}: unknown metric "${c.by}"${metricHint(c.by)}`);
    for (const part of ['where', 'greater_than', 'less_than'] as const) {
      for (const key of Object.keys(c[part] ?? {})) {
        const e = keyError(key);
        if (e) errors.push(`${at(part, key)}: ${e}`);
      }
    }
    c.for_each.forEach((key, k) => {
      const e = keyError(key);
      if (e) errors.push(`${at('for_each', k)}: ${e}`);
    });
    if (c.best_over !== undefined) {
      const e = keyError(c.best_over);
      if (e) errors.push(`${at('best_over')}: ${e}`);
    }
  });
  errors.push(
    ...requiresErrors(cfg.claims, (i, ...keys) => `${locate(loaded, ['claims', i, ...keys])}: ${dotted(['claims', i, ...keys])}`),
  );
  return errors;
}

/**
 * `requires` names precondition claims of this config, each name once, and the preconditions'
 * own `requires` form no cycle (a control that depends on itself could never be established).
 */
export function requiresErrors(claims: readonly Claim[], at: (i: number, ...keys: (string | number)[]) => string): string[] {
  const errors: string[] = [];
  const byName = new Map<string, number[]>();
  claims.forEach((c, i) => c.name !== undefined && byName.set(c.name, [...(byName.get(c.name) ?? []), i]));
  const names = [...byName.keys()];
  claims.forEach((c, i) =>
    c.requires.forEach((name, k) => {
      const found = byName.get(name);
      if (!found) {
        const guess = closest(name, names);
        errors.push(`${at(i, 'requires', k)}: no claim is named "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
      } else if (found.length > 1)
        errors.push(
          `${at(i, 'requires', k)}: "${name}" names ${found.length} claims (claims ${found.join(', ')}); give them distinct names`,
        );
      else if (claims[found[0]!]!.kind !== 'precondition')
        errors.push(`${at(i, 'requires', k)}: "${name}" is not a control: mark it kind: precondition`);
    }),
  );
  // Cycles: depth-first over requires edges between claims (each cycle reported once, at its first claim).
  const edges = claims.map((c) =>
    c.requires
      .map((n) => byName.get(n))
      .filter((f): f is number[] => f?.length === 1)
      .map((f) => f[0]!),
  );
  const state = claims.map(() => 0); // 0 unvisited, 1 on the stack, 2 done
  const stack: number[] = [];
  const visit = (i: number): void => {
    state[i] = 1;
    stack.push(i);
    for (const j of edges[i]!) {
      if (state[j] === 1) {
        const cycle = [...stack.slice(stack.indexOf(j)), j].map((x) => claims[x]!.name ?? `claims.${x}`);
        errors.push(`${at(j, 'requires')}: precondition cycle: ${cycle.join(' -> ')}`);
      } else if (state[j] === 0) visit(j);
    }
    stack.pop();
    state[i] = 2;
  };
  claims.forEach((_, i) => state[i] === 0 && visit(i));
  return errors;
}
