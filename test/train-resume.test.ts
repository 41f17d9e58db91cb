// src/train/resume.ts in process: what a training checkpoint holds comes back exactly, only the
// newest two files are kept, a damaged one falls back to the previous, a foreign one is refused.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { AdamW } from '../src/train/optimizer.ts';
import { freshProgress, TrainState } from '../src/train/resume.ts';
import { listTrainStates, resumeStep } from '../src/train/state-files.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const adamCfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };

function setup(seed: number) {
  const weights = new Map<string, tf.Variable>([
    ['layers.0.w', tf.variable(tf.randomNormal([3, 4], 0, 1, 'float32', seed), true, `w${seed}-${Math.random()}`)],
    ['norm_f.g', tf.variable(tf.randomNormal([4], 0, 1, 'float32', seed + 1), true, `g${seed}-${Math.random()}`)],
  ]);
  const opt = new AdamW(weights, adamCfg);
  return { weights, opt, dispose: () => (opt.dispose(), weights.forEach((w) => w.dispose())) };
}

function step(weights: Map<string, tf.Variable>, opt: AdamW, k: number) {
  const grads = new Map([...weights].map(([n, v]) => [n, tf.fill(v.shape, 0.1 * (k + 1))] as const));
  opt.apply(grads, 1e-2);
  grads.forEach((g) => g.dispose());
}

describe('training state files', () => {
  it('round-trips weights, moments, the update count, progress (NaN included) and metrics.jsonl; keeps the newest two', () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-trainstate-'));
    const dir = path.join(runDir, 'train_state');
    const metricsFile = path.join(runDir, 'metrics.jsonl');
    const logs: string[] = [];
    const a = setup(1);
    const keeper = new TrainState({ dir, runId: 'abc123abc123', every: { steps: 2 }, metricsFile }, a.weights, a.opt, (l) => logs.push(l));
    const p = freshProgress();
    for (let k = 0; k < 5; k++) {
      step(a.weights, a.opt, k);
      p.steps = k + 1;
      p.losses.push(k === 0 ? NaN : 1 / (k + 1));
      p.window.push(p.losses[k]!);
      fs.appendFileSync(metricsFile, JSON.stringify({ step: k + 1 }) + '\n');
      if (keeper.due(p.steps)) keeper.save(p);
    }
    expect(keeper.due(5)).toBe(false);
    keeper.save(p); // a stop after step 5
    expect(listTrainStates(dir).map((f) => f.step)).toEqual([5, 4]);
    expect(resumeStep(runDir)).toBe(5);
    fs.appendFileSync(metricsFile, JSON.stringify({ step: 6 }) + '\n'); // written after the checkpoint

    const b = setup(2);
    const got = new TrainState({ dir, runId: 'abc123abc123', every: null, metricsFile }, b.weights, b.opt, (l) => logs.push(l)).restore()!;
    expect(got.progress.steps).toBe(5);
    expect(got.progress.losses[0]).toBeNaN();
    expect(got.progress.losses.slice(1)).toEqual(p.losses.slice(1));
    expect(got.progress.window.length).toBe(5);
    expect(got.progress.resumes).toBe(1);
    expect(b.opt.t).toBe(5);
    for (const [n, v] of a.weights) expect(Array.from(b.weights.get(n)!.dataSync())).toEqual(Array.from(v.dataSync()));
    const ma = a.opt.moments();
    const mb = b.opt.moments();
    for (let i = 0; i < ma.length; i++) {
      expect(Array.from(mb[i]!.m.dataSync())).toEqual(Array.from(ma[i]!.m.dataSync()));
      expect(Array.from(mb[i]!.v.dataSync())).toEqual(Array.from(ma[i]!.v.dataSync()));
    }
    expect(fs.readFileSync(metricsFile, 'utf8').trim().split('\n').length).toBe(5); // the line after step 5 is gone

    // One flipped bit in the newest: skipped with one line (kept as .unreadable), the previous is used.
    const newest = listTrainStates(dir)[0]!.file;
    const buf = fs.readFileSync(newest);
    buf[buf.length - 1] ^= 1;
    fs.writeFileSync(newest, buf);
    const c = setup(3);
    const back = new TrainState({ dir, runId: 'abc123abc123', every: null, metricsFile }, c.weights, c.opt, (l) => logs.push(l)).restore()!;
    expect(back.progress.steps).toBe(4);
    expect(c.opt.t).toBe(4);
    expect(logs.filter((l) => l.startsWith('resume:'))).toEqual([
      'resume: train_state/step-5.safetensors skipped: checksum mismatch (corrupted) (kept as train_state/step-5.safetensors.unreadable)',
    ]);
    expect(fs.existsSync(`${newest}.unreadable`)).toBe(true);

    // Another run's checkpoint is refused, not loaded.
    const d = setup(4);
    expect(() => new TrainState({ dir, runId: 'ffffffffffff', every: null }, d.weights, d.opt, () => {}).restore()).toThrow(UserError);
    expect(() => new TrainState({ dir, runId: 'ffffffffffff', every: null }, d.weights, d.opt, () => {}).restore()).toThrow(
      /training checkpoint of run abc123abc123, not of this run \(ffffffffffff\)/,
    );
    for (const s of [a, b, c, d]) s.dispose();
  });
});
