// LRA ListOps (long-range-arena `data/listops.py`, input pipeline; docs/tasks.md 4).
import { z } from 'zod';
import { Rng } from '../prng.ts';
import { UserError } from '../../errors.ts';
import { IGNORE, type TaskData } from '../types.ts';
import { hash32 } from '../../util/hash.ts';
import { cachedArrays, resolveCacheDir } from '../cache.ts';
import { evalBatchesOf, GEN_VERSION, poolSampler, type ExampleSet } from '../synthetic.ts';
import { dataSeed, int, posInt } from './fields.ts';
import { defineTask, GENERATED } from './types.ts';

export const LISTOPS_OPS = ['[MIN', '[MAX', '[MED', '[SM'] as const;
export const LISTOPS_PAD = 0;
export const LISTOPS_CLOSE = 15;
export const LISTOPS_EOS = 16;
export const LISTOPS_VOCAB = 17;
/** 0 PAD, 1..10 digits '0'..'9', 11 [MIN, 12 [MAX, 13 [MED, 14 [SM, 15 X, 16 EOS. */
export const LISTOPS_SYMBOLS = ['<pad>', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ...LISTOPS_OPS, 'X', '<eos>'];
export const digitId = (d: number): number => d + 1;

function apply(op: number, args: number[]): number {
  switch (op) {
    case 0:
      return Math.min(...args);
    case 1:
      return Math.max(...args);
    case 2: {
      const s = [...args].sort((x, y) => x - y);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : Math.floor((s[m - 1] + s[m]) / 2);
    }
    default:
      return args.reduce((x, y) => x + y, 0) % 10;
  }
}

/** Value of a tree in the LRA token form, e.g. `[MAX 2 9 [MIN 4 7 X 0 X` -> 9. */
export function evaluateListOps(text: string): number {
  const toks = text.trim().split(/\s+/);
  let i = 0;
  const node = (): number => {
    const t = toks[i++];
    if (t === undefined) throw new Error('ListOps: unexpected end of expression');
    if (/^\d$/.test(t)) return Number(t);
    const op = LISTOPS_OPS.indexOf(t as (typeof LISTOPS_OPS)[number]);
    if (op < 0) throw new Error(`ListOps: unknown token ${t}`);
    const args: number[] = [];
    while (toks[i] !== 'X') {
      if (i >= toks.length) throw new Error('ListOps: missing X');
      args.push(node());
    }
    i++;
    return apply(op, args);
  };
  const v = node();
  if (i !== toks.length) throw new Error('ListOps: trailing tokens');
  return v;
}

interface Tree {
  ids: number[];
  value: number;
}

/** 4.1: a leaf with probability 0.75 (always at maxDepth), else an operator over 2..maxArgs children. */
function node(rng: Rng, depth: number, maxDepth: number, maxArgs: number): Tree {
  const r = depth < maxDepth ? rng.uniform() : 1;
  if (r > 0.25) {
    const d = rng.randInt(10);
    return { ids: [digitId(d)], value: d };
  }
  const k = 2 + rng.randInt(maxArgs - 1);
  const children = Array.from({ length: k }, () => node(rng, depth + 1, maxDepth, maxArgs));
  const op = rng.randInt(4);
  return {
    ids: [11 + op, ...children.flatMap((c) => c.ids), LISTOPS_CLOSE],
    value: apply(
      op,
      children.map((c) => c.value),
    ),
  };
}

export interface ListopsParams {
  maxDepth: number;
  maxArgs: number;
  minLen: number;
  maxLen: number;
}

/**
 * One de-duplicated pool in generation order (0.2: split by cutting it, so the splits are disjoint).
 * Each example's ids end with EOS; `minLen < length < maxLen` counts tokens without EOS.
 */
export function listopsPool(rng: Rng, p: ListopsParams, n: number): Tree[] {
  const seen = new Set<string>();
  const out: Tree[] = [];
  const maxTries = 2000 * n + 100_000;
  for (let tries = 0; out.length < n; tries++) {
    if (tries > maxTries) {
      throw new UserError(
        `task.max_len: only ${out.length} distinct ListOps trees of length in (${p.minLen}, ${p.maxLen}) found after ${tries} draws; need ${n} (widen the length range or lower the example counts)`,
      );
    }
    const t = node(rng, 1, p.maxDepth, p.maxArgs);
    if (t.ids.length <= p.minLen || t.ids.length >= p.maxLen) continue;
    const key = t.ids.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ids: [...t.ids, LISTOPS_EOS], value: t.value });
  }
  return out;
}

export function listopsText(ids: ArrayLike<number>): string {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === LISTOPS_PAD || ids[i] === LISTOPS_EOS) continue;
    out.push(LISTOPS_SYMBOLS[ids[i]]);
  }
  return out.join(' ');
}

export const listopsTaskSchema = z.strictObject({
  kind: z.literal('listops').describe('LRA ListOps, 10-way classification read at the appended EOS (docs/tasks.md 4)'),
  max_depth: posInt('maximum tree depth (root = 1)').default(4),
  max_args: posInt('maximum arguments per operator (min 2)').default(5),
  min_len: int('accept trees with min_len < length (tokens, without EOS)').nonnegative().default(10),
  max_len: posInt('accept trees with length < max_len; padded length with EOS is at most max_len').default(50),
  train_examples: posInt('training examples (fixed pool, cut first from one de-duplicated generation)').default(10000),
  valid_examples: posInt('valid examples (cut after train)').default(1000),
  test_examples: posInt('test examples (cut last)').default(2000),
  data_seed: dataSeed,
});
export type ListopsTask = z.infer<typeof listopsTaskSchema>;

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

export const listops = defineTask({
  kind: 'listops',
  schema: listopsTaskSchema,
  family: 'synthetic',
  metrics: ['loss', 'ppl', 'accuracy', 'exact_match', 'eval_tokens', 'eval_windows'],
  provenance: { source: 'generator after long-range-arena `data/listops.py` (Tay et al. 2021, LRA)', licence: GENERATED },
  validate(task, fail) {
    if (task.min_len >= task.max_len) fail('min_len', `needs min_len < max_len (got ${task.min_len} ≥ ${task.max_len})`);
    if (task.max_len - task.min_len < 2) fail('max_len', `no integer length lies strictly between ${task.min_len} and ${task.max_len}`);
    if (task.max_args < 2) fail('max_args', `needs at least 2 (got ${task.max_args})`);
    if (task.max_depth < 2 && task.min_len >= 1)
      fail('max_depth', `depth 1 only makes single digits (length 1), none longer than min_len=${task.min_len}`);
  },
  seqLen: (task) => task.max_len,
  vocabSize: () => LISTOPS_VOCAB,
  load: (task, opts) => loadListops(task, opts.cacheDir),
});
