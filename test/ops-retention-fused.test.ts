/**
 * The fused parallel retention op (src/native/retention.ts, native/retention.c) against the
 * tensor parallel form (decay matrix, scores, product): output and the gradients for q, k, v and
 * the log-decays a, on shapes that cross block edges, with unequal key and value widths, weak and
 * strong decays (down to a = -8, where most of the decay matrix underflows), both ISAs; and
 * retentionParallel takes it exactly when it applies (no state in or out, a per head).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect, it } from 'vitest';
import { retentionParallel } from '../src/ops/retention.ts';
import { retentionFusedAvailable } from '../src/native/retention.ts';
import { describeNative, expectClose, withKernelEnv, itIsa } from './models-util.ts';

/** Output and gradients of sum(retentionParallel(q, k, v, a).o * g), fused or (SEQLAB_FUSED_RETENTION=off) tensor form. */
function run(fused: boolean, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor, g: tf.Tensor): tf.Tensor[] {
  return withKernelEnv(fused ? {} : { SEQLAB_FUSED_RETENTION: 'off' }, () => {
    const f = (q0: tf.Tensor, k0: tf.Tensor, v0: tf.Tensor, a0: tf.Tensor) => tf.sum(retentionParallel(q0, k0, v0, a0).o.mul(g));
    return [retentionParallel(q, k, v, a).o, ...tf.grads(f)([q, k, v, a])];
  });
}

describeNative('fused parallel retention', 'retentionForward', () => {
  const SHAPES: [number, number, number, number, number, number][] = [
    [2, 2, 70, 8, 12, -0.5], // a short last block, dk != dv
    [1, 3, 130, 16, 16, -0.1], // specialised widths, weak decay
    [2, 1, 129, 32, 32, -8], // strong decay: the decay matrix underflows away from the diagonal
    [1, 2, 64, 64, 64, -1], // exactly one block
    [1, 1, 1, 4, 4, -1], // one token
  ];
  for (const isa of ['avx2', 'generic'] as const) {
    for (const [B, H, T, dk, dv, aMin] of SHAPES) {
      itIsa(isa, `${isa}: [${B}, ${H}, ${T}] dk ${dk} dv ${dv}, a in [${aMin}, 0]: output and gradients equal the tensor form`, () => {
        const q = tf.randomNormal([B, H, T, dk], 0, 1, 'float32', 1),
          k = tf.randomNormal([B, H, T, dk], 0, 1, 'float32', 2);
        const v = tf.randomNormal([B, H, T, dv], 0, 1, 'float32', 3),
          g = tf.randomNormal([B, H, T, dv], 0, 1, 'float32', 4);
        const a = tf.randomUniform([B, H, T], aMin, 0, 'float32', 5);
        expect(retentionFusedAvailable(q, k, v, a)).toBe(true);
        const fused = run(true, q, k, v, a, g),
          tensor = run(false, q, k, v, a, g);
        ['o', 'dq', 'dk', 'dv', 'da'].forEach((n, i) => expectClose(fused[i], tensor[i], 2e-5, n === 'da' ? 2e-5 : 1e-5, n));
        tf.dispose([q, k, v, a, g, ...fused, ...tensor]);
      });
    }
  }

  it('not with a state to take in or hand on, nor with per-key decays: the tensor form runs', async () => {
    const q = tf.randomNormal([1, 1, 8, 4]),
      v = tf.randomNormal([1, 1, 8, 4]);
    expect(retentionFusedAvailable(q, q, v, tf.zeros([1, 1, 8, 4]))).toBe(false);
    withKernelEnv({ SEQLAB_FUSED_RETENTION: 'off' }, () => expect(retentionFusedAvailable(q, q, v, tf.zeros([1, 1, 8]))).toBe(false));
    const a = tf.fill([1, 1, 8], -0.2);
    // the kernels each call ran: the fused kernel for the plain call only, the tensor form's matmuls with a state
    const kernels = async (f: () => unknown) => (await tf.profile(() => f() as tf.TensorContainer)).kernelNames;
    expect(await kernels(() => retentionParallel(q, q, v, a).o)).toContain('SeqlabRetentionParallel');
    const tensorForm = await kernels(() => retentionParallel(q, q, v, a, { outputFinalState: true }).o);
    expect(tensorForm).not.toContain('SeqlabRetentionParallel');
    expect(tensorForm).toContain('BatchMatMul');
    const withState = retentionParallel(q, q, v, a, { outputFinalState: true });
    const plain = retentionParallel(q, q, v, a);
    expect(withState.state).toBeDefined();
    expectClose(withState.o, plain.o, 1e-5, 1e-5, 'o with and without the final state');
    tf.dispose([q, v, a, withState.o, withState.state!, plain.o]);
  });
});
