// Unit tests of the runner's pieces: locks, ledger-derived states, the sweep directory contract,
// run selection, the results table and the SLURM script builder.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { executionSchema } from '../src/config/schema.ts';
import { UserError } from '../src/errors.ts';
import { DEFAULT_COLUMNS, formatMetric, meanStd, renderResultsTable, type ResultRow } from '../src/metrics/table.ts';
import { autoJobs, threadsPerRun } from '../src/runner/execute.ts';
import { appendLedger, lastLine, ledgerByRun, nextAttempt, readLedger } from '../src/runner/ledger.ts';
import { inspectLock, RunLock } from '../src/runner/lock.ts';
import { runFiles, SWEEP_FORMAT_VERSION } from '../src/runner/layout.ts';
import { parseShard, selectRuns } from '../src/runner/select.ts';
import { arrayScript, chunkIds, parseMaxArraySize, shq, validateResources } from '../src/runner/slurm.ts';
import { prepareSweepDir, readPlanFile, type SweepPlan } from '../src/runner/sweep-dir.ts';
import { viewRun } from '../src/runner/state.ts';
import { writeJsonAtomic } from '../src/util/fs.ts';
import { tmpDir, waitFor } from './fixtures/runner/helpers.ts';

function deadPid(): number {
  const r = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r);
}

function fakePlan(dir: string, ids: string[], yaml = 'name: t\n'): SweepPlan {
  return {
    name: 't',
    sweepDir: path.join(dir, 't'),
    runs: ids.map((id, index) => ({ id, index, axes: { seed: index }, config: { seed: index, id } })),
    execution: executionSchema.parse({ jobs: 1 }),
    sweepYaml: yaml,
  };
}

