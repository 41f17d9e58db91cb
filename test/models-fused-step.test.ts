/**
 * The fused native decode step (src/models/fused-step.ts, native/decode.c): for every mixer variant
 * it covers, with every norm and FFN kind, decoding through it equals the tensor step
 * (SEQLAB_FUSED_DECODE=off) and the full forward (T11 prefill + decode, T12 decode from empty),
 * states included; it really runs (one kernel per layer); a variant it lacks falls back.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseCrossEntropy } from '../src/backend/compat.ts';
import { installMatmulKernels } from '../src/native/matmul.ts';
import { loadNativeAddon } from '../src/native/addon.ts';
import { DEFAULT_ADDON_PATH } from '../src/native/config.ts';
import { selectBackend } from '../src/backend/select.ts';
import { buildModel } from '../src/models/model.ts';
import { resolveModelInput } from '../src/models/spec.ts';
import type { DecodeState } from '../src/models/types.ts';
import { expectClose, tokens, withKernelEnv } from './models-util.ts';

const native = loadNativeAddon(DEFAULT_ADDON_PATH);
const hasStep = typeof (native.addon as unknown as Record<string, unknown> | undefined)?.blockStep === 'function';
const [V, B, T, PREFIX] = [13, 2, 10, 4];

/** A 2-layer d-16 model of `preset` with model- and mixer-level overrides. */
function model(preset: string, extra: Record<string, unknown>, mixer: Record<string, unknown>) {
  const cfg = resolveModelInput({ preset, d_model: 16, n_layers: 2, ...extra, ...(Object.keys(mixer).length ? { mixer } : {}) } as never, {
    vocabSize: V,
    seqLen: 16,
  });
  return buildModel(cfg, 5);
}

/** The engine's tensor id counter (one more per call): tensors a step makes, a proxy for its kernels. */
const tensorsMade = () => (tf.engine() as unknown as { nextTensorId(): number }).nextTensorId();

/** Logits [B, T - prefix, V] of decoding ids after a prefill of `prefix` tokens, and the final state's values. */
function decode(
  m: ReturnType<typeof buildModel>,
  ids: tf.Tensor2D,
  prefix: number,
): { logits: Float32Array; state: Float32Array[]; kernels: number } {
  let state: DecodeState;
  if (prefix > 0) {
    const prompt = ids.slice([0, 0], [B, prefix]) as tf.Tensor2D;
    const p = m.prefill(prompt);
    tf.dispose([prompt, p.logits]);
    state = p.state;
  } else state = m.emptyState(B);
  const outs: tf.Tensor[] = [];
  let kernels = 0;
  for (let t = prefix; t < T; t++) {
    const tok = tf.tidy(() => ids.slice([0, t], [B, 1]).reshape([B])) as tf.Tensor1D;
    const before = tensorsMade();
    const r = m.step(tok, state);
    kernels = Math.max(kernels, tensorsMade() - before - 1);
    m.disposeState(state);
    tok.dispose();
    state = r.state;
    outs.push(r.logits.expandDims(1));
    r.logits.dispose();
  }
  const logits = tf.concat(outs, 1);
  const out = {
    logits: logits.dataSync() as Float32Array,
    state: state.layers.flatMap((l) =>
      Object.keys(l)
        .sort()
        .map((k) => l[k].dataSync() as Float32Array),
    ),
    kernels,
  };
  tf.dispose([logits, ...outs]);
  m.disposeState(state);
  return out;
}

function close(a: Float32Array, b: Float32Array, what: string, tol = 2e-5): void {
  expectClose(tf.tensor(a), tf.tensor(b), tol, tol, what);
}

const CASES: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ['retnet', {}, {}],
  ['retnet', { norm: 'layer', ffn: 'gelu', ffn_hidden: 24 }, { head_norm: 'layer', ret_scale: 'decaySqrt' }],
  ['retnet', { ffn: 'swiglu', ffn_hidden: 20, ffn_bias: true }, { rope_freqs: 'standard' }],
  ['selret', {}, {}],
  ['selret', { norm: 'layer', ffn: 'gelu', ffn_hidden: 32 }, { write: 'sigmoid', a_min: -0.5 }],
  ['selret', { ffn: 'none' }, { decay: 'fixed', write: 'complement', rope: false, ret_scale: 'decaySqrt' }],
  ['selret', {}, { decay: 'mamba', decay_init: 'mamba', write: 'none' }],
  ['mamba', {}, {}],
  ['transformer', {}, {}],
  ['transformer', { norm: 'rms', ffn: 'swiglu', ffn_hidden: 20, ffn_bias: true }, { bias: true, rope: false }],
  ['samba', {}, { window: 3 }],
  ['mambaformer', {}, {}],
  ['mamba', { norm: 'layer', ffn: 'gelu', ffn_hidden: 32 }, { inner_norms: true, bias: true, conv_bias: false }],
];

