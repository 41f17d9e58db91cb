// A deliberately broken model makes a claim fail: attention without its causal mask (the test double
// test/fixtures/faults/no-causal-mask.ts served for src/ops/mask.ts by a module-resolution hook, with
// the fused attention kernel, causal by construction, switched off) sees the next byte and
// drops below the bigram floor of SOTU, which no healthy 2-layer d32 model reaches in 300 steps of
// 8-byte windows. The same claim passes on the healthy model, so the claim catches the fault.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { redirectEnv } from './fixtures/redirect/env.ts';

const root = path.resolve(__dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-fault-'));
const config = path.join(dir, 'leak.yaml');
fs.writeFileSync(
  config,
  `name: leak
task: { kind: lm, corpus: sotu, seq_len: 8, eval_windows: 128 }
model: { preset: transformer, d_model: 32, n_layers: 2, heads: 1 }
train: { steps: 300, batch_size: 16, lr: 1e-2, warmup: 5, checkpoint: false }
eval: { batches: all, splits: [test] }
bench: { enabled: false }
seeds: [0, 1, 2]
claims:
  # SOTU test bigram floor: 3.404 bits per byte (seqlab data sotu).
  - { name: no model beats the bigram floor with 7 bytes of context, metric: test_bpb, where: { model.preset: transformer }, at_least: 3.404 }
`,
);

function seqlab(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/seqlab.js'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 280_000,
    env: { ...process.env, SEQLAB_BLAS_THREADS: '1', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function verdict(env: Record<string, string>, root: string): { code: number | null; verdict: string; mean: number } {
  const set = ['--set', `output.root=${root}`];
  const run = seqlab(env, 'run', config, ...set, '--jobs', '2');
  expect(run.code, run.stderr.slice(-2000)).toBe(0);
  const check = seqlab({}, 'check', config, ...set);
  const json = JSON.parse(fs.readFileSync(path.join(root, 'leak/reports/claims.json'), 'utf8')) as {
    claims: { verdict: string; left: { mean: number } }[];
  };
  return { code: check.code, verdict: json.claims[0].verdict, mean: json.claims[0].left.mean };
}

describe('a broken model fails a claim', () => {
  it('attention without its causal mask fails the bigram-floor claim that the healthy model passes', { timeout: 600_000 }, () => {
    const healthy = verdict({}, path.join(dir, 'healthy'));
    expect(healthy.verdict).toBe('pass');
    expect(healthy.code).toBe(0);
    const noCausalMask = redirectEnv({ [path.join(root, 'src/ops/mask.ts')]: path.join(root, 'test/fixtures/faults/no-causal-mask.ts') });
    const broken = verdict({ ...(noCausalMask as Record<string, string>), SEQLAB_FUSED_ATTENTION: 'off' }, path.join(dir, 'broken'));
    expect(broken.verdict).toBe('fail');
    expect(broken.code).toBe(1);
    expect(broken.mean).toBeLessThan(healthy.mean - 0.5);
  });
});
