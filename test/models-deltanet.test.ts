/**
 * DeltaNet as a mixer kind (the T-series checks of the other kinds): causality, decode ==
 * forward in every form (from empty and after a prefill), gradients that agree between forms,
 * weights == the parameter formula, decode-state size, FLOPs, resolution, and the registry.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { mixerFlops, mixerParams, mixerStateFloats, MIXER_KINDS, resolveMixer, mixerSchemas } from '../src/models/kinds/registry.ts';
import { layerSchema } from '../src/models/layer.ts';
import { resolveModelInput } from '../src/models/spec.ts';
import { decodeAll, expectClose, makeMixer, mixerSpec } from './models-util.ts';
import { deltanetLayerOracle, type DeltanetWeights } from './oracle/deltanet-layer.ts';
import { maxErr, randn, rng } from './oracle/util.ts';

const d = 16;
const T = 11;
const B = 2;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const spec = (f: Record<string, unknown> = {}, Tctx = T) => mixerSpec('deltanet', { heads: 2, ...f }, d, Tctx);
const input = (seed = 5) => tf.randomNormal([B, T, d], 0, 1, 'float32', seed) as tf.Tensor3D;
const FORMS = [{ form: 'parallel' }, { form: 'chunk', chunk: 4 }, { form: 'chunk', chunk: 3 }, { form: 'recurrent' }];

describe('deltanet mixer', () => {
  it('is registered: a kind of the layer schema, resolved with its defaults', () => {
    expect(MIXER_KINDS).toContain('deltanet');
    expect(layerSchema.safeParse({ mixer: { kind: 'deltanet', heads: 2 } }).success).toBe(true);
    const m = resolveMixer(mixerSchemas.deltanet.parse({ kind: 'deltanet' }), 64, 256, 'test');
    expect(m).toMatchObject({ kind: 'deltanet', heads: 4, dqk: 64, dvt: 64, form: 'chunk', chunk: 16, head_norm_eps: 1e-6 });
    expect(resolveMixer(mixerSchemas.deltanet.parse({ kind: 'deltanet', form: 'auto' }), 64, 256, 'test')).toMatchObject({
      form: 'parallel',
    });
    let err: unknown;
    try {
      resolveModelInput(
        { d_model: 30, pattern: { type: 'uniform', layer: { mixer: { kind: 'deltanet', heads: 4 } } } },
        { vocabSize: 5, seqLen: 8 },
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/^model\.d_model: d_model 30 is not divisible by heads 4 of the deltanet mixer/);
  });

  for (const f of FORMS) {
    it(`${JSON.stringify(f)}: causal; decode (empty and after a 4-token prefill) and prefill == forward`, () => {
      const { mixer, store } = makeMixer(spec(f), d, T, 2);
      tf.tidy(() => {
        const u = input();
        const y = mixer.forward(u).y;
        const u2 = tf.concat([u.slice([0, 0, 0], [B, 6, d]), u.slice([0, 6, 0], [B, T - 6, d]).mul(-3)], 1) as tf.Tensor3D;
        expectClose(mixer.forward(u2).y.slice([0, 0, 0], [B, 6, d]), y.slice([0, 0, 0], [B, 6, d]), 1e-6, 1e-5, 'causal');
        expect(tf.max(tf.abs(tf.sub(mixer.forward(u2).y, y))).dataSync()[0]).toBeGreaterThan(1e-4); // the tail does change
        expectClose(decodeAll(mixer, u), y, 2e-5, 1e-4, 'decode from empty');
        expectClose(decodeAll(mixer, u, 4), y, 2e-5, 1e-4, 'prefill 4 + decode');
        expectClose(mixer.prefill(u).y, y, 2e-5, 1e-4, 'prefill');
      });
      for (const v of store.weights.values()) v.dispose();
    });
  }

  it('every form has the same gradients w.r.t. every weight (rel 1e-3)', () => {
    const g = (f: Record<string, unknown>) => {
      const { mixer, store } = makeMixer(spec(f), d, T, 4);
      const u = input(8);
      const w = tf.randomNormal([B, T, d], 0, 1, 'float32', 9);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mixer.forward(u).y, w)) as tf.Scalar, [...store.weights.values()]);
      const nameOf = new Map([...store.weights].map(([n, v]) => [v.name, n]));
      const out = new Map(Object.entries(grads).map(([k, t]) => [nameOf.get(k)!, t.dataSync().slice()]));
      tf.dispose([value, u, w, ...Object.values(grads), ...store.weights.values()]);
      return out;
    };
    const ref = g({ form: 'recurrent' });
    expect(ref.size).toBe(5);
    for (const f of FORMS.slice(0, 3)) {
      const other = g(f);
      for (const [name, r] of ref) {
        const o = other.get(name)!;
        const mx = Math.max(...r.map(Math.abs));
        expect(mx, name).toBeGreaterThan(0);
        const dev = Math.max(...r.map((x, i) => Math.abs(x - o[i]!)));
        expect(dev / mx, `${JSON.stringify(f)} ${name}`).toBeLessThan(1e-3);
      }
    }
  });

  it('equals the float64 oracle of docs/models.md 16.1 (q scaled by d_k^-1/2) in value and gradient; without the scale it does not', () => {
    const s = spec({ form: 'chunk', chunk: 4 });
    const { mixer, store } = makeMixer(s, d, T, 3);
    const names = ['w_q', 'w_k', 'w_v', 'w_beta', 'w_o'] as const;
    const vars = names.map((n) => store.weights.get(`m.${n}`)!);
    const w0 = Object.fromEntries(names.map((n, i) => [n, Float64Array.from(vars[i]!.dataSync())])) as unknown as Record<
      (typeof names)[number],
      Float64Array
    >;
    const r = rng(11);
    const uData = randn(B * T * d, r);
    const cData = randn(B * T * d, r); // loss = sum(y * c)
    const dims = { B, T, d, H: 2, dqk: d, dvt: d, headNormEps: (s as { head_norm_eps: number }).head_norm_eps };
    const u = tf.tensor3d(Float32Array.from(uData), [B, T, d]);
    const c = tf.tensor3d(Float32Array.from(cData), [B, T, d]);
    const y = mixer.forward(u).y;
    const yRef = deltanetLayerOracle(uData, w0 as DeltanetWeights, dims);
    const { err, scale } = maxErr(y.dataSync(), yRef);
    expect(err / scale, 'value vs oracle').toBeLessThan(2e-5);
    // The finding this test guards: the scale does not cancel (the per-head RMS norm's eps is active).
    const { err: errNoScale } = maxErr(deltanetLayerOracle(uData, w0 as DeltanetWeights, { ...dims, qScale: 1 }), yRef);
    expect(errNoScale / scale, 'unscaled q is another function').toBeGreaterThan(1e-2);

    // Gradients: <dL/dW, R> against a central difference of the float64 oracle along R, per weight.
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mixer.forward(u).y, c)) as tf.Scalar, vars);
    const loss = (w: Record<string, Float64Array>) =>
      deltanetLayerOracle(uData, w as unknown as DeltanetWeights, dims).reduce((a, yi, i) => a + yi * cData[i]!, 0);
    const h = 1e-4;
    names.forEach((n, i) => {
      const g = Float64Array.from(grads[vars[i]!.name]!.dataSync());
      const R = randn(g.length, rng(100 + i));
      const along = (sign: number) => loss({ ...w0, [n]: w0[n].map((x, j) => x + sign * h * R[j]!) });
      const fd = (along(1) - along(-1)) / (2 * h);
      const an = g.reduce((a, gj, j) => a + gj * R[j]!, 0);
      expect(Math.abs(an - fd) / Math.max(Math.abs(fd), 1e-8), `d/d${n}`).toBeLessThan(1e-3);
    });
    tf.dispose([u, c, y, value, ...Object.values(grads), ...store.weights.values()]);
  });

  it('weights == the parameter formula (also width-scaled in a parallel branch); state floats == the decode state', () => {
    for (const s of [spec(), spec({ dqk: 8, dvt: 12 })]) {
      const { mixer, store } = makeMixer(s, d, T, 1);
      expect([...store.weights.keys()].sort()).toEqual(['m.w_beta', 'm.w_k', 'm.w_o', 'm.w_q', 'm.w_v']);
      const n = [...store.weights.values()].reduce((a, v) => a + v.size, 0);
      expect(n).toBe(mixerParams(s, d));
      const st = mixer.emptyState(1);
      expect(Object.values(st).reduce((a, t) => a + t.size, 0)).toBe(mixerStateFloats(s, 100));
      tf.dispose([...Object.values(st), ...store.weights.values()]);
    }
    const m = resolveModelInput(
      {
        d_model: 32,
        n_layers: 1,
        pattern: { type: 'uniform', layer: { mixer: { kind: 'parallel', branches: [{ kind: 'deltanet' }, { kind: 'attn' }] } } },
      },
      { vocabSize: 5, seqLen: 8 },
    );
    const p = m.layers[0]!.mixer;
    if (p.kind !== 'parallel') throw new Error('expected parallel');
    expect(p.branches[0]).toMatchObject({ kind: 'deltanet', heads: 2, dqk: 16, dvt: 16 });
  });

  it('FLOPs per token (d 256, H 4, T 256): recurrent 6 dqk dvt / H over the projections; chunk adds the UT transform', () => {
    const at = (f: Record<string, unknown>) => mixerFlops(mixerSpec('deltanet', f, 256, 256), 256, 256);
    const proj = 4 * 256 * 256 + 4 * 256 * 256 + 2 * 256 * 4; // Wq Wk (4 d dqk), Wv Wo (4 d dvt), W_beta
    expect(at({ form: 'recurrent' })).toBe(proj + (6 * 256 * 256) / 4);
    // C 64: 6 C dqk + 4 C dvt + 6 dqk dvt / H + 4 H C^2 (log2 C - 1)
    expect(at({ form: 'chunk', chunk: 64 })).toBe(proj + 6 * 64 * 256 + 4 * 64 * 256 + (6 * 256 * 256) / 4 + 4 * 4 * 64 * 64 * 5);
    expect(at({ form: 'chunk', chunk: 64 })).toBe(1_116_160);
    expect(at({ form: 'parallel' })).toBeGreaterThan(at({ form: 'chunk', chunk: 64 }));
  });
});
