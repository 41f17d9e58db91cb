// `seqlab bench` as a user runs it: bad input is one line and exit 2; a tiny preset benchmark
// prints one row per length with finite figures.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const seqlab = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin/seqlab.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('seqlab bench', () => {
  it('bad input: no target, unknown preset, bad --set value, bad --lengths', () => {
    for (const [args, pattern] of [
      [[], /give a config FILE, --preset NAME, --kernels or --ops/],
      [['--preset', 'mambo'], /--preset mambo: unknown preset/],
      [['--preset', 'retnet', '--set', 'model.mixer.form=chunky'], /--set: model\.mixer\.form: .*did you mean "chunk"/],
      [['--preset', 'retnet', '--lengths', '64,x'], /--lengths 64,x: expected positive integers/],
    ] as [string[], RegExp][]) {
      const r = seqlab('bench', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('a tiny preset benchmark prints one row per length with finite figures (--json)', () => {
    const r = seqlab(
      'bench',
      '--preset',
      'mamba',
      '--set',
      'model.d_model=16',
      '--lengths',
      '8,16',
      '--batch',
      '2',
      '--backend',
      'wasm',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, number | string>[];
    expect(rows.map((x) => [x.preset, x.seq_len, x.batch])).toEqual([
      ['mamba', 8, 2],
      ['mamba', 16, 2],
    ]);
    for (const row of rows) {
      for (const k of [
        'fwd_tokens_per_s',
        'fwd_bwd_tokens_per_s',
        'prefill_tokens_per_s',
        'decode_ms_per_token',
        'state_bytes_per_sequence',
      ]) {
        expect(Number.isFinite(row[k]) && (row[k] as number) > 0, k).toBe(true);
      }
    }
  });
});
