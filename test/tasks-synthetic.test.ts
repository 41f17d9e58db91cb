import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../src/tasks/prng.ts';
import { mqarExample, mqarLayout } from '../src/tasks/kinds/mqar.ts';
import { copyExample } from '../src/tasks/kinds/selective-copy.ts';
import { inductionExample } from '../src/tasks/kinds/induction.ts';
import { evaluateListOps, listopsText, LISTOPS_EOS, digitId } from '../src/tasks/kinds/listops.ts';
import { loadTask, IGNORE, type Batch } from '../src/tasks/index.ts';
import { countLeakage } from '../src/tasks/synthetic.ts';
import { parseTask, taskSchema, validateTask, taskSeqLen, taskVocabSize, type TaskConfig } from '../src/tasks/schema.ts';
import { UserError } from '../src/errors.ts';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-tasks-'));
const row = (a: Int32Array, b: number, T: number) => Array.from(a.subarray(b * T, (b + 1) * T));

describe('PRNG (0.2)', () => {
  it('xoshiro128** is deterministic per seed, uniform in [0,1), randInt unbiased in range', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 8 }, () => a.nextU32());
    expect(xa).toEqual(Array.from({ length: 8 }, () => b.nextU32()));
    expect(xa).not.toEqual(Array.from({ length: 8 }, () => c.nextU32()));
    const r = new Rng(7);
    const hist = new Array(6).fill(0);
    let outside = 0;
    for (let i = 0; i < 60000; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1)) outside++;
      hist[r.randInt(6)]++;
    }
    expect(outside).toBe(0);
    for (const h of hist) expect(Math.abs(h - 10000)).toBeLessThan(500);
  });

  it('matches the xoshiro128** reference output for state {1, 2, 3, 4}', () => {
    const r = Rng.fromState(1, 2, 3, 4);
    expect(Array.from({ length: 4 }, () => r.nextU32())).toEqual([11520, 0, 5927040, 70819200]);
  });

  it('weighted sampling without replacement follows the weights and never repeats', () => {
    const r = new Rng(1);
    const first = [0, 0, 0];
    for (let i = 0; i < 20000; i++) {
      const s = r.weightedSampleWithoutReplacement([6, 3, 1], 2);
      expect(new Set(s).size).toBe(2);
      first[s[0]]++;
    }
    expect(first[0] / 20000).toBeCloseTo(0.6, 1);
    expect(first[2] / 20000).toBeCloseTo(0.1, 1);
  });
});

