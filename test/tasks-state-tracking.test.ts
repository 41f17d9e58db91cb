// State tracking (docs/tasks.md 6.2): parity and modular arithmetic, trained at
// short lengths and tested at longer ones.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/tasks/prng.ts';
import { IGNORE, loadTask, type Batch } from '../src/tasks/index.ts';
import { parseTask, validateTask } from '../src/tasks/schema.ts';
import { parityExample } from '../src/tasks/kinds/parity.ts';
import { modArithExample, modArithLength, modArithValue } from '../src/tasks/kinds/modular-arithmetic.ts';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-state-'));
/** Length of an example row: one past its last non-PAD input, plus the blanked answer. */
const rowLength = (inputs: Int32Array) => {
  let n = inputs.length;
  while (n > 0 && inputs[n - 1] === 0) n--;
  return n + 1;
};
const scored = (targets: ArrayLike<number>) => Array.from(targets).flatMap((t, i) => (t === IGNORE ? [] : [i]));

describe('parity', () => {
  it('n-1 bits (ids 1, 2), the answer 1 + parity predicted at the last bit only, nothing after; PAD beyond', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 200; i++) {
      const n = 2 + rng.randInt(30);
      const ex = parityExample(rng, { n, T: 40, targets: 'final' });
      const bits = Array.from(ex.inputs.subarray(0, n - 1));
      expect(bits.every((b) => b === 1 || b === 2)).toBe(true);
      expect(Array.from(ex.inputs.subarray(n - 1)).every((b) => b === 0)).toBe(true);
      expect(scored(ex.targets)).toEqual([n - 2]);
      expect(ex.targets[n - 2]).toBe(1 + (bits.filter((b) => b === 2).length % 2));
    }
  });

  it("targets: 'all' scores the running parity at every bit", () => {
    const ex = parityExample(new Rng(3), { n: 9, T: 9, targets: 'all' });
    let ones = 0;
    for (let t = 0; t < 8; t++) {
      ones += ex.inputs[t] === 2 ? 1 : 0;
      expect(ex.targets[t]).toBe(1 + (ones % 2));
    }
    expect(ex.targets[8]).toBe(IGNORE);
  });

  it('training rows at the training lengths, valid/test at the test lengths, extra sets at exactly n; same batches for the same seeds', () => {
    const task = parseTask({ kind: 'parity', eval_examples: 200, eval_lengths: [32, 128] });
    const data = loadTask(task, { cacheDir });
    expect(data.seqLen).toBe(64);
    const lengths = (bs: Batch[]) =>
      bs.flatMap((b) => Array.from({ length: b.batch }, (_, r) => rowLength(b.inputs.subarray(r * b.seqLen, (r + 1) * b.seqLen))));
    const train = lengths([data.trainBatch(0, 256, 1)]);
    expect(Math.min(...train)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...train)).toBeLessThanOrEqual(16);
    const test = lengths(data.evalBatches('test', 100));
    expect(Math.min(...test)).toBeGreaterThanOrEqual(17);
    expect(Math.max(...test)).toBeLessThanOrEqual(64);
    expect(new Set(test).size).toBeGreaterThan(20);
    expect(data.extraEvals!.map((e) => [e.name, e.seqLen])).toEqual([
      ['n=32', 32],
      ['n=128', 128],
    ]);
    const b = data.extraEvals![1]!.evalBatches('test', 10)[0]!;
    expect(b.seqLen).toBe(128);
    expect(scored(b.targets.subarray(0, 128))).toEqual([126]);
    expect(data.trainBatch(5, 8, 2).inputs).toEqual(loadTask(task, { cacheDir }).trainBatch(5, 8, 2).inputs);
    expect(data.trainBatch(5, 8, 2).inputs).not.toEqual(data.trainBatch(5, 8, 3).inputs);
  });

  it('checks name the key', () => {
    expect(() => validateTask(parseTask({ kind: 'parity', test_max_len: 100 }))).toThrow(
      /^task\.test_max_len: 100 does not fit the context seq_len=64/,
    );
    expect(() => validateTask(parseTask({ kind: 'parity', train_min_len: 20 }))).toThrow(
      /^task\.train_min_len: needs train_min_len ≤ train_max_len/,
    );
  });
});

