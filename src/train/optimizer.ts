/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter), the learning-rate schedule and
 * global-norm gradient clipping. tfjs's AdamOptimizer folds decay into the gradient (L2), so the
 * update is written out here.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../config/schema.ts';

/**
 * No decay on gains, biases and norms, and on Mamba's A_log, D and dt bias, decided by name (the
 * nanoGPT / mamba `_no_weight_decay` convention); matrices and the embedding decay. Any 1-D weight
 * (a gain or bias under a name this list does not know) is not decayed either.
 */
const NO_DECAY_LEAF = new Set(['bias', 'b', 'g', 'gain', 'scale', 'a_log', 'd', 'dt_bias', 'alpha', 'gamma', 'beta']);

export function decays(name: string, shape: readonly number[]): boolean {
  if (shape.length < 2) return false;
  const parts = name.toLowerCase().split(/[./]/);
  const leaf = parts[parts.length - 1];
  if (NO_DECAY_LEAF.has(leaf) || leaf.endsWith('_bias') || leaf.startsWith('b_')) return false;
  return !parts.some((s) => s.includes('norm') || /^ln(_|\d|$)/.test(s));
}

export type ScheduleConfig = Pick<TrainConfig, 'lr' | 'min_lr_ratio' | 'warmup' | 'schedule' | 'steps'>;

/** Learning rate at 0-based `step`: linear warmup to lr over `warmup` steps, then decay to lr * min_lr_ratio at the last step. */
export function learningRate(c: ScheduleConfig, step: number): number {
  if (step < c.warmup) return (c.lr * (step + 1)) / c.warmup;
  if (c.schedule === 'constant') return c.lr;
  const minLr = c.lr * c.min_lr_ratio;
  const span = Math.max(1, c.steps - 1 - c.warmup);
  const ratio = Math.min(1, Math.max(0, (step - c.warmup) / span));
  const coeff = c.schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * ratio)) : 1 - ratio;
  return minLr + coeff * (c.lr - minLr);
}

/** Global L2 norm over all gradients [scalar]. */
export function globalNorm(grads: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Scale gradients so their global norm is at most `clip` (clip <= 0: unchanged). Returns new
 * tensors (the caller disposes the inputs) and the pre-clip norm.
 */
export function clipByGlobalNorm(grads: readonly tf.Tensor[], clip: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = globalNorm(grads);
    if (!(clip > 0)) return { grads: grads.map((g) => g.clone()), norm };
    // factor = min(1, clip / norm); the epsilon keeps a zero gradient finite.
    const factor = tf.minimum(1, tf.div(clip, tf.add(norm, 1e-6)));
    return { grads: grads.map((g) => tf.mul(g, factor)), norm };
  });
}

export type AdamWConfig = Pick<TrainConfig, 'beta1' | 'beta2' | 'eps' | 'weight_decay'>;

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly decayed = new Map<string, boolean>();
  /** Number of updates applied so far (Adam's bias-correction t). */
  t = 0;

  constructor(
    private readonly params: ReadonlyMap<string, tf.Variable>,
    private readonly c: AdamWConfig,
  ) {
    for (const [name, p] of params) {
      // tidy frees the zero tensors; variables survive it.
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.decayed.set(name, decays(name, p.shape));
    }
  }

  /** Names of the weights that get weight decay. */
  decayedNames(): string[] {
    return [...this.decayed].filter(([, d]) => d).map(([n]) => n);
  }

  /**
   * One update: p <- p - lr * (mhat / (sqrt(vhat) + eps) + wd * p) for decayed p (PyTorch AdamW).
   * `grads` maps weight names to gradients; missing ones are treated as zero (no update).
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const { beta1: b1, beta2: b2, eps, weight_decay: wd } = this.c;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads.get(name);
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), eps));
        const decayed = this.decayed.get(name) && wd > 0 ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
        m.assign(m1);
        v.assign(v1);
      }
    });
  }

  /** The moment estimates by weight name (docs/runner.md section 11: saved in every training checkpoint). */
  moments(): { name: string; m: tf.Variable; v: tf.Variable }[] {
    return [...this.m.keys()].map((name) => ({ name, m: this.m.get(name)!, v: this.v.get(name)! }));
  }

  /** Put back a saved state: the update count and both moments of every weight (shapes checked by the caller). */
  restore(t: number, moments: ReadonlyMap<string, { m: Float32Array; v: Float32Array }>): void {
    this.t = t;
    for (const [name, mv] of moments) {
      const m = this.m.get(name);
      const v = this.v.get(name);
      if (!m || !v) continue;
      tf.tidy(() => {
        m.assign(tf.tensor(mv.m, m.shape, 'float32'));
        v.assign(tf.tensor(mv.v, v.shape, 'float32'));
      });
    }
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
    this.m.clear();
    this.v.clear();
  }
}