describe('run lock', () => {
  it('is exclusive (O_EXCL) and only its owner releases it', () => {
    const file = path.join(tmpDir('lock'), 'lock');
    const a = RunLock.tryCreate(file)!;
    expect(a).toBeDefined();
    expect(RunLock.tryCreate(file)).toBeUndefined();
    const got = RunLock.acquire(file);
    expect('held' in got && got.held.pid).toBe(process.pid);
    expect(inspectLock(file).kind).toBe('live');
    a.release();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('is stale when its owner pid is dead on this host, or its heartbeat is old on another host', () => {
    const dir = tmpDir('stale');
    const now = new Date().toISOString();
    const mk = (name: string, info: object) => {
      fs.writeFileSync(path.join(dir, name), JSON.stringify({ token: 'x', started: now, heartbeat: now, ...info }));
      return path.join(dir, name);
    };
    expect(inspectLock(mk('dead', { pid: deadPid(), host: os.hostname() })).kind).toBe('stale');
    expect(inspectLock(mk('remote-fresh', { pid: 1, host: 'elsewhere' })).kind).toBe('live');
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    expect(inspectLock(mk('remote-old', { pid: 1, host: 'elsewhere', heartbeat: old })).kind).toBe('stale');
    // A live owner keeps its lock even with an old heartbeat (it may be busy), never taken over.
    expect(inspectLock(mk('alive-old', { pid: process.pid, host: os.hostname(), heartbeat: old })).kind).toBe('live');
  });

  it('a stale lock is taken over by exactly one of several racing processes', async () => {
    const dir = tmpDir('race');
    const file = path.join(dir, 'lock');
    const now = new Date().toISOString();
    fs.writeFileSync(file, JSON.stringify({ pid: deadPid(), host: os.hostname(), token: 'old', started: now, heartbeat: now }));
    const lockTs = path.resolve('src/runner/lock.ts');
    const go = path.join(dir, 'go');
    const end = path.join(dir, 'end');
    // Every racer imports first, says so, then spins until the go file appears (imports under load
    // take seconds), and stays alive until all have tried: a winner that exited would leave a stale lock.
    const code = `
      const fs = await import('node:fs');
      const { RunLock } = await import(${JSON.stringify(lockTs)});
      process.stdout.write('ready ');
      while (!fs.existsSync(${JSON.stringify(go)})) {}
      const r = RunLock.acquire(${JSON.stringify(file)});
      process.stdout.write('lock' in r ? 'won' : 'lost');
      const wait = setInterval(() => fs.existsSync(${JSON.stringify(end)}) && clearInterval(wait), 20);`;
    const racers = [0, 1, 2, 3].map(() => {
      const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
      const r = { out: '', done: new Promise<void>((resolve) => c.on('close', () => resolve())) };
      c.stdout.on('data', (d) => (r.out += d));
      return r;
    });
    await waitFor('all racers ready', () => racers.every((r) => r.out.startsWith('ready')), 60_000);
    fs.writeFileSync(go, '');
    await waitFor('all racers tried', () => racers.every((r) => /won|lost/.test(r.out)), 30_000);
    fs.writeFileSync(end, '');
    await Promise.all(racers.map((r) => r.done));
    const outs = racers.map((r) => r.out.replace('ready ', ''));
    expect(outs.filter((o) => o === 'won')).toHaveLength(1);
    expect(outs.filter((o) => o === 'lost')).toHaveLength(3);
  });

  it('beat() refreshes the heartbeat and refuses once the lock was taken over', async () => {
    const file = path.join(tmpDir('beat'), 'lock');
    const lock = RunLock.tryCreate(file)!;
    const before = JSON.parse(fs.readFileSync(file, 'utf8')).heartbeat;
    await new Promise((r) => setTimeout(r, 5));
    expect(lock.beat({ worker_pid: 42 })).toBe(true);
    const after = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(after.heartbeat > before).toBe(true);
    expect(after.worker_pid).toBe(42);
    writeJsonAtomic(file, { ...after, token: 'someone-else' });
    expect(lock.beat()).toBe(false);
    lock.release(); // not ours any more: must not delete
    expect(fs.existsSync(file)).toBe(true);
  });
});

describe('ledger and run state', () => {
  it('derives planned / running / lost / failed / done / diverged from files alone', () => {
    const dir = tmpDir('state');
    const id = 'aaaaaaaaaaaa';
    const view = () => viewRun(dir, id, ledgerByRun(readLedger(dir)).get(id)).state;
    fs.mkdirSync(runFiles(dir, id).dir, { recursive: true });
    expect(view()).toBe('planned');
    appendLedger(dir, { id, state: 'running', attempt: 1 });
    expect(view()).toBe('lost'); // running in the ledger, but nobody holds the lock
    const lock = RunLock.tryCreate(runFiles(dir, id).lock)!;
    expect(view()).toBe('running');
    appendLedger(dir, { id, state: 'failed', attempt: 1, error: 'boom' });
    lock.release();
    expect(view()).toBe('failed');
    expect(viewRun(dir, id, ledgerByRun(readLedger(dir)).get(id)).error).toBe('boom');
    expect(nextAttempt(ledgerByRun(readLedger(dir)).get(id))).toBe(2);
    appendLedger(dir, { id, state: 'done', attempt: 2 });
    expect(view()).toBe('planned'); // done only once summary.json exists
    writeJsonAtomic(runFiles(dir, id).summary, { valid_bpb: 1 });
    expect(view()).toBe('done');
    const now = new Date().toISOString();
    writeJsonAtomic(runFiles(dir, id).status, {
      id,
      state: 'diverged',
      attempt: 2,
      attempts: [{ attempt: 2, state: 'diverged', start: now, pid: 1, host: 'h' }],
      updated: now,
    });
    expect(view()).toBe('diverged');
  });

  it('records read back from disk are checked against their zod schema', async () => {
    const dir = tmpDir('records');
    const id = 'cccccccccccc';
    appendLedger(dir, { id, state: 'running', attempt: 1 });
    fs.appendFileSync(path.join(dir, 'ledger.jsonl'), '{"id":"cccccccccccc","state":"bogus","attempt":1}\n{"id":3}\n');
    appendLedger(dir, { id, state: 'failed', attempt: 1, error: 'x' });
    expect(readLedger(dir).map((e) => e.state)).toEqual(['running', 'failed']);
    // A plan.json whose execution settings were damaged by hand: one line naming the key.
    const plan = fakePlan(dir, ['c00000000001']);
    await prepareSweepDir(plan);
    const file = path.join(plan.sweepDir, 'plan.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(json.execution).toMatchObject({ retries: 0, retry_on: ['crash', 'lost'] }); // the schema's defaults
    json.execution.retries = -1;
    fs.writeFileSync(file, JSON.stringify(json));
    expect(() => readPlanFile(plan.sweepDir)).toThrow(/plan\.json: execution\.retries: .*damaged plan file/);
  });

  it('lastLine keeps the last non-empty line, shortened', () => {
    expect(lastLine('Error: a\n    at x\nRangeError: bad shape\n\n')).toBe('RangeError: bad shape');
    expect(lastLine('x'.repeat(400)).length).toBe(300);
  });
});

describe('sweep directory', () => {
  it('writes a versioned plan.json; a new config adds runs and never removes or overwrites', async () => {
    const dir = tmpDir('sweepdir');
    const p1 = fakePlan(dir, ['a00000000001', 'a00000000002'], 'name: t\nseeds: [0, 1]\n');
    const f1 = await prepareSweepDir(p1);
    expect(f1.format_version).toBe(SWEEP_FORMAT_VERSION);
    expect(f1.runs.map((r) => [r.id, r.index, r.config])).toEqual([
      ['a00000000001', 0, 'runs/a00000000001/config.json'],
      ['a00000000002', 1, 'runs/a00000000002/config.json'],
    ]);
    const p2 = fakePlan(dir, ['a00000000002', 'a00000000003'], 'name: t\nseeds: [1, 2]\n');
    p2.runs[0]!.config = { changed: true }; // same id, so config.json must not be rewritten
    const f2 = await prepareSweepDir(p2);
    expect(f2.runs.map((r) => r.id)).toEqual(['a00000000001', 'a00000000002', 'a00000000003']);
    expect(JSON.parse(fs.readFileSync(path.join(p1.sweepDir, 'runs/a00000000002/config.json'), 'utf8'))).toEqual(p1.runs[1]!.config);
    expect(fs.readFileSync(path.join(p1.sweepDir, 'sweep.yaml'), 'utf8')).toBe(p1.sweepYaml);
    const others = fs.readdirSync(p1.sweepDir).filter((n) => /^sweep\.[0-9a-f]{8}\.yaml$/.test(n));
    expect(others.map((n) => fs.readFileSync(path.join(p1.sweepDir, n), 'utf8'))).toEqual([p2.sweepYaml]);
  });

  it('refuses a sweep directory written by an incompatible version (UserError, exit 2)', async () => {
    const dir = tmpDir('version');
    const plan = fakePlan(dir, ['b00000000001']);
    fs.mkdirSync(plan.sweepDir, { recursive: true });
    fs.writeFileSync(path.join(plan.sweepDir, 'plan.json'), JSON.stringify({ format_version: 99, runs: [] }));
    const err = await prepareSweepDir(plan).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/incompatible seqlab version \(sweep format 99/);
    expect(() => readPlanFile(plan.sweepDir)).toThrow(UserError);
    expect(fs.existsSync(path.join(plan.sweepDir, 'runs', 'b00000000001'))).toBe(false);
  });
});

describe('run selection', () => {
  const runs = ['abc111111111', 'abd222222222', 'bcd333333333', 'cde444444444', 'def555555555'].map((id) => ({ id }));
  it('--only takes ids or unique prefixes and rejects unknown or ambiguous ones', () => {
    expect(selectRuns(runs, { only: ['abc', 'cde444444444'] }).map((r) => r.id)).toEqual(['abc111111111', 'cde444444444']);
    expect(() => selectRuns(runs, { only: ['ab'] })).toThrow(/ambiguous/);
    expect(() => selectRuns(runs, { only: ['zzz'] })).toThrow(/no run id starts with "zzz"/);
  });
  it('--shard i/n partitions the plan: shards are disjoint and cover it', () => {
    const shards = [1, 2, 3].map((i) => selectRuns(runs, { shard: `${i}/3` }).map((r) => r.id));
    expect(shards.flat().sort()).toEqual(runs.map((r) => r.id).sort());
    expect(shards.map((s) => s.length)).toEqual([2, 2, 1]);
    expect(() => parseShard('0/3')).toThrow(UserError);
    expect(() => parseShard('4/3')).toThrow(UserError);
    expect(() => parseShard('x')).toThrow(/--shard expects i\/n/);
  });
  it('--jobs auto does not oversubscribe cores', () => {
    expect(autoJobs({ blas_threads: 2 }, 8)).toBe(4);
    expect(autoJobs({ blas_threads: 'auto' }, 8)).toBe(8);
    expect(autoJobs({ blas_threads: 16 }, 8)).toBe(1);
    expect(threadsPerRun({ blas_threads: 'auto' }, 2, 8)).toBe(4);
  });
});

describe('results table (src/metrics/table.ts)', () => {
  it('mean and sample std (ddof 1) have known answers', () => {
    const s = meanStd([1, 2, 3, 4]);
    expect(s.n).toBe(4);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(1.2909944, 6);
    expect(meanStd([5]).std).toBeNaN();
    expect(meanStd([1, NaN, 3]).mean).toBe(2);
  });
  it('formats numbers for humans', () => {
    expect(formatMetric('params', 1_234_567)).toBe('1.23M');
    expect(formatMetric('flops_per_token_fwd', 2.5e9)).toBe('2.5G');
    expect(formatMetric('train_tokens_per_s', 15320)).toBe('15.3k');
    expect(formatMetric('peak_tensor_bytes', 1_500_000)).toBe('1.5MB');
    expect(formatMetric('valid_bpb', 1.2345678)).toBe('1.235');
    expect(formatMetric('valid_bpb', NaN)).toBe('-');
  });
  const row = (id: string, axes: Record<string, unknown>, state: string, summary?: Record<string, unknown>): ResultRow => ({
    id,
    axes,
    state,
    summary,
  });
  it('aggregates over seeds with mean ± std and ignores failed runs in the numbers', () => {
    const rows = [
      row('r1', { 'model.preset': 'retnet', seed: 0 }, 'done', {
        valid_bpb: 2.0,
        params: 1000,
        'decode_ms_per_token@1024': 3,
        'decode_ms_per_token@256': 1,
      }),
      row('r2', { 'model.preset': 'retnet', seed: 1 }, 'done', { valid_bpb: 3.0, params: 1000 }),
      row('r3', { 'model.preset': 'mamba', seed: 0 }, 'done', { valid_bpb: 1.5, params: 2000 }),
      row('r4', { 'model.preset': 'mamba', seed: 1 }, 'failed', { valid_bpb: 99 }),
    ];
    const md = renderResultsTable(rows).split('\n');
    // Default metric columns that no run reports (accuracy, flops, ...) are left out; headers are the registry's short labels.
    expect(md[0]).toMatch(
      /^\| id +\| model.preset \| n \| valid bpb +\| params \| decode ms\/tok @256 \| decode ms\/tok @1024 \| state +\|$/,
    );
    // Decimals per metric (bpb 3); params is fixed by the config, so no "± 0".
    expect(md[2]).toMatch(/^\| r1 \+1 +\| retnet +\| 2 \| 2\.500 ± 0\.707 \| 1k +\|/);
    expect(md[3]).toMatch(/^\| r3 \+1 +\| mamba +\| 1 \| 1\.500 +\| 2k +\|.*\| 1 done, 1 failed \|$/);
    const perRun = renderResultsTable(rows, { aggregateOver: [] }).split('\n');
    expect(perRun).toHaveLength(6);
    expect(perRun[5]).toMatch(/^\| r4 +\| mamba +\| 1 +\| - +\|/);
    expect(DEFAULT_COLUMNS).toContain('decode_ms_per_token@*');
  });

  it('recall tasks get accuracy and exact-match columns instead of bpb', () => {
    const md = renderResultsTable([row('m1', { 'model.preset': 'mamba' }, 'done', { accuracy: 0.5, exact_match: 0.25, params: 10 })]).split(
      '\n',
    );
    expect(md[0]).toMatch(/^\| id +\| model.preset \| accuracy \| exact match \| params \| state \|$/);
    expect(md[2]).toMatch(/^\| m1 +\| mamba +\| 0\.500 +\| 0\.250 +\| 10 +\| done +\|$/);
  });

  it('fits the terminal width by leaving out the last metric columns and naming them', () => {
    const summary = {
      valid_bpb: 2.01234,
      params: 123456,
      flops_per_token_fwd: 2.5e6,
      train_tokens_per_s: 15320,
      'decode_ms_per_token@256': 1.5,
      'decode_ms_per_token@1024': 2.5,
      peak_tensor_bytes: 1.5e6,
    };
    const rows = ['transformer', 'retnet', 'mamba'].map((p, i) =>
      row(`abcdef12345${i}`, { 'model.preset': p, 'train.lr': 0.003 }, 'done', summary),
    );
    const full = renderResultsTable(rows, { width: 1000 }).split('\n');
    expect(full[0]!.length).toBeGreaterThan(80);
    for (const width of [80, 100]) {
      const fitted = renderResultsTable(rows, { width }).split('\n');
      const table = fitted.filter((l) => l.startsWith('|'));
      for (const l of table) expect(l.length, l).toBeLessThanOrEqual(width);
      expect(table[0]).toMatch(/\| id .*\| model.preset .*\| valid bpb .*\| state/); // ids, axes, the headline metric and state stay
      expect(fitted.at(-1)).toMatch(/^\(\d+ more columns? in seqlab report: .*peak mem\)$/);
    }
  });
});

describe('SLURM scripts', () => {
  it('reads MaxArraySize from scontrol and splits arrays to fit', () => {
    expect(parseMaxArraySize('AuthType = auth/munge\nMaxArraySize            = 5\nMaxJobCount = 10000\n')).toBe(5);
    expect(parseMaxArraySize('nothing')).toBeUndefined();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(chunkIds(ids, 5)).toEqual([['a', 'b', 'c', 'd', 'e'], ['f']]);
    expect(chunkIds(ids, 1001)).toEqual([ids]);
  });
  it('quotes paths so nothing reaches the shell unquoted', () => {
    const evil = `/tmp/it's $(touch /tmp/pwned) \`id\` "x"; rm -rf ~`;
    const out = execFileSync('bash', ['-c', `printf %s ${shq(evil)}`], { encoding: 'utf8' });
    expect(out).toBe(evil);
    const script = arrayScript({
      jobName: 'seqlab-t',
      count: 5,
      arrayLimit: 2,
      idsFile: 'slurm/array-1.ids',
      sweepDir: evil,
      array: 1,
      time: '10',
      partition: 'debug',
    });
    expect(script).toContain('#SBATCH --array=0-4%2');
    expect(script).toContain(`cd ${shq(evil)}`);
    expect(script).toMatch(/exec .* exec \. --ids 'slurm\/array-1\.ids' --index "\$SLURM_ARRAY_TASK_ID"/);
    execFileSync('bash', ['-n', '-c', script]); // parses
  });
  it('validates every sbatch pass-through option; what passes is written as #SBATCH lines', () => {
    const ok = validateResources({
      partition: 'gpu,debug',
      time: '1-02:00:00',
      account: 'proj_42',
      qos: 'normal',
      mem: '16G',
      gres: 'gpu:a100:2,nvme:1',
      cpusPerTask: '4',
    });
    expect(ok).toEqual({
      partition: 'gpu,debug',
      time: '1-02:00:00',
      account: 'proj_42',
      qos: 'normal',
      mem: '16G',
      gres: 'gpu:a100:2,nvme:1',
      cpusPerTask: 4,
    });
    const script = arrayScript({ jobName: 'j', count: 1, idsFile: 'slurm/a.ids', sweepDir: '/s', array: 1, ...ok });
    for (const line of [
      '--partition=gpu,debug',
      '--time=1-02:00:00',
      '--account=proj_42',
      '--qos=normal',
      '--mem=16G',
      '--gres=gpu:a100:2,nvme:1',
      '--cpus-per-task=4',
    ])
      expect(script.split('\n')).toContain(`#SBATCH ${line}`);
    const bad: [Record<string, string>, RegExp][] = [
      [{ partition: 'debug; rm' }, /^--partition: "debug; rm" is not a partition name/],
      [{ time: '2h' }, /^--time: "2h" is not a SLURM time/],
      [{ account: '$(id)' }, /^--account: "\$\(id\)" is not an account name/],
      [{ qos: 'a b' }, /^--qos: "a b" is not a QOS name/],
      [{ mem: '16 GB' }, /^--mem: "16 GB" is not a memory size/],
      [{ mem: '-1' }, /^--mem:/],
      [{ gres: 'gpu:1\n#SBATCH --uid=0' }, /^--gres: "gpu:1\\n#SBATCH --uid=0" is not name\[:type\]:count/],
      [{ gres: 'gpu:' }, /^--gres:/],
      [{ cpusPerTask: '0' }, /^--cpus-per-task expects a positive integer, got "0"/],
      [{ cpusPerTask: '2.5' }, /^--cpus-per-task expects a positive integer/],
    ];
    for (const [opts, msg] of bad) expect(() => validateResources(opts), JSON.stringify(opts)).toThrow(msg);
    expect(() => validateResources({ account: '`id`' })).toThrow(UserError);
  });
});
