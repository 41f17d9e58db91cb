// Synthetic tasks as TaskData: fixed cached valid/test sets (seeded by hash32(task:split:data_seed)),
// and training data as a fresh stream per step or a fixed pool visited in seeded epoch orders (0.2).
import type { InductionTask, ListopsTask, MqarTask, SelectiveCopyTask } from './schema.ts';
import { IGNORE, type Batch, type EvalSplit, type ExtraEval, type TaskData } from './types.ts';
import { Rng } from './prng.ts';
import { hash32 } from '../util/hash.ts';
import { cachedArrays, resolveCacheDir } from './cache.ts';
import { mqarExample, type Example } from './mqar.ts';
import { copyExample } from './copying.ts';
import { inductionExample } from './induction.ts';
import { LISTOPS_PAD, LISTOPS_VOCAB, digitId, listopsPool } from './listops.ts';

const GEN_VERSION = 'synthetic-v1';

/** Rows of a [n, T] set, plus the true length of each row (right padding beyond it). */
interface ExampleSet {
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

function evalBatchesOf(set: ExampleSet, batchSize: number, max?: number | 'all'): Batch[] {
  const n = max === undefined || max === 'all' ? set.n : Math.min(set.n, max);
  const out: Batch[] = [];
  for (let i = 0; i < n; i += batchSize) {
    out.push(gather(set, Array.from({ length: Math.min(batchSize, n - i) }, (_, k) => i + k)));
  }
  return out;
}

/** Training rows from a fixed pool: epoch e visits the pool in the order shuffled by hash32(name:order:seed:e). */
function poolSampler(name: string, pool: ExampleSet) {
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

interface FixedLengthSpec {
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

function fixedLengthTask(s: FixedLengthSpec): TaskData {
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
    evalSize: (split, max) => (max === undefined || max === 'all' ? s.evalExamples : Math.min(s.evalExamples, max)),
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
      metrics: 'accuracy = argmax over the full vocabulary vs target, micro-averaged over scored positions; exact match = rows with all scored positions correct',
      prng: 'xoshiro128** seeded by splitmix32',
    }),
  };
}

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
      extrapolation: 'extraEvals: one fixed answer-only set per body length N (inputs N+1 tokens); learned absolute positions must report n/a past their table',
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

export function loadListops(t: ListopsTask, cacheDir?: string): TaskData {
  const dir = resolveCacheDir(cacheDir);
  const p = { maxDepth: t.max_depth, maxArgs: t.max_args, minLen: t.min_len, maxLen: t.max_len };
  const counts = { train: t.train_examples, valid: t.valid_examples, test: t.test_examples };
  const total = counts.train + counts.valid + counts.test;
  const T = t.max_len; // longest tree has max_len - 1 tokens, plus EOS
  const seed = hash32(`listops:pool:${t.data_seed}`);
  const a = cachedArrays(dir, 'listops', { version: GEN_VERSION, p, total, seed }, () => {
    const pool = listopsPool(new Rng(seed), p, total);
    const inputs = new Int32Array(total * T).fill(LISTOPS_PAD);
    const targets = new Int32Array(total * T).fill(IGNORE);
    const lengths = new Int32Array(total);
    const labels = new Int32Array(total);
    pool.forEach((tree, i) => {
      inputs.set(tree.ids, i * T);
      targets[i * T + tree.ids.length - 1] = digitId(tree.value); // readout at the EOS, length - 1
      lengths[i] = tree.ids.length;
      labels[i] = tree.value;
    });
    return { inputs, targets, lengths, labels };
  });
  const cut = (from: number, n: number): ExampleSet => ({
    n,
    T,
    inputs: a.inputs.subarray(from * T, (from + n) * T),
    targets: a.targets.subarray(from * T, (from + n) * T),
    lengths: a.lengths.subarray(from, from + n),
  });
  const sets = { train: cut(0, counts.train), valid: cut(counts.train, counts.valid), test: cut(counts.train + counts.valid, counts.test) };
  const hist = new Array(10).fill(0);
  for (let i = 0; i < counts.train; i++) hist[a.labels[i]]++;
  const majority = hist.indexOf(Math.max(...hist));
  let testMajority = 0;
  for (let i = counts.train + counts.valid; i < total; i++) if (a.labels[i] === majority) testMajority++;
  const chance = testMajority / counts.test;
  const sampler = poolSampler('listops', sets.train);
  return {
    kind: 'synthetic',
    name: 'listops',
    vocabSize: LISTOPS_VOCAB,
    seqLen: T,
    chance,
    trainBatch: sampler,
    evalBatches: (split, b, max) => evalBatchesOf(sets[split], b, max),
    evalSize: (split, max) => (max === undefined || max === 'all' ? sets[split].n : Math.min(sets[split].n, max)),
    describe: () => ({
      task: 'listops',
      ...p,
      vocab_size: LISTOPS_VOCAB,
      seq_len: T,
      examples: counts,
      chance,
      chance_note: `majority baseline: train majority label ${majority} on the test set`,
      classification:
        '10-way; label = the digit token id (1 + value) as the target of the appended EOS at length-1; every other target IGNORE',
      readout: 'eos (right padding; the causal model is read at length-1)',
      padding: 'right-padded with PAD=0 to the longest example of each batch',
      splits: 'one de-duplicated pool in generation order cut into train/valid/test (disjoint by construction)',
      train_data: 'fixed pool, reshuffled each epoch from the run seed',
      pool_seed: `hash32(listops:pool:${t.data_seed})`,
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
