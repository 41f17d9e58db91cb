// Claims: evaluation over seeds (verdicts, for_each, best_over, selections that inherit keys) and
// their rejection at validate time (unknown metric, unknown selection key, no or two operators).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSandbox } from './fixtures/cli.ts';
import { claimSchema, type Claim } from '../src/config/claims.ts';
import { checkExitCode, claimsNote, evaluateClaims } from '../src/claims/evaluate.ts';
import { isKnownMetric } from '../src/config/claim-metrics.ts';
import { renderClaimsMarkdown } from '../src/claims/render.ts';
import type { ReportRun } from '../src/report/collect.ts';
import { UserError } from '../src/errors.ts';

const { dir, write, seqlab } = cliSandbox('seqlab-claims-');

let nextId = 0;
function run(axes: Record<string, unknown>, summary: Record<string, unknown>, state = 'done'): ReportRun {
  return { sweep: 's', sweepDir: dir, id: `r${nextId++}`, axes, state, config: { seed: axes.seed ?? 0 }, summary };
}
const claim = (c: Record<string, unknown>): Claim => claimSchema.parse(c);

/** Runs of two models over seeds with the given accuracies. */
function runs(values: Record<string, number[]>, extra: Record<string, unknown> = {}): ReportRun[] {
  return Object.entries(values).flatMap(([preset, accs]) =>
    accs.map((a, seed) => run({ 'model.preset': preset, seed, ...extra }, { accuracy: a })),
  );
}

