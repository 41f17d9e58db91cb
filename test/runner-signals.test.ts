// Signals against the REAL trainer (not the fake one): a training loop on the wasm and cpu backends
// never yields to the event loop on its own, so these catch a worker that cannot hear SIGTERM or
// the death of its runner (docs/runner.md section 4). Tiny model, thousands of cheap steps.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidAlive } from '../src/runner/lock.ts';
import { ledger, planIds, readJson, runCli, spawnCli, tmpDir, waitFor } from './fixtures/runner/helpers.ts';

function realSweep(dir: string, name: string): string {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(
    file,
    [
      `name: ${name}`,
      'task: { kind: mqar, vocab_size: 16, seq_len: 8, num_kv_pairs: 2, eval_examples: 4 }',
      'model: { preset: transformer, d_model: 8, n_layers: 1, heads: 2 }',
      // log_every above the steps: after step 1 nothing is logged until a stop flushes the window.
      'train: { steps: 100000, batch_size: 1, warmup: 1, log_every: 100000 }',
      'eval: { batches: 1 }',
      'bench: { enabled: false }',
      'execution: { backend: wasm }',
      `output: { root: ${JSON.stringify(path.join(dir, 'runs'))} }`,
      '',
    ].join('\n'),
  );
  return file;
}

const env = (extra: Record<string, string> = {}) => ({
  ...process.env,
  CI: '1',
  SEQLAB_HEARTBEAT_MS: '300',
  SEQLAB_PROGRESS_EVERY_MS: '500',
  // A worker that ignores SIGTERM would only end at this SIGKILL: far beyond the test's limits.
  SEQLAB_KILL_GRACE_MS: '60000',
  ...extra,
});

/** The worker of the sweep's only run, once it has trained a few steps. */
async function trainingWorker(sweep: string): Promise<{ id: string; pid: number }> {
  return waitFor(
    'the worker training',
    () => {
      if (!fs.existsSync(path.join(sweep, 'plan.json'))) return undefined;
      const id = planIds(sweep)[0]!;
      const metrics = path.join(sweep, 'runs', id, 'metrics.jsonl');
      const lock = path.join(sweep, 'runs', id, 'lock');
      if (!fs.existsSync(metrics) || !fs.existsSync(lock)) return undefined;
      try {
        const pid = readJson<{ worker_pid?: number }>(lock).worker_pid;
        return pid ? { id, pid } : undefined;
      } catch {
        return undefined;
      }
    },
    90_000,
  );
}

describe('signals reach a real training worker', { concurrent: false }, () => {
  it('Ctrl-C: the worker stops at the next step boundary on SIGTERM (exit 130, no SIGKILL) and keeps its loss so far', async () => {
    const dir = tmpDir('sigterm-real');
    const file = realSweep(dir, 'st');
    const sweep = path.join(dir, 'runs', 'st');
    const run = spawnCli(['run', file], env());
    const { id, pid } = await trainingWorker(sweep);
    try {
      await new Promise((r) => setTimeout(r, 500)); // a few hundred steps into the window
      const t0 = Date.now();
      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.code, r.stderr).toBe(130);
      expect(Date.now() - t0).toBeLessThan(10_000);
      const status = readJson<{ state: string; attempts: { exit_code: number | null; signal: string | null }[] }>(
        path.join(sweep, 'runs', id, 'status.json'),
      );
      expect(status.state).toBe('cancelled');
      // The worker ended itself (WORKER_CANCELLED_EXIT), not the runner's SIGKILL.
      expect(status.attempts[0]).toMatchObject({ exit_code: 130, signal: null });
      const lines = fs
        .readFileSync(path.join(sweep, 'runs', id, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const last = lines[lines.length - 1];
      expect(last.stopped).toBe(true);
      expect(last.step).toBeGreaterThan(1);
      expect(Number.isFinite(last.train_loss)).toBe(true);
      expect(fs.existsSync(path.join(sweep, 'runs', id, 'summary.json'))).toBe(false);
    } finally {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('kill -9 of the runner: its worker stops within seconds, writes no summary, and the run is lost', async () => {
    const dir = tmpDir('orphan-real');
    const file = realSweep(dir, 'or');
    const sweep = path.join(dir, 'runs', 'or');
    const run = spawnCli(['run', file], env());
    const { id, pid } = await trainingWorker(sweep);
    try {
      run.child.kill('SIGKILL');
      await run.done;
      await waitFor('the orphaned worker to exit', () => !pidAlive(pid), 5_000);
      expect(fs.existsSync(path.join(sweep, 'runs', id, 'summary.json'))).toBe(false);
      const st = await runCli(['status', sweep, '--json'], env());
      const s = JSON.parse(st.stdout);
      expect(s.counts).toMatchObject({ lost: 1, done: 0, running: 0 });
      expect(ledger(sweep).map((e) => e.state)).toEqual(['running']);
    } finally {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
