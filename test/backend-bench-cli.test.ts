// `seqlab bench --kernels --paths/--sizes`: a wrong path or size is one error line and exit 2.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/seqlab.js', 'bench', '--kernels', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('bench --kernels options', () => {
  it('an unknown path or a bad size is one line naming the option, exit 2', () => {
    for (const [args, want] of [
      [
        ['--paths', 'native,blas'],
        /^seqlab: error: --paths native,blas: unknown matmul path 'blas' \(expected: native, builtin, fallback, stock\)$/,
      ],
      [['--sizes', '256,x'], /^seqlab: error: --sizes 256,x: expected positive integers/],
    ] as const) {
      const r = cli(...args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(want);
    }
  });
});