describe('claim evaluation', () => {
  it('a clear difference passes, the reverse claim fails, with Welch statistics', () => {
    const rs = runs({ mamba: [0.95, 0.97, 0.96], retnet: [0.5, 0.55, 0.52] });
    const [pass] = evaluateClaims(
      [claim({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, greater_than: { 'model.preset': 'retnet' } })],
      rs,
    );
    expect(pass.verdict).toBe('pass');
    expect(pass.left.stats).toMatchObject({ n: 3, mean: expect.closeTo(0.96, 10) });
    expect(pass.right!.stats.n).toBe(3);
    expect(pass.p).toBeLessThan(0.001);
    expect(pass.test).toBe('Welch t-test');
    const [fail] = evaluateClaims(
      [claim({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, less_than: { 'model.preset': 'retnet' } })],
      rs,
    );
    expect(fail.verdict).toBe('fail');
    expect(fail.p).toBeGreaterThan(0.99);
    expect(checkExitCode([pass])).toBe(0);
    expect(checkExitCode([pass, fail])).toBe(1);
  });

  it('a margin the data do not clear fails', () => {
    const rs = runs({ mamba: [0.6, 0.62, 0.61], retnet: [0.55, 0.57, 0.56] });
    const c = (margin: number) =>
      claim({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, greater_than: { 'model.preset': 'retnet' }, margin });
    expect(evaluateClaims([c(0)], rs)[0].verdict).toBe('pass');
    expect(evaluateClaims([c(0.1)], rs)[0].verdict).toBe('fail');
  });

  it('n = 1 on a side is inconclusive, never pass, even for a huge gap; --strict makes it fail', () => {
    const rs = runs({ mamba: [0.99], retnet: [0.1, 0.11, 0.12] });
    const [r] = evaluateClaims(
      [claim({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, greater_than: { 'model.preset': 'retnet' } })],
      rs,
    );
    expect(r.verdict).toBe('inconclusive');
    expect(r.note).toMatch(/left/);
    expect(checkExitCode([r])).toBe(0);
    expect(checkExitCode([r], true)).toBe(1);
    const [b] = evaluateClaims([claim({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, at_least: 0.5 })], rs);
    expect(b.verdict).toBe('inconclusive');
  });

  it('bounds: one-sample test against the constant; zero spread above the bound passes', () => {
    const rs = runs({ transformer: [1, 1, 1], retnet: [0.3, 0.9, 0.5] });
    const [t] = evaluateClaims([claim({ metric: 'accuracy', where: { 'model.preset': 'transformer' }, at_least: 0.9 })], rs);
    expect(t).toMatchObject({ verdict: 'pass', test: 'one-sample t-test', bound: 0.9 });
    // mean 0.567, std 0.31 over 3 seeds: clearly not above 0.9; below 0.95 only at p = 0.08 (fail), below 1.5 at p < 0.05.
    const [lo] = evaluateClaims([claim({ metric: 'accuracy', where: { 'model.preset': 'retnet' }, at_least: 0.9 })], rs);
    expect(lo.verdict).toBe('fail');
    const [near] = evaluateClaims([claim({ metric: 'accuracy', where: { 'model.preset': 'retnet' }, at_most: 0.95 })], rs);
    expect(near.verdict).toBe('fail');
    expect(near.p).toBeCloseTo(0.081, 2);
    const [hi] = evaluateClaims([claim({ metric: 'accuracy', where: { 'model.preset': 'retnet' }, at_most: 1.5 })], rs);
    expect(hi.verdict).toBe('pass');
    expect(hi.p).toBeLessThan(0.05);
  });

  it('for_each makes one claim per value; the right selection inherits where and the instance', () => {
    const rs = [
      ...runs({ transformer: [1, 1, 1], retnet: [0.2, 0.25, 0.3] }, { 'model.d_model': 16 }),
      ...runs({ transformer: [1, 1, 1], retnet: [0.99, 1, 1] }, { 'model.d_model': 64 }),
    ];
    const out = evaluateClaims(
      [
        claim({
          name: 'retnet below attention',
          metric: 'accuracy',
          where: { 'model.preset': 'retnet' },
          for_each: ['model.d_model'],
          less_than: { 'model.preset': 'transformer' },
          margin: 0.1,
        }),
      ],
      rs,
    );
    expect(out.map((r) => [r.instance['model.d_model'], r.verdict])).toEqual([
      [16, 'pass'],
      [64, 'fail'],
    ]);
    expect(out[0].right!.selection).toEqual({ 'model.preset': 'transformer', 'model.d_model': 16 });
    expect(out[0].right!.stats.mean).toBe(1);
    expect(out[0].name).toBe('retnet below attention (model.d_model=16)');
    const md = renderClaimsMarkdown(out);
    expect(md).toMatch(/Welch/);
    expect(md).toMatch(/1 pass, 1 fail, 0 inconclusive/);
  });

  it('best_over keeps the best learning rate per group (by valid_loss) before selecting', () => {
    const mk = (preset: string, lr: number, acc: number, loss: number, seed: number) =>
      run({ 'model.preset': preset, 'train.lr': lr, seed }, { accuracy: acc, valid_loss: loss });
    const rs = [0, 1, 2].flatMap((s) => [
      mk('retnet', 1e-3, 0.2 + s / 100, 3, s),
      mk('retnet', 1e-2, 0.9 + s / 100, 1, s), // the better lr
      mk('mamba', 1e-3, 0.8 + s / 100, 1, s),
      mk('mamba', 1e-2, 0.1 + s / 100, 4, s),
    ]);
    const c = { metric: 'accuracy', where: { 'model.preset': 'mamba' }, greater_than: { 'model.preset': 'retnet' } };
    // With the best lr of each model (by valid_loss): mamba 0.81 < retnet 0.91, so mamba > retnet fails.
    const [best] = evaluateClaims([claim({ ...c, best_over: 'train.lr' })], rs);
    expect(best.left.stats.mean).toBeCloseTo(0.81, 10);
    expect(best.right!.stats.mean).toBeCloseTo(0.91, 10);
    expect(best.left.stats.n).toBe(3);
    expect(best.verdict).toBe('fail');
  });

  it('unfinished runs are not counted; a selection matching no run or a metric nobody reports is a user error with a did-you-mean', () => {
    const rs = [...runs({ mamba: [0.9, 0.91], retnet: [0.5, 0.6] }), run({ 'model.preset': 'mamba', seed: 9 }, {}, 'failed')];
    const [r] = evaluateClaims([claim({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, at_least: 0.5 })], rs);
    expect(r.left.stats.n).toBe(2);
    const err = (c: Record<string, unknown>) => {
      try {
        evaluateClaims([claim(c)], rs, () => 'x.yaml:3:5: claims.0');
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
        expect((e as UserError).exitCode).toBe(2);
        return (e as Error).message;
      }
      throw new Error('expected a UserError');
    };
    expect(err({ metric: 'accuracy', where: { 'model.preset': 'mambaa' }, at_least: 0.5 })).toBe(
      'x.yaml:3:5: claims.0: no finished run has model.preset = mambaa (did you mean "mamba"?); values: mamba, retnet',
    );
    expect(err({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, greater_than: { 'model.preset': 'selret' } })).toMatch(
      /claims\.0 \(greater_than\): no finished run has model\.preset = selret/,
    );
    expect(err({ metric: 'test_bpb', where: { 'model.preset': 'mamba' }, at_least: 0.5 })).toMatch(
      /metric "test_bpb" is not reported by any selected run/,
    );
  });

  it('metric names follow src/metrics/names.ts', () => {
    for (const m of [
      'test_bpb',
      'valid_loss',
      'accuracy',
      'exact_match',
      'params',
      'decode_ms_per_token@4096',
      'prefill_tokens_per_s@256',
      'test_accuracy',
      'test_accuracy@N=512',
    ])
      expect(isKnownMetric(m), m).toBe(true);
    for (const m of ['test_bpc', 'bpb', 'decode_ms_per_token', 'params@3', 'valid_accuracy@N=5', 'accuracy@N=5'])
      expect(isKnownMetric(m), m).toBe(false);
  });
});