for (const backend of ['wasm', 'cpu'] as const) {
  describe.skipIf(!hasStep)(
    `fused decode step on ${backend}${hasStep ? '' : ` (SKIPPED: ${native.reason || 'addon without blockStep'})`}`,
    () => {
      beforeAll(async () => {
        await selectBackend(backend);
        await installMatmulKernels({ threads: 2, log: () => {} });
      });

      for (const [preset, extra, mixer] of CASES) {
        it(`${preset} ${JSON.stringify(extra)} ${JSON.stringify(mixer)}: decode equals the tensor step and the forward`, () => {
          const ids = tokens(B, T, V, 7);
          const m = model(preset, extra, mixer);
          const full = m.forward(ids).logits;
          const fwd = full.slice([0, PREFIX, 0], [B, T - PREFIX, V]).dataSync() as Float32Array;
          const fwd0 = full.dataSync() as Float32Array;
          const tensor = withKernelEnv({ SEQLAB_FUSED_DECODE: 'off' }, () => decode(m, ids, PREFIX));
          const fused = decode(m, ids, PREFIX);
          const fromEmpty = decode(m, ids, 0);
          // fused: per step the embedding, one kernel per layer, the head and the new state's tensors
          expect(fused.kernels).toBeLessThan(tensor.kernels / 3);
          close(fused.logits, tensor.logits, `${preset} fused vs tensor step`);
          fused.state.forEach((s, i) => close(s, tensor.state[i], `${preset} state ${i}`));
          close(fused.logits, fwd, `${preset} T11 prefill + fused decode vs forward`, 2e-4);
          close(fromEmpty.logits, fwd0, `${preset} T12 fused decode from empty vs forward`, 2e-4);
          full.dispose();
          ids.dispose();
          m.dispose();
        });
      }

      it('a mixer variant the kernel lacks (per-key decay) and SEQLAB_FUSED_DECODE=off take the tensor step, same values', () => {
        const ids = tokens(B, T, V, 8);
        const m = model('selret', {}, { granularity: 'key' });
        const a = decode(m, ids, PREFIX);
        const b = withKernelEnv({ SEQLAB_FUSED_DECODE: 'off' }, () => decode(m, ids, PREFIX));
        expect(a.kernels).toBe(b.kernels);
        close(a.logits, b.logits, 'per-key selret', 0);
        ids.dispose();
        m.dispose();
      });

      it('leaks no tensors over a decode', () => {
        const ids = tokens(B, T, V, 9);
        const m = model('mamba', {}, {});
        const before = tf.memory().numTensors;
        decode(m, ids, PREFIX);
        expect(tf.memory().numTensors).toBe(before);
        ids.dispose();
        m.dispose();
      });

      it('training steps through the fused attention, retention, norm, GELU and RoPE kernels leak no tensors', () => {
        const ids = tokens(B, T, V, 10),
          targets = tokens(B, T, V, 11);
        for (const preset of ['transformer', 'retnet', 'selret']) {
          const m = model(preset, { norm: 'layer', ffn: 'gelu', ffn_hidden: 32 }, {});
          const step = () => {
            const { value, grads } = tf.variableGrads(() => {
              const { sumLoss, count } = sparseCrossEntropy(m.forward(ids).logits.reshape([-1, V]), targets.reshape([-1]));
              return sumLoss.div(count) as tf.Scalar;
            }, [...m.weights.values()]);
            tf.dispose([value, ...Object.values(grads)]);
          };
          step();
          const before = tf.memory().numTensors;
          step();
          step();
          expect(tf.memory().numTensors, preset).toBe(before);
          m.dispose();
        }
        tf.dispose([ids, targets]);
      });
    },
  );
}
