/** Initialization (docs/models.md 11) and determinism of buildModel. cpu backend. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../src/models/model.ts';
import { tinyModel } from './models-util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const stats = (v: tf.Tensor) => {
  const a = Array.from(v.dataSync());
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
  return { a, mean, std, min: Math.min(...a), max: Math.max(...a) };
};

describe('init', () => {
  it('is deterministic in the seed and differs between seeds', () => {
    const cfg = tinyModel('fusion-route', { d: 32 });
    const [a, b, c] = [buildModel(cfg, 1), buildModel(cfg, 1), buildModel(cfg, 2)];
    for (const [name, w] of a.weights) {
      expect(Array.from(b.weights.get(name)!.dataSync()), name).toEqual(Array.from(w.dataSync()));
    }
    expect(Array.from(c.weights.get('embed')!.dataSync())).not.toEqual(Array.from(a.weights.get('embed')!.dataSync()));
    for (const m of [a, b, c]) m.dispose();
  });

  it('transformer: N(0, 0.02) projections, residual outputs 0.02 / sqrt(2 nL), norms 1', () => {
    const cfg = tinyModel('transformer', { d: 64, vocab: 500 });
    const m = buildModel(cfg, 3);
    const W = (n: string) => stats(m.weights.get(n)!);
    expect(W('embed').std).toBeCloseTo(0.02, 2);
    expect(W('layers.0.mixer.w_q').std).toBeCloseTo(0.02, 2);
    expect(W('layers.1.ffn.w1').std).toBeCloseTo(0.02, 2);
    expect(W('layers.0.mixer.w_o').std).toBeCloseTo(0.02 / Math.sqrt(4), 2);
    expect(W('layers.1.ffn.w2').std).toBeCloseTo(0.02 / Math.sqrt(4), 2);
    expect(W('norm_f.w').a.every((x) => x === 1)).toBe(true);
    m.dispose();
  });

  it('retnet/selret: Xavier gains 2^-2.5 and 2^-1, RetNet decays at init (dt = 1, a = log gamma_h)', () => {
    const d = 32;
    const cfg = tinyModel('selret', { d });
    const m = buildModel(cfg, 4);
    const spec = cfg.layers[0]!.mixer as unknown as { heads: number; dqk: number; dvt: number };
    const W = (n: string) => stats(m.weights.get(`layers.0.mixer.${n}`)!);
    const bq = 2 ** -2.5 * Math.sqrt(6 / (d + spec.dqk));
    expect(W('w_q').max).toBeLessThanOrEqual(bq);
    expect(W('w_q').max).toBeGreaterThan(0.9 * bq);
    const bo = 0.5 * Math.sqrt(6 / (spec.dvt + d));
    expect(W('w_o').max).toBeLessThanOrEqual(bo);
    expect(W('w_o').max).toBeGreaterThan(0.9 * bo);
    const bdt = W('b_dt').a;
    for (const b of bdt) expect(Math.log1p(Math.exp(b))).toBeCloseTo(1, 6); // softplus(b_dt) = 1
    W('A_log').a.forEach((x, h) => expect(-Math.exp(x)).toBeCloseTo(Math.log1p(-(2 ** (-5 - h))), 6));
    expect(W('w_dt').std).toBeCloseTo(0.02, 2);
    m.dispose();
  });

  it('mamba: S4D-real A_log, D = 1, dt in [dt_min, dt_max], W_out / sqrt(nL)', () => {
    const d = 32;
    const cfg = tinyModel('mamba', { d, mixer: { d_state: 16 } });
    const m = buildModel(cfg, 5);
    const W = (n: string) => stats(m.weights.get(`layers.0.mixer.${n}`)!);
    const N = 16;
    W('A_log').a.forEach((x, i) => expect(x).toBeCloseTo(Math.log((i % N) + 1), 6));
    expect(W('D').a.every((x) => x === 1)).toBe(true);
    for (const b of W('b_dt').a) {
      const dt = Math.log1p(Math.exp(b));
      expect(dt).toBeGreaterThanOrEqual(1e-3 * 0.999);
      expect(dt).toBeLessThanOrEqual(0.1 * 1.001);
    }
    const din = 2 * d;
    const bound = 1 / Math.sqrt(din) / Math.sqrt(1 * 2); // nRes 1 (no FFN), nL 2
    expect(W('w_out').max).toBeLessThanOrEqual(bound);
    expect(W('w_out').max).toBeGreaterThan(0.9 * bound);
    expect(W('conv_w').max).toBeLessThanOrEqual(0.5); // U(+-1/sqrt(K)), K = 4
    m.dispose();
  });

  it('routers and merge gates start at zero, branch norms at one', () => {
    const m1 = buildModel(tinyModel('fusion-route'), 6);
    expect(stats(m1.weights.get('layers.0.mixer.w_r')!).a.every((x) => x === 0)).toBe(true);
    const m2 = buildModel(tinyModel('fusion-par'), 6);
    expect(stats(m2.weights.get('layers.0.mixer.w_lam')!).a.every((x) => x === 0)).toBe(true);
    expect(stats(m2.weights.get('layers.0.mixer.norms.1.w')!).a.every((x) => x === 1)).toBe(true);
    m1.dispose();
    m2.dispose();
  });
});
