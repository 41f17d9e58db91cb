/**
 * Selective retention (docs/models.md 5.1-5.3, 5.6): the retention layer (retnet.ts) with an
 * input-dependent log-decay a_t,h <= 0 and write strength beta_t,h (folded into k), per head or per
 * key: the SelectiveDecay strategy. Initialized so the layer is RetNet at init: with decayInit
 * 'retnet', dt ~= 1 and a ~= log gamma_h.
 */
import * as tf from '@tensorflow/tfjs';
import { logSigmoid } from '../../backend/compat.ts';
import { constant, dtBias, logUniformA, normal, softplusInv, values } from '../init.ts';
import { GLA_RANK, type SelretSpec } from '../kinds/selret.ts';
import { linear, type MixerContext } from './common.ts';
import { Retention, type Decay, type DecayStrategy, type FusedDecay, type RetentionGeometry } from './retnet.ts';

type DecayKind = SelretSpec['decay'];
type WriteKind = SelretSpec['write'];

/** Selective retention's decay (5.2, 5.3): 'mamba', 'gla' or 'fixed' log-decays per head or per key, and its write gate. */
export class SelectiveDecay implements DecayStrategy {
  readonly decayKind: DecayKind;
  readonly write: WriteKind;
  readonly tau: number;
  readonly aMin: number;
  readonly perKey: boolean;
  readonly keyOptions?: DecayStrategy['keyOptions'];
  private readonly H: number;
  private readonly dk: number;
  private readonly logGammas: number[];
  private readonly w: Record<string, tf.Variable> = {};

  constructor(spec: SelretSpec, g: RetentionGeometry) {
    this.decayKind = spec.decay;
    this.write = spec.write;
    this.tau = spec.tau;
    this.aMin = spec.a_min ?? -Infinity; // a stored config (JSON) holds null for -Infinity
    this.perKey = spec.granularity === 'key';
    if (this.perKey) this.keyOptions = { intraMode: spec.intra_mode, aMin: this.aMin };
    this.H = g.H;
    this.dk = g.dk;
    this.logGammas = g.logGammas;
    const p = g.params;
    const d = g.d;
    const H = this.H;
    const half = this.dk / 2;
    const decayInit = spec.decay_init;
    // Per-head values replicated over the dk/2 rotation pairs for per-key parameters.
    const perHead = (f: (h: number) => number) =>
      this.perKey ? Array.from({ length: H * half }, (_, i) => f(Math.floor(i / half))) : this.logGammas.map((_, h) => f(h));
    const nDecay = this.perKey ? H * half : H;
    if (this.decayKind === 'mamba') {
      this.w.w_dt = p.create('w_dt', [d, H], normal(0.02));
      if (decayInit === 'mamba') {
        this.w.b_dt = p.create('b_dt', [H], dtBias(1e-3, 1e-1, 1e-4));
        this.w.A_log = p.create('A_log', this.perKey ? [H, half] : [H], logUniformA(1, 16));
      } else {
        this.w.b_dt = p.create('b_dt', [H], constant(softplusInv(1)));
        const spread = this.perKey && spec.key_decay_init === 'spread';
        const init = Array.from({ length: nDecay }, (_, i) => {
          const h = this.perKey ? Math.floor(i / half) : i;
          const j = this.perKey ? i % half : 0;
          // 'spread': pair j's rate times 4^(2j/(dk/2-1) - 1), i.e. factors 1/4..4
          const logSpread = spread && half > 1 ? ((2 * j) / (half - 1) - 1) * Math.log(4) : 0;
          return Math.log(-this.logGammas[h]) + logSpread;
        });
        this.w.A_log = p.create('A_log', this.perKey ? [H, half] : [H], values(init));
      }
    } else if (this.decayKind === 'gla') {
      // b = log(gamma^tau / (1 - gamma^tau)) so that logsigmoid(b) / tau = log gamma (5.3).
      const bInit = perHead((h) => {
        const lt = this.tau * this.logGammas[h]; // log gamma^tau
        return lt - Math.log(-Math.expm1(lt));
      });
      if (this.perKey) {
        this.w.w_a1 = p.create('w_a1', [d, GLA_RANK], normal(0.02));
        this.w.w_a2 = p.create('w_a2', [GLA_RANK, nDecay], normal(0.02));
      } else {
        this.w.w_a = p.create('w_a', [d, H], normal(0.02));
      }
      this.w.b_a = p.create('b_a', [nDecay], values(bInit));
    }
    if (this.write === 'sigmoid') {
      this.w.w_b = p.create('w_b', [d, H], normal(0.02));
      this.w.b_b = p.create('b_b', [H], constant(2));
    }
  }

