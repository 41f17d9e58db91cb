/**
 * Exact softmax attention over query blocks with a recomputing backward (the memory schedule of
 * FlashAttention, Dao et al. 2022, in tensor ops): o = softmax(q k^T / sqrt(dh) masked) v.
 * q [B, H, Tq, dh], k and v [B, H, Tk, dh], allowed 0/1 broadcastable to [B, H, Tq, Tk].
 *
 * The forward keeps only o and the row log-sum-exp (lse [B, H, Tq, 1]); the backward recomputes
 * each block's probabilities P = exp(S - lse) and forms dV += P^T dO, dS = P (dO v^T - rowsum(dO o)),
 * dq = dS k / sqrt(dh), dk += dS^T q / sqrt(dh). Live memory is O(block * Tk) per (B, H) instead of
 * O(Tq * Tk). With `causal`, block [i0, i1) reads keys [0, i1) only (the rest are masked anyway).
 * Masked logits become NEG before the exp (rule N2), exactly as in the dense form.
 */
import * as tf from '@tensorflow/tfjs';
import { NEG } from './mask.ts';

export interface BlockedOpts {
  /** query rows per block */
  block: number;
  /** key s > query t is always masked: block [i0, i1) reads keys [0, i1) */
  causal: boolean;
}

/** Scaled, masked logits of query rows [i0, i1) against keys [0, kEnd). */
function logits(
  q: tf.Tensor,
  k: tf.Tensor,
  allowed: tf.Tensor | undefined,
  i0: number,
  i1: number,
  kEnd: number,
): { S: tf.Tensor; a?: tf.Tensor } {
  const [B, H, , dh] = q.shape;
  const qb = q.slice([0, 0, i0, 0], [B, H, i1 - i0, dh]);
  const kb = k.slice([0, 0, 0, 0], [B, H, kEnd, dh]);
  let S = tf
    .matMul(qb.reshape([B * H, i1 - i0, dh]), kb.reshape([B * H, kEnd, dh]), false, true)
    .reshape([B, H, i1 - i0, kEnd])
    .mul(1 / Math.sqrt(dh));
  let a: tf.Tensor | undefined;
  if (allowed) {
    const s = allowed.shape;
    a = allowed.slice([0, 0, s[2] === 1 ? 0 : i0, 0], [s[0]!, s[1]!, s[2] === 1 ? 1 : i1 - i0, kEnd]);
    S = S.mul(a).add(tf.sub(1, a).mul(NEG));
  }
  return { S, a };
}

export function blockedAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  allowed: tf.Tensor | undefined,
  opts: BlockedOpts,
): tf.Tensor4D {
  const [B, H, Tq, dh] = q.shape;
  const Tk = k.shape[2];
  const C = Math.max(1, Math.min(opts.block, Tq));
  const blocks: Array<[number, number, number]> = [];
  for (let i0 = 0; i0 < Tq; i0 += C) {
    const i1 = Math.min(Tq, i0 + C);
    // causal: query t sees keys s <= t + (Tk - Tq) (the prompt's keys come first)
    blocks.push([i0, i1, opts.causal ? Math.min(Tk, i1 + Tk - Tq) : Tk]);
  }
  const op = tf.customGrad(((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
    const os: tf.Tensor[] = [];
    const lses: tf.Tensor[] = [];
    for (const [i0, i1, kEnd] of blocks) {
      tf.tidy(() => {
        const { S } = logits(qq, kk, allowed, i0, i1, kEnd);
        const m = tf.max(S, -1, true);
        const P = tf.exp(S.sub(m));
        const l = tf.sum(P, -1, true);
        const vb = vv.slice([0, 0, 0, 0], [B, H, kEnd, dh]);
        const o = tf
          .matMul(P.reshape([B * H, i1 - i0, kEnd]), vb.reshape([B * H, kEnd, dh]))
          .reshape([B, H, i1 - i0, dh])
          .div(l);
        os.push(tf.keep(o));
        lses.push(tf.keep(m.add(tf.log(l))));
      });
    }
    const o = os.length === 1 ? os[0] : tf.concat(os, 2);
    const lse = lses.length === 1 ? lses[0] : tf.concat(lses, 2);
    if (os.length > 1) tf.dispose([...os, ...lses]);
    // the mask too: it may be disposed (end of the caller's tidy) before the backward runs
    save(allowed ? [qq, kk, vv, o, lse, allowed] : [qq, kk, vv, o, lse]);
    return {
      value: o,
      gradFunc: (dO: tf.Tensor, [q0, k0, v0, o0, lse0, mask0]: tf.Tensor[]) => {
        const dq: tf.Tensor[] = [];
        let dk: tf.Tensor = tf.zeros([B, H, Tk, dh]);
        let dv: tf.Tensor = tf.zeros([B, H, Tk, dh]);
        const scale = 1 / Math.sqrt(dh);
        for (const [i0, i1, kEnd] of blocks) {
          const c = i1 - i0;
          const [dqb, dkNew, dvNew] = tf.tidy(() => {
            const { S, a } = logits(q0, k0, mask0, i0, i1, kEnd);
            const P = tf.exp(S.sub(lse0.slice([0, 0, i0, 0], [B, H, c, 1]))); // [B, H, c, kEnd]
            const dOb = dO.slice([0, 0, i0, 0], [B, H, c, dh]);
            const ob = o0.slice([0, 0, i0, 0], [B, H, c, dh]);
            const vb = v0.slice([0, 0, 0, 0], [B, H, kEnd, dh]);
            const kb = k0.slice([0, 0, 0, 0], [B, H, kEnd, dh]);
            const qb = q0.slice([0, 0, i0, 0], [B, H, c, dh]);
            const dP = tf.matMul(dOb.reshape([B * H, c, dh]), vb.reshape([B * H, kEnd, dh]), false, true).reshape([B, H, c, kEnd]);
            let dS = P.mul(dP.sub(tf.sum(dOb.mul(ob), -1, true)));
            if (a) dS = dS.mul(a);
            dS = dS.mul(scale);
            const dS3 = dS.reshape([B * H, c, kEnd]);
            const dqb = tf.matMul(dS3, kb.reshape([B * H, kEnd, dh])).reshape([B, H, c, dh]);
            const dkb = tf.matMul(dS3, qb.reshape([B * H, c, dh]), true, false).reshape([B, H, kEnd, dh]);
            const dvb = tf.matMul(P.reshape([B * H, c, kEnd]), dOb.reshape([B * H, c, dh]), true, false).reshape([B, H, kEnd, dh]);
            const pad = (x: tf.Tensor) =>
              kEnd === Tk
                ? x
                : tf.pad(x, [
                    [0, 0],
                    [0, 0],
                    [0, Tk - kEnd],
                    [0, 0],
                  ]);
            return [dqb, dk.add(pad(dkb)), dv.add(pad(dvb))];
          });
          dq.push(dqb);
          dk.dispose();
          dv.dispose();
          dk = dkNew;
          dv = dvNew;
        }
        const dQ = dq.length === 1 ? dq[0] : tf.concat(dq, 2);
        if (dq.length > 1) tf.dispose(dq);
        return [dQ, dk, dv];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor;
  return op(q, k, v) as tf.Tensor4D;
}
