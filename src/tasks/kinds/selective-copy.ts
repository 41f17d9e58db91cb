// Selective copying (Mamba §4.1.1; s4 `copying.py` variable mode; docs/tasks.md 2).
import { z } from 'zod';
import type { Rng } from '../prng.ts';
import { IGNORE, type TaskData } from '../types.ts';
import { resolveCacheDir } from '../cache.ts';
import { fixedLengthTask, type Example } from '../synthetic.ts';
import { dataSeed, int, posInt } from './fields.ts';
import { defineTask, GENERATED } from './types.ts';

export interface CopyParams {
  L: number;
  M: number;
  A: number;
  selective: boolean;
}

export function copyExample(rng: Rng, p: CopyParams): Example {
  const { L, M, A } = p;
  const T = L + 2 * M;
  const tokens = Array.from({ length: M }, () => 1 + rng.randInt(A - 2));
  const pos = p.selective ? rng.sampleWithoutReplacement(L + M, M).sort((x, y) => x - y) : Array.from({ length: M }, (_, j) => j);
  const inputs = new Int32Array(T);
  const targets = new Int32Array(T).fill(IGNORE);
  for (let j = 0; j < M; j++) {
    inputs[pos[j]] = tokens[j];
    inputs[L + M + j] = A - 1; // marker: "now copy"
    targets[L + M + j] = tokens[j];
  }
  return { inputs, targets };
}

export const selectiveCopyTaskSchema = z.strictObject({
  kind: z.literal('selective_copy').describe('selective copying (Mamba paper 4.1.1; docs/tasks.md 2)'),
  noise_len: posInt('L: blank positions; input length T = L + 2M').default(32),
  copy_len: posInt('M: data tokens to remember and copy').default(4),
  alphabet_size: posInt('A: ids incl. specials: 0 blank, 1..A-2 data, A-1 marker').default(8),
  selective: z.boolean().default(true).describe('true: tokens at random positions; false: the LTI-solvable control (tokens first)'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of the fixed valid and test sets').default(1000),
  data_seed: dataSeed,
});
export type SelectiveCopyTask = z.infer<typeof selectiveCopyTaskSchema>;

export function loadSelectiveCopy(t: SelectiveCopyTask, cacheDir?: string): TaskData {
  const p = { L: t.noise_len, M: t.copy_len, A: t.alphabet_size, selective: t.selective };
  return fixedLengthTask({
    name: 'selective_copy',
    config: p,
    vocabSize: p.A,
    seqLen: p.L + 2 * p.M,
    chance: 1 / (p.A - 2),
    dataSeed: t.data_seed,
    evalExamples: t.eval_examples,
    trainExamples: t.train_examples,
    gen: (rng) => copyExample(rng, p),
    describe: { scored_per_example: p.M, variant: p.selective ? 'selective (random positions)' : 'non-selective control (tokens first)' },
    cacheDir: resolveCacheDir(cacheDir),
  });
}

export const selectiveCopy = defineTask({
  kind: 'selective_copy',
  schema: selectiveCopyTaskSchema,
  family: 'synthetic',
  metrics: ['loss', 'ppl', 'accuracy', 'exact_match', 'eval_tokens', 'eval_windows'],
  provenance: { source: 'generator after s4 `copying.py`, variable mode (Gu and Dao 2023, Mamba 4.1.1)', licence: GENERATED },
  validate(task, fail) {
    if (task.alphabet_size < 3) fail('alphabet_size', `needs A ≥ 3 (blank, ≥ 1 data token, marker; got ${task.alphabet_size})`);
  },
  seqLen: (task) => task.noise_len + 2 * task.copy_len,
  vocabSize: (task) => task.alphabet_size,
  load: (task, opts) => loadSelectiveCopy(task, opts.cacheDir),
});
