// What the synthetic task kinds (src/tasks/kinds) share: fixed cached valid/test sets (seeded by
// hash32(task:split:data_seed)), and training data as a fresh stream per step or a fixed pool visited
// in seeded epoch orders (docs/tasks.md 0.2).
import type { Batch, EvalSplit, TaskData } from './types.ts';
import { Rng } from './prng.ts';
import { hash32 } from '../util/hash.ts';
import { cachedArrays } from './cache.ts';

/** Version of the generators, part of every cached set's key. */
export const GEN_VERSION = 'synthetic-v1';

/** One generated example: inputs and targets of the same length (IGNORE where unscored). */
export interface Example {
  inputs: Int32Array;
  targets: Int32Array;
}

/** Rows of a [n, T] set, plus the true length of each row (right padding beyond it). */
export interface ExampleSet {
  n: number;
  T: number;
  inputs: Int32Array;
  targets: Int32Array;
  lengths?: Int32Array;
}

function generateSet(n: number, T: number, seed: number, gen: (rng: Rng) => Example): ExampleSet {
  const rng = new Rng(seed);
  const inputs = new Int32Array(n * T);
  const targets = new Int32Array(n * T);
  for (let i = 0; i < n; i++) {
    const ex = gen(rng);
    inputs.set(ex.inputs, i * T);
    targets.set(ex.targets, i * T);
  }
  return { n, T, inputs, targets };
}

/** Gather rows into a batch; variable-length sets are cut to the longest row of the batch. */
function gather(set: ExampleSet, rows: number[]): Batch {
  const T = set.lengths ? Math.max(...rows.map((r) => set.lengths![r])) : set.T;
  const B = rows.length;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  rows.forEach((r, b) => {
    inputs.set(set.inputs.subarray(r * set.T, r * set.T + T), b * T);
    targets.set(set.targets.subarray(r * set.T, r * set.T + T), b * T);
  });
  return { inputs, targets, batch: B, seqLen: T };
}

export function evalBatchesOf(set: ExampleSet, batchSize: number, max?: number | 'all'): Batch[] {
  const n = max === undefined || max === 'all' ? set.n : Math.min(set.n, max);
  const out: Batch[] = [];
  for (let i = 0; i < n; i += batchSize) {
    out.push(
      gather(
        set,
        Array.from({ length: Math.min(batchSize, n - i) }, (_, k) => i + k),
      ),
    );
  }
  return out;
}

/** Training rows from a fixed pool: epoch e visits the pool in the order shuffled by hash32(name:order:seed:e). */
export function poolSampler(name: string, pool: ExampleSet) {
  const perms = new Map<string, number[]>();
  const perm = (seed: number, epoch: number): number[] => {
    const key = `${seed}:${epoch}`;
    let p = perms.get(key);
    if (!p) {
      p = new Rng(hash32(`${name}:order:${seed}:${epoch}`)).shuffle(Array.from({ length: pool.n }, (_, i) => i));
      if (perms.size > 4) perms.delete(perms.keys().next().value!);
      perms.set(key, p);
    }
    return p;
  };
  return (step: number, batchSize: number, seed: number): Batch => {
    const rows: number[] = [];
    for (let k = 0; k < batchSize; k++) {
      const g = step * batchSize + k;
      rows.push(perm(seed, Math.floor(g / pool.n))[g % pool.n]);
    }
    return gather(pool, rows);
  };
}

export interface FixedLengthSpec {
  name: string;
  config: Record<string, unknown>;
  vocabSize: number;
  seqLen: number;
  chance: number;
  dataSeed: number;
  evalExamples: number;
  trainExamples: number;
  gen: (rng: Rng) => Example;
  /** Examples for evaluation when training targets differ (induction 'all'). */
  evalGen?: (rng: Rng) => Example;
  describe: Record<string, unknown>;
  cacheDir: string;
}

function cachedSet(s: FixedLengthSpec, split: string, n: number, seed: number, gen: (rng: Rng) => Example): ExampleSet {
  const meta = { version: GEN_VERSION, task: s.name, config: s.config, split, n, seed };
  const a = cachedArrays(s.cacheDir, s.name, meta, () => {
    const set = generateSet(n, s.seqLen, seed, gen);
    return { inputs: set.inputs, targets: set.targets };
  });
  return { n, T: s.seqLen, inputs: a.inputs, targets: a.targets };
}

export function fixedLengthTask(s: FixedLengthSpec): TaskData {
  const sets = new Map<EvalSplit, ExampleSet>();
  const evalSet = (split: EvalSplit): ExampleSet => {
    let set = sets.get(split);
    if (!set) {
      set = cachedSet(s, split, s.evalExamples, hash32(`${s.name}:${split}:${s.dataSeed}`), s.evalGen ?? s.gen);
      sets.set(split, set);
    }
    return set;
  };
  let pooled: ((step: number, b: number, seed: number) => Batch) | undefined;
  return {
    kind: 'synthetic',
    name: s.name,
    vocabSize: s.vocabSize,
    seqLen: s.seqLen,
    chance: s.chance,
    trainBatch(step, batchSize, seed) {
      if (s.trainExamples > 0) {
        pooled ??= poolSampler(s.name, cachedSet(s, 'train', s.trainExamples, hash32(`${s.name}:train:${s.dataSeed}`), s.gen));
        return pooled(step, batchSize, seed);
      }
      const set = generateSet(batchSize, s.seqLen, hash32(`${s.name}:train:${seed}:${step}`), s.gen);
      return { inputs: set.inputs, targets: set.targets, batch: batchSize, seqLen: s.seqLen };
    },
    evalBatches: (split, batchSize, max) => evalBatchesOf(evalSet(split), batchSize, max),
    evalSize: (_split, max) => (max === undefined || max === 'all' ? s.evalExamples : Math.min(s.evalExamples, max)),
    describe: () => ({
      task: s.name,
      ...s.describe,
      vocab_size: s.vocabSize,
      seq_len: s.seqLen,
      chance: s.chance,
      eval_examples: s.evalExamples,
      eval_seed: `hash32(${s.name}:<split>:${s.dataSeed})`,
      train_data:
        s.trainExamples > 0
          ? `fixed pool of ${s.trainExamples} (seed hash32(${s.name}:train:${s.dataSeed})), reshuffled each epoch from the run seed`
          : 'fresh examples every step, seeded by hash32(<task>:train:<seed>:<step>)',
      metrics:
        'accuracy = argmax over the full vocabulary vs target, micro-averaged over scored positions; exact match = rows with all scored positions correct',
      prng: 'xoshiro128** seeded by splitmix32',
    }),
  };
}

/**
 * Zoology's debug leakage check (0.2): how many test inputs also occur among the training inputs of the
 * first `steps` batches. Rows are compared without their right padding.
 */
export function countLeakage(data: TaskData, steps: number, batchSize: number, seed: number): { leaked: number; test: number } {
  const key = (a: Int32Array, r: number, T: number): string => {
    let end = (r + 1) * T;
    while (end > r * T && a[end - 1] === 0) end--;
    return a.subarray(r * T, end).join(',');
  };
  const train = new Set<string>();
  for (let s = 0; s < steps; s++) {
    const b = data.trainBatch(s, batchSize, seed);
    for (let r = 0; r < b.batch; r++) train.add(key(b.inputs, r, b.seqLen));
  }
  let leaked = 0;
  let test = 0;
  for (const b of data.evalBatches('test', 256, 'all')) {
    for (let r = 0; r < b.batch; r++, test++) if (train.has(key(b.inputs, r, b.seqLen))) leaked++;
  }
  return { leaked, test };
}
