// Modular arithmetic without brackets (Grazzi et al. 2024, adankow/unlocking_state_tracking
// `modular_arithmetic.py`; docs/tasks.md 6.2): numbers 0-4 joined by + − ×, the value
// mod 5 after `=`; trained at short lengths, tested at longer ones.
import { z } from 'zod';
import type { Rng } from '../prng.ts';
import { IGNORE, type TaskData } from '../types.ts';
import type { Example } from '../synthetic.ts';
import { dataSeed, int, posInt } from './fields.ts';
import { lengthGeneralisationTask } from './state-tracking.ts';
import { defineTask, GENERATED } from './types.ts';

/** 0 PAD, 1 +, 2 −, 3 ×, 4 =, 5..9 the numbers 0..4. */
export const MODARITH_VOCAB = 10;
const PLUS = 1; // 2 is − (PLUS + 1)
const TIMES = 3;
const EQUALS = 4;
const num = (v: number) => 5 + v;

/** The value mod 5 (non-negative) of `x0 op1 x1 ... op_k x_k`, × binding tighter than + and −. */
export function modArithValue(numbers: readonly number[], ops: readonly number[]): number {
  let total = 0;
  let sign = 1;
  let term = numbers[0]!;
  ops.forEach((op, i) => {
    const x = numbers[i + 1]!;
    if (op === TIMES) term = (term * x) % 5;
    else {
      total += sign * term;
      sign = op === PLUS ? 1 : -1;
      term = x;
    }
  });
  total += sign * term;
  return ((total % 5) + 5) % 5;
}

/** An odd length n = 2u − 1, u uniform as in docs/tasks.md 6.2 (n ∈ {3, 5, …} within [lo, hi]). */
export function modArithLength(rng: Rng, lo: number, hi: number): number {
  const uMax = Math.floor((hi + 1) / 2);
  const uMin = Math.min(Math.floor((lo + 1) / 2), uMax);
  return 2 * (uMin + rng.randInt(uMax - uMin + 1)) - 1;
}

/** One example of length n (odd, ≥ 3) in a context of T: the expression, `=` at n−2, the result at n−1 (scored at `=`, blanked in the input). */
export function modArithExample(rng: Rng, n: number, T: number): Example {
  const numbers: number[] = [];
  const ops: number[] = [];
  const inputs = new Int32Array(T);
  const targets = new Int32Array(T).fill(IGNORE);
  for (let t = 0; t < n - 2; t++) {
    if (t % 2 === 0) {
      numbers.push(rng.randInt(5));
      inputs[t] = num(numbers.at(-1)!);
    } else {
      ops.push(PLUS + rng.randInt(3));
      inputs[t] = ops.at(-1)!;
    }
  }
  inputs[n - 2] = EQUALS;
  targets[n - 2] = num(modArithValue(numbers, ops));
  return { inputs, targets };
}

export const modularArithmeticTaskSchema = z.strictObject({
  kind: z
    .literal('modular_arithmetic')
    .describe('modular arithmetic mod 5 without brackets, trained short and tested long (Grazzi et al. 2024; docs/tasks.md 6.2)'),
  train_min_len: posInt('shortest training example n (odd lengths 2u−1: the expression, = and the result)').default(3),
  train_max_len: posInt('longest training example n').default(23),
  test_min_len: posInt('shortest example n of the valid/test sets').default(25),
  test_max_len: posInt('longest example n of the valid/test sets').default(63),
  seq_len: posInt('context T: examples are right-padded to T (at least the longest length)').default(64),
  eval_lengths: z
    .array(posInt('odd example length n'))
    .default([47, 95, 185])
    .describe('lengths n of the extra extrapolation eval sets (no padding: context n)'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of each fixed valid/test set').default(1000),
  data_seed: dataSeed,
});
export type ModularArithmeticTask = z.infer<typeof modularArithmeticTaskSchema>;

export function loadModularArithmetic(t: ModularArithmeticTask, cacheDir?: string): TaskData {
  const T = t.seq_len;
  const between = (lo: number, hi: number) => (rng: Rng) => modArithExample(rng, modArithLength(rng, lo, hi), T);
  return lengthGeneralisationTask({
    name: 'modular_arithmetic',
    vocabSize: MODARITH_VOCAB,
    chance: 0.2,
    seqLen: T,
    train: between(t.train_min_len, t.train_max_len),
    test: between(t.test_min_len, t.test_max_len),
    exact: (n) => (rng) => modArithExample(rng, n, n),
    config: { train: [t.train_min_len, t.train_max_len], test: [t.test_min_len, t.test_max_len], T },
    evalLengths: t.eval_lengths,
    task: t,
    describe: {
      train_lengths: [t.train_min_len, t.train_max_len],
      test_lengths: [t.test_min_len, t.test_max_len],
      modulus: 5,
      scored_per_example: 1,
      chance_note: 'scaled accuracy = (accuracy − 0.2) / 0.8',
    },
    cacheDir,
  });
}

export const modularArithmetic = defineTask({
  kind: 'modular_arithmetic',
  schema: modularArithmeticTaskSchema,
  family: 'synthetic',
  metrics: ['loss', 'ppl', 'accuracy', 'exact_match', 'eval_tokens', 'eval_windows'],
  provenance: {
    source: 'generator after adankow/unlocking_state_tracking `modular_arithmetic.py` (Grazzi et al. 2024)',
    licence: GENERATED,
  },
  validate(task, fail) {
    if (task.train_min_len > task.train_max_len)
      fail('train_min_len', `needs train_min_len ≤ train_max_len (got ${task.train_min_len} > ${task.train_max_len})`);
    if (task.test_min_len > task.test_max_len)
      fail('test_min_len', `needs test_min_len ≤ test_max_len (got ${task.test_min_len} > ${task.test_max_len})`);
    for (const key of ['train_max_len', 'test_max_len'] as const) {
      if (task[key] < 3) fail(key, `the shortest example is 3 tokens (a number, = and the result; got ${task[key]})`);
      if (task[key] > task.seq_len) fail(key, `${task[key]} does not fit the context seq_len=${task.seq_len}`);
    }
    for (const n of task.eval_lengths) if (n < 3 || n % 2 === 0) fail('eval_lengths', `every length must be odd and ≥ 3 (got ${n})`);
  },
  seqLen: (task) => task.seq_len,
  extraEvalLengths: (task) => task.eval_lengths,
  vocabSize: () => MODARITH_VOCAB,
  load: (task, opts) => loadModularArithmetic(task, opts.cacheDir),
});
