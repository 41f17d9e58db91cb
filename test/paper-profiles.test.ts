// Profiles: named override sets chosen with --profile, applied after extends and before --set;
// run ids follow the resolved values; bad profiles are one error line naming the place.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSandbox } from './fixtures/cli.ts';
import { loadPlan } from '../src/config/plan.ts';
import { UserError } from '../src/errors.ts';

const { write, seqlab } = cliSandbox('seqlab-profiles-');
function userError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

write('base.yaml', 'task: { kind: mqar }\nmodel: { d_model: 32, n_layers: 2 }\ntrain: { steps: 100 }\n');
const cfg = write(
  'exp.yaml',
  `extends: base.yaml
name: exp
sweep: { grid: { model.preset: [mamba, retnet], train.lr: [1e-3, 3e-3] } }
profiles:
  smoke:
    name: exp-smoke
    train.steps: 20
    model.d_model: 16
    sweep.grid: { train.lr: [1e-3] }
  wide: { model.d_model: 64 }
`,
);

describe('profiles', () => {
  it('apply over extends, before --set; run ids follow the resolved values', () => {
    const base = loadPlan(cfg);
    const smoke = loadPlan(cfg, { profile: 'smoke' });
    expect(base.runs).toHaveLength(4);
    expect(base.runs[0].config.train.steps).toBe(100); // from the extended base
    // sweep.grid merges: train.lr replaced, model.preset kept.
    expect(smoke.runs.map((r) => r.axes)).toEqual([
      { 'model.preset': 'mamba', 'train.lr': 1e-3 },
      { 'model.preset': 'retnet', 'train.lr': 1e-3 },
    ]);
    expect(smoke.runs[0].config.train.steps).toBe(20);
    expect(smoke.runs[0].config.model.d_model).toBe(16);
    expect(smoke.sweepDir).toBe(path.join('runs', 'exp-smoke'));
    // The same resolved config by --set gives the same id; the base config a different one.
    const bySet = loadPlan(cfg, { set: ['train.steps=20', 'model.d_model=16', 'train.lr=1e-3'] });
    const mambaBySet = bySet.runs.find((r) => r.axes['model.preset'] === 'mamba' && r.axes['train.lr'] === 1e-3)!;
    expect(smoke.runs[0].id).toBe(mambaBySet.id);
    expect(base.runs.map((r) => r.id)).not.toContain(smoke.runs[0].id);
    // --set wins over the profile.
    const over = loadPlan(cfg, { profile: 'smoke', set: ['train.steps=30'] });
    expect(over.runs[0].config.train.steps).toBe(30);
    expect(over.runs[0].id).not.toBe(smoke.runs[0].id);
    expect(over.sweepYaml).toMatch(/# profile: smoke\n# overrides: --set train.steps=30/);
  });

  it('an unknown profile names the profiles section, with a did-you-mean and the list', () => {
    expect(userError(() => loadPlan(cfg, { profile: 'smok' }))).toMatch(
      /exp\.yaml:\d+:\d+: --profile smok: no such profile \(did you mean "smoke"\?\); profiles: smoke, wide/,
    );
    const plain = write('plain.yaml', 'task: { kind: mqar }\n');
    expect(userError(() => loadPlan(plain, { profile: 'smoke' }))).toMatch(/no such profile; the config defines no profiles/);
  });

  it('a profile key that names no config key is a validate-time error at its line', () => {
    const bad = write('bad.yaml', 'task: { kind: mqar }\nprofiles:\n  smoke:\n    train.stpes: 20\n');
    const r = seqlab('validate', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /bad\.yaml:4:\d+: profiles\.smoke: "train\.stpes" names a config key that does not exist \(did you mean "train\.steps"\?\)/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a bad value set by a profile is reported at the profile entry', () => {
    const bad = write('val.yaml', 'task: { kind: mqar }\nprofiles:\n  smoke: { train.steps: -3 }\n');
    const r = seqlab('plan', bad, '--profile', 'smoke');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/val\.yaml:3:\d+ \(profile smoke\): train\.steps: /);
  });

  it('--profile on plan selects the profile (CLI)', () => {
    const r = seqlab('plan', cfg, '--profile', 'wide', '--json');
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { runs: { config: { model: { d_model: number } } }[] };
    expect(plan.runs.every((x) => x.config.model.d_model === 64)).toBe(true);
  });
});
