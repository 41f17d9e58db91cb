// Fault tests as a user causes them, against the CLI with the fake trainer (docs/runner.md section 4):
// kill -9 a worker, kill -9 the runner, two runners on one sweep, timeouts, throws, Ctrl-C.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  corruptJson,
  executions,
  fakeEnv,
  ledger,
  planIds,
  readJson,
  runCli,
  spawnCli,
  states,
  tmpDir,
  waitFor,
  writeSweep,
} from './fixtures/runner/helpers.ts';

const lockOf = (sweep: string, id: string) => path.join(sweep, 'runs', id, 'lock');
const metricLines = (sweep: string, id: string) => {
  const f = path.join(sweep, 'runs', id, 'metrics.jsonl');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0;
};
const doneIds = (sweep: string) => planIds(sweep).filter((id) => fs.existsSync(path.join(sweep, 'runs', id, 'summary.json')));

describe('runner faults (fake trainer, spawned CLI)', { concurrent: false }, () => {
  it('kill -9 of one worker mid-run: the sweep finishes and that run is retried (retry_on crash)', async () => {
    const dir = tmpDir('killworker');
    const file = writeSweep(dir, { name: 'kw', seeds: [0, 1, 2], execution: { jobs: 2, retries: 1 } });
    const env = fakeEnv({ stepMs: 80, log: path.join(dir, 'fake.log') });
    const { done } = spawnCli(['run', file], env);
    const sweep = path.join(dir, 'runs', 'kw');
    const victim = await waitFor('plan.json', () => fs.existsSync(path.join(sweep, 'plan.json')) && planIds(sweep)[0]);
    const workerPid = await waitFor('worker running', () => {
      if (metricLines(sweep, victim) < 3 || !fs.existsSync(lockOf(sweep, victim))) return undefined;
      try {
        return readJson<{ worker_pid?: number }>(lockOf(sweep, victim)).worker_pid;
      } catch {
        return undefined;
      }
    });
    process.kill(workerPid, 'SIGKILL');
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(states(sweep, victim)).toEqual(['running#1', 'failed#1', 'running#2', 'done#2']);
    expect(ledger(sweep).find((e) => e.id === victim && e.state === 'failed')?.error).toMatch(/killed by SIGKILL/);
    expect(doneIds(sweep)).toHaveLength(3);
    // The killed attempt's partial outputs are kept aside, not deleted.
    expect(fs.existsSync(path.join(sweep, 'runs', victim, 'attempts', '1', 'metrics.jsonl'))).toBe(true);
    expect(corruptJson(sweep)).toEqual([]);
  });

  it('kill -9 of the runner, then run again: no corrupt JSON, lost runs rerun, done runs are not rerun', async () => {
    const dir = tmpDir('killrunner');
    const file = writeSweep(dir, { name: 'kr', seeds: [0, 1, 2, 3, 4], execution: { jobs: 2 } });
    const log = path.join(dir, 'fake.log');
    const env = fakeEnv({ stepMs: 60, log });
    const sweep = path.join(dir, 'runs', 'kr');
    const first = spawnCli(['run', file], env);
    await waitFor('one run done and one mid-run', () => {
      const l = ledger(sweep);
      const done = new Set(l.filter((e) => e.state === 'done').map((e) => e.id));
      const running = [...new Set(l.filter((e) => e.state === 'running' && !done.has(e.id)).map((e) => e.id))];
      return done.size >= 1 && running.some((id) => metricLines(sweep, id) >= 2 && metricLines(sweep, id) <= 12);
    });
    first.child.kill('SIGKILL');
    await first.done;
    const doneBefore = doneIds(sweep);
    expect(doneBefore.length).toBeGreaterThan(0);
    expect(corruptJson(sweep)).toEqual([]);

    const r = await runCli(['run', file], env);
    expect(r.code, r.stderr).toBe(0);
    expect(doneIds(sweep)).toHaveLength(5);
    const ex = executions(log);
    for (const id of doneBefore) expect(ex.get(id)!.filter((e) => e.endsWith('start'))).toHaveLength(1);
    const lost = ledger(sweep).filter((e) => e.state === 'lost');
    expect(lost.length).toBeGreaterThan(0);
    for (const e of lost) expect(states(sweep, e.id).slice(-2)).toEqual([`running#${e.attempt + 1}`, `done#${e.attempt + 1}`]);
    expect(r.stderr).toMatch(/previous attempt \d+ lost \(owner pid \d+ is gone/);
    expect(corruptJson(sweep)).toEqual([]);
    // No lock outlives its owner.
    for (const id of planIds(sweep)) expect(fs.existsSync(lockOf(sweep, id))).toBe(false);
  });

  it('two `seqlab run` on the same sweep at once: every run executes exactly once and both finish', async () => {
    const dir = tmpDir('tworunners');
    const file = writeSweep(dir, { name: 'two', seeds: [0, 1, 2, 3], execution: { jobs: 2 } });
    const log = path.join(dir, 'fake.log');
    const env = fakeEnv({ stepMs: 40, log });
    const [a, b] = await Promise.all([runCli(['run', file], env), runCli(['run', file], env)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const sweep = path.join(dir, 'runs', 'two');
    const ex = executions(log);
    expect([...ex.keys()].sort()).toEqual(planIds(sweep).sort());
    for (const [id, events] of ex) expect(events, id).toEqual(['1 start', '1 end']);
    // Both print the full table with every run done.
    for (const r of [a, b]) expect(r.stdout.match(/\| done/g)).toHaveLength(4);
    expect(corruptJson(sweep)).toEqual([]);
  });

  it('a run that exceeds its timeout is killed (even a sync hang) and marked timed_out; the others finish', async () => {
    const dir = tmpDir('timeout');
    const file = writeSweep(dir, { name: 'to', seeds: [0, 1], execution: { jobs: 2, timeout: '6s' } });
    // 6 s: the healthy run's worker must start (tsx, the config schemas) and finish inside it on a loaded machine
    const env = fakeEnv({ behaviour: { 0: 'hang-sync' }, stepMs: 20, log: path.join(dir, 'fake.log') });
    const t0 = Date.now();
    const r = await runCli(['run', file], env);
    const sweep = path.join(dir, 'runs', 'to');
    const [hung, ok] = planIds(sweep);
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(states(sweep, hung!)).toEqual(['running#1', 'timed_out#1']);
    expect(readJson(path.join(sweep, 'runs', hung!, 'status.json')).state).toBe('timed_out');
    expect(states(sweep, ok!)).toEqual(['running#1', 'done#1']);
    expect(r.stdout).toMatch(new RegExp(`${hung} timed_out: timed out after 6 s`));
  });

  it('a run that throws is failed with its error line (not retried by default), --retry-failed reruns it', async () => {
    const dir = tmpDir('throw');
    const file = writeSweep(dir, { name: 'th', seeds: [0, 1], execution: { jobs: 2, retries: 2 } });
    const log = path.join(dir, 'fake.log');
    const r = await runCli(['run', file], fakeEnv({ behaviour: { 1: 'throw' }, log }));
    const sweep = path.join(dir, 'runs', 'th');
    const bad = planIds(sweep)[1]!;
    expect(r.code).toBe(1);
    expect(states(sweep, bad)).toEqual(['running#1', 'failed#1']); // 'error' is not in retry_on
    expect(r.stdout).toContain(`${bad} failed: RangeError: fake failure at step 10: d_model must be divisible by heads`);
    expect(fs.readFileSync(path.join(sweep, 'runs', bad, 'log.txt'), 'utf8')).toMatch(/at runTraining/);
    const st = await runCli(['status', sweep, '--json'], fakeEnv({ log }));
    const status = JSON.parse(st.stdout);
    expect(status.counts).toMatchObject({ done: 1, failed: 1 });
    expect(status.failures[0].error).toMatch(/^RangeError: fake failure/);
    // A plain rerun leaves the failure alone; --retry-failed runs it again.
    const again = await runCli(['run', file], fakeEnv({ log }));
    expect(again.code).toBe(1);
    expect(states(sweep, bad)).toHaveLength(2);
    const retry = await runCli(['run', file, '--retry-failed'], fakeEnv({ log }));
    expect(retry.code, retry.stderr).toBe(0);
    expect(states(sweep, bad)).toEqual(['running#1', 'failed#1', 'running#2', 'done#2']);
  });

  it('--fail-fast: after the first failure no new run starts; exit 1', async () => {
    const dir = tmpDir('failfast');
    const file = writeSweep(dir, { name: 'ff', seeds: [0, 1, 2], steps: 6, execution: { jobs: 1 } });
    const r = await runCli(['run', file, '--fail-fast'], fakeEnv({ behaviour: { 0: 'exit' }, log: path.join(dir, 'fake.log') }));
    const sweep = path.join(dir, 'runs', 'ff');
    expect(r.code).toBe(1);
    const [first, second, third] = planIds(sweep);
    expect(states(sweep, first!)).toEqual(['running#1', 'failed#1']);
    expect(ledger(sweep).find((e) => e.id === first && e.state === 'failed')?.error).toBe('worker exited with code 7');
    expect(states(sweep, second!)).toEqual([]);
    expect(states(sweep, third!)).toEqual([]);
    expect(r.stderr).toMatch(/2 run\(s\) not started/);
  });

  it('Ctrl-C (SIGINT): workers stop, running runs are cancelled, exit 130; the next run resumes them', async () => {
    const dir = tmpDir('sigint');
    const file = writeSweep(dir, { name: 'ci', seeds: [0, 1, 2], execution: { jobs: 2 } });
    const log = path.join(dir, 'fake.log');
    const env = fakeEnv({ stepMs: 150, log });
    const sweep = path.join(dir, 'runs', 'ci');
    const run = spawnCli(['run', file], env);
    const running = await waitFor('two runs with progress', () => {
      if (!fs.existsSync(path.join(sweep, 'plan.json'))) return undefined;
      const ids = planIds(sweep).filter((id) => metricLines(sweep, id) >= 2);
      return ids.length >= 2 ? ids : undefined;
    });
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    for (const id of running) {
      expect(states(sweep, id)).toEqual(['running#1', 'cancelled#1']);
      expect(readJson(path.join(sweep, 'runs', id, 'status.json')).state).toBe('cancelled');
      expect(fs.existsSync(lockOf(sweep, id))).toBe(false);
    }
    expect(r.stderr).toMatch(/interrupted: 3 run\(s\) not finished/);
    const again = await runCli(['run', file], fakeEnv({ stepMs: 10, log }));
    expect(again.code, again.stderr).toBe(0);
    for (const id of running) expect(states(sweep, id).slice(-2)).toEqual(['running#2', 'done#2']);
    expect(doneIds(sweep)).toHaveLength(3);
    expect(corruptJson(sweep)).toEqual([]);
  });

  it('a summary.json that is empty or garbage is no result: status says lost, report leaves it out, run reruns it keeping the bad file', async () => {
    const dir = tmpDir('badsummary');
    const file = writeSweep(dir, { name: 'bs', seeds: [0, 1, 2], steps: 4, execution: { jobs: 2 } });
    const log = path.join(dir, 'fake.log');
    const first = await runCli(['run', file], fakeEnv({ log }));
    expect(first.code, first.stderr).toBe(0);
    const sweep = path.join(dir, 'runs', 'bs');
    const [empty, garbage, good] = planIds(sweep);
    const summaryOf = (id: string) => path.join(sweep, 'runs', id, 'summary.json');
    fs.writeFileSync(summaryOf(empty!), '');
    fs.writeFileSync(summaryOf(garbage!), '{"valid_bpb": 1.2, trunc');

    const st = JSON.parse((await runCli(['status', sweep, '--json'], fakeEnv({ log }))).stdout);
    expect(st.counts).toMatchObject({ done: 1, lost: 2 });
    const lost = new Map<string, string>(st.lost.map((r: { id: string; error: string }) => [r.id, r.error]));
    expect(lost.get(empty!)).toMatch(/^summary\.json is empty/);
    expect(lost.get(garbage!)).toMatch(/^summary\.json is not valid JSON/);

    const rep = await runCli(['report', sweep, '--format', 'json', '--no-plots', '--json'], fakeEnv({ log }));
    expect(rep.code, rep.stderr).toBe(0);
    const table = JSON.parse(rep.stdout);
    expect(table.groups).toHaveLength(1);
    expect(table.groups[0].n).toBe(1);
    expect(table.groups[0].runs.map((r: { id: string }) => r.id)).toEqual([good]);
    expect(rep.stderr).toContain(`${garbage} left out: summary.json is not valid JSON`);

    const again = await runCli(['run', file], fakeEnv({ log }));
    expect(again.code, again.stderr).toBe(0);
    for (const id of [empty!, garbage!]) expect(states(sweep, id)).toEqual(['running#1', 'done#1', 'lost#1', 'running#2', 'done#2']);
    expect(states(sweep, good!)).toEqual(['running#1', 'done#1']);
    expect(fs.readFileSync(path.join(sweep, 'runs', garbage!, 'attempts', '1', 'summary.json'), 'utf8')).toBe('{"valid_bpb": 1.2, trunc');
    expect(fs.readFileSync(path.join(sweep, 'runs', empty!, 'attempts', '1', 'summary.json'), 'utf8')).toBe('');
    expect(readJson(summaryOf(garbage!)).valid_bpb).toBeGreaterThan(0);
  });

  it('a diverged run is a result, not a failure: exit 0, listed under diverged with its step', async () => {
    const dir = tmpDir('diverge');
    const file = writeSweep(dir, { name: 'dv', seeds: [0, 1], steps: 6, execution: { jobs: 2 } });
    const r = await runCli(['run', file], fakeEnv({ behaviour: { 1: 'diverge' }, log: path.join(dir, 'fake.log') }));
    const sweep = path.join(dir, 'runs', 'dv');
    const bad = planIds(sweep)[1]!;
    expect(r.code, r.stderr).toBe(0);
    expect(states(sweep, bad)).toEqual(['running#1', 'diverged#1']);
    expect(r.stdout).not.toMatch(/failures/);
    expect(r.stdout).toMatch(new RegExp(`diverged \\(1; non-finite loss[^\\n]*\\n  ${bad} at step 3\\n`));
  });

  it('two different configs with the same name: the second is refused (exit 2) unless --yes, which says it merges', async () => {
    const dir = tmpDir('samename');
    const a = writeSweep(dir, { name: 'same', seeds: [0], steps: 4 });
    const b = path.join(dir, 'other.yaml');
    fs.writeFileSync(b, fs.readFileSync(a, 'utf8').replace('steps: 4', 'steps: 5'));
    const log = path.join(dir, 'fake.log');
    expect((await runCli(['run', a], fakeEnv({ log }))).code).toBe(0);
    const sweep = path.join(dir, 'runs', 'same');
    const refused = await runCli(['run', b], fakeEnv({ log }));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `seqlab: error: ${b}: sweep "same" in ${sweep} was made by another config (${a}) and this one differs; give it its own name, or pass --yes to add its runs to that sweep\n`,
    );
    expect(planIds(sweep)).toHaveLength(1);
    expect(fs.readdirSync(sweep).filter((n) => n.startsWith('sweep.'))).toEqual(['sweep.yaml']);
    const merged = await runCli(['run', b, '--yes'], fakeEnv({ log }));
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(
      /note: .*same: this config differs from the sweep's sweep\.yaml; its runs join the sweep \(config kept as sweep\.[0-9a-f]{8}\.yaml\)/,
    );
    expect(planIds(sweep)).toHaveLength(2);
    // The same file edited (a new seed) adds runs to its own sweep and says so, without --yes.
    fs.writeFileSync(a, fs.readFileSync(a, 'utf8').replace('seeds: [0]', 'seeds: [0, 1]'));
    const edited = await runCli(['run', a], fakeEnv({ log }));
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.stderr).toMatch(/note: .*its runs join the sweep/);
    expect(planIds(sweep)).toHaveLength(3);
  });
});
