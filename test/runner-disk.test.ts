// A full disk and a read-only output folder, on real (tiny) tmpfs mounts, against the CLI with the
// fake trainer: one line naming the path and the real cause, exit 2, and resume once there is room.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { corruptJson, fakeEnv, ledger, planIds, runCli, spawnCli, states, tmpDir, waitFor, writeSweep } from './fixtures/runner/helpers.ts';

const mounted: string[] = [];
/** A tmpfs of `size` at a fresh folder, or undefined where mounting is not permitted. */
function tmpfs(tag: string, opts: string): string | undefined {
  const dir = path.join(tmpDir(tag), 'mnt');
  fs.mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  mounted.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of mounted.reverse()) execFileSync('umount', ['-l', d], { stdio: 'ignore' });
});
const canMount = (() => {
  const probe = tmpfs('probe', 'size=16k');
  return probe !== undefined;
})();

/** Fill the filesystem of `dir` to the last byte. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

function expectOneLineUserError(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('seqlab: error:'));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|ENOENT|^\s+at /m);
}

describe.skipIf(!canMount)('disk full and read-only output folders (tmpfs mounts)', { concurrent: false }, () => {
  it('read-only output folder: says the folder is not writable (not ENOENT), exit 2', async () => {
    const dir = tmpDir('ro');
    const ro = tmpfs('ro', 'size=16k,ro')!;
    const file = writeSweep(dir, { name: 'ro', seeds: [0] });
    const r = await runCli(['run', file, '--set', `output.root=${path.join(ro, 'runs')}`], fakeEnv({ log: path.join(dir, 'fake.log') }));
    expectOneLineUserError(r, new RegExp(`cannot create ${ro}/runs/ro.*: the folder ${ro} is on a read-only filesystem`));
  });

  it('disk full before anything is written: names the path, says it is the disk, exit 2', async () => {
    const dir = tmpDir('full');
    const mnt = tmpfs('full', 'size=64k')!;
    fill(mnt);
    const file = writeSweep(dir, { name: 'full', seeds: [0] });
    const r = await runCli(['run', file, '--set', `output.root=${mnt}`], fakeEnv({ log: path.join(dir, 'fake.log') }));
    expectOneLineUserError(r, new RegExp(`no space left on the disk holding ${mnt}/full/\\S+ \\(ENOSPC\\): free some space`));
  });

  it('disk fills mid-run: the sweep stops with one line (exit 2), nothing is done or failed, and a rerun after freeing space finishes', async () => {
    const dir = tmpDir('fills');
    const mnt = tmpfs('fills', 'size=256k')!;
    const file = writeSweep(dir, { name: 'fl', seeds: [0, 1], steps: 400, execution: { jobs: 2 } });
    const log = path.join(dir, 'fake.log');
    const env = fakeEnv({ stepMs: 10, log });
    const sweep = path.join(mnt, 'fl');
    const run = spawnCli(['run', file, '--set', `output.root=${mnt}`], env);
    await waitFor('both runs training', () => {
      if (!fs.existsSync(path.join(sweep, 'plan.json'))) return false;
      return planIds(sweep).every((id) => fs.existsSync(path.join(sweep, 'runs', id, 'metrics.jsonl')));
    });
    const filler = fill(mnt);
    const r = await run.done;
    expectOneLineUserError(
      r,
      new RegExp(`no space left on the disk holding ${mnt}/fl/\\S+ \\(ENOSPC\\): free some space, then run the same command again`),
    );
    for (const id of planIds(sweep)) {
      expect(fs.existsSync(path.join(sweep, 'runs', id, 'summary.json'))).toBe(false);
      expect(states(sweep, id)).not.toContain('failed#1');
      expect(fs.existsSync(path.join(sweep, 'runs', id, 'lock'))).toBe(false);
    }

    fs.rmSync(filler);
    const again = await runCli(['run', file, '--set', `output.root=${mnt}`], fakeEnv({ stepMs: 1, log }));
    expect(again.code, again.stderr).toBe(0);
    for (const id of planIds(sweep)) expect(states(sweep, id).slice(-2)).toEqual(['running#2', 'done#2']);
    expect(ledger(sweep).length).toBeGreaterThan(0);
    // A line torn by the full disk is cut off again: every JSON file and line still parses.
    expect(corruptJson(sweep)).toEqual([]);
  });
});
