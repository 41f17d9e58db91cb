// Induction heads (safari `generate_induction_head`; docs/tasks.md 3).
import { z } from 'zod';
import type { Rng } from '../prng.ts';
import { IGNORE, type ExtraEval, type TaskData } from '../types.ts';
import { hash32 } from '../../util/hash.ts';
import { resolveCacheDir } from '../cache.ts';
import { fixedLengthTask, type Example } from '../synthetic.ts';
import { dataSeed, int, posInt } from './fields.ts';
import { defineTask, GENERATED } from './types.ts';

export interface InductionParams {
  V: number;
  N: number;
  /** 'answer': only the last target is scored; 'all': every next token is a target. */
  loss: 'answer' | 'all';
}

export function inductionExample(rng: Rng, p: InductionParams): Example {
  const { V, N } = p;
  const TRIGGER = V - 2;
  const full = new Int32Array(N + 2);
  for (let t = 0; t < N; t++) full[t] = rng.randInt(V - 2);
  const pos = rng.randInt(N - 2); // 0..N-3, so the answer s[pos+1] lies inside the body
  full[pos] = TRIGGER;
  full[N] = TRIGGER;
  full[N + 1] = full[pos + 1];
  const inputs = full.slice(0, N + 1);
  const targets = full.slice(1, N + 2);
  if (p.loss === 'answer') targets.fill(IGNORE, 0, N);
  return { inputs, targets };
}

export const inductionTaskSchema = z.strictObject({
  kind: z.literal('induction').describe('induction heads with length extrapolation (Mamba paper 4.1.2; docs/tasks.md 3)'),
  vocab_size: posInt('V: ids 0..V-3 ordinary, V-2 trigger, V-1 unused').default(16),
  seq_len: posInt('N: training body length (inputs are N+1 tokens)').default(32),
  train_loss: z
    .enum(['answer', 'all'])
    .default('answer')
    .describe('answer: train on the final answer only; all: plain LM loss on every position (safari)'),
  eval_lengths: z
    .array(posInt('body length'))
    .default([16, 32, 64, 128, 256])
    .describe('body lengths N of the extra extrapolation eval sets'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of each fixed valid/test set').default(500),
  data_seed: dataSeed,
});
export type InductionTask = z.infer<typeof inductionTaskSchema>;

export function loadInduction(t: InductionTask, cacheDir?: string): TaskData {
  const dir = resolveCacheDir(cacheDir);
  const at = (N: number, loss: 'answer' | 'all') => (rng: Rng) => inductionExample(rng, { V: t.vocab_size, N, loss });
  // Every eval set (incl. the training length) is answer-only and seeded by its own length.
  const evalTask = (N: number): TaskData =>
    fixedLengthTask({
      name: 'induction',
      config: { V: t.vocab_size, N },
      vocabSize: t.vocab_size,
      seqLen: N + 1,
      chance: 1 / (t.vocab_size - 2),
      dataSeed: hash32(`${t.data_seed}:N=${N}`),
      evalExamples: t.eval_examples,
      trainExamples: 0,
      gen: at(N, 'answer'),
      describe: {},
      cacheDir: dir,
    });
  const main = fixedLengthTask({
    name: 'induction',
    config: { V: t.vocab_size, N: t.seq_len, loss: t.train_loss },
    vocabSize: t.vocab_size,
    seqLen: t.seq_len + 1,
    chance: 1 / (t.vocab_size - 2),
    dataSeed: t.data_seed,
    evalExamples: t.eval_examples,
    trainExamples: t.train_examples,
    gen: at(t.seq_len, t.train_loss),
    describe: {
      train_loss: t.train_loss,
      scored_per_example: 1,
      eval_lengths: t.eval_lengths,
      extrapolation:
        'extraEvals: one fixed answer-only set per body length N (inputs N+1 tokens); learned absolute positions must report n/a past their table',
    },
    cacheDir: dir,
  });
  const trainLen = evalTask(t.seq_len);
  const extraEvals: ExtraEval[] = t.eval_lengths.map((N) => {
    const e = N === t.seq_len ? trainLen : evalTask(N);
    return { name: `N=${N}`, seqLen: N + 1, evalBatches: (split, b) => e.evalBatches(split, b), evalSize: (split) => e.evalSize(split) };
  });
  return { ...main, evalBatches: trainLen.evalBatches, evalSize: trainLen.evalSize, extraEvals };
}

export const induction = defineTask({
  kind: 'induction',
  schema: inductionTaskSchema,
  family: 'synthetic',
  metrics: ['loss', 'ppl', 'accuracy', 'exact_match', 'eval_tokens', 'eval_windows'],
  provenance: { source: 'generator after safari `generate_induction_head` (Gu and Dao 2023, Mamba 4.1.2)', licence: GENERATED },
  validate(task, fail) {
    if (task.seq_len < 3) fail('seq_len', `induction needs N ≥ 3 (got ${task.seq_len})`);
    if (task.vocab_size < 3) fail('vocab_size', `induction needs V ≥ 3 (got ${task.vocab_size})`);
    for (const n of task.eval_lengths) if (n < 3) fail('eval_lengths', `every length must be ≥ 3 (got ${n})`);
  },
  seqLen: (task) => task.seq_len + 1,
  extraEvalLengths: (task) => task.eval_lengths.map((N) => N + 1),
  vocabSize: (task) => task.vocab_size,
  load: (task, opts) => loadInduction(task, opts.cacheDir),
});
