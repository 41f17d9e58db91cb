// The CLI on bad input, spawned as a user runs it: exit 2, one clear message naming the place,
// never a stack trace (docs/runner.md section 8).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSandbox } from './fixtures/cli.ts';

const root = path.resolve(__dirname, '..');
const { dir, write, seqlab } = cliSandbox('seqlab-cli-');
function expectUserError(r: ReturnType<typeof seqlab>, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)/m); // no stack frames
  expect(r.stderr).not.toMatch(/internal error/);
}

describe('seqlab validate / plan on bad input', () => {
  it('missing file', () => {
    expectUserError(seqlab('validate', 'nope.yaml'), /nope\.yaml: no such file/);
  });

  it('YAML syntax error names file, line and column', () => {
    const f = write('syntax.yaml', 'name: x\ntrain:\n  steps: [1, 2\n  lr: 3\n');
    expectUserError(seqlab('validate', f), /syntax\.yaml:\d+:\d+: YAML syntax error/);
  });

  it('unknown key with a did-you-mean', () => {
    const f = write('unknown.yaml', 'train:\n  stpes: 10\n');
    expectUserError(seqlab('validate', f), /unknown\.yaml:2:\d+: train\.stpes: unknown key \(did you mean "steps"\?\)/);
  });

  it('wrong type says what was expected and what was found', () => {
    const f = write('type.yaml', 'train:\n  steps: many\n');
    expectUserError(seqlab('plan', f), /type\.yaml:2:10: train\.steps: expected number, found string "many"/);
  });

  it('unknown enum value with a did-you-mean', () => {
    const f = write('enum.yaml', 'train:\n  schedule: cosin\n');
    expectUserError(
      seqlab('validate', f),
      /enum\.yaml:2:13: train\.schedule: expected one of .*"cosine".*found string "cosin" \(did you mean "cosine"\?\)/,
    );
  });

  it('all errors of a file at once', () => {
    const f = write('many.yaml', 'train:\n  steps: many\n  schedule: cosin\nevl: {}\n');
    const r = seqlab('validate', f);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/train\.steps/);
    expect(r.stderr).toMatch(/train\.schedule/);
    expect(r.stderr).toMatch(/evl: unknown key \(did you mean "eval"\?\)/);
  });

  it('zip length mismatch names both axes', () => {
    const f = write('zip.yaml', 'sweep:\n  zip:\n    train.lr: [0.1, 0.2, 0.3]\n    train.batch_size: [1, 2]\n');
    expectUserError(seqlab('plan', f), /zip\.yaml:\d+:\d+: .*train\.lr has 3 values, train\.batch_size has 2/);
  });

  it('an axis naming a key that does not exist', () => {
    const f = write('axis.yaml', 'sweep:\n  grid:\n    train.lrate: [0.1, 0.2]\n');
    expectUserError(
      seqlab('plan', f),
      /axis\.yaml:3:\d+: sweep\.grid\.train\.lrate: "train\.lrate" names a config key that does not exist \(did you mean "train\.lr"\?\)/,
    );
  });

  it('an empty sweep', () => {
    const f = write('empty.yaml', 'sweep:\n  grid: { train.steps: [1, 2] }\n  exclude: [{ train.batch_size: 16 }]\n');
    expectUserError(seqlab('plan', f), /empty\.yaml: the sweep is empty/);
  });

  it('an extends cycle', () => {
    write('cyc-a.yaml', 'extends: cyc-b.yaml\n');
    write('cyc-b.yaml', 'extends: cyc-a.yaml\n');
    expectUserError(seqlab('validate', path.join(dir, 'cyc-a.yaml')), /extends cycle: .*cyc-a\.yaml -> .*cyc-b\.yaml -> .*cyc-a\.yaml/);
  });

  it('a bad value that comes from a sweep axis is reported at the axis', () => {
    const f = write('axisval.yaml', 'sweep:\n  grid:\n    train.schedule: [cosine, cosnie]\n');
    expectUserError(seqlab('plan', f), /axisval\.yaml:3:\d+ \(sweep value\): train\.schedule: .*did you mean "cosine"/);
  });

  it('a bad --set value', () => {
    expectUserError(seqlab('plan', write('ok.yaml', 'name: ok\n'), '--set', 'train.steps'), /--set train\.steps: expected KEY=VALUE/);
  });
});

