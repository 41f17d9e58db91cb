/**
 * `npm run bench:torch` (bench/pytorch/run.ts): one skip line without Python/torch, one error line
 * (exit 2) on bad options, and the independent PyTorch models' own check (prefill + decode ==
 * parallel forward, float64) when a Python with torch is present.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'bench/pytorch/run.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });

const torchPython = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { timeout: 60_000 }).status === 0);

describe('bench:torch', () => {
  it('skips with one line when the Python has no torch', () => {
    const r = run([], { SEQLAB_PYTHON: '/nonexistent/python3' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^bench:torch: skipped \(no Python with torch \(tried \/nonexistent\/python3;/),
    ]);
  });

  it('bad options: one error line, exit 2', () => {
    for (const args of [['--lengths', '256,0']]) {
      const r = run(args, { SEQLAB_PYTHON: '/nonexistent/python3' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^bench:torch: error: --(lengths|warmup)/);
    }
  });

  it.skipIf(!torchPython)(
    'the PyTorch models: prefill + decode reproduce the parallel forward (float64)',
    () => {
      const r = spawnSync(torchPython!, ['bench/pytorch/models.py', '--selftest'], { encoding: 'utf8', timeout: 300_000 });
      expect(r.status, r.stderr).toBe(0);
      for (const f of ['transformer', 'retnet', 'selret', 'mamba']) expect(r.stdout).toMatch(new RegExp(`^${f}: .*\\(ok\\)$`, 'm'));
    },
    300_000,
  );
});
