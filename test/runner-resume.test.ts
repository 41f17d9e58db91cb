// Training checkpoints and exact resume against the REAL trainer on the wasm backend, through the
// spawned CLI (docs/runner.md section 11): kill -9 of the worker at random steps, Ctrl-C, a
// corrupted and a truncated checkpoint, a checkpoint of another config. Every resumed run must end
// with the metrics of the same run never interrupted, bit for bit.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/tasks/prng.ts';
import { computed, metricLines, planIds, readJson, runCli, spawnCli, tmpDir, waitFor } from './fixtures/runner/helpers.ts';

const STEPS = 150;

function sweepFile(dir: string, name: string, extra: string[] = []): string {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(
    file,
    [
      `name: ${name}`,
      'task: { kind: mqar, vocab_size: 16, seq_len: 8, num_kv_pairs: 2, eval_examples: 4 }',
      'model: { preset: transformer, d_model: 8, n_layers: 1, heads: 2 }',
      // log_every and eval.every do not divide checkpoint_every: a checkpoint falls inside a logging
      // window, and evals made before it must come back with it.
      // The stop rule never fires (loss 0 is out of reach) but its checks add evaluations whose
      // history summary.json's target metrics are computed from.
      `train: { steps: ${STEPS}, batch_size: 2, warmup: 2, log_every: 4, checkpoint_every: 7, stop_at: { metric: valid_loss, at_most: 0, every: 25 } }`,
      'eval: { batches: 1, every: 30 }',
      'bench: { enabled: false }',
      'execution: { backend: wasm, retries: 10 }',
      `output: { root: ${JSON.stringify(path.join(dir, 'runs'))} }`,
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

const env = { ...process.env, CI: '1', SEQLAB_HEARTBEAT_MS: '300', SEQLAB_PROGRESS_EVERY_MS: '500', SEQLAB_KILL_GRACE_MS: '20000' };

function runDirOf(sweep: string): string {
  return path.join(sweep, 'runs', planIds(sweep)[0]!);
}

/** The last step in metrics.jsonl and the worker's pid, once both exist. */
function lastStep(sweep: string): number {
  if (!fs.existsSync(path.join(sweep, 'plan.json'))) return -1;
  const f = path.join(runDirOf(sweep), 'metrics.jsonl');
  if (!fs.existsSync(f)) return -1;
  const lines = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
  try {
    return lines.length ? (JSON.parse(lines[lines.length - 1]!) as { step: number }).step : -1;
  } catch {
    return -1;
  }
}

function workerPid(sweep: string): number | undefined {
  try {
    return readJson<{ worker_pid?: number }>(path.join(runDirOf(sweep), 'lock')).worker_pid;
  } catch {
    return undefined;
  }
}

let baseline: { summary: Record<string, unknown>; metrics: Record<string, unknown>[] } | undefined;
async function uninterrupted(): Promise<NonNullable<typeof baseline>> {
  if (baseline) return baseline;
  const dir = tmpDir('resume-base');
  const r = await runCli(['run', sweepFile(dir, 'base')], env);
  expect(r.code, r.stderr).toBe(0);
  const run = runDirOf(path.join(dir, 'runs', 'base'));
  baseline = { summary: readJson(path.join(run, 'summary.json')), metrics: metricLines(path.join(run, 'metrics.jsonl')) };
  expect(baseline.summary.train_resumes).toBe(0);
  return baseline;
}

function expectSameAsUninterrupted(run: string, base: NonNullable<typeof baseline>): Record<string, unknown> {
  const summary = readJson(path.join(run, 'summary.json'));
  expect(computed(summary)).toEqual(computed(base.summary));
  // No duplicate and no missing step lines: the lines are those of the uninterrupted run.
  expect(metricLines(path.join(run, 'metrics.jsonl'))).toEqual(base.metrics);
  expect(fs.existsSync(path.join(run, 'train_state'))).toBe(false); // removed once summary.json exists
  return summary;
}

describe('exact resume from training checkpoints (wasm, spawned CLI)', { concurrent: false, timeout: 180_000 }, () => {
  it('kill -9 of the worker at random steps (seeded, several trials): the retried run ends with the uninterrupted metrics', async () => {
    const base = await uninterrupted();
    const rng = new Rng(20261208);
    for (let trial = 0; trial < 3; trial++) {
      const dir = tmpDir(`resume-kill${trial}`);
      const sweep = path.join(dir, 'runs', 'k');
      const run = spawnCli(['run', sweepFile(dir, 'k')], env);
      // Two kills per trial, at increasing random steps; each retry resumes from the last checkpoint.
      const a = 1 + rng.randInt(STEPS / 2 - 1);
      const kills = [a, a + 1 + rng.randInt(STEPS / 2 - 10)];
      let killed = 0;
      for (const at of kills) {
        const pid = await waitFor(`step ${at}`, () => lastStep(sweep) >= at && workerPid(sweep), 60_000);
        if (lastStep(sweep) >= STEPS) break; // trained past it already: nothing left to interrupt
        process.kill(pid, 'SIGKILL');
        killed++;
        await waitFor('the next attempt', () => (workerPid(sweep) ?? pid) !== pid || lastStep(sweep) >= STEPS, 60_000).catch(
          () => undefined,
        );
      }
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      const dirRun = runDirOf(sweep);
      const summary = expectSameAsUninterrupted(dirRun, base);
      const log = fs.readFileSync(path.join(dirRun, 'log.txt'), 'utf8');
      // A kill before the first checkpoint restarts at step 0 (no resume); later ones resume.
      expect(summary.train_resumes as number).toBe((log.match(/^resumed from /gm) ?? []).length);
      expect(killed).toBeGreaterThan(0);
      expect(readJson<{ attempts: unknown[] }>(path.join(dirRun, 'status.json')).attempts.length).toBe(killed + 1);
    }
  });

  it('Ctrl-C checkpoints at the step boundary; status shows the resume step; a corrupted and a truncated checkpoint are skipped with one line; another config is refused', async () => {
    const base = await uninterrupted();
    const dir = tmpDir('resume-int');
    const file = sweepFile(dir, 'c');
    const sweep = path.join(dir, 'runs', 'c');
    const run = spawnCli(['run', file], env);
    await waitFor('step 40', () => lastStep(sweep) >= 40 && lastStep(sweep) < STEPS - 20, 60_000);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    const dirRun = runDirOf(sweep);
    const states = fs.readdirSync(path.join(dirRun, 'train_state')).sort();
    expect(states.length).toBe(2); // the stop's checkpoint and the previous one
    const steps = states.map((n) => Number(/step-(\d+)/.exec(n)![1])).sort((x, y) => y - x);
    // The stop's own checkpoint (periodic ones come every 7 steps): at the last step trained.
    expect(steps[0]).toBe(lastStep(sweep));
    const st = await runCli(['status', sweep], env);
    expect(st.stdout).toContain(`resumes from step ${steps[0]}`);

    // A checkpoint of another config (seed 1: another run id) is refused with one line.
    const other = path.join(dir, 'other');
    fs.mkdirSync(other);
    const otherFile = sweepFile(other, 'o', ['seeds: [1]']);
    const plan = await runCli(['plan', otherFile, '--json'], env);
    expect(plan.code, plan.stderr).toBe(0);
    const otherId = (JSON.parse(plan.stdout) as { runs: { id: string }[] }).runs[0]!.id;
    expect(otherId).not.toBe(path.basename(dirRun));
    const otherRun = path.join(other, 'runs', 'o', 'runs', otherId);
    fs.mkdirSync(path.join(otherRun, 'train_state'), { recursive: true });
    fs.copyFileSync(path.join(dirRun, 'train_state', states[0]!), path.join(otherRun, 'train_state', states[0]!));
    const refused = await runCli(['run', otherFile], env);
    expect(refused.code).not.toBe(0);
    const err = readJson<{ state: string; error: string }>(path.join(otherRun, 'status.json'));
    expect(err.state).toBe('failed');
    expect(err.error).toMatch(/^train_state\/step-\d+\.safetensors: training checkpoint of run [0-9a-f]{12}, not of this run/);
    expect(err.error).not.toContain('\n');
    expect(fs.existsSync(path.join(otherRun, 'train_state', states[0]!))).toBe(true); // nothing overwritten

    // Corrupt the newest (one flipped byte in the tensor data) and truncate the previous: both are
    // skipped, the run starts from step 0 and still ends with the uninterrupted metrics.
    const newest = path.join(dirRun, 'train_state', `step-${steps[0]}.safetensors`);
    const previous = path.join(dirRun, 'train_state', `step-${steps[1]}.safetensors`);
    const buf = fs.readFileSync(newest);
    buf[buf.length - 5] ^= 0x40;
    fs.writeFileSync(newest, buf);
    fs.truncateSync(previous, Math.floor(fs.statSync(previous).size / 2));
    const again = await runCli(['run', file], env);
    expect(again.code, again.stderr).toBe(0);
    const summary = expectSameAsUninterrupted(dirRun, base);
    expect(summary.train_resumes).toBe(0);
    const log = fs.readFileSync(path.join(dirRun, 'log.txt'), 'utf8');
    expect(log).toMatch(new RegExp(`^resume: train_state/step-${steps[0]}\\.safetensors skipped: checksum mismatch \\(corrupted\\)`, 'm'));
    expect(log).toMatch(new RegExp(`^resume: train_state/step-${steps[1]}\\.safetensors skipped: truncated \\(\\d+ of \\d+ bytes\\)`, 'm'));
  });

  it('Ctrl-C then rerun resumes at the stopped step with the uninterrupted metrics', async () => {
    const base = await uninterrupted();
    const dir = tmpDir('resume-ctrlc');
    const file = sweepFile(dir, 'r');
    const sweep = path.join(dir, 'runs', 'r');
    const run = spawnCli(['run', file], env);
    await waitFor('step 20', () => lastStep(sweep) >= 20 && lastStep(sweep) < STEPS - 20, 60_000);
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(130);
    const again = await runCli(['run', file], env);
    expect(again.code, again.stderr).toBe(0);
    const dirRun = runDirOf(sweep);
    const summary = expectSameAsUninterrupted(dirRun, base);
    expect(summary.train_resumes).toBe(1);
    // The stop's partial-window line went with the shelved attempt, not into the resumed file.
    expect(fs.readFileSync(path.join(dirRun, 'metrics.jsonl'), 'utf8')).not.toContain('"stopped":true');
  });
});
