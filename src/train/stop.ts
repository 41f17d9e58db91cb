/**
 * `train.stop_at`: end training at the first evaluation whose metric reaches a target (Zoology
 * trains until 0.99 accuracy) and report how much training that took (steps, examples and tokens to
 * target) as a sample-efficiency result. Everything here is a function of the loop's evaluation
 * history, so a resumed run that restores that history takes the same decision.
 */
import type { RunConfig } from '../config/schema.ts';
import type { RunMetric } from '../metrics/names.ts';
import { parseStopMetric, type StopMetric } from '../config/stop.ts';
import type { SplitMetrics } from './eval.ts';

export interface StopRule extends StopMetric {
  metric: string;
  op: '>=' | '<=';
  target: number;
  /** steps between checks */
  every: number;
}

export interface EvalRecord {
  step: number;
  split: string;
  metrics: SplitMetrics;
}

/** The run's stop rule, or undefined without train.stop_at (validated at plan time). */
export function stopRule(cfg: RunConfig): StopRule | undefined {
  const r = cfg.train.stop_at;
  if (!r) return undefined;
  const m = parseStopMetric(r.metric);
  if (!m) throw new Error(`train.stop_at.metric "${r.metric}" passed validation but is not a stop metric`);
  const every = r.every ?? cfg.eval.every;
  return { ...m, metric: r.metric, op: r.at_least !== undefined ? '>=' : '<=', target: (r.at_least ?? r.at_most)!, every };
}

/** Whether the rule checks after `step` optimizer steps (the loop then evaluates the rule's split). */
export function checksAt(rule: StopRule | undefined, step: number): boolean {
  return rule !== undefined && rule.every > 0 && step % rule.every === 0;
}

/** Whether one evaluation meets the target (a NaN metric never does). */
export function meets(rule: StopRule, split: string, m: SplitMetrics): boolean {
  if (split !== rule.split) return false;
  const v = m[rule.name];
  return typeof v === 'number' && (rule.op === '>=' ? v >= rule.target : v <= rule.target);
}

/** The step of the first evaluation in the history that meets the target, or undefined. */
export function targetStep(rule: StopRule, evals: readonly EvalRecord[]): number | undefined {
  return evals.find((e) => meets(rule, e.split, e.metrics))?.step;
}

/** One line for the log when training stops early. */
export function describeStop(rule: StopRule, step: number, m: SplitMetrics): string {
  return `step ${step}: ${rule.metric} ${m[rule.name]} ${rule.op} ${rule.target}: target reached, training stops (train.stop_at)`;
}

/**
 * The summary metrics of the rule: target_reached (1 or 0) and, when reached, steps_to_target,
 * examples_to_target (sequences trained) and tokens_to_target. `final` is the end-of-training
 * evaluation of the rule's split (a target first met there counts at the last step).
 */
export function targetMetrics(
  cfg: RunConfig,
  seqLen: number,
  evals: readonly EvalRecord[],
  final?: EvalRecord,
): Partial<Record<RunMetric, number>> {
  const rule = stopRule(cfg);
  if (!rule) return {};
  const step = targetStep(rule, final ? [...evals, final] : evals);
  if (step === undefined) return { target_reached: 0 };
  const examples = step * cfg.train.batch_size * cfg.train.grad_accum;
  return { target_reached: 1, steps_to_target: step, examples_to_target: examples, tokens_to_target: examples * seqLen };
}
