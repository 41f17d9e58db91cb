// What the state-tracking kinds (parity, modular arithmetic; docs/tasks.md 6.2) share: training examples
// at short lengths, valid/test sets at longer ones, and one extra answer-only set per exact length n
// (context n, no padding), as induction does with its eval lengths.
import { hash32 } from '../../util/hash.ts';
import { resolveCacheDir } from '../cache.ts';
import type { Rng } from '../prng.ts';
import { fixedLengthTask, type Example } from '../synthetic.ts';
import type { ExtraEval, TaskData } from '../types.ts';

export interface LengthGeneralisationSpec {
  name: string;
  vocabSize: number;
  chance: number;
  seqLen: number;
  /** Training examples (lengths of the training range, padded to seqLen). */
  train: (rng: Rng) => Example;
  /** Valid/test examples (lengths of the test range, padded to seqLen). */
  test: (rng: Rng) => Example;
  /** Examples of exactly length n in a context of n. */
  exact: (n: number) => (rng: Rng) => Example;
  /** What the generated sets depend on (their cache key). */
  config: Record<string, unknown>;
  evalLengths: readonly number[];
  task: { data_seed: number; eval_examples: number; train_examples: number };
  describe: Record<string, unknown>;
  cacheDir?: string;
}

export function lengthGeneralisationTask(s: LengthGeneralisationSpec): TaskData {
  const dir = resolveCacheDir(s.cacheDir);
  const main = fixedLengthTask({
    name: s.name,
    config: s.config,
    vocabSize: s.vocabSize,
    seqLen: s.seqLen,
    chance: s.chance,
    dataSeed: s.task.data_seed,
    evalExamples: s.task.eval_examples,
    trainExamples: s.task.train_examples,
    gen: s.train,
    evalGen: s.test,
    describe: {
      ...s.describe,
      eval_lengths: s.evalLengths,
      extrapolation:
        'valid/test at the test lengths; extraEvals: one fixed answer-only set per length n (context n); learned absolute positions must report n/a past their table',
    },
    cacheDir: dir,
  });
  const extraEvals: ExtraEval[] = s.evalLengths.map((n) => {
    const e = fixedLengthTask({
      name: s.name,
      config: { ...s.config, exact: n },
      vocabSize: s.vocabSize,
      seqLen: n,
      chance: s.chance,
      dataSeed: hash32(`${s.task.data_seed}:n=${n}`),
      evalExamples: s.task.eval_examples,
      trainExamples: 0,
      gen: s.exact(n),
      describe: {},
      cacheDir: dir,
    });
    return { name: `n=${n}`, seqLen: n, evalBatches: (split, b) => e.evalBatches(split, b), evalSize: (split) => e.evalSize(split) };
  });
  return { ...main, extraEvals };
}
