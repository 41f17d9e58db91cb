// SLURM time limits and requeue (docs/runner.md section 11): the script asks for a warning signal
// and requeue; on the real one-node cluster (.ci/slurm-setup.sh) a run longer than its --time
// finishes `done` through requeues with the metrics of an uninterrupted run. SKIPPED (never
// passed) when that cluster is not up.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { arrayScript } from '../src/runner/slurm.ts';
import {
  clusterUp,
  computed,
  ledger,
  metricLines,
  planIds,
  readJson,
  runCli,
  spawnCli,
  tmpDir,
  waitFor,
  writeSweep,
} from './fixtures/runner/helpers.ts';

const cluster = clusterUp();
if (!cluster.up) console.warn(`SKIPPED real SLURM requeue test: ${cluster.why} (run .ci/slurm-setup.sh as root)`);

describe('requeue options', () => {
  it('the script asks for requeue and the warning signal only with max requeues; exec gets the bound', () => {
    const base = { jobName: 'j', count: 2, idsFile: 'slurm/array-1.ids', sweepDir: '/s', array: 1 };
    const plain = arrayScript(base);
    expect(plain).not.toMatch(/--requeue|--signal|--max-requeues/);
    const rq = arrayScript({ ...base, requeue: { maxRequeues: 3, signalBefore: 45 } });
    expect(rq).toContain('#SBATCH --requeue\n#SBATCH --signal=B:USR1@45\n');
    expect(rq).toMatch(/exec .* exec \. --ids 'slurm\/array-1\.ids' --index "\$SLURM_ARRAY_TASK_ID" --max-requeues 3\n/);
  });

  it('bad requeue options are one line and exit 2, nothing written', async () => {
    const dir = tmpDir('requeue-opts');
    const file = writeSweep(dir, { name: 'rq', seeds: [0] });
    const env = { ...process.env, CI: '1' };
    const neg = await runCli(['submit', file, '--slurm', '--max-requeues', '-1'], env);
    expect(neg.code).toBe(2);
    expect(neg.stderr).toBe('seqlab: error: --max-requeues expects a non-negative integer, got "-1"\n');
    const alone = await runCli(['submit', file, '--slurm', '--signal-before', '60'], env);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toBe('seqlab: error: --signal-before needs --max-requeues (the signal is the cue to checkpoint and requeue)\n');
    const bad = await runCli(['submit', file, '--slurm', '--max-requeues', '2', '--signal-before', '0'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('seqlab: error: --signal-before expects a positive integer, got "0"\n');
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);
  });
});

describe('real one-node SLURM cluster: requeue before the time limit', () => {
  it.skipIf(!cluster.up)(
    'a run warned before its 1-minute --time limit checkpoints, requeues and ends done with the metrics of an uninterrupted run',
    // One retry: the test races SLURM's own warning, whose time SLURM only bounds; a second failure is real.
    { timeout: 300_000, retry: 1 },
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-slurm-requeue-'));
      const yaml = (name: string, root: string) => {
        const file = path.join(dir, `${name}.yaml`);
        fs.writeFileSync(
          file,
          [
            `name: ${name}`,
            'task: { kind: mqar, vocab_size: 16, seq_len: 8, num_kv_pairs: 2, eval_examples: 4 }',
            'model: { preset: transformer, d_model: 8, n_layers: 1, heads: 2 }',
            // 15 s to a few minutes of training here. No periodic checkpoint: only the one written
            // when the warning stops the worker.
            'train: { steps: 6000, batch_size: 2, warmup: 2, log_every: 500, checkpoint_every: null }',
            'eval: { batches: 1, every: 2000 }',
            'bench: { enabled: false }',
            'execution: { backend: wasm, blas_threads: 1 }',
            `output: { root: ${JSON.stringify(root)} }`,
            '',
          ].join('\n'),
        );
        return file;
      };
      const env: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
      delete env.SEQLAB_TRAINER_MODULE;
      // --time 1 (SLURM's minimum) with the warning 30 s before it: the real signal path.
      const r = await runCli(
        ['submit', yaml('rq', path.join(dir, 'slurm-runs')), '--slurm', '--time', '1', '--max-requeues', '6', '--signal-before', '30'],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
      // The uninterrupted run, here, while the job runs (results do not depend on the load).
      const base = spawnCli(['run', yaml('base', path.join(dir, 'local-runs'))], env);
      const sweep = path.join(dir, 'slurm-runs', 'rq');
      const id = planIds(sweep)[0]!;
      const job = `${(JSON.parse(fs.readFileSync(path.join(sweep, 'slurm', 'jobs.jsonl'), 'utf8').trim()) as { job_id: string }).job_id}_0`;
      // A failed attempt must not leave its job on the one-node cluster for the retry or other tests.
      onTestFinished(() => {
        try {
          execFileSync('scancel', [job], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      });
      const jobState = () => execFileSync('squeue', ['-h', '-r', '-j', job, '-o', '%T|%r'], { encoding: 'utf8' }).trim();
      // A requeued job waits out SLURM's fixed requeue delay (BeginTime, ~2 min) before it is eligible
      // again; the test moves its start to now so it stays short (the requeue itself is SLURM's own).
      // Not at once: slurmd refuses a start within the second its old credential was revoked.
      // SLURM sends the --signal warning at a time it only bounds (up to 60 s early), so a short run may
      // finish before it comes: once the run is training, the test sends the same signal the same way
      // (USR1 to the batch shell), twice, one attempt at a time; SLURM's own warning may add requeues.
      const WARNINGS = 2;
      let warned = 0;
      const lineCount = () => {
        const f = path.join(sweep, 'runs', id, 'metrics.jsonl');
        return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0;
      };
      let linesAtWarning = 0;
      let skipped = 0;
      let held: number | undefined;
      await waitFor(
        'the job to finish',
        () => {
          const s = jobState();
          const cancelled = ledger(sweep).filter((e) => e.id === id && e.state === 'cancelled').length;
          const n = lineCount();
          if (warned < WARNINGS && cancelled >= warned && /^RUNNING/.test(s) && n > linesAtWarning && n >= 2) {
            try {
              execFileSync('scancel', ['--batch', '--signal=USR1', job], { stdio: 'ignore' });
              warned++;
              linesAtWarning = n + 1;
            } catch {
              /* the task ended meanwhile */
            }
          }
          if (!/^PENDING\|BeginTime/.test(s)) held = undefined;
          else if (held === undefined) held = Date.now();
          else if (Date.now() - held > 2500) {
            held = undefined;
            try {
              execFileSync('scontrol', ['update', `JobId=${job}`, 'StartTime=now'], { stdio: 'ignore' });
              skipped++;
            } catch {
              /* not allowed here: wait it out */
            }
          }
          return fs.existsSync(path.join(sweep, 'runs', id, 'summary.json')) && !/RUNNING|PENDING|COMPLETING/.test(s);
        },
        280_000,
      );
      const b = await base.done;
      expect(b.code, b.stderr).toBe(0);
      await waitFor('done in the ledger', () => ledger(sweep).some((e) => e.id === id && e.state === 'done'), 30_000);
      const entries = ledger(sweep).filter((e) => e.id === id);
      const requeued = entries.filter((e) => e.state === 'cancelled');
      expect(warned, 'the run ended before the test could warn it').toBeGreaterThanOrEqual(1);
      expect(requeued.length).toBeGreaterThanOrEqual(warned);
      expect(requeued.length).toBeLessThanOrEqual(6);
      for (const e of requeued) expect(e.error).toMatch(/^SLURM time limit near: checkpointed and requeued \(requeue \d of 6\)$/);
      expect(entries[entries.length - 1]!.state).toBe('done');
      const run = path.join(sweep, 'runs', id);
      const summary = readJson(path.join(run, 'summary.json'));
      // Every warning the test sent stopped a training worker, which checkpointed: each is one resume.
      // SLURM's own warning may stop an attempt before it trains (nothing new saved, no resume counted).
      expect(summary.train_resumes).toBeGreaterThanOrEqual(warned);
      expect(summary.train_resumes).toBeLessThanOrEqual(requeued.length);
      const baseRun = path.join(dir, 'local-runs', 'base', 'runs', id);
      expect(computed(summary)).toEqual(computed(readJson(path.join(baseRun, 'summary.json'))));
      expect(metricLines(path.join(run, 'metrics.jsonl'))).toEqual(metricLines(path.join(baseRun, 'metrics.jsonl')));
      console.info(
        `requeue test: ${requeued.length} requeue(s) (${warned} warning(s) sent by the test), requeue delay skipped ${skipped} time(s)`,
      );
    },
  );
});
