/**
 * Blocked attention (src/ops/attention-blocked.ts) == dense masked softmax attention, values and
 * gradients w.r.t. q, k, v, for causal, sliding-window and key-masked (stateSkip) masks, blocks that
 * do not divide T; and its backward keeps no [Tq, Tk] tensor per block beyond one.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockedAttention } from '../src/ops/attention-blocked.ts';
import { NEG } from '../src/ops/mask.ts';
import { withPeakBytes } from '../src/measure/measure.ts';
import { assertClose, randn, rng, t, tidyData } from './oracle/util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function dense(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, allowed: tf.Tensor): tf.Tensor {
  const dh = q.shape[3]!;
  let S = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(dh));
  S = S.mul(allowed).add(tf.sub(1, allowed).mul(NEG));
  return tf.matMul(tf.softmax(S, -1), v);
}

function mask(T: number, window: number, keep?: number[][]): tf.Tensor {
  const m: number[] = [];
  const B = keep?.length ?? 1;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) m.push(j <= i && j > i - window && (keep ? keep[b][j] : 1) ? 1 : 0);
  return tf.tensor(m, [B, 1, T, T]);
}

describe('blocked attention', () => {
  const B = 2,
    H = 3,
    T = 13,
    dh = 4;
  const r = rng(41);
  const qv = randn(B * H * T * dh, r, 2),
    kv = randn(B * H * T * dh, r, 2),
    vv = randn(B * H * T * dh, r),
    w = randn(B * H * T * dh, r);
  const keep = [Array.from({ length: T }, (_, j) => (j % 4 === 2 ? 0 : 1)), Array.from({ length: T }, (_, j) => (j === 5 ? 0 : 1))];
  keep[0][0] = 1;
  keep[1][0] = 1;
  const cases: Array<[string, () => tf.Tensor]> = [
    ['causal', () => mask(T, Infinity)],
    ['window 4', () => mask(T, 4)],
    ['causal + key mask', () => mask(T, Infinity, keep)],
  ];
  for (const [name, m] of cases) {
    for (const block of [1, 5, 64]) {
      it(`${name}, block ${block}: values and gradients == dense`, () => {
        const shape = [B, H, T, dh];
        const run = (blocked: boolean) =>
          tidyData(() => {
            const allowed = m();
            const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
              blocked
                ? blockedAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, allowed, { block, causal: true })
                : dense(q, k, v, allowed);
            const args = [t(qv, shape), t(kv, shape), t(vv, shape)];
            const y = f(args[0], args[1], args[2]);
            const g = tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(f(q, k, v), t(w, shape))))(args);
            return [y, ...g];
          });
        const a = run(true),
          b = run(false);
        ['y', 'dq', 'dk', 'dv'].forEach((n, i) => assertClose(a[i], b[i], 1e-6, 1e-5, `${name} block ${block} ${n}`));
      });
    }
  }

  it('the gradient survives the mask being disposed after the forward (a model builds it inside its own tidy)', () => {
    const shape = [1, 2, 9, 4];
    const [q, k, v] = [t(qv.slice(0, 72), shape), t(kv.slice(0, 72), shape), t(vv.slice(0, 72), shape)];
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(
        tf.tidy(() =>
          blockedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask(9, Infinity), { block: 4, causal: true }),
        ),
      );
    const g = tf.grads(f)([q, k, v]);
    const want = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(dense(a, b, c, mask(9, Infinity))))([q, k, v]);
    g.forEach((x, i) => assertClose(x, want[i], 1e-6, 1e-5, `grad ${i}`));
    tf.dispose([q, k, v, ...g, ...want]);
  });

  it('forward + backward peak bytes grow like block * T, not T * T', async () => {
    const T2 = 256,
      shape = [1, 2, T2, 8];
    const q = tf.randomNormal(shape),
      k = tf.randomNormal(shape),
      v = tf.randomNormal(shape),
      allowed = mask(T2, Infinity);
    const peak = async (blocked: boolean) => {
      const base = tf.memory().numBytes;
      const p = await withPeakBytes(() =>
        tf.tidy(() => {
          const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.sum(
              blocked
                ? blockedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, allowed, { block: 32, causal: true })
                : dense(a, b, c, allowed),
            );
          return tf.addN(
            tf
              .grads(f)([q, k, v])
              .map((g) => tf.sum(g)),
          );
        }),
      );
      p.result.dispose();
      return p.peakBytes - base;
    };
    const full = 2 * T2 * T2 * 4; // one [B, H, T, T] float32 tensor
    const blocked = await peak(true),
      dense_ = await peak(false);
    // a block's ~a dozen [32, T] temporaries (+ the saved [T, T] mask) vs the dense form's several [T, T] ones
    expect(blocked).toBeLessThan(4 * full);
    expect(dense_).toBeGreaterThan(3 * blocked);
    tf.dispose([q, k, v, allowed]);
  });
});
