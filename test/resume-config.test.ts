// train.checkpoint_every on bad input, through the spawned CLI (docs/runner.md sections 8 and 11):
// located to file:line:col with the dotted key, every error at once, exit 2, nothing written.
import { describe, expect, it } from 'vitest';
import { runId } from '../src/config/identity.ts';
import type { RunConfig } from '../src/config/schema.ts';
import { checkpointEvery } from '../src/train/resume.ts';
import { cliSandbox } from './fixtures/cli.ts';

const { write, seqlab, expectErrors } = cliSandbox('seqlab-resume-cfg-');

describe('train.checkpoint_every', () => {
  it('unknown key with did-you-mean, out of range and wrong type: all at once, located', () => {
    const f = write('ck.yaml', 'train:\n  checkpoint_evry: 10\n  checkpoint_every: 0\neval:\n  evry: 3\n');
    expectErrors(f, [
      /^seqlab: error: .*ck\.yaml:2:20: train\.checkpoint_evry: unknown key \(did you mean "checkpoint_every"\?\)$/,
      /^seqlab: error: .*ck\.yaml:3:21: train\.checkpoint_every: .*>0, found number 0$/,
      /^seqlab: error: .*ck\.yaml:5:9: eval\.evry: unknown key \(did you mean "every"\?\)$/,
    ]);
  });

  it('a duration needs a unit and must be above 0; a step count is an integer; a list is no value', () => {
    expectErrors(write('d1.yaml', 'train:\n  checkpoint_every: 10 minutes\n'), [
      /d1\.yaml:2:21: train\.checkpoint_every: a duration with a unit like 90s, 10m or 2h, found string "10 minutes"$/,
    ]);
    expectErrors(write('d2.yaml', 'train:\n  checkpoint_every: 0s\n'), [
      /d2\.yaml:2:21: train\.checkpoint_every: a duration above 0, found string "0s"$/,
    ]);
    expectErrors(write('d3.yaml', 'train:\n  checkpoint_every: 2.5\n'), [
      /d3\.yaml:2:21: train\.checkpoint_every: expected int, found number 2\.5$/,
    ]);
    expectErrors(write('d4.yaml', 'train:\n  checkpoint_every: [1]\n'), [
      /d4\.yaml:2:21: train\.checkpoint_every: expected number, found a list of 1$/,
    ]);
  });

  it('a step count, a duration and null are read as such; the setting is not part of the run identity', () => {
    expect(checkpointEvery(200)).toEqual({ steps: 200 });
    expect(checkpointEvery('10m')).toEqual({ seconds: 600 });
    expect(checkpointEvery(null)).toBeNull();
    const f = write('ok.yaml', 'train:\n  checkpoint_every: 25\n');
    const g = write('ok2.yaml', 'train:\n  checkpoint_every: 2h\n');
    const ids = [f, g].map(
      (x) => (JSON.parse(seqlab('plan', x, '--json').stdout) as { runs: { id: string; config: RunConfig }[] }).runs[0]!,
    );
    expect(ids[0]!.config.train.checkpoint_every).toBe(25);
    expect(ids[0]!.id).toBe(ids[1]!.id);
    expect(runId(ids[0]!.config)).toBe(ids[0]!.id);
    // Any other train key does change it.
    expect(runId({ ...ids[0]!.config, train: { ...ids[0]!.config.train, steps: 7 } })).not.toBe(ids[0]!.id);
  });
});
