// SLURM hand-off: `submit` -> array scripts -> `exec` per task -> the same files as a local run.
// Fast tests use sbatch/squeue/scontrol shims on PATH; one test uses the real one-node cluster
// from .ci/slurm-setup.sh and is SKIPPED (never passed) when that cluster is not up.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLI,
  clusterUp,
  corruptJson,
  fakeEnv,
  HERE,
  ledger,
  planIds,
  runCli,
  tmpDir,
  waitFor,
  writeSweep,
} from './fixtures/runner/helpers.ts';

const SHIM = path.join(HERE, 'slurm-shim');

function shimEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const shimDir = path.join(dir, 'shim');
  fs.mkdirSync(shimDir, { recursive: true });
  return fakeEnv({
    log: path.join(dir, 'fake.log'),
    extra: { PATH: `${SHIM}${path.delimiter}${process.env.PATH}`, SHIM_DIR: shimDir, ...extra },
  });
}

const summaries = (sweep: string) => planIds(sweep).filter((id) => fs.existsSync(path.join(sweep, 'runs', id, 'summary.json')));

const cluster = clusterUp();
if (!cluster.up) console.warn(`SKIPPED real SLURM test: ${cluster.why} (run .ci/slurm-setup.sh as root)`);

describe('seqlab submit --slurm / exec (shims)', () => {
  it('6 runs with MaxArraySize 5 become two arrays; every task execs its run; resubmitting submits nothing', async () => {
    const dir = tmpDir('shim');
    // A sweep dir path with a quote, spaces and $( ): the scripts must still work.
    const weird = path.join(dir, `it's a $(dir)`);
    fs.mkdirSync(weird);
    const file = writeSweep(weird, { name: 'sl', seeds: [0, 1, 2, 3, 4, 5], steps: 5 });
    const env = shimEnv(dir);
    const r = await runCli(['submit', file, '--slurm', '--array-limit', '2'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('sl: 6 pending run(s) in 2 array(s) (MaxArraySize 5, %2)');
    const sweep = path.join(weird, 'runs', 'sl');
    // The hint is a shell command a user pastes: the path with a quote, spaces and $( ) is quoted.
    const hint = /^follow with: (seqlab status .*)$/m.exec(r.stdout)?.[1];
    expect(hint).toBeDefined();
    const pasted = execFileSync('bash', ['-c', `seqlab() { "$NODE" "$CLI" "$@"; }; ${hint} --json`], {
      encoding: 'utf8',
      env: { ...env, NODE: process.execPath, CLI },
    });
    expect(JSON.parse(pasted).sweep_dir).toBe(sweep);
    const s1 = fs.readFileSync(path.join(sweep, 'slurm', 'array-1.sbatch'), 'utf8');
    const s2 = fs.readFileSync(path.join(sweep, 'slurm', 'array-2.sbatch'), 'utf8');
    expect(s1).toContain('#SBATCH --array=0-4%2');
    expect(s2).toContain('#SBATCH --array=0-0%2');
    const ids1 = fs
      .readFileSync(path.join(sweep, 'slurm', 'array-1.ids'), 'utf8')
      .trim()
      .split('\n');
    const ids2 = fs
      .readFileSync(path.join(sweep, 'slurm', 'array-2.ids'), 'utf8')
      .trim()
      .split('\n');
    expect([...ids1, ...ids2]).toEqual(planIds(sweep));
    await waitFor('6 summaries', () => summaries(sweep).length === 6, 90_000);
    await waitFor('6 done in the ledger', () => ledger(sweep).filter((e) => e.state === 'done').length === 6, 30_000);
    await waitFor('queue drained', () => fs.readdirSync(path.join(dir, 'shim', 'queue')).length === 0, 30_000);
    // Each run was executed by its array task, recorded in the ledger with the SLURM task id.
    const jobs = fs
      .readFileSync(path.join(dir, 'shim', 'sbatch.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]);
    expect(jobs).toHaveLength(2);
    for (const [k, id] of ids1.entries())
      expect(
        ledger(sweep)
          .filter((e) => e.id === id)
          .map((e) => [e.state, (e as { slurm_job?: string }).slurm_job]),
      ).toEqual([
        ['running', `${jobs[0]}_${k}`],
        ['done', `${jobs[0]}_${k}`],
      ]);
    expect(ledger(sweep).find((e) => e.id === ids2[0] && e.state === 'done')).toMatchObject({ slurm_job: `${jobs[1]}_0` });
    const st = JSON.parse((await runCli(['status', sweep, '--json'], env)).stdout);
    expect(st.counts.done).toBe(6);
    expect(st.squeue).toBe(true);
    const again = await runCli(['submit', file, '--slurm'], env);
    expect(again.stdout).toMatch(/nothing to submit/);
    expect(
      fs
        .readFileSync(path.join(dir, 'shim', 'sbatch.log'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(2);
    expect(corruptJson(sweep)).toEqual([]);
  });

  it('--dry-run writes and submits nothing; queued runs are not resubmitted; status reconciles with squeue', async () => {
    const dir = tmpDir('shimhold');
    const file = writeSweep(dir, { name: 'hold', seeds: [0, 1, 2], steps: 5 });
    const env = shimEnv(dir, { SHIM_HOLD: '1', SHIM_MAX_ARRAY_SIZE: '1001' });
    const sweep = path.join(dir, 'runs', 'hold');
    const dry = await runCli(['submit', file, '--slurm', '--dry-run', '--time', '10', '--partition', 'debug'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('[dry run] hold: 3 pending run(s) in 1 array(s) (MaxArraySize 1001)');
    expect(dry.stdout).toContain('#SBATCH --time=10');
    expect(fs.existsSync(path.join(sweep, 'slurm'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'shim', 'sbatch.log'))).toBe(false);

    expect((await runCli(['submit', file, '--slurm'], env)).code).toBe(0);
    const again = await runCli(['submit', file, '--slurm'], env);
    expect(again.stdout).toMatch(/nothing to submit \(3 runs: none pending, 3 already queued\)/);
    const st = JSON.parse((await runCli(['status', sweep, '--json'], env)).stdout);
    expect(st.queued_in_slurm).toBe(3);
    expect(st.counts.planned).toBe(3);

    // A run "running" on another node whose SLURM task has left the queue is lost (detect-killed).
    const id = planIds(sweep)[0]!;
    const now = new Date().toISOString();
    fs.writeFileSync(
      path.join(sweep, 'runs', id, 'lock'),
      JSON.stringify({ pid: 4242, host: 'node-17', token: 't', started: now, heartbeat: now, slurm_job: '999_0' }),
    );
    fs.appendFileSync(
      path.join(sweep, 'ledger.jsonl'),
      JSON.stringify({ id, state: 'running', attempt: 1, time: now, pid: 4242, host: 'node-17', slurm_job: '999_0' }) + '\n',
    );
    // A fresh heartbeat by the lock's own measure; only squeue can tell that the job is gone.
    const text = await runCli(['status', sweep], { ...env, SEQLAB_HEARTBEAT_MS: '60000' });
    expect(text.stdout).toMatch(/lost 1/);
    expect(text.stdout).toContain(`${id} last owner node-17 pid 4242`);
    expect(text.stdout).toContain('SLURM job 999_0 is no longer in the queue');

    // exec: a bad index or sweep dir is one line and exit 2.
    const past = await runCli(['exec', sweep, '--index', '7'], env);
    expect(past.code).toBe(2);
    expect(past.stderr).toBe('seqlab: error: --index 7 is past the end of the plan (3 runs)\n');
    const none = await runCli(['exec', path.join(dir, 'nope'), '--index', '0'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^seqlab: error: no such sweep directory: .*nope\n$/);
  });
});

describe('real one-node SLURM cluster (.ci/slurm-setup.sh)', () => {
  it.skipIf(!cluster.up)('submits a 6-run sweep as two arrays (MaxArraySize 5); all runs finish with ledger and summaries', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-slurm-'));
    const file = writeSweep(dir, { name: 'real', seeds: [0, 1, 2, 3, 4, 5], steps: 5 });
    const env = fakeEnv({ log: path.join(dir, 'fake.log') });
    const r = await runCli(['submit', file, '--slurm', '--array-limit', '2', '--time', '5'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('real: 6 pending run(s) in 2 array(s) (MaxArraySize 5, %2)');
    const sweep = path.join(dir, 'runs', 'real');
    const jobs = fs
      .readFileSync(path.join(sweep, 'slurm', 'jobs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(jobs.map((j) => j.ids.length)).toEqual([5, 1]);
    await waitFor('6 summaries from SLURM tasks', () => summaries(sweep).length === 6, 150_000);
    // summary.json comes from the trainer; the ledger's `done` follows when exec sees the worker exit.
    await waitFor('6 done in the ledger', () => ledger(sweep).filter((e) => e.state === 'done').length === 6, 30_000);
    const l = ledger(sweep);
    for (const [a, j] of jobs.entries())
      for (const [k, id] of (j.ids as string[]).entries())
        expect(
          l.filter((e) => e.id === id).map((e) => [e.state, (e as { slurm_job?: string }).slurm_job]),
          `array ${a}`,
        ).toEqual([
          ['running', `${j.job_id}_${k}`],
          ['done', `${j.job_id}_${k}`],
        ]);
    const st = JSON.parse((await runCli(['status', sweep, '--json'], env)).stdout);
    expect(st.counts.done).toBe(6);
    expect(corruptJson(sweep)).toEqual([]);
  });

  it.skipIf(!cluster.up)('a task that runs out of its --time is timed_out (or lost), never done', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-slurm-time-'));
    // 2000 steps of 100 ms: far past the 1-minute limit (SLURM rounds --time up to minutes).
    const file = writeSweep(dir, { name: 'tl', seeds: [0], steps: 2000 });
    const env = fakeEnv({ stepMs: 100, log: path.join(dir, 'fake.log') });
    const r = await runCli(['submit', file, '--slurm', '--time', '1'], env);
    expect(r.code, r.stderr).toBe(0);
    const sweep = path.join(dir, 'runs', 'tl');
    const id = planIds(sweep)[0]!;
    const job = JSON.parse(fs.readFileSync(path.join(sweep, 'slurm', 'jobs.jsonl'), 'utf8').trim()).job_id as string;
    await waitFor('the run to start', () => ledger(sweep).some((e) => e.state === 'running'), 60_000);
    const inQueue = () => execFileSync('squeue', ['-h', '-j', job, '-o', '%T'], { encoding: 'utf8' }).trim();
    await waitFor('SLURM to end the job at its time limit', () => !/RUNNING|PENDING|COMPLETING/.test(inQueue()), 170_000);
    expect(fs.existsSync(path.join(sweep, 'runs', id, 'summary.json'))).toBe(false);
    const last = ledger(sweep)
      .filter((e) => e.id === id)
      .pop()!;
    expect(['timed_out', 'running']).toContain(last.state); // running: SIGKILLed before it could say so
    if (last.state === 'timed_out') expect(last.error).toMatch(/reached its time limit \(sbatch --time\)/);
    const st = JSON.parse((await runCli(['status', sweep, '--json'], env)).stdout);
    expect(st.counts.done).toBe(0);
    expect(st.counts.timed_out + st.counts.lost).toBe(1);
  });
});
