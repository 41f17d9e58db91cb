import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { loadPlan } from '../src/config/plan.ts';
import { benchModel } from '../src/bench/models.ts';
import { median } from '../src/measure/measure.ts';
import { METRICS, metricKeys, unitOf } from '../src/metrics/names.ts';
import { taskMetrics } from '../src/tasks/kinds/registry.ts';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('metric names (docs/runner.md 5)', () => {
  it('the list holds every name of docs/runner.md section 5 with its unit', () => {
    const spec: Record<string, string> = {
      params: 'count',
      params_non_embedding: 'count',
      flops_per_token_fwd: 'FLOP',
      train_flops: 'FLOP',
      train_tokens_per_s: 'tokens/s',
      mfu: 'ratio',
      'prefill_tokens_per_s@256': 'tokens/s',
      'decode_ms_per_token@256': 'ms',
      peak_tensor_bytes: 'bytes',
      rss_peak_bytes: 'bytes',
      state_bytes_per_sequence: 'bytes',
      valid_loss: 'nats/token',
      test_loss: 'nats/token',
      valid_bpb: 'bits/byte',
      test_bpb: 'bits/byte',
      valid_ppl: '',
      test_ppl: '',
      accuracy: 'fraction',
      wall_s: 's',
    };
    for (const [k, u] of Object.entries(spec)) expect(unitOf(k), k).toBe(u);
    const lm = metricKeys({ reports: taskMetrics({ kind: 'lm' }), splits: ['valid', 'test'], prefillLengths: [256], bench: true });
    const syn = metricKeys({ reports: taskMetrics({ kind: 'mqar' }), splits: ['valid', 'test'], prefillLengths: [256], bench: true });
    for (const k of Object.keys(spec)) expect(k === 'accuracy' ? syn : lm, k).toContain(k);
    expect(lm).not.toContain('accuracy');
    expect(syn).not.toContain('valid_bpb');
    expect(metricKeys({ reports: taskMetrics({ kind: 'lm' }), splits: ['valid'], prefillLengths: [256], bench: false })).not.toContain(
      'decode_ms_per_token@256',
    );
    expect(new Set(METRICS.map((m) => m.name)).size).toBe(METRICS.length);
  });

  it('median of odd and even lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('benchModel', () => {
  it('rows per sequence length: positive throughputs, fwd+bwd holds more memory than fwd, KV cache grows with L, recurrent state does not', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-bench-'));
    const file = path.join(tmp, 'b.yaml');
    fs.writeFileSync(
      file,
      [
        'task: { kind: lm, corpus: sotu, tokenizer: byte, seq_len: 32 }',
        'model: { preset: transformer, d_model: 16, n_layers: 1 }',
        'train: { batch_size: 2 }',
        'bench: { decode_tokens: 3, repeats: 1 }',
        'sweep: { grid: { model.preset: [transformer, mamba] } }',
      ].join('\n'),
    );
    const [attn, mamba] = loadPlan(file).runs.map((r) => r.config);
    const before = tf.memory().numTensors;
    const a = await benchModel(attn, { seqLens: [8, 32] });
    const m = await benchModel(mamba, { seqLens: [8, 32], forwardOnly: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.map((r) => r.seq_len)).toEqual([8, 32]);
    for (const r of [...a, ...m]) {
      for (const k of [
        'fwd_tokens_per_s',
        'prefill_tokens_per_s',
        'decode_ms_per_token',
        'fwd_peak_bytes',
        'state_bytes_per_sequence',
      ] as const) {
        expect(Number.isFinite(r[k]) && r[k] > 0, `${r.preset} ${k}`).toBe(true);
      }
    }
    for (const r of a) {
      // Timings are figures, not assertions (at these tiny shapes a loaded machine can invert them):
      // the backward pass shows in the memory it holds, which does not depend on the load.
      expect(Number.isFinite(r.fwd_bwd_tokens_per_s) && r.fwd_bwd_tokens_per_s! > 0).toBe(true);
      expect(r.fwd_bwd_peak_bytes!).toBeGreaterThan(r.fwd_peak_bytes);
      expect(r.state_bytes_per_sequence).toBe(4 * 2 * r.seq_len * 16); // K and V, one layer
    }
    expect(m[0].fwd_bwd_tokens_per_s).toBeUndefined();
    expect(m[1].state_bytes_per_sequence).toBe(m[0].state_bytes_per_sequence);
  });
});

describe('withPeakBytes', () => {
  it('sees a transient allocation that is freed before the function returns, and restores the counter', async () => {
    const { withPeakBytes } = await import('../src/measure/measure.ts');
    const tfm = await import('@tensorflow/tfjs');
    const before = tfm.memory().numBytes;
    const { result, peakBytes } = await withPeakBytes(() =>
      tfm.tidy(() => {
        const big = tfm.ones([1000, 1000]); // 4 MB, gone after the tidy
        return tfm.sum(big);
      }),
    );
    expect(peakBytes - before).toBeGreaterThanOrEqual(4e6);
    expect(tfm.memory().numBytes).toBe(before + 4);
    result.dispose();
    expect(tfm.memory().numBytes).toBe(before);
    const t = tfm.zeros([10]);
    expect(tfm.memory().numBytes).toBe(before + 40); // the counter is a plain property again
    t.dispose();
  });
});