describe('statistics a reviewer accepts', () => {
  const withN = (accs: number[], n: number, preset = 'transformer') =>
    accs.map((a, seed) => run({ 'model.preset': preset, seed }, { accuracy: a, test_eval_windows: n }));

  it('zero spread gives no p = 0: the binomial floor on n held-out examples decides (3 x 4 perfect examples do not show > 0.9)', () => {
    const c = claim({ metric: 'accuracy', where: { 'model.preset': 'transformer' }, at_least: 0.9 });
    const [few] = evaluateClaims([c], withN([1, 1, 1], 4));
    expect(few.left.floor.kind).toBe('binomial');
    expect(few.p).toBeGreaterThan(0.05);
    expect(few.verdict).toBe('fail');
    const [many] = evaluateClaims([c], withN([1, 1, 1], 500));
    expect(many.p).toBeGreaterThan(0);
    expect(many.p).toBeLessThan(1e-3);
    expect(many.verdict).toBe('pass');
    // Without an example count: the floor is the rounding variance of the reported precision (3 decimals).
    const [res] = evaluateClaims([c], runs({ transformer: [1, 1, 1] }));
    expect(res.left.floor.kind).toBe('resolution');
    expect(res.p).toBeGreaterThan(0);
    // A difference finer than that resolution is not significant, however constant the seeds.
    const [fine] = evaluateClaims(
      [claim({ metric: 'accuracy', where: { 'model.preset': 'transformer' }, at_least: 0.9999 })],
      runs({ transformer: [1, 1, 1] }),
    );
    expect(fine.verdict).toBe('fail');
  });

  it('each comparison reports its difference with the 95% CI; a metric fixed by the config is compared exactly, untested', () => {
    const rs = runs({ mamba: [0.95, 0.97, 0.96], retnet: [0.5, 0.55, 0.52] });
    const [r] = evaluateClaims(
      [claim({ metric: 'accuracy', where: { 'model.preset': 'mamba' }, greater_than: { 'model.preset': 'retnet' } })],
      rs,
    );
    expect(r.diff).toBeCloseTo(0.96 - 0.5233333, 6);
    expect(r.ci[0]).toBeLessThan(r.diff);
    expect(r.ci[1]).toBeGreaterThan(r.diff);
    expect(r.ci[0]).toBeGreaterThan(0.3); // clearly apart
    expect(renderClaimsMarkdown([r])).toMatch(/\+0\.437 \[0\.\d{3}, 0\.\d{3}\]/);
    const ps = [
      run({ 'model.preset': 'a', seed: 0 }, { params: 100 }),
      run({ 'model.preset': 'a', seed: 1 }, { params: 100 }),
      run({ 'model.preset': 'b', seed: 0 }, { params: 300 }),
    ];
    const [e] = evaluateClaims([claim({ metric: 'params', where: { 'model.preset': 'a' }, less_than: { 'model.preset': 'b' } })], ps);
    expect(e).toMatchObject({ test: 'exact (fixed by config)', verdict: 'pass', diff: -200 });
    expect(e.p).toBeNaN();
  });

  it('Holm over the claims of one check: two claims at p = 0.035 each pass alone, not together; --correction none opts out', () => {
    const rs = runs({ retnet: [0.3, 0.9, 0.5] });
    const cs = ['one', 'two'].map((name) => claim({ name, metric: 'accuracy', where: { 'model.preset': 'retnet' }, at_most: 1.2 }));
    const alone = evaluateClaims(cs.slice(0, 1), rs);
    expect(alone[0].p).toBeCloseTo(0.0348, 3);
    expect(alone[0].verdict).toBe('pass');
    const both = evaluateClaims(cs, rs);
    expect(both.map((r) => r.pAdjusted)).toEqual([expect.closeTo(0.0696, 3), expect.closeTo(0.0696, 3)]);
    expect(both.map((r) => r.verdict)).toEqual(['fail', 'fail']);
    expect(claimsNote(both)).toMatch(/Holm-Bonferroni correction over the 2 tested claims/);
    const none = evaluateClaims(cs, rs, undefined, { correction: 'none' });
    expect(none.map((r) => r.verdict)).toEqual(['pass', 'pass']);
    expect(claimsNote(none)).toMatch(/No correction for multiplicity/);
  });
});

