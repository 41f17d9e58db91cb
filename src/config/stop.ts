/**
 * What `train.stop_at` may name: a metric of the periodic evaluation (`<split>_<name>`, the names
 * of one split's evaluation, src/train/eval.ts) that the task reports. Checked at validate time;
 * the rule itself runs in src/train/stop.ts.
 */
import { dotted, locate, type LoadedConfig } from './load.ts';
import type { ExperimentConfig } from './schema.ts';
import { closest } from '../util/suggest.ts';

/** Metrics one split's evaluation gives, and which task kinds give them. */
export const STOP_METRICS = {
  loss: ['lm', 'synthetic'],
  ppl: ['lm', 'synthetic'],
  bpb: ['lm'],
  accuracy: ['synthetic'],
  exact_match: ['synthetic'],
} as const satisfies Record<string, readonly ('lm' | 'synthetic')[]>;

export type StopMetricName = keyof typeof STOP_METRICS;

export interface StopMetric {
  split: 'valid' | 'test';
  name: StopMetricName;
}

/** `valid_accuracy` -> { split: 'valid', name: 'accuracy' }, or undefined. */
export function parseStopMetric(metric: string): StopMetric | undefined {
  const m = /^(valid|test)_(.+)$/.exec(metric);
  if (!m || !Object.hasOwn(STOP_METRICS, m[2]!)) return undefined;
  return { split: m[1] as 'valid' | 'test', name: m[2] as StopMetricName };
}

/** The task kind of a config's task (lm for language modelling, synthetic for the accuracy tasks). */
function taskKind(cfg: ExperimentConfig): 'lm' | 'synthetic' {
  return cfg.task.kind === 'lm' ? 'lm' : 'synthetic';
}

export function stopErrors(loaded: LoadedConfig, cfg: ExperimentConfig): string[] {
  const rule = cfg.train.stop_at;
  if (!rule) return [];
  const at = (...keys: string[]) => `${locate(loaded, ['train', 'stop_at', ...keys])}: ${dotted(['train', 'stop_at', ...keys])}`;
  const errors: string[] = [];
  const parsed = parseStopMetric(rule.metric);
  const kind = taskKind(cfg);
  if (!parsed) {
    const names = Object.keys(STOP_METRICS).filter((n) => (STOP_METRICS[n as StopMetricName] as readonly string[]).includes(kind));
    const guess = closest(
      rule.metric,
      names.flatMap((n) => [`valid_${n}`, `test_${n}`]),
    );
    errors.push(
      `${at('metric')}: unknown metric "${rule.metric}" for a stop rule${guess ? ` (did you mean "${guess}"?)` : ''}; one of ${names.map((n) => `valid_${n}`).join(', ')} (or test_...)`,
    );
  } else if (!(STOP_METRICS[parsed.name] as readonly string[]).includes(kind)) {
    errors.push(
      `${at('metric')}: "${rule.metric}" is not reported by ${cfg.task.kind} (a ${kind === 'lm' ? 'language-model' : 'synthetic'} task)`,
    );
  }
  if (rule.every === undefined && cfg.eval.every === 0)
    errors.push(`${at()}: a stop rule needs every (or eval.every > 0): steps between checks`);
  return errors;
}
