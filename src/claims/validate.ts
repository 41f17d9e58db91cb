/**
 * Validate-time checks of `claims:` that the schema cannot express: the metric exists (names.ts)
 * and every dotted key of a selection, for_each and best_over names a config key.
 */
import { dotted, keyExists, locate, splitKey, type LoadedConfig } from '../config/load.ts';
import type { ExperimentConfig } from '../config/schema.ts';
import { isKnownMetric, metricHint } from './metrics.ts';

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
  return errors;
}