  /** [B, T, X] -> [B, H, T] (X = H) or [B, H, T, dk] (X = H dk/2, pairs duplicated). */
  private toHeads(x: tf.Tensor): tf.Tensor {
    const [B, T] = x.shape;
    if (!this.perKey) return x.transpose([0, 2, 1]);
    const half = this.dk / 2;
    const h = x.reshape([B, T, this.H, half, 1]);
    return tf.concat([h, h], 4).reshape([B, T, this.H, this.dk]).transpose([0, 2, 1, 3]);
  }

  /** Per-head 'fixed' or 'mamba' decays (any write) run fused; 'gla' and per-key decays do not. */
  fused(): FusedDecay | undefined {
    if (this.perKey || this.decayKind === 'gla') return undefined;
    const decay = this.decayKind === 'mamba' ? 'mamba' : 'fixed'; // write 'dt' implies 'mamba' (resolve refuses the rest)
    const { w_dt, b_dt, A_log, w_b, b_b } = this.w;
    return { decay, write: this.write as FusedDecay['write'], aMin: this.aMin, weights: { w_dt, b_dt, A_log, w_b, b_b } };
  }

  decay(u: tf.Tensor3D): Decay {
    const [B, T] = u.shape;
    let a: tf.Tensor;
    let dt: tf.Tensor | undefined; // [B, H, T]
    if (this.decayKind === 'mamba') {
      dt = tf.softplus(linear(u, this.w.w_dt, this.w.b_dt)).transpose([0, 2, 1]); // [B, H, T]
      const rate = tf.exp(this.w.A_log); // [H] or [H, dk/2]
      if (this.perKey) {
        const r = this.toHeads(rate.reshape([1, 1, -1])).reshape([1, this.H, 1, this.dk]);
        a = dt.expandDims(-1).mul(r).neg();
      } else {
        a = dt.mul(rate.reshape([1, this.H, 1])).neg();
      }
    } else if (this.decayKind === 'gla') {
      const logits = this.perKey ? linear(linear(u, this.w.w_a1), this.w.w_a2, this.w.b_a) : linear(u, this.w.w_a, this.w.b_a);
      a = this.toHeads(logSigmoid(logits).div(this.tau));
    } else {
      const lg = tf.tensor(this.logGammas, [1, this.H, 1]);
      a = tf.broadcastTo(lg, [B, this.H, T]);
      if (this.perKey) a = tf.broadcastTo(a.expandDims(-1), [B, this.H, T, this.dk]);
    }
    if (Number.isFinite(this.aMin)) a = tf.maximum(a, this.aMin);
    let beta: tf.Tensor | undefined;
    if (this.write === 'dt') beta = dt;
    else if (this.write === 'sigmoid') beta = tf.sigmoid(linear(u, this.w.w_b, this.w.b_b)).transpose([0, 2, 1]);
    else if (this.write === 'complement') beta = tf.neg(tf.expm1(a));
    return { a, beta };
  }
}

/** The selret mixer: the retention layer with a SelectiveDecay. */
export class SelectiveRetention extends Retention {
  constructor(spec: SelretSpec, ctx: MixerContext) {
    super(spec, ctx, (g) => new SelectiveDecay(spec, g));
  }
}