describe('hostile and empty input (exit 2, located)', () => {
  it('a YAML alias bomb is refused at the key where it explodes, not an internal error', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const [p, n] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
      lines.push(`${n}: &${n} [${Array(9).fill(`*${p}`).join(', ')}]`);
    }
    const f = write('bomb.yaml', lines.join('\n') + '\n');
    for (const cmd of ['validate', 'run']) {
      const r = seqlab(cmd, f);
      expectUserError(r, /bomb\.yaml:6:\d+: f\.0: YAML aliases expand to more than 100000 values \(under f;/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // The same with every alias wrapped in a one-element list: still found, at the inner alias.
    const wrapped = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const [p, n] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
      wrapped.push(`${n}: &${n} [${Array(9).fill(`[*${p}]`).join(', ')}]`);
    }
    expectUserError(seqlab('validate', write('bomb2.yaml', wrapped.join('\n') + '\n')), /bomb2\.yaml:6:\d+: f\.0\.0: YAML aliases expand/);
    // Aliases that stay small are fine.
    const ok = write(
      'alias-ok.yaml',
      'name: al\nmodel: &m { d_model: 32, n_layers: 1 }\nsweep:\n  cases:\n    - { name: c, set: { train.lr: 0.01 } }\n',
    );
    expect(seqlab('validate', ok).code).toBe(0);
  });

  it('collections nested thousands deep are a located syntax error', () => {
    const f = write('deep.yaml', `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    expectUserError(seqlab('validate', f), /deep\.yaml:1:\d+: YAML syntax error: collections nested too deeply/);
  });

  it('a sweep whose product is astronomically large is refused before it is expanded', () => {
    const axes = ['lr', 'clip', 'beta1', 'beta2', 'eps', 'weight_decay', 'min_lr_ratio'].map(
      (k) => `    train.${k}: [${Array.from({ length: 12 }, (_, j) => 0.01 * (j + 1)).join(', ')}]`,
    );
    const f = write('huge.yaml', `sweep:\n  grid:\n${axes.join('\n')}\n`);
    expectUserError(
      seqlab('validate', f),
      /huge\.yaml:2:3: sweep: the sweep expands to 3\.58e\+7 points x seeds, more than 100 x execution\.max_runs/,
    );
  });

  it('a config file of many megabytes is refused unread', () => {
    const f = write('big.yaml', `name: big\ndescription: "${'x'.repeat(5 * 1024 * 1024)}"\n`);
    expectUserError(seqlab('validate', f), /big\.yaml: \d+ bytes is too large for a config file/);
  });

  it('__proto__ is an unknown key like any other, and an unknown YAML tag is not silently dropped', () => {
    expectUserError(
      seqlab('validate', write('proto.yaml', 'name: p\n__proto__:\n  polluted: 1\n')),
      /proto\.yaml:3:3: __proto__: unknown key/,
    );
    expectUserError(seqlab('validate', write('tag.yaml', 'name: !shell p\n')), /tag\.yaml:1:7: YAML problem: Unresolved tag: !shell/);
  });

  it('a config that is not UTF-8 names the line', () => {
    const f = path.join(dir, 'latin1.yaml');
    fs.writeFileSync(f, Buffer.concat([Buffer.from('name: x\ndescription: caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expectUserError(seqlab('validate', f), /latin1\.yaml:2: not valid UTF-8 \(byte 0xe9 at offset 24\)/);
  });

  it('an alias without an anchor names its place', () => {
    expectUserError(
      seqlab('validate', write('noanchor.yaml', 'train:\n  steps: *n\n')),
      /noanchor\.yaml:2:10: train\.steps: alias \*n has no anchor/,
    );
  });

  it('an empty or comment-only config is an error, also as an extends base', () => {
    expectUserError(seqlab('validate', write('empty0.yaml', '')), /empty0\.yaml:1:1: the config is empty/);
    expectUserError(seqlab('plan', write('comment.yaml', '# nothing here\n\n')), /comment\.yaml:1:1: the config is empty/);
    expectUserError(seqlab('validate', write('braces.yaml', '{}\n')), /braces\.yaml:1:1: the config is empty/);
    write('empty-base.yaml', '# todo\n');
    expectUserError(
      seqlab('validate', write('child.yaml', 'extends: empty-base.yaml\nname: c\n')),
      /empty-base\.yaml:1:1: the config is empty/,
    );
  });

  it('malformed --set keys are exit 2', () => {
    const f = write('set.yaml', 'name: s\n');
    expectUserError(seqlab('validate', f, '--set', 'model..d_model=32'), /--set model\.\.d_model=32: malformed key .*empty segment/);
    expectUserError(seqlab('plan', f, '--set', '.train.steps.=5'), /--set \.train\.steps\.=5: malformed key .*starts or ends with a dot/);
    expectUserError(seqlab('plan', f, '--set', 'train. steps=5'), /malformed key/);
    const g = write('axis-bad.yaml', 'sweep:\n  grid:\n    train..lr: [0.1, 0.2]\n');
    expectUserError(seqlab('plan', g), /axis-bad\.yaml:3:\d+: sweep\.grid\.train\.\.lr: malformed key/);
  });

  it('--set sweep.grid.KEY=[...] adds that axis', () => {
    const f = write('setgrid.yaml', 'name: sg\nmodel: { d_model: 32, n_layers: 1 }\n');
    const r = seqlab('plan', f, '--json', '--set', 'sweep.grid.train.lr=[1e-3,3e-3]');
    expect(r.code, r.stderr).toBe(0);
    const runs = JSON.parse(r.stdout).runs as { axes: Record<string, unknown> }[];
    expect(runs.map((x) => x.axes['train.lr'])).toEqual([1e-3, 3e-3]);
  });

  it('--set reaches into sweep cases by index; an index past the end is exit 2', () => {
    const f = write(
      'setcase.yaml',
      'name: sc\nmodel: { d_model: 16, n_layers: 1 }\nsweep:\n  base: false\n  cases:\n    - { name: a, set: { train.lr: 0.01 } }\n',
    );
    const r = seqlab('plan', f, '--json', '--set', 'sweep.cases.0.set.train.lr=0.05', '--set', 'sweep.cases.0.grid.train.steps=[1,2]');
    expect(r.code, r.stderr).toBe(0);
    const runs = JSON.parse(r.stdout).runs as { axes: Record<string, unknown> }[];
    expect(runs.map((x) => [x.axes['train.lr'], x.axes['train.steps']])).toEqual([
      [0.05, 1],
      [0.05, 2],
    ]);
    expectUserError(
      seqlab('plan', f, '--set', 'sweep.cases.3.name=b'),
      /--set sweep\.cases\.3\.name=b: sweep\.cases\.3: index 3 is past the end of a list of 1/,
    );
  });
});

describe('argument habits', () => {
  it('a Hydra-style positional key=value is told to use --set', () => {
    const f = write('hydra.yaml', 'name: h\n');
    expectUserError(
      seqlab('plan', f, 'train.lr=1e-3'),
      /train\.lr=1e-3: KEY=VALUE is not a positional argument here; use --set train\.lr=1e-3/,
    );
    expectUserError(seqlab('validate', f, '++model.d_model=32'), /use --set model\.d_model=32/);
    // Values of options are not positional: --set's value and report's --baseline stay as they are.
    expect(seqlab('validate', f, '--set', 'train.lr=1e-3').code).toBe(0);
  });

  it('--backend that cannot load is exit 2 before any run starts', () => {
    let installed = false;
    for (const pkg of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
      try {
        require.resolve(pkg, { paths: [root] });
        installed = true;
      } catch {
        /* absent */
      }
    }
    if (installed) return; // nothing to refuse on a machine that has the binding
    const out = path.join(dir, 'backend-runs');
    const f = write('backend.yaml', `name: b\nmodel: { d_model: 16, n_layers: 1 }\ntrain: { steps: 1 }\noutput: { root: ${out} }\n`);
    expectUserError(seqlab('run', f, '--backend', 'tensorflow'), /--backend: backend 'tensorflow' is not available here/);
    expect(fs.existsSync(out)).toBe(false);
    const g = write(
      'backend-cfg.yaml',
      `name: b\nmodel: { d_model: 16, n_layers: 1 }\nexecution:\n  backend: tensorflow\noutput: { root: ${out} }\n`,
    );
    expectUserError(seqlab('run', g), /backend-cfg\.yaml:4:12: execution\.backend: backend 'tensorflow' is not available here/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('seqlab plan', () => {
  it('prints one row per run with stable ids (3 x 2 grid, 2 seeds = 12 runs)', () => {
    const f = write(
      'grid.yaml',
      'name: g\nmodel: { d_model: 32, n_layers: 1 }\nseeds: [0, 1]\nsweep:\n  grid:\n    train.lr: [0.001, 0.002, 0.003]\n    train.batch_size: [4, 8]\n',
    );
    const a = seqlab('plan', f, '--json');
    expect(a.code, a.stderr).toBe(0);
    const runs = JSON.parse(a.stdout).runs as { id: string; state: string }[];
    expect(runs).toHaveLength(12);
    expect(new Set(runs.map((r) => r.id)).size).toBe(12);
    expect(runs.every((r) => r.state === 'new')).toBe(true);
    const b = JSON.parse(seqlab('plan', f, '--json').stdout).runs as { id: string }[];
    expect(b.map((r) => r.id)).toEqual(runs.map((r) => r.id));
    const text = seqlab('plan', f);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/12 runs -> runs\/g/);
    for (const r of runs) expect(text.stdout).toContain(r.id);
  });
});

describe('seqlab --help', () => {
  it('every command shows an example in its --help (docs/runner.md 1)', () => {
    const top = seqlab('--help');
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z-]+) (?:\[options\]|<)/gm)].map((m) => m[1]);
    expect(commands).toEqual(
      expect.arrayContaining([
        'validate',
        'plan',
        'run',
        'status',
        'report',
        'compare',
        'bench',
        'submit',
        'exec',
        'models',
        'tasks',
        'data',
        'generate',
      ]),
    );
    for (const c of commands) {
      const r = seqlab(c, '--help');
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toMatch(/Examples?:\n +\$ seqlab /);
    }
  });
});
