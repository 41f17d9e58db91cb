// MQAR: multi-query associative recall (Zoology `multiquery_ar`; docs/tasks.md 1).
import { z } from 'zod';
import type { Rng } from '../prng.ts';
import { IGNORE, type TaskData } from '../types.ts';
import { resolveCacheDir } from '../cache.ts';
import { fixedLengthTask, type Example } from '../synthetic.ts';
import { dataSeed, int, posInt } from './fields.ts';
import { defineTask, GENERATED } from './types.ts';

export interface MqarParams {
  V: number;
  N: number;
  D: number;
  a: number;
  P: number;
  randomNonQueries: boolean;
}

/**
 * Lay out one example (1.3 steps 2–5) from its draws: keys[i] pairs with values[i] and is queried in
 * two-token slot slots[i] (0-based) of the region after the P context passes.
 */
export function mqarLayout(N: number, P: number, keys: number[], values: number[], slots: number[]): Example {
  const D = keys.length;
  const B = new Int32Array(N + 1); // work buffer, 0 = filler
  const Lb = new Int32Array(N + 1).fill(IGNORE);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < D; i++) {
      B[2 * D * p + 2 * i] = keys[i];
      B[2 * D * p + 2 * i + 1] = values[i];
    }
  }
  const q0 = 2 * D * P;
  for (let i = 0; i < D; i++) {
    B[q0 + 2 * slots[i]] = keys[i];
    Lb[q0 + 2 * slots[i] + 1] = values[i];
  }
  return { inputs: B.slice(0, N), targets: Lb.slice(1, N + 1) };
}

export function mqarExample(rng: Rng, p: MqarParams): Example {
  const { V, N, D, a, P } = p;
  const half = Math.floor(V / 2);
  const keys = rng.sampleWithoutReplacement(half - 1, D).map((k) => k + 1);
  const values = rng.sampleWithoutReplacement(V - half, D).map((v) => v + half);
  const S = Math.floor((N - 2 * D * P) / 2);
  const w = Array.from({ length: S }, (_, j) => a * (j + 1) ** (a - 1));
  const slots = rng.weightedSampleWithoutReplacement(w, D);
  const ex = mqarLayout(N, P, keys, values, slots);
  if (p.randomNonQueries) {
    for (let t = 0; t < N; t++) if (ex.inputs[t] === 0) ex.inputs[t] = rng.randInt(V);
  }
  return ex;
}

export const mqarTaskSchema = z.strictObject({
  kind: z.literal('mqar').describe('multi-query associative recall (Zoology; docs/tasks.md 1)'),
  vocab_size: posInt('V: vocabulary size; keys 1..V/2-1, values V/2..V-1, 0 = filler').default(64),
  seq_len: posInt('N: input length (even)').default(32),
  num_kv_pairs: posInt('D: key-value pairs per example (= scored positions)').default(4),
  power_a: z.number().positive().max(1).default(0.01).describe('a: query slot j gets weight a*j^(a-1) (power law toward the context)'),
  passes: posInt('P: times the key-value context is repeated (JRT variant)').default(1),
  random_non_queries: z.boolean().default(false).describe('fill empty slots with random tokens instead of 0'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of the fixed valid and test sets').default(1000),
  data_seed: dataSeed,
});
export type MqarTask = z.infer<typeof mqarTaskSchema>;

export function loadMqar(t: MqarTask, cacheDir?: string): TaskData {
  const p = { V: t.vocab_size, N: t.seq_len, D: t.num_kv_pairs, a: t.power_a, P: t.passes, randomNonQueries: t.random_non_queries };
  return fixedLengthTask({
    name: 'mqar',
    config: p,
    vocabSize: p.V,
    seqLen: p.N,
    chance: 1 / (p.V - Math.floor(p.V / 2)),
    dataSeed: t.data_seed,
    evalExamples: t.eval_examples,
    trainExamples: t.train_examples,
    gen: (rng) => mqarExample(rng, p),
    describe: { scored_per_example: p.D, failure_plateau: 1 / p.D, chance_note: '1/(V/2): uniform over the value ids' },
    cacheDir: resolveCacheDir(cacheDir),
  });
}

export const mqar = defineTask({
  kind: 'mqar',
  schema: mqarTaskSchema,
  family: 'synthetic',
  metrics: ['loss', 'ppl', 'accuracy', 'exact_match', 'eval_tokens', 'eval_windows'],
  provenance: { source: 'generator after Zoology `multiquery_ar` (Arora et al. 2023)', licence: GENERATED },
  validate(task, fail) {
    const { vocab_size: V, seq_len: N, num_kv_pairs: D, passes: P } = task;
    if (N % 2 !== 0) fail('seq_len', `MQAR needs an even input length N (got ${N})`);
    if (V <= N) fail('vocab_size', `MQAR needs V > N (got V=${V}, N=${N})`);
    if (2 * D * P + 2 * D > N) {
      fail('num_kv_pairs', `MQAR needs 2·D·P + 2·D ≤ N${P === 1 ? ' (4·D ≤ N when P = 1)' : ''} (got D=${D}, P=${P}, N=${N})`);
    }
    const keys = Math.floor(V / 2) - 1;
    if (D > keys) fail('num_kv_pairs', `only ${keys} key ids exist for V=${V} (got D=${D})`);
  },
  seqLen: (task) => task.seq_len,
  vocabSize: (task) => task.vocab_size,
  load: (task, opts) => loadMqar(task, opts.cacheDir),
});
