import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../src/config/plan.ts';
import { cartesian, countPoints, expandSweep, zipAxes } from '../src/config/sweep.ts';
import { sweepSchema } from '../src/config/schema.ts';
import { UserError } from '../src/errors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-sweep-'));
function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}
const sweep = (s: unknown) => sweepSchema.parse(s);

describe('sweep expansion', () => {
  it('grid size is the product of the axis lengths, first axis slowest', () => {
    const pts = cartesian({ a: [1, 2, 3], b: ['x', 'y'], c: [true, false] });
    expect(pts).toHaveLength(12);
    expect(pts.slice(0, 4)).toEqual([
      { a: 1, b: 'x', c: true },
      { a: 1, b: 'x', c: false },
      { a: 1, b: 'y', c: true },
      { a: 1, b: 'y', c: false },
    ]);
    expect(pts[11]).toEqual({ a: 3, b: 'y', c: false });
  });

  it('zip advances axes together; a length mismatch names both axes', () => {
    expect(zipAxes({ a: [1, 2], b: [3, 4] }, 'sweep.zip')).toEqual([
      { a: 1, b: 3 },
      { a: 2, b: 4 },
    ]);
    expect(() => zipAxes({ 'task.seq_len': [1, 2, 3], 'train.batch_size': [1, 2] }, 'sweep.zip')).toThrow(
      /task\.seq_len has 3 values, train\.batch_size has 2/,
    );
  });

  it('countPoints predicts the expansion without doing it', () => {
    for (const s of [
      { grid: { g: [1, 2] }, zip: { a: [1, 2, 3], b: [4, 5, 6] }, cases: [{ name: 'c1', set: { s: 9 }, grid: { h: [7, 8] } }] },
      { base: false, cases: [{ name: 'c', grid: { h: [1, 2, 3] }, zip: { z: [1, 2] } }, { name: 'd' }] },
      {},
    ]) {
      expect(countPoints(sweep(s))).toBe(expandSweep(sweep(s)).length);
    }
  });

  it('grid x zip is a product; cases add their own runs', () => {
    const pts = expandSweep(
      sweep({
        grid: { g: [1, 2] },
        zip: { a: [1, 2, 3], b: [4, 5, 6] },
        cases: [{ name: 'c1', set: { s: 9 }, grid: { h: [7, 8] } }],
      }),
    );
    expect(pts).toHaveLength(2 * 3 + 2);
    expect(pts[6]).toEqual({ values: { s: 9, h: 7 }, case: 'c1' });
    expect(expandSweep(sweep({ base: false, cases: [{ name: 'c', grid: { h: [1] } }] }))).toHaveLength(1);
  });

  it('a config with no sweep is one run; seeds multiply; order is deterministic', () => {
    const f = write('seeds.yaml', 'model: { d_model: 32 }\nseeds: [0, 1, 2]\nsweep: { grid: { train.lr: [0.001, 0.002] } }\n');
    const a = loadPlan(f);
    expect(a.runs).toHaveLength(6);
    expect(a.runs.map((r) => [r.axes['train.lr'], r.axes.seed])).toEqual([
      [0.001, 0],
      [0.001, 1],
      [0.001, 2],
      [0.002, 0],
      [0.002, 1],
      [0.002, 2],
    ]);
    expect(loadPlan(f).runs.map((r) => r.id)).toEqual(a.runs.map((r) => r.id));
    expect(loadPlan(write('one.yaml', 'name: one\n')).runs).toHaveLength(1);
  });

  it('exclude removes exactly the matching runs', () => {
    const f = write(
      'ex.yaml',
      'sweep:\n  grid:\n    train.lr: [0.001, 0.002, 0.003]\n    train.batch_size: [4, 8]\n  exclude:\n    - { train.lr: 0.002, train.batch_size: 8 }\n    - { train.lr: 0.003 }\n',
    );
    const plan = loadPlan(f);
    expect(plan.excluded).toBe(3);
    expect(plan.runs.map((r) => [r.axes['train.lr'], r.axes['train.batch_size']])).toEqual([
      [0.001, 4],
      [0.001, 8],
      [0.002, 4],
    ]);
  });

  it('duplicate resolved configs collapse to one run and the plan says so', () => {
    // 0.001 and 1e-3 are the same value; the default batch size is 16.
    const f = write(
      'dup.yaml',
      'sweep:\n  grid:\n    train.lr: [0.001, 1e-3]\n    train.batch_size: [16, 8]\n  cases:\n    - { name: again, set: { train.batch_size: 16, train.lr: 0.001 } }\n',
    );
    const plan = loadPlan(f);
    expect(plan.runs).toHaveLength(2);
    expect(plan.collapsed).toBe(3);
  });

  it('max_runs guards large sweeps unless --yes', () => {
    const f = write('big.yaml', 'execution: { max_runs: 3 }\nsweep: { grid: { train.steps: [1, 2, 3, 4] } }\n');
    expect(() => loadPlan(f)).toThrow(/4 runs, more than execution.max_runs \(3\); pass --yes/);
    expect(loadPlan(f, { yes: true }).runs).toHaveLength(4);
  });

  it('an empty sweep is an error', () => {
    const f = write('empty.yaml', 'sweep:\n  grid: { train.steps: [1, 2] }\n  exclude: [{ train.batch_size: 16 }]\n');
    expect(() => loadPlan(f)).toThrow(UserError);
    expect(() => loadPlan(f)).toThrow(/sweep is empty/);
  });

  it('extends deep-merges (later wins, lists replace) and --set overrides last', () => {
    write('base1.yaml', 'train: { steps: 5, lr: 0.01 }\neval: { splits: [valid, test] }\nseeds: [0, 1]\n');
    write('base2.yaml', 'train: { lr: 0.02 }\n');
    const f = write('child.yaml', 'extends: [base1.yaml, base2.yaml]\neval: { splits: [test] }\nseeds: [5]\n');
    const cfg = loadPlan(f, { set: ['train.batch_size=4'] }).runs[0].config;
    expect(cfg.train.steps).toBe(5);
    expect(cfg.train.lr).toBe(0.02);
    expect(cfg.train.batch_size).toBe(4);
    expect(cfg.eval.splits).toEqual(['test']);
    expect(cfg.seed).toBe(5);
  });

  it('durations accept 90s, 30m, 2h', () => {
    const f = write('dur.yaml', 'execution: { timeout: 30m }\n');
    expect(loadPlan(f).execution.timeout).toBe(1800);
    expect(loadPlan(f, { set: ['execution.timeout=2h'] }).execution.timeout).toBe(7200);
    expect(loadPlan(f, { set: ['execution.timeout=90'] }).execution.timeout).toBe(90);
  });
});