describe('preconditions (positive controls)', () => {
  // retnet learns nothing on either variant; mamba solves both.
  const rs = [
    ...runs({ mamba: [0.99, 0.98, 0.99], retnet: [0.1, 0.12, 0.11] }, { 'task.selective': true }),
    ...runs({ mamba: [0.99, 0.99, 0.98], retnet: [0.1, 0.11, 0.1] }, { 'task.selective': false }),
  ];
  const control = {
    name: 'control',
    kind: 'precondition',
    metric: 'accuracy',
    where: { 'task.selective': false },
    for_each: ['model.preset'],
    at_least: 0.9,
  };
  const trivial = {
    name: 'retnet does not',
    metric: 'accuracy',
    where: { 'model.preset': 'retnet', 'task.selective': true },
    at_most: 0.9,
  };

  it('a claim whose control fails is invalid (naming it), never pass; check exits 1', () => {
    const out = evaluateClaims([claim(control), claim({ ...trivial, requires: ['control'] })], rs);
    const dep = out.find((r) => r.name === 'retnet does not')!;
    expect(dep.p).toBeLessThan(0.001); // it would pass on its own
    expect(dep.verdict).toBe('invalid');
    expect(dep.note).toBe('control "control" failed (control (model.preset=retnet))');
    expect(checkExitCode(out)).toBe(1);
    expect(renderClaimsMarkdown(out)).toMatch(/invalid: control "control" failed/);
    expect(renderClaimsMarkdown(out)).toMatch(/1 invalid\./);
    // A control must be named (requires and the invalid lines name it); required_by is a control's.
    expect(claimSchema.safeParse({ kind: 'precondition', metric: 'accuracy', at_least: 0.9 }).error?.issues[0]?.message).toMatch(
      /a precondition needs a name/,
    );
    expect(claimSchema.safeParse({ name: 'x', required_by: 'all', metric: 'accuracy', at_least: 0.9 }).error?.issues[0]?.message).toMatch(
      /required_by applies to a claim of kind: precondition/,
    );
    // Without requires the same claim passes: the control is what makes it invalid.
    expect(evaluateClaims([claim(control), claim(trivial)], rs)[2].verdict).toBe('pass');
  });

  it('a passing control lets its dependents be judged; required_by: all gates every claim; an inconclusive control invalidates too', () => {
    const mambaOnly = { ...control, where: { 'task.selective': false, 'model.preset': 'mamba' }, for_each: [] };
    const dep = {
      name: 'mamba solves',
      metric: 'accuracy',
      where: { 'model.preset': 'mamba', 'task.selective': true },
      at_least: 0.9,
      requires: ['control'],
    };
    expect(evaluateClaims([claim(mambaOnly), claim(dep)], rs).map((r) => r.verdict)).toEqual(['pass', 'pass']);
    const all = evaluateClaims([claim({ ...control, required_by: 'all' }), claim(trivial), claim({ ...dep, requires: [] })], rs);
    expect(all.filter((r) => r.kind === 'claim').map((r) => r.verdict)).toEqual(['invalid', 'invalid']);
    const one = [...rs.slice(0, 6), run({ 'model.preset': 'mamba', 'task.selective': false, seed: 0 }, { accuracy: 1 })];
    const inc = evaluateClaims([claim(mambaOnly), claim(dep)], one);
    expect(inc[0].verdict).toBe('inconclusive');
    expect(inc[1]).toMatchObject({ verdict: 'invalid', note: 'control "control" was inconclusive' });
    // A claim its own data leave inconclusive stays inconclusive (evidence neither way), naming the control.
    const lone = evaluateClaims(
      [claim(control), claim({ ...dep, where: { 'model.preset': 'mamba', 'task.selective': false, seed: 0 } })],
      rs,
    );
    expect(lone[2]).toMatchObject({ verdict: 'inconclusive' });
    expect(lone[2].note).toMatch(/^n < 2 on the left side; control "control" failed/);
  });
});

