// config.json is read back with the schemas it was written from (src/config/run-config.ts): a planned
// config round-trips unchanged; a garbled or hand-edited one fails the run with one line naming the
// file and the key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../src/config/plan.ts';
import { runId } from '../src/config/identity.ts';
import { readRunConfig } from '../src/config/run-config.ts';
import { UserError } from '../src/errors.ts';
import { writeJsonAtomic } from '../src/util/fs.ts';
import { fakeEnv, ledger, planIds, runCli, states, tmpDir, writeSweep } from './fixtures/runner/helpers.ts';

const dir = tmpDir('runconfig');
const plan = (yaml: string[]) => {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, yaml.join('\n'));
  return loadPlan(file).runs[0]!.config;
};
const problem = (cfg: unknown): string => {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
  try {
    readRunConfig(file);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message.replace(file, 'FILE');
  }
  return '';
};

describe('readRunConfig', () => {
  it('planned configs (hybrids, parallel branches, induction) read back equal, with the same run id', { timeout: 30_000 }, () => {
    for (const cfg of [
      plan(['task: { kind: induction, eval_lengths: [16, 32] }', 'model: { preset: zamba, d_model: 16, n_layers: 2 }']),
      plan(['model: { preset: fusion-par, d_model: 16, n_layers: 2 }', 'eval: { batch_size: 4 }']),
      plan(['task: { kind: lm, tokenizer: bpe, seq_len: 32 }', 'model: { preset: selret, d_model: 16, n_layers: 1 }']),
    ]) {
      const file = path.join(dir, 'ok.json');
      writeJsonAtomic(file, cfg);
      const back = readRunConfig(file);
      const written = JSON.parse(JSON.stringify(cfg)); // what JSON keeps (selret's a_min -Infinity comes back null)
      expect(back).toEqual(written);
      expect(runId(back)).toBe(runId(written));
    }
  });

  it('names the file and the dotted key of the first problem', () => {
    const cfg = plan(['model: { preset: transformer, d_model: 16, n_layers: 1 }']);
    // biome-ignore lint/suspicious/noExplicitAny: the test edits arbitrary keys of a JSON copy
    const edit = (f: (c: Record<string, any>) => void) => {
      const c = JSON.parse(JSON.stringify(cfg));
      f(c);
      return c;
    };
    expect(problem('{"name": "x",')).toMatch(/^FILE: not valid JSON/);
    expect(problem(edit((c) => (c.train.lr = 'fast')))).toMatch(/^FILE: train\.lr: /);
    expect(problem(edit((c) => (c.train.lr_typo = 1)))).toMatch(/^FILE: train: .*lr_typo/);
    expect(problem(edit((c) => (c.task.kind = 'parity_of_nothing')))).toMatch(/^FILE: task\.kind: /);
    expect(problem(edit((c) => delete c.model.d_model))).toMatch(/^FILE: model\.d_model: /);
    expect(problem(edit((c) => delete c.model.layers[0].mixer.heads))).toMatch(
      /^FILE: model\.layers\.0\.mixer\.kind: attn mixer lacks heads/,
    );
    expect(problem(edit((c) => (c.model.layers[0].mixer.kind = 'lstm')))).toMatch(
      /^FILE: model\.layers\.0\.mixer\.kind: unknown mixer kind 'lstm'/,
    );
    expect(problem(edit((c) => delete c.seed))).toMatch(/^FILE: seed: /);
    expect(problem(path.join(dir, 'nothing-here'))).toMatch(/^FILE: not valid JSON/);
  });

  it('a hand-edited config.json fails its run with that line (not a crash), and the sweep goes on', { timeout: 60_000 }, async () => {
    const d = tmpDir('runconfig-cli');
    const file = writeSweep(d, { name: 'rc', seeds: [0, 1], steps: 4 });
    const log = path.join(d, 'fake.log');
    const first = await runCli(['run', file], fakeEnv({ behaviour: { 1: 'throw' }, log }));
    expect(first.code).toBe(1);
    const sweep = path.join(d, 'runs', 'rc');
    const bad = planIds(sweep)[1]!;
    const cfgFile = path.join(sweep, 'runs', bad, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.train.steps = 'ten';
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const retry = await runCli(['run', file, '--retry-failed'], fakeEnv({ log }));
    expect(retry.code).toBe(1);
    expect(states(sweep, bad)).toEqual(['running#1', 'failed#1', 'running#2', 'failed#2']);
    const error = ledger(sweep)
      .filter((e) => e.id === bad && e.state === 'failed')
      .at(-1)?.error as string;
    expect(error).toContain(`${cfgFile}: train.steps: `);
    expect(error.split('\n')).toHaveLength(1);
  });
});