describe('modular arithmetic (no brackets)', () => {
  it('the value mod 5 with × binding tighter than + and −, never negative (hand cases)', () => {
    const [P, M, T] = [1, 2, 3];
    expect(modArithValue([2, 3, 4], [P, T])).toBe((2 + 12) % 5); // 4
    expect(modArithValue([1, 2], [M])).toBe(4); // -1 mod 5
    expect(modArithValue([3, 3, 3], [T, T])).toBe(2); // 27
    expect(modArithValue([4, 2, 3, 1], [M, T, P])).toBe(4); // 4 - 6 + 1 = -1
    expect(modArithValue([0], [])).toBe(0);
  });

  it('odd lengths 2u-1 over the range (docs/tasks.md 6.2); numbers at even, operators at odd positions, = at n-2, the result scored there', () => {
    const rng = new Rng(11);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(modArithLength(rng, 3, 23));
    expect([...seen].sort((a, b) => a - b)).toEqual([3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
    expect(Math.min(...[...Array(200)].map(() => modArithLength(rng, 40, 256)))).toBe(39); // n_min 40 gives 39, also a training length
    for (let i = 0; i < 100; i++) {
      const n = modArithLength(rng, 3, 31);
      const ex = modArithExample(rng, n, 32);
      const nums: number[] = [];
      const ops: number[] = [];
      for (let t = 0; t < n - 2; t++) (t % 2 ? ops : nums).push(t % 2 ? ex.inputs[t]! : ex.inputs[t]! - 5);
      expect(nums.every((x) => x >= 0 && x <= 4)).toBe(true);
      expect(ops.every((o) => o >= 1 && o <= 3)).toBe(true);
      expect(ex.inputs[n - 2]).toBe(4);
      expect(ex.inputs[n - 1]).toBe(0); // the answer is blanked in the input
      expect(scored(ex.targets)).toEqual([n - 2]);
      expect(ex.targets[n - 2]).toBe(5 + modArithValue(nums, ops));
    }
  });

  it('answers are spread over the five values (chance 0.2), and the task loads with its extra sets', () => {
    const data = loadTask(parseTask({ kind: 'modular_arithmetic', eval_examples: 500 }), { cacheDir });
    expect(data.chance).toBe(0.2);
    const answers = data.evalBatches('test', 500)[0]!.targets.filter((t) => t !== IGNORE);
    expect(answers.length).toBe(500);
    for (let v = 5; v <= 9; v++) expect(answers.filter((a) => a === v).length).toBeGreaterThan(60);
    expect(data.extraEvals!.map((e) => e.name)).toEqual(['n=47', 'n=95', 'n=185']);
    expect(() => validateTask(parseTask({ kind: 'modular_arithmetic', eval_lengths: [48] }))).toThrow(
      /^task\.eval_lengths: every length must be odd/,
    );
  });
});

describe('configs/state-tracking.yaml', () => {
  it('its smoke profile runs both tasks on two models; every run reports accuracy at the test lengths and per extra length', {
    timeout: 240_000,
  }, () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-state-smoke-'));
    const r = spawnSync(
      process.execPath,
      ['bin/seqlab.js', 'run', 'configs/state-tracking.yaml', '--profile', 'smoke', '--set', `output.root=${out}`, '--jobs', '2'],
      {
        encoding: 'utf8',
        timeout: 230_000,
        env: { ...process.env, SEQLAB_BLAS_THREADS: '1' },
      },
    );
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const runs = path.join(out, 'state-tracking-smoke', 'runs');
    const summaries = fs.readdirSync(runs).map((id) => ({
      task: JSON.parse(fs.readFileSync(path.join(runs, id, 'config.json'), 'utf8')).task,
      summary: JSON.parse(fs.readFileSync(path.join(runs, id, 'summary.json'), 'utf8')) as Record<string, number>,
    }));
    expect(summaries.map((s) => s.task.kind).sort()).toEqual(['modular_arithmetic', 'modular_arithmetic', 'parity', 'parity']);
    for (const { task, summary } of summaries) {
      expect(summary.test_accuracy).toBeGreaterThanOrEqual(0);
      expect(summary.test_accuracy).toBeLessThanOrEqual(1);
      expect(summary.test_eval_windows).toBe(16);
      for (const n of task.eval_lengths as number[]) expect(summary, `${task.kind} n=${n}`).toHaveProperty([`test_accuracy@n=${n}`]);
    }
  });
});