const BASE = 'task: { kind: mqar }\nsweep: { grid: { model.preset: [mamba, retnet] } }\n';

describe('bad claims are rejected at validate time', () => {
  it('an unknown metric, with a did-you-mean from the metric names', () => {
    const f = write('m.yaml', `${BASE}claims:\n  - { metric: acuracy, where: { model.preset: mamba }, at_least: 0.5 }\n`);
    const r = seqlab('validate', f);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/m\.yaml:4:\d+: claims\.0\.metric: unknown metric "acuracy" \(did you mean "accuracy"\?\)/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('a selection key that names no config key, in where, the comparison and for_each', () => {
    const f = write(
      'k.yaml',
      `${BASE}claims:\n  - { metric: accuracy, where: { model.prest: mamba }, for_each: [train.lrr], greater_than: { model.d_modle: 8 } }\n`,
    );
    const r = seqlab('validate', f);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /claims\.0\.where\.model\.prest: "model\.prest" names a config key that does not exist \(did you mean "model\.preset"\?\)/,
    );
    expect(r.stderr).toMatch(/claims\.0\.greater_than\.model\.d_modle: .*did you mean "model\.d_model"/);
    expect(r.stderr).toMatch(/claims\.0\.for_each\.0: .*did you mean "train\.lr"/);
  });

  it('a claim needs exactly one operator; unknown claim fields are errors', () => {
    const none = seqlab('validate', write('n.yaml', `${BASE}claims:\n  - { metric: accuracy }\n`));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/claims\.0: a claim needs exactly one of at_least, at_most, greater_than, less_than \(none given\)/);
    const two = seqlab('validate', write('t.yaml', `${BASE}claims:\n  - { metric: accuracy, at_least: 0.1, at_most: 0.9 }\n`));
    expect(two.stderr).toMatch(/found at_least and at_most/);
    const typo = seqlab('validate', write('u.yaml', `${BASE}claims:\n  - { metric: accuracy, at_lest: 0.1 }\n`));
    expect(typo.stderr).toMatch(/claims\.0\.at_lest: unknown key \(did you mean "at_least"\?\)/);
  });

  it('an unknown stop metric, a precondition cycle and requires naming no claim: all at once, each at file:line:col, exit 2, nothing written', () => {
    const f = write(
      'pre.yaml',
      `name: pre-bad
task: { kind: mqar }
train: { stop_at: { metric: valid_acuracy, at_least: 0.99, every: 10 } }
sweep: { grid: { model.preset: [mamba, retnet] } }
claims:
  - { name: a, kind: precondition, requires: [b], metric: accuracy, at_least: 0.5 }
  - { name: b, kind: precondition, requires: [a], metric: accuracy, at_least: 0.5 }
  - { name: c, requires: [controll], metric: accuracy, at_most: 0.9 }
  - { name: d, requires: [c], metric: accuracy, at_most: 0.9 }
`,
    );
    for (const cmd of ['validate', 'run']) {
      const r = seqlab(cmd, f);
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(
        lines.some((l) =>
          /pre\.yaml:3:\d+: train\.stop_at\.metric: unknown metric "valid_acuracy" for a stop rule \(did you mean "valid_accuracy"\?\)/.test(
            l,
          ),
        ),
        r.stderr,
      ).toBe(true);
      expect(
        lines.some((l) => /pre\.yaml:6:\d+: claims\.0\.requires: precondition cycle: a -> b -> a/.test(l)),
        r.stderr,
      ).toBe(true);
      expect(
        lines.some((l) => /pre\.yaml:8:\d+: claims\.2\.requires\.0: no claim is named "controll"/.test(l)),
        r.stderr,
      ).toBe(true);
      expect(
        lines.some((l) => /pre\.yaml:9:\d+: claims\.3\.requires\.0: "c" is not a control: mark it kind: precondition/.test(l)),
        r.stderr,
      ).toBe(true);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(fs.existsSync(path.join(dir, 'runs/pre-bad'))).toBe(false);
    }
  });

  it('a stop rule on a metric the task does not report, or with nothing to time its checks, is rejected', () => {
    const r = seqlab('validate', write('stop.yaml', `task: { kind: mqar }\ntrain: { stop_at: { metric: valid_bpb, at_most: 1 } }\n`));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stop\.yaml:2:\d+: train\.stop_at\.metric: "valid_bpb" is not reported by mqar/);
    expect(r.stderr).toMatch(/train\.stop_at: a stop rule needs every \(or eval\.every > 0\)/);
    const ok = seqlab(
      'validate',
      write('stop-ok.yaml', `task: { kind: mqar }\ntrain: { stop_at: { metric: valid_accuracy, at_least: 0.99, every: 25 } }\n`),
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('a valid claim validates', () => {
    const r = seqlab(
      'validate',
      write(
        'ok.yaml',
        `${BASE}claims:\n  - { metric: accuracy, where: { model.preset: mamba }, greater_than: { model.preset: retnet }, margin: 0.1 }\n`,
      ),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('seqlab check on a real sweep', () => {
  it('exit 2 with one line for a selection that matches no run or a metric no run reports; exit 1 on a failed claim', {
    timeout: 240_000,
  }, () => {
    const body = `name: tiny-check
task: { kind: mqar, vocab_size: 16, seq_len: 8, num_kv_pairs: 2, eval_examples: 8 }
model: { preset: retnet, d_model: 8, n_layers: 1, ffn: none }
train: { steps: 2, batch_size: 4, checkpoint: false }
eval: { batches: all, splits: [test] }
bench: { enabled: false }
seeds: [0, 1]
`;
    const f = write('tiny.yaml', `${body}claims:\n  - { metric: accuracy, where: { model.preset: retnet }, at_least: 1.5 }\n`);
    const r = seqlab('run', f, '--jobs', '2');
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    const ok = seqlab('check', path.join(dir, 'runs/tiny-check'));
    expect(ok.code).toBe(1); // accuracy cannot exceed 1.5: the claim fails
    expect(ok.stdout).toMatch(/\| fail/);
    expect(fs.existsSync(path.join(dir, 'runs/tiny-check/reports/claims.md'))).toBe(true);
    const noRun = write('tiny2.yaml', `${body}claims:\n  - { metric: accuracy, where: { model.preset: retne }, at_least: 0.1 }\n`);
    const a = seqlab('check', noRun);
    expect(a.code).toBe(2);
    expect(a.stderr.trim().split('\n')).toHaveLength(1);
    expect(a.stderr).toMatch(/tiny2\.yaml:9:\d+: claims\.0: no finished run has model\.preset = retne \(did you mean "retnet"\?\)/);
    const noMetric = write('tiny3.yaml', `${body}claims:\n  - { metric: test_bpb, at_most: 9 }\n`);
    const b = seqlab('check', noMetric);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/claims\.0: metric "test_bpb" is not reported by any selected run/);
    // Claims are not part of a run's identity: a config with a failing control checks the same runs.
    const gated = write(
      'tiny4.yaml',
      `${body}claims:\n  - { name: learns, kind: precondition, metric: accuracy, at_least: 1.5 }\n  - { name: below two, metric: accuracy, at_most: 2, requires: [learns] }\n`,
    );
    const g = seqlab('check', gated);
    expect(g.code).toBe(1);
    expect(g.stdout).toMatch(/\| invalid: control "learns" failed \|/);
    expect(g.stderr).toMatch(/^below two: invalid: control "learns" failed$/m);
    const bad = seqlab('check', gated, '--correction', 'bonferoni');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('seqlab: error: --correction bonferoni: expected one of holm, none');
  });
});
