// Every paper config (configs/paper/*.yaml) end to end at its `smoke` profile: run, report, check.
// Claims are not expected to hold at smoke size: check only has to evaluate them (exit 0 or 1,
// never 2: every claim's metric and selection must exist in the smoke sweep too).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-paper-smoke-'));
const configs = fs.readdirSync(path.join(root, 'configs/paper')).filter((f) => f.endsWith('.yaml'));

function seqlab(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/seqlab.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 280_000,
    env: { ...process.env, SEQLAB_BLAS_THREADS: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('paper configs', () => {
  it('there are the five paper configs, each opening with a comment that cites its source', () => {
    expect(configs.sort()).toEqual(['fusion.yaml', 'induction.yaml', 'listops.yaml', 'selective-copy.yaml', 'zoology.yaml']);
    for (const f of configs) {
      const text = fs.readFileSync(path.join(root, 'configs/paper', f), 'utf8');
      expect(text.startsWith('# '), f).toBe(true);
      expect(text, f).toMatch(/^# .*(Table|Figure|question)/m);
      expect(text, f).toMatch(/^# Scal/m); // what was scaled down and why
      expect(text, f).toMatch(/^claims:/m);
      expect(text, f).toMatch(/^ {2}smoke:/m);
    }
  });

  for (const f of configs) {
    it(`${f}: smoke profile runs, reports and checks`, { timeout: 300_000 }, () => {
      const file = path.join('configs/paper', f);
      const set = ['--set', `output.root=${out}`];
      const run = seqlab('run', file, '--profile', 'smoke', ...set, '--jobs', '2');
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      const name = /^name: (\S+)/m.exec(fs.readFileSync(path.join(root, file), 'utf8'))![1];
      const sweepDir = path.join(out, `${name}-smoke`);
      const report = seqlab('report', sweepDir, '--no-plots');
      expect(report.code, report.stderr).toBe(0);
      expect(report.stdout).toMatch(/Claims \(seqlab check\)/);
      const check = seqlab('check', sweepDir);
      expect([0, 1], check.stderr).toContain(check.code);
      expect(check.stdout).toMatch(/\d+ pass, \d+ fail, \d+ inconclusive/);
      const json = JSON.parse(fs.readFileSync(path.join(sweepDir, 'reports/claims.json'), 'utf8')) as { claims: { verdict: string }[] };
      expect(json.claims.length).toBeGreaterThan(0);
      // One seed at smoke size: every claim is inconclusive, so --strict fails.
      expect(json.claims.every((c) => c.verdict === 'inconclusive')).toBe(true);
      expect(seqlab('check', sweepDir, '--strict').code).toBe(1);
    });
  }
});
