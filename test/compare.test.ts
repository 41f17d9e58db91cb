// `seqlab compare`: refuses result sets that measure different things, pairs groups by axes, flags
// a regression only when it is beyond the threshold and significant over seeds, says when n = 1,
// and compares mfu against one matmul peak per machine.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/commands/report.ts';
import { groupRuns } from '../src/report/collect.ts';
import { compareGroups, incomparableKeys, normaliseMfu } from '../src/report/compare.ts';
import { lmSweep, mqarSweep, writeSweep, type FakeRun } from './fixtures/report/sweep.ts';

const root = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-compare-'));
const seqlab = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin/seqlab.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

/** One preset, given valid_bpb per seed, and mfu measured against the given per-run peaks. */
function sweep(name: string, bpbs: number[], peaks?: number[]): string {
  const runs: FakeRun[] = bpbs.map((bpb, seed) => {
    const peak = peaks?.[seed] ?? 10;
    const achievedGflops = 0.5; // the same achieved FLOP/s in every run
    return {
      axes: { 'model.preset': 'mamba', seed },
      config: { seed, model: { preset: 'mamba' }, task: { kind: 'lm', corpus: 'sotu', seq_len: 64 }, eval: { batches: 16 } },
      summary: { valid_bpb: bpb, mfu: achievedGflops / peak, train_tokens_per_s: 5000 },
      env: { backend: 'wasm', matmul_path: 'native', cpu_model: 'Test CPU', cpu_count: 2, hostname: 'box', matmul_peak_gflops: peak },
    };
  });
  return writeSweep(name, runs, tmp);
}

const pairsOf = (a: string, b: string, metric: string) => {
  const ra = buildReport([a], { metric });
  const rb = buildReport([b], { metric });
  const [ga] = groupRuns(ra.runs, ['model.preset'], [metric]);
  const [gb] = groupRuns(rb.runs, ['model.preset'], [metric]);
  return [['mamba', ga!, gb!]] as [string, typeof ga, typeof ga][];
};

describe('compare', () => {
  it('names the task / data keys that differ (a swept axis is not a difference)', () => {
    const lm = buildReport([lmSweep(tmp)], {}).runs;
    const mq = buildReport([mqarSweep(tmp)], {}).runs;
    const keys = incomparableKeys(lm, mq, ['model.preset', 'model.d_model', 'task.seq_len', 'task.num_kv_pairs']).map(([k]) => k);
    expect(keys).toEqual(['task.corpus', 'task.kind', 'task.tokenizer', 'task.vocab_size']); // kind / corpus / tokenizer first
    expect(incomparableKeys(lm, lm, ['model.preset'])).toEqual([]);
  });

  it('a 10% worse mean is a regression only when it is significant over seeds', () => {
    const a = sweep('tight-a', [2.0, 2.01, 1.99]);
    const tight = sweep('tight-b', [2.2, 2.21, 2.19]);
    const noisy = sweep('noisy-b', [1.6, 2.8, 2.2]); // mean 2.2 too, std 0.6
    const opts = { metrics: ['valid_bpb'], threshold: 0.05, alpha: 0.05 };
    const [t] = compareGroups(pairsOf(a, tight, 'valid_bpb'), opts);
    expect(t!.verdict).toBe('regression');
    expect(t!.p).toBeLessThan(1e-3);
    const [n] = compareGroups(pairsOf(a, noisy, 'valid_bpb'), opts);
    expect(n!.change).toBeCloseTo(0.1, 2);
    expect(n!.verdict).toBe('not significant');
    expect(n!.p).toBeGreaterThan(0.05);
    const [w] = compareGroups(pairsOf(a, tight, 'valid_bpb'), { ...opts, threshold: 0.2 });
    expect(w!.verdict).toBe('within threshold');
    const [better] = compareGroups(pairsOf(tight, a, 'valid_bpb'), opts);
    expect(better!.verdict).toBe('improvement');
  });

  it('with n = 1 the change is untested and says so', () => {
    const [r] = compareGroups(pairsOf(sweep('one-a', [2.0]), sweep('one-b', [2.5]), 'valid_bpb'), {
      metrics: ['valid_bpb'],
      threshold: 0.05,
      alpha: 0.05,
    });
    expect(r!.verdict).toBe('untested (n = 1)');
  });

  it('mfu uses one matmul peak per machine: equal achieved FLOP/s compare equal despite noisy peaks', () => {
    const a = sweep('mfu-a', [2, 2], [5.1, 12.1]);
    const b = sweep('mfu-b', [2, 2], [9, 11]);
    const ra = buildReport([a], { metric: 'mfu' });
    const rb = buildReport([b], { metric: 'mfu' });
    const raw = ra.runs.map((r) => r.summary.mfu as number);
    expect(Math.max(...raw) / Math.min(...raw)).toBeGreaterThan(2);
    const peaks = normaliseMfu([...ra.runs, ...rb.runs]);
    expect([...peaks.values()]).toEqual([10]); // median of 5.1, 12.1, 9, 11
    for (const r of [...ra.runs, ...rb.runs]) expect(r.summary.mfu).toBeCloseTo(0.05, 12);
  });

  it('CLI: different tasks exit 2 naming the keys; exit 1 on a significant regression', () => {
    const lm = lmSweep(tmp, 'cli-lm');
    const mq = mqarSweep(fs.mkdtempSync(path.join(tmp, 'm-')));
    const refused = seqlab('compare', lm, mq);
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/measure different things: task\.corpus .*task\.kind \("lm" vs "mqar"\).*pass --force/);
    const worse = lmSweep(tmp, 'cli-lm-worse', 0.3);
    const r = seqlab('compare', lm, worse, '--metric', 'valid_bpb,train_tokens_per_s');
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      /\| transformer \| valid_bpb +\| 2\.500 ± 0\.028 \(n=2\) \| 2\.800 ± 0\.028 \(n=2\) \| \+12\.0% \| 0\.0044 \| regression +\|/,
    );
    expect(r.stderr).toMatch(/one-sided Welch t-test at level 0\.05/);
  });
});
