/**
 * Explicit, seeded initializers (docs/models.md Section 11). Every weight draws from its own stream
 * `subSeed(seed, 'init:' + name)`, so a weight's initial value depends only on (seed, name, shape)
 * and never on construction order. tfjs's glorotUniform has gain 1, hence the explicit Xavier.
 */
import * as tf from '@tensorflow/tfjs';
import { subSeed } from '../util/hash.ts';

export type InitFn = (shape: number[], seed: number) => tf.Tensor;

/** N(0, std). */
export const normal =
  (std: number): InitFn =>
  (shape, seed) =>
    tf.randomNormal(shape, 0, std, 'float32', seed);

/** U(-bound, bound). */
export const uniform =
  (bound: number): InitFn =>
  (shape, seed) =>
    tf.randomUniform(shape, -bound, bound, 'float32', seed);

/** PyTorch Linear default: U(+-1/sqrt(fan_in)), fan_in = shape[0] ([in, out] storage). */
export const torchLinear: InitFn = (shape, seed) => uniform(1 / Math.sqrt(shape[0]))(shape, seed);

/** XavierUniform(gain) = U(+-gain * sqrt(6 / (fan_in + fan_out))). */
export const xavier =
  (gain: number): InitFn =>
  (shape, seed) =>
    uniform(gain * Math.sqrt(6 / (shape[0] + shape[1])))(shape, seed);

export const constant =
  (value: number): InitFn =>
  (shape) =>
    tf.fill(shape, value);

export const zeros: InitFn = (shape) => tf.zeros(shape);
export const ones: InitFn = (shape) => tf.ones(shape);

/** Explicit values, e.g. per-head decay biases. */
export const values =
  (v: ArrayLike<number>): InitFn =>
  (shape) =>
    tf.tensor(Array.from(v), shape, 'float32');

/** Scale another initializer's draw (residual-projection rescales). */
export const scaled =
  (fn: InitFn, factor: number): InitFn =>
  (shape, seed) =>
    tf.tidy(() => fn(shape, seed).mul(factor));

export function softplusInv(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

/** Mamba dt init (docs/models.md 4.6): dt0 = exp(U(log dtMin, log dtMax)) floored, b = softplus_inv(dt0). */
export const dtBias =
  (dtMin: number, dtMax: number, floor: number): InitFn =>
  (shape, seed) =>
    tf.tidy(() => {
      const u = tf.randomUniform(shape, Math.log(dtMin), Math.log(dtMax), 'float32', seed);
      const dt0 = tf.maximum(tf.exp(u), floor);
      // softplus_inv(y) = y + log(1 - exp(-y)) = y + log(-expm1(-y))
      return dt0.add(tf.log(tf.neg(tf.expm1(tf.neg(dt0)))));
    });

/** Mamba-2 A init: A ~ U(lo, hi), stored as log A. */
export const logUniformA =
  (lo: number, hi: number): InitFn =>
  (shape, seed) =>
    tf.tidy(() => tf.log(tf.randomUniform(shape, lo, hi, 'float32', seed)));

/**
 * The model's named weights. Names are the stable hierarchical names of model.ts; the tfjs
 * variable names are left automatic (unique per process) so several models can coexist.
 */
export class ParamStore {
  readonly weights = new Map<string, tf.Variable>();
  constructor(readonly seed: number) {}

  create(name: string, shape: number[], init: InitFn): tf.Variable {
    if (this.weights.has(name)) throw new Error(`duplicate weight name ${name}`);
    const value = tf.tidy(() => init(shape, subSeed(this.seed, `init:${name}`)));
    const v = tf.variable(value, true);
    value.dispose();
    this.weights.set(name, v);
    return v;
  }

  /** A view that prefixes names (`layers.3.` + `mixer.w_q`). */
  scope(prefix: string): ParamScope {
    return new ParamScope(this, prefix);
  }
}

export class ParamScope {
  constructor(
    readonly store: ParamStore,
    readonly prefix: string,
  ) {}
  create(name: string, shape: number[], init: InitFn): tf.Variable {
    return this.store.create(this.prefix + name, shape, init);
  }
  scope(prefix: string): ParamScope {
    return new ParamScope(this.store, this.prefix + prefix);
  }
}
