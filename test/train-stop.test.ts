/**
 * train.stop_at (src/train/stop.ts): the rule as a function of the evaluation history (what a
 * resumed run restores), and real tiny runs that stop early (state done, steps/examples/tokens to
 * target in summary.json) or never reach the target (target_reached 0, the full schedule).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { loadPlan } from '../src/config/plan.ts';
import type { RunConfig } from '../src/config/schema.ts';
import { resolveMetric } from '../src/metrics/names.ts';
import type { SplitMetrics } from '../src/train/eval.ts';
import { runTraining } from '../src/train/run.ts';
import { checksAt, stopRule, targetMetrics, targetStep, type EvalRecord } from '../src/train/stop.ts';
import { readJsonl } from '../src/util/fs.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-stop-'));

function tinyConfig(stop: string, steps = 10): RunConfig {
  const file = path.join(tmp, `tiny-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(
    file,
    [
      'name: tiny-stop',
      'task: { kind: mqar, vocab_size: 16, seq_len: 8, num_kv_pairs: 2, eval_examples: 8 }',
      'model: { preset: retnet, d_model: 8, n_layers: 1, ffn: none }',
      `train: { steps: ${steps}, batch_size: 4, warmup: 1, log_every: 5, checkpoint: false, stop_at: ${stop} }`,
      'eval: { batches: all }',
      'bench: { enabled: false }',
    ].join('\n'),
  );
  return loadPlan(file).runs[0].config;
}

const m = (over: Partial<SplitMetrics>): SplitMetrics => ({
  loss: 2,
  ppl: Math.exp(2),
  accuracy: 0.5,
  exact_match: 0.1,
  tokens: 10,
  windows: 8,
  ...over,
});

describe('stop rule over the evaluation history', () => {
  const cfg = tinyConfig('{ metric: valid_accuracy, at_least: 0.99, every: 5 }');
  const rule = stopRule(cfg)!;

  it('parses the metric and its split; checks every k steps', () => {
    expect(rule).toMatchObject({ split: 'valid', name: 'accuracy', op: '>=', target: 0.99, every: 5 });
    expect([4, 5, 10, 11].map((s) => checksAt(rule, s))).toEqual([false, true, true, false]);
  });

  it('the first evaluation of the split at or past the target decides; other splits and NaN do not', () => {
    const history: EvalRecord[] = [
      { step: 5, split: 'valid', metrics: m({ accuracy: 0.98 }) },
      { step: 10, split: 'test', metrics: m({ accuracy: 1 }) }, // another split: not the rule's
      { step: 10, split: 'valid', metrics: m({ accuracy: NaN }) },
      { step: 15, split: 'valid', metrics: m({ accuracy: 0.99 }) },
      { step: 20, split: 'valid', metrics: m({ accuracy: 1 }) },
    ];
    expect(targetStep(rule, history)).toBe(15);
    expect(targetStep(rule, history.slice(0, 3))).toBeUndefined();
    expect(targetMetrics(cfg, 8, history)).toEqual({
      target_reached: 1,
      steps_to_target: 15,
      examples_to_target: 60,
      tokens_to_target: 60 * 8,
    });
    expect(targetMetrics(cfg, 8, history.slice(0, 1))).toEqual({ target_reached: 0 });
    // A target first met by the end-of-training evaluation counts at the last step.
    expect(targetMetrics(cfg, 8, history.slice(0, 1), { step: 10, split: 'valid', metrics: m({ accuracy: 1 }) }).steps_to_target).toBe(10);
    const loss = stopRule(tinyConfig('{ metric: valid_loss, at_most: 1.5, every: 5 }'))!;
    expect(
      targetStep(loss, [
        { step: 5, split: 'valid', metrics: m({ loss: 1.6 }) },
        { step: 10, split: 'valid', metrics: m({ loss: 1.5 }) },
      ]),
    ).toBe(10);
  });

  it('the to-target metrics are in the registry with their units and direction', () => {
    expect(resolveMetric('steps_to_target')?.def).toMatchObject({ unit: 'steps', direction: 'lower' });
    expect(resolveMetric('examples_to_target')?.def).toMatchObject({ unit: 'count', direction: 'lower' });
    expect(resolveMetric('tokens_to_target')?.def).toMatchObject({ unit: 'tokens', direction: 'lower' });
    expect(resolveMetric('target_reached')?.def).toMatchObject({ unit: 'fraction', direction: 'higher' });
  });
});

describe('real runs with train.stop_at', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('a reached target ends training early: state done, summary has the steps, examples and tokens to target', {
    timeout: 120_000,
  }, async () => {
    // Any loss is below 1e6: the first check (step 2) stops the run.
    const cfg = tinyConfig('{ metric: valid_loss, at_most: 1e6, every: 2 }');
    const dir = path.join(tmp, 'early');
    fs.mkdirSync(dir, { recursive: true });
    const { state, summary } = await runTraining(cfg, dir, { backend: 'wasm', log: () => {} });
    expect(state).toBe('done');
    expect(summary).toMatchObject({
      state: 'done',
      steps: 2,
      target_reached: 1,
      steps_to_target: 2,
      examples_to_target: 8,
      tokens_to_target: 8 * (summary.seq_len as number),
    });
    expect(Number.isFinite(summary.test_accuracy)).toBe(true); // the final evaluation still runs
    const lines = readJsonl<Record<string, unknown>>(path.join(dir, 'metrics.jsonl'));
    expect(lines.filter((l) => l.split === 'valid').map((l) => l.step)).toEqual([2, 2]); // the check, then the final evaluation
    expect(lines.filter((l) => l.split === undefined).map((l) => l.step)).toEqual([1, 2]); // the stopping step's loss is logged
  });

  it('an unreachable target trains the full schedule and records target_reached 0, no steps_to_target', { timeout: 120_000 }, async () => {
    const cfg = tinyConfig('{ metric: valid_accuracy, at_least: 1.01, every: 2 }', 6);
    const dir = path.join(tmp, 'never');
    fs.mkdirSync(dir, { recursive: true });
    const { summary } = await runTraining(cfg, dir, { backend: 'wasm', log: () => {} });
    expect(summary).toMatchObject({ state: 'done', steps: 6, target_reached: 0 });
    expect(summary.steps_to_target).toBeUndefined();
    const checks = readJsonl<Record<string, unknown>>(path.join(dir, 'metrics.jsonl'))
      .filter((l) => l.split === 'valid')
      .map((l) => l.step);
    expect(checks).toEqual([2, 4, 6]); // checks at 2 and 4, the final evaluation at 6
  });
});