describe('T-MQAR (docs/tasks.md 1)', () => {
  it('reproduces the worked example of 1.3 (V=12, N=16, D=2)', () => {
    const ex = mqarLayout(16, 1, [2, 4], [8, 7], [4, 1]);
    expect(Array.from(ex.inputs)).toEqual([2, 8, 4, 7, 0, 0, 4, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
    const scored = Array.from(ex.targets).flatMap((t, i) => (t === IGNORE ? [] : [[i, t]]));
    expect(scored).toEqual([
      [6, 7],
      [12, 8],
    ]);
  });

  it('every scored target is a value whose key (the input there) appears in the context with it', () => {
    const p = { V: 64, N: 32, D: 4, a: 0.01, P: 1, randomNonQueries: false };
    const rng = new Rng(5);
    const firstSlot = { hit: 0, n: 0 };
    for (let e = 0; e < 300; e++) {
      const { inputs, targets } = mqarExample(rng, p);
      const ctx = new Map<number, number>();
      for (let i = 0; i < p.D; i++) ctx.set(inputs[2 * i], inputs[2 * i + 1]);
      expect(ctx.size).toBe(p.D);
      let scored = 0;
      for (let t = 0; t < p.N; t++) {
        if (targets[t] === IGNORE) continue;
        scored++;
        expect(t).toBeGreaterThanOrEqual(2 * p.D);
        expect(inputs[t]).toBeGreaterThan(0);
        expect(inputs[t]).toBeLessThan(32); // a key id
        expect(targets[t]).toBeGreaterThanOrEqual(32); // a value id
        expect(ctx.get(inputs[t])).toBe(targets[t]);
        firstSlot.n++;
        if (t === 2 * p.D) firstSlot.hit++;
      }
      expect(scored).toBe(p.D);
    }
    // Power law: slot 1 is queried far more often than uniform (1/12 per query at S=12).
    expect(firstSlot.hit / 300).toBeGreaterThan(0.5);
  });
});

describe('T-copy selective copying (docs/tasks.md 2)', () => {
  it('targets equal the non-zero prefix tokens in order, at the marker positions', () => {
    const p = { L: 32, M: 4, A: 8, selective: true };
    const rng = new Rng(9);
    let movedOff = 0;
    for (let e = 0; e < 200; e++) {
      const { inputs, targets } = copyExample(rng, p);
      const prefix = Array.from(inputs.subarray(0, p.L + p.M)).filter((x) => x !== 0);
      expect(prefix).toHaveLength(p.M);
      for (const x of prefix) expect(x >= 1 && x <= p.A - 2).toBe(true);
      expect(Array.from(inputs.subarray(p.L + p.M))).toEqual([7, 7, 7, 7]);
      expect(Array.from(targets.subarray(p.L + p.M))).toEqual(prefix);
      expect(Array.from(targets.subarray(0, p.L + p.M)).every((t) => t === IGNORE)).toBe(true);
      if (inputs[0] === 0) movedOff++;
    }
    expect(movedOff).toBeGreaterThan(100);
    const ctrl = copyExample(new Rng(1), { ...p, selective: false });
    expect(Array.from(ctrl.inputs.subarray(0, 4)).every((x) => x > 0)).toBe(true);
  });
});

describe('T-induction (docs/tasks.md 3)', () => {
  it('the trigger occurs exactly twice and the answer is the token after the first trigger', () => {
    const rng = new Rng(3);
    for (let e = 0; e < 300; e++) {
      const N = 3 + (e % 40);
      const { inputs, targets } = inductionExample(rng, { V: 16, N, loss: 'answer' });
      expect(inputs).toHaveLength(N + 1);
      const trig = Array.from(inputs).flatMap((x, i) => (x === 14 ? [i] : []));
      expect(trig).toHaveLength(2);
      expect(trig[1]).toBe(N);
      expect(targets[N]).toBe(inputs[trig[0] + 1]);
      expect(Array.from(targets.subarray(0, N)).every((t) => t === IGNORE)).toBe(true);
      expect(Array.from(inputs).every((x) => x !== 15)).toBe(true);
    }
    const all = inductionExample(new Rng(3), { V: 16, N: 8, loss: 'all' });
    expect(Array.from(all.targets.subarray(0, 8))).toEqual(Array.from(all.inputs.subarray(1, 9)));
  });
});

describe('T-listops (docs/tasks.md 4)', () => {
  it('evaluator hand cases', () => {
    expect(evaluateListOps('[MED 1 2 3 4 X')).toBe(2);
    expect(evaluateListOps('[SM 9 9 X')).toBe(8);
    expect(evaluateListOps('[MAX 2 9 [MIN 4 7 X 0 X')).toBe(9);
    expect(evaluateListOps('[MED 3 [SM 5 6 X 8 X')).toBe(3);
  });

  it('splits are disjoint, lengths in range, label read at the EOS only', () => {
    const task = loadTask(parseTask({ kind: 'listops', train_examples: 2000, valid_examples: 300, test_examples: 300 }), { cacheDir });
    const seen = new Map<string, string>();
    for (const split of ['train', 'valid', 'test'] as const) {
      const batches: Batch[] =
        split === 'train' ? Array.from({ length: 2000 / 100 }, (_, s) => task.trainBatch(s, 100, 0)) : task.evalBatches(split, 64);
      for (const b of batches) {
        for (let r = 0; r < b.batch; r++) {
          const ids = row(b.inputs, r, b.seqLen);
          const tg = row(b.targets, r, b.seqLen);
          const len = ids.indexOf(LISTOPS_EOS) + 1;
          expect(len - 1).toBeGreaterThan(10);
          expect(len - 1).toBeLessThan(50);
          const scored = tg.flatMap((t, i) => (t === IGNORE ? [] : [i]));
          expect(scored).toEqual([len - 1]);
          const text = listopsText(ids);
          expect(tg[len - 1]).toBe(digitId(evaluateListOps(text)));
          // One epoch of training visits each pool row once; any repeat is a duplicate or a leak.
          expect(seen.get(text)).toBeUndefined();
          seen.set(text, split);
        }
      }
    }
    expect(task.evalSize('test')).toBe(300);
    expect(task.chance!).toBeGreaterThan(0.05);
    expect(task.chance!).toBeLessThan(0.3);
  });
});

describe('synthetic TaskData', () => {
  const kinds: TaskConfig[] = [
    parseTask({ kind: 'mqar' }),
    parseTask({ kind: 'selective_copy' }),
    parseTask({ kind: 'induction', eval_examples: 50 }),
  ];

  it('train batches are deterministic in (seed, step) and differ across seeds and steps', () => {
    for (const cfg of kinds) {
      const t = loadTask(cfg, { cacheDir });
      const a = t.trainBatch(3, 8, 1);
      expect(a.inputs).toHaveLength(8 * t.seqLen);
      expect(t.trainBatch(3, 8, 1)).toEqual(a);
      expect(t.trainBatch(3, 8, 2).inputs).not.toEqual(a.inputs);
      expect(t.trainBatch(4, 8, 1).inputs).not.toEqual(a.inputs);
      expect(t.seqLen).toBe(taskSeqLen(cfg));
      expect(t.vocabSize).toBe(taskVocabSize(cfg));
      for (const x of a.inputs) expect(x >= 0 && x < t.vocabSize).toBe(true);
    }
  });

  it('a fixed training pool is revisited in a seeded order each epoch', () => {
    const t = loadTask(parseTask({ kind: 'mqar', train_examples: 64, eval_examples: 16 }), { cacheDir });
    const epoch = (seed: number, e: number) => {
      const rows: string[] = [];
      for (let s = e * 8; s < e * 8 + 8; s++) {
        const b = t.trainBatch(s, 8, seed);
        for (let r = 0; r < 8; r++) rows.push(row(b.inputs, r, b.seqLen).join(','));
      }
      return rows;
    };
    const e0 = epoch(0, 0);
    expect(new Set(e0).size).toBe(64);
    expect([...epoch(0, 1)].sort()).toEqual([...e0].sort());
    expect(epoch(0, 1)).not.toEqual(e0);
    expect(epoch(1, 0)).not.toEqual(e0);
  });

  it('eval sets are fixed by (config, split, data_seed), cached, and independent of the run', () => {
    const cfg = parseTask({ kind: 'mqar', eval_examples: 40 });
    const a = loadTask(cfg, { cacheDir }).evalBatches('test', 16);
    expect(a.map((b) => b.batch)).toEqual([16, 16, 8]);
    const files = fs.readdirSync(cacheDir).filter((f) => f.startsWith('mqar-'));
    expect(files.length).toBeGreaterThan(0);
    const b = loadTask(cfg, { cacheDir }).evalBatches('test', 16);
    expect(b).toEqual(a);
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-tasks-'));
    expect(loadTask(cfg, { cacheDir: fresh }).evalBatches('test', 16)).toEqual(a);
    expect(loadTask(cfg, { cacheDir }).evalBatches('valid', 16)[0].inputs).not.toEqual(a[0].inputs);
    expect(
      loadTask(parseTask({ kind: 'mqar', eval_examples: 40, data_seed: 1 }), { cacheDir }).evalBatches('test', 16)[0].inputs,
    ).not.toEqual(a[0].inputs);
  });

  it('leakage check (0.2): ~0 test inputs in the training stream; ListOps splits disjoint by construction', () => {
    const m = countLeakage(loadTask(parseTask({ kind: 'mqar' }), { cacheDir }), 100, 32, 0);
    expect(m.test).toBe(1000);
    expect(m.leaked).toBeLessThan(5);
    const l = loadTask(parseTask({ kind: 'listops', train_examples: 2000, valid_examples: 300, test_examples: 300 }), { cacheDir });
    expect(countLeakage(l, 40, 50, 1)).toEqual({ leaked: 0, test: 300 });
    // The check itself can fire: evaluating on the training rows leaks everything.
    const self = { ...l, evalBatches: () => Array.from({ length: 4 }, (_, s) => l.trainBatch(s, 50, 1)) };
    expect(countLeakage(self, 4, 50, 1).leaked).toBe(200);
  });

  it('induction exposes one answer-only eval set per extrapolation length', () => {
    const t = loadTask(parseTask({ kind: 'induction', eval_examples: 20, eval_lengths: [16, 32, 64] }), { cacheDir });
    expect(t.extraEvals!.map((e) => [e.name, e.seqLen])).toEqual([
      ['N=16', 17],
      ['N=32', 33],
      ['N=64', 65],
    ]);
    const b = t.extraEvals![2].evalBatches('test', 20)[0];
    expect(b.seqLen).toBe(65);
    for (let r = 0; r < 20; r++) expect(row(b.targets, r, 65).filter((x) => x !== IGNORE)).toHaveLength(1);
    expect(t.evalBatches('test', 20)).toEqual(t.extraEvals![1].evalBatches('test', 20));
  });
});

describe('task config (schema + section 6 constraints)', () => {
  it('an omitted task is lm on sotu with byte tokens; unknown keys are errors', () => {
    expect(taskSchema.parse(undefined)).toMatchObject({ kind: 'lm', corpus: 'sotu', tokenizer: 'byte', seq_len: 256 });
    expect(taskSchema.safeParse({ kind: 'mqar', num_kv_pair: 4 }).success).toBe(false);
    expect(taskSchema.safeParse({ kind: 'pathfinder' }).success).toBe(false);
  });

  const bad: Array<[Record<string, unknown>, string]> = [
    [{ kind: 'mqar', seq_len: 33, vocab_size: 64 }, 'task.seq_len'],
    [{ kind: 'mqar', seq_len: 64, vocab_size: 64 }, 'task.vocab_size'],
    [{ kind: 'mqar', seq_len: 32, num_kv_pairs: 9 }, 'task.num_kv_pairs'],
    [{ kind: 'selective_copy', alphabet_size: 2 }, 'task.alphabet_size'],
    [{ kind: 'induction', seq_len: 2 }, 'task.seq_len'],
    [{ kind: 'listops', min_len: 50, max_len: 50 }, 'task.min_len'],
    [{ kind: 'lm', corpus: 'wikipedia' }, 'task.corpus'],
  ];
  for (const [cfg, key] of bad) {
    it(`rejects ${JSON.stringify(cfg)} naming ${key}`, () => {
      const t = parseTask(cfg);
      expect(() => validateTask(t)).toThrow(UserError);
      expect(() => validateTask(t)).toThrow(key);
      expect(() => loadTask(t, { cacheDir })).toThrow(key);
    });
  }

  it('accepts the boundary 4D = N of MQAR', () => {
    expect(() => validateTask(parseTask({ kind: 'mqar', seq_len: 32, num_kv_pairs: 8 }))).not.toThrow();
  });
});
