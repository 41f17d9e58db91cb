/**
 * Typed run results: the summary.json of a tiny run of every task kind holds exactly the keys the
 * metric registry and the task's kind say (summaryKeys), no more, no fewer.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { loadPlan } from '../src/config/plan.ts';
import { summaryKeys, SummaryBuilder } from '../src/metrics/summary.ts';
import { TASKS, taskMetrics } from '../src/tasks/kinds/registry.ts';
import { runTraining } from '../src/train/run.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-summary-'));
const INFO = ['state', 'flops_formula', 'backend', 'eval_protocol', 'state_bytes_at'];

/** The smallest settings of each kind (every kind of the table needs one here), and the names of its extra evaluation sets. */
const TINY: Record<string, { task: string; extra?: string[] }> = {
  lm: { task: '{ kind: lm, corpus: sotu, tokenizer: byte, seq_len: 8, eval_windows: 2 }' },
  mqar: { task: '{ kind: mqar, vocab_size: 16, seq_len: 8, num_kv_pairs: 2, eval_examples: 4 }' },
  selective_copy: { task: '{ kind: selective_copy, noise_len: 4, copy_len: 2, alphabet_size: 5, eval_examples: 4 }' },
  induction: { task: '{ kind: induction, vocab_size: 6, seq_len: 6, eval_lengths: [6, 12], eval_examples: 4 }', extra: ['N=6', 'N=12'] },
  listops: {
    task: '{ kind: listops, max_depth: 2, max_args: 3, min_len: 2, max_len: 12, train_examples: 8, valid_examples: 4, test_examples: 4, data_seed: 1 }',
  },
  parity: {
    task: '{ kind: parity, train_max_len: 6, test_min_len: 7, test_max_len: 10, seq_len: 10, eval_lengths: [12], eval_examples: 4 }',
    extra: ['n=12'],
  },
  modular_arithmetic: {
    task: '{ kind: modular_arithmetic, train_max_len: 5, test_min_len: 7, test_max_len: 9, seq_len: 10, eval_lengths: [11], eval_examples: 4 }',
    extra: ['n=11'],
  },
};

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('summary.json keys come from the registries', () => {
  it('every task kind of the table has a tiny setting here', () => {
    expect(Object.keys(TINY).sort()).toEqual(TASKS.map((t) => t.kind).sort());
  });

  for (const { kind } of TASKS) {
    it(`${kind}: a tiny run writes exactly summaryKeys(...) plus the info fields`, async () => {
      const file = path.join(tmp, `${kind}.yaml`);
      fs.writeFileSync(
        file,
        [
          `task: ${TINY[kind]!.task}`,
          'model: { preset: transformer, d_model: 8, n_layers: 1 }',
          'train: { steps: 2, batch_size: 2, timing_warmup: 1, checkpoint: false }',
          'eval: { batches: all, batch_size: 4 }',
          'bench: { prefill_lengths: [4], decode_tokens: 1, repeats: 1 }',
        ].join('\n'),
      );
      const cfg = loadPlan(file).runs[0]!.config;
      const dir = path.join(tmp, kind);
      fs.mkdirSync(dir, { recursive: true });
      const res = await runTraining(cfg, dir, { backend: 'wasm', log: () => {} });
      expect(res.state).toBe('done');
      const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
      const extraEvals = TINY[kind]!.extra ?? [];
      const want = summaryKeys({
        reports: taskMetrics(cfg.task),
        splits: cfg.eval.splits,
        timed: true,
        done: true,
        extraEvals,
        prefillLengths: [4],
      });
      expect(
        Object.keys(onDisk)
          .filter((k) => !INFO.includes(k))
          .sort(),
      ).toEqual([...want].sort());
      for (const k of want) expect(typeof onDisk[k], k).toBe('number');
      for (const k of INFO) expect(onDisk, k).toHaveProperty(k);
    });
  }
});

describe('summary.json keys with train.stop_at', () => {
  for (const [name, stop, reached] of [
    ['reached', '{ metric: valid_loss, at_most: 1e6, every: 2 }', true],
    ['missed', '{ metric: valid_accuracy, at_least: 1.01, every: 2 }', false],
  ] as const) {
    it(`target ${name}: exactly summaryKeys(...) with the stop_at metrics`, async () => {
      const file = path.join(tmp, `stop-${name}.yaml`);
      fs.writeFileSync(
        file,
        [
          `task: ${TINY.mqar!.task}`,
          'model: { preset: transformer, d_model: 8, n_layers: 1 }',
          `train: { steps: 4, batch_size: 2, timing_warmup: 1, checkpoint: false, stop_at: ${stop} }`,
          'eval: { batches: all, batch_size: 4 }',
          'bench: { enabled: false }',
        ].join('\n'),
      );
      const cfg = loadPlan(file).runs[0]!.config;
      const dir = path.join(tmp, `stop-${name}`);
      fs.mkdirSync(dir, { recursive: true });
      const res = await runTraining(cfg, dir, { backend: 'wasm', log: () => {} });
      const want = summaryKeys({
        reports: taskMetrics(cfg.task),
        splits: cfg.eval.splits,
        timed: true,
        done: true,
        stopAt: true,
        targetReached: reached,
      });
      expect(
        Object.keys(res.summary)
          .filter((k) => !INFO.includes(k))
          .sort(),
      ).toEqual([...want].sort());
    });
  }
});

describe('SummaryBuilder', () => {
  it('writes only the metrics the task reports; the plain accuracy is the last split evaluated', () => {
    const b = new SummaryBuilder({ state: 'done', flops_formula: 'f', backend: 'cpu' }, ['loss', 'accuracy']);
    b.split('valid', { loss: 1, accuracy: 0.5, bpb: 9, exact_match: 0.25 });
    b.split('test', { loss: 2, accuracy: 0.75 });
    b.extra('N=8', { accuracy: 0.1, exact_match: 0.2 });
    expect(b.build()).toEqual({
      state: 'done',
      flops_formula: 'f',
      backend: 'cpu',
      valid_loss: 1,
      valid_accuracy: 0.5,
      test_loss: 2,
      test_accuracy: 0.75,
      accuracy: 0.75,
      'test_accuracy@N=8': 0.1,
    });
    expect(summaryKeys({ reports: ['loss', 'accuracy'], splits: ['test'], timed: false, done: false })).not.toContain('mfu');
    expect(summaryKeys({ reports: ['loss', 'accuracy'], splits: ['test'], timed: true, done: true })).toEqual(
      expect.arrayContaining(['mfu', 'test_loss', 'accuracy', 'state_bytes_per_sequence']),
    );
    expect(summaryKeys({ reports: ['loss'], splits: ['test'], timed: true, done: true })).not.toContain('target_reached');
    const missed = summaryKeys({ reports: ['loss'], splits: ['test'], timed: true, done: true, stopAt: true });
    expect(missed).toContain('target_reached');
    expect(missed).not.toContain('steps_to_target');
    expect(summaryKeys({ reports: ['loss'], splits: ['test'], timed: true, done: true, stopAt: true, targetReached: true })).toEqual(
      expect.arrayContaining(['target_reached', 'steps_to_target', 'examples_to_target', 'tokens_to_target']),
    );
  });
});
