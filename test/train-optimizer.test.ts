import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, clipByGlobalNorm, decays, globalNorm, learningRate } from '../src/train/optimizer.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const C = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };

/** Hand-written PyTorch AdamW (decoupled decay) for a flat array, `steps` updates with the given grads. */
function refAdamW(p0: number[], grads: number[][], lr: number, decay: boolean): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      if (decay) p[i] *= 1 - lr * C.weight_decay;
      m[i] = C.beta1 * m[i] + (1 - C.beta1) * g[i];
      v[i] = C.beta2 * v[i] + (1 - C.beta2) * g[i] * g[i];
      const mh = m[i] / (1 - C.beta1 ** t);
      const vh = v[i] / (1 - C.beta2 ** t);
      p[i] -= (lr * mh) / (Math.sqrt(vh) + C.eps);
    }
  });
  return p;
}

describe('AdamW', () => {
  it('two steps equal the hand-computed decoupled-decay update (matrix decays, gain does not)', () => {
    const before = tf.memory().numTensors;
    const w0 = [0.5, -1.0, 2.0, 0.25];
    const g0 = [0.1, -0.2, 0.3, 0.0];
    const g1 = [-0.05, 0.4, 0.1, 1.0];
    const weights = new Map<string, tf.Variable>([
      ['layers.0.mixer.w_q', tf.tidy(() => tf.variable(tf.tensor2d(w0, [2, 2])))],
      ['layers.0.norm1.weight', tf.tidy(() => tf.variable(tf.tensor1d(w0)))],
    ]);
    const opt = new AdamW(weights, C);
    const lr = 0.01;
    for (const g of [g0, g1]) {
      const grads = new Map<string, tf.Tensor>([
        ['layers.0.mixer.w_q', tf.tensor2d(g, [2, 2])],
        ['layers.0.norm1.weight', tf.tensor1d(g)],
      ]);
      opt.apply(grads, lr);
      grads.forEach((t) => t.dispose());
    }
    const gotW = Array.from(weights.get('layers.0.mixer.w_q')!.dataSync());
    const gotN = Array.from(weights.get('layers.0.norm1.weight')!.dataSync());
    const wantW = refAdamW(w0, [g0, g1], lr, true);
    const wantN = refAdamW(w0, [g0, g1], lr, false);
    gotW.forEach((x, i) => expect(x).toBeCloseTo(wantW[i], 6));
    gotN.forEach((x, i) => expect(x).toBeCloseTo(wantN[i], 6));
    // The decayed and undecayed copies must actually differ (decay is applied to one only).
    expect(Math.abs(gotW[2] - gotN[2])).toBeGreaterThan(1e-5);
    opt.dispose();
    weights.forEach((v) => v.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('no weight decay on norms, biases, gains, A_log, D and dt bias; decay on matrices and the embedding', () => {
    const noDecay: [string, number[]][] = [
      ['layers.0.norm1.weight', [8]],
      ['norm_f.weight', [8]],
      ['layers.1.mixer.A_log', [16, 4]],
      ['layers.1.mixer.D', [16]],
      ['layers.1.mixer.dt_bias', [16]],
      ['layers.1.mixer.w_dt.bias', [16]],
      ['layers.2.mixer.head_norm.weight', [4, 8]],
      ['layers.0.mixer.branch_norms.0.weight', [8]],
      ['layers.0.mixer.b_lam', [2]],
      ['layers.0.ffn.w_up.b', [32]],
      ['layers.3.ln_1.weight', [8]],
      ['layers.0.mixer.gain', [8]],
      // src/models/model.ts naming
      ['layers.0.norm1.w', [8]],
      ['norm_f.w', [8]],
      ['layers.1.mixer.b_dt', [16]],
      ['layers.1.mixer.conv_b', [16]],
      ['layers.1.mixer.dt_norm.w', [4]],
      ['layers.0.mixer.norms.1.w', [8]],
      ['layers.0.mixer.alpha', [2]],
      ['layers.0.mixer.branches.1.A_log', [16, 4]],
    ];
    const decay: [string, number[]][] = [
      ['embedding.weight', [257, 8]],
      ['layers.0.mixer.w_q', [8, 8]],
      ['layers.1.mixer.conv.weight', [4, 16]],
      ['layers.1.mixer.w_x', [16, 9]],
      ['layers.0.ffn.w_down', [32, 8]],
      ['layers.0.mixer.w_dt', [1, 16]],
      ['embed', [257, 8]],
      ['head', [8, 257]],
      ['pos', [64, 8]],
      ['layers.1.mixer.conv_w', [16, 4]],
      ['layers.0.ffn.w1', [8, 32]],
      ['layers.0.mixer.w_lam', [8, 2]],
    ];
    for (const [n, s] of noDecay) expect(decays(n, s), n).toBe(false);
    for (const [n, s] of decay) expect(decays(n, s), n).toBe(true);
  });
});

describe('learning-rate schedule', () => {
  const base = { lr: 1e-2, min_lr_ratio: 0.1, warmup: 10, steps: 110 };
  it('warmup is linear up to lr at the last warmup step', () => {
    const c = { ...base, schedule: 'cosine' as const };
    expect(learningRate(c, 0)).toBeCloseTo(1e-3, 12);
    expect(learningRate(c, 4)).toBeCloseTo(5e-3, 12);
    expect(learningRate(c, 9)).toBeCloseTo(1e-2, 12);
  });
  it('cosine: lr right after warmup, midpoint (lr + min)/2, min_lr at the last step', () => {
    const c = { ...base, schedule: 'cosine' as const };
    expect(learningRate(c, 10)).toBeCloseTo(1e-2, 12);
    expect(learningRate(c, 59.5)).toBeCloseTo(5.5e-3, 12);
    expect(learningRate(c, 109)).toBeCloseTo(1e-3, 12);
    // Monotone after warmup.
    for (let s = 11; s < 110; s++) expect(learningRate(c, s)).toBeLessThan(learningRate(c, s - 1));
  });
  it('linear: straight line from lr to min_lr; constant stays at lr', () => {
    const l = { ...base, schedule: 'linear' as const };
    expect(learningRate(l, 10 + 99 / 4)).toBeCloseTo(1e-2 - 0.25 * 9e-3, 12);
    expect(learningRate(l, 109)).toBeCloseTo(1e-3, 12);
    const k = { ...base, schedule: 'constant' as const };
    expect(learningRate(k, 50)).toBe(1e-2);
    expect(learningRate(k, 109)).toBe(1e-2);
  });
});

describe('gradient clipping by global norm', () => {
  it('scales the global norm down to clip, keeps directions; leaves small gradients alone; clip 0 = off', () => {
    const before = tf.memory().numTensors;
    const gs = [tf.tensor1d([3, 4]), tf.tensor2d([[0, 12]], [1, 2])]; // global norm 13
    const big = clipByGlobalNorm(gs, 1.0);
    expect(big.norm.dataSync()[0]).toBeCloseTo(13, 5);
    const n = globalNorm(big.grads);
    expect(n.dataSync()[0]).toBeCloseTo(1.0, 5);
    expect(Array.from(big.grads[0].dataSync())).toEqual([expect.closeTo(3 / 13, 5), expect.closeTo(4 / 13, 5)]);
    const small = clipByGlobalNorm(gs, 100);
    expect(Array.from(small.grads[1].dataSync())).toEqual([0, 12]);
    const off = clipByGlobalNorm(gs, 0);
    expect(Array.from(off.grads[0].dataSync())).toEqual([3, 4]);
    for (const t of [...gs, ...big.grads, big.norm, n, ...small.grads, small.norm, ...off.grads, off.norm]) t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
