/**
 * The training loop driven by a hand-made bigram LanguageModel and data source (no dependency on
 * the real models/tasks): determinism, seeds, divergence, memory, metrics.jsonl, accumulation.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunConfig } from '../src/config/schema.ts';
import type { DecodeState, LanguageModel } from '../src/models/types.ts';
import { evaluate, trainLoop } from '../src/train/loop.ts';
import type { Batch, TrainData } from '../src/train/types.ts';
import { readJsonl } from '../src/util/fs.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const V = 11;
const D = 8;
const T = 12;

/** A bigram model (seeded init; tfjs treats seed 0 as 'random', hence the offsets): logits_t = tanh(E[x_t] W) E^T * g + b (embedding via one-hot matmul). */
function fakeModel(seed: number): LanguageModel {
  const v = (name: string, make: () => tf.Tensor) => tf.tidy(() => tf.variable(make(), true, `${name}-${seed}-${Math.random()}`));
  const weights = new Map<string, tf.Variable>([
    ['embedding.weight', v('emb', () => tf.randomNormal([V, D], 0, 0.5, 'float32', 100 + 2 * seed))],
    ['layers.0.mixer.w', v('w', () => tf.randomNormal([D, D], 0, 0.5, 'float32', 101 + 2 * seed))],
    ['norm_f.weight', v('g', () => tf.ones([D]))],
    ['head.bias', v('b', () => tf.zeros([V]))],
  ]);
  const logitsOf = (tokens: tf.Tensor) =>
    tf.tidy(() => {
      const [E, W, g, b] = [...weights.values()];
      const x = tf.oneHot(tokens.toInt(), V).toFloat(); // [..., V]
      const h = tf.mul(tf.tanh(tf.matMul(tf.matMul(x.reshape([-1, V]), E), W)), g); // [N, D]
      return tf.add(tf.matMul(h, E, false, true), b); // [N, V]
    });
  const model: LanguageModel = {
    config: { kind: 'fake-bigram' },
    weights,
    forward: (tokens) => ({ logits: tf.tidy(() => logitsOf(tokens).reshape([tokens.shape[0], tokens.shape[1], V])) as tf.Tensor3D }),
    prefill: (tokens) => ({
      logits: model.forward(tokens).logits,
      state: { position: tokens.shape[1], layers: [{ last: tf.zeros([tokens.shape[0], D]) }] },
    }),
    step: (token, state) => ({
      logits: logitsOf(token) as tf.Tensor2D,
      state: { position: state.position + 1, layers: [{ last: tf.zeros([token.shape[0], D]) }] },
    }),
    emptyState: (batch) => ({ position: 0, layers: [{ last: tf.zeros([batch, D]) }] }),
    disposeState: (s: DecodeState) => s.layers.forEach((l) => Object.values(l).forEach((t) => t.dispose())),
    stateBytes: (s: DecodeState) => s.layers.reduce((n, l) => n + Object.values(l).reduce((m, t) => m + t.size * 4, 0), 0),
    dispose: () => weights.forEach((w) => w.dispose()),
  };
  return model;
}

/** Sequences that follow x_{t+1} = (3 x_t + 1) mod V from a random start: a learnable bigram. */
function gen(index: number, batch: number, seed: number): Batch {
  const inputs = new Int32Array(batch * T);
  const targets = new Int32Array(batch * T);
  let s = (seed ^ (index * 2654435761)) >>> 0;
  for (let i = 0; i < batch; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    let x = s % V;
    for (let t = 0; t < T; t++) {
      inputs[i * T + t] = x;
      x = (3 * x + 1) % V;
      targets[i * T + t] = t === 0 ? -100 : x; // one IGNORE per row
    }
  }
  return { inputs, targets, batch, seqLen: T, scoredBytes: batch * (T - 1) };
}

function fakeData(): TrainData {
  return {
    kind: 'lm',
    vocabSize: V,
    seqLen: T,
    trainBatch: (step, bs, seed) => gen(step, bs, seed),
    *evalBatches(split, bs, maxWindows) {
      const n = maxWindows === 'all' || maxWindows === undefined ? 8 : Math.min(maxWindows, 8);
      for (let i = 0; i < n; i += bs) yield gen(split === 'valid' ? 1e6 + i : 2e6 + i, Math.min(bs, n - i), 7);
    },
  };
}

function config(over: Partial<RunConfig['train']> = {}, seed = 0, evalEvery = 0): RunConfig {
  return {
    name: 'test',
    seed,
    task: {} as RunConfig['task'],
    model: {} as RunConfig['model'],
    train: {
      steps: 12,
      batch_size: 4,
      lr: 3e-2,
      min_lr_ratio: 0.1,
      warmup: 2,
      schedule: 'cosine',
      clip: 1,
      weight_decay: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      grad_accum: 1,
      log_every: 5,
      timing_warmup: 2,
      checkpoint: false,
      checkpoint_every: null,
      checkpoint_activations: false,
      ...over,
    },
    eval: { every: evalEvery, batches: 2, splits: ['valid', 'test'] },
    bench: { enabled: false, prefill_lengths: [16], decode_tokens: 4, repeats: 1 },
  };
}

const quiet = { log: () => {} };

async function train(cfg: RunConfig, metricsFile?: string, data = fakeData()) {
  const model = fakeModel(cfg.seed);
  try {
    const res = await trainLoop(model, data, cfg, { ...quiet, metricsFile });
    return { res, valid: evaluate(model, data, cfg, 'valid') };
  } finally {
    model.dispose();
  }
}

describe('training loop', () => {
  it('learns, logs metrics.jsonl lines {step, tokens, time_s, ...} and periodic evals', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-loop-'));
    const file = path.join(dir, 'metrics.jsonl');
    const { res, valid } = await train(config({ steps: 30, lr: 5e-2 }, 0, 10), file);
    expect(res.state).toBe('done');
    expect(res.steps).toBe(30);
    expect(res.tokens).toBe(30 * 4 * T);
    expect(res.losses[29]).toBeLessThan(res.losses[0] * 0.6);
    expect(valid.loss).toBeLessThan(Math.log(V) * 0.6);
    expect(valid.bpb).toBeCloseTo(valid.loss / Math.LN2, 6); // one byte per scored token here
    const lines = readJsonl<Record<string, number | string>>(file);
    const trainLines = lines.filter((l) => l.split === undefined);
    expect(trainLines.map((l) => l.step)).toEqual([1, 5, 10, 15, 20, 25, 30]);
    for (const l of trainLines) {
      expect(l.tokens).toBe((l.step as number) * 4 * T);
      expect(Number.isFinite(l.train_loss)).toBe(true);
      expect(typeof l.time_s).toBe('number');
    }
    const evals = lines.filter((l) => l.split === 'valid');
    expect(evals.map((l) => l.step)).toEqual([10, 20]);
    expect(Number.isFinite(evals[1].bpb)).toBe(true);
    expect(res.tokensPerS).toBeGreaterThan(0);
    expect(res.timedSteps).toBe(28);
    expect(res.peakTensorBytes).toBeGreaterThan(0);
  });

  it('same config and seed give the same loss curve; a different seed gives a different one', async () => {
    const a = (await train(config())).res.losses;
    const b = (await train(config())).res.losses;
    const c = (await train(config({}, 1))).res.losses;
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('a huge learning rate diverges: state diverged, training stops, losses so far kept', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-div-'));
    const file = path.join(dir, 'metrics.jsonl');
    const { res } = await train(config({ lr: 1e30, warmup: 0, clip: 0, steps: 20 }), file);
    expect(res.state).toBe('diverged');
    expect(res.steps).toBeLessThan(20);
    expect(Number.isFinite(res.losses[res.losses.length - 1])).toBe(false);
    expect(Number.isFinite(res.losses[0])).toBe(true);
    const lines = readJsonl<Record<string, unknown>>(file);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[lines.length - 1].step).toBe(res.steps);
  });

  it('tf.memory().numTensors stays flat across training steps (and nothing is left after dispose)', async () => {
    const before = tf.memory().numTensors;
    const { res } = await train(config({ steps: 8, grad_accum: 2 }, 0, 3));
    expect(new Set(res.numTensors.slice(1)).size).toBe(1);
    expect(res.numTensors[0]).toBe(res.numTensors[1]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('grad_accum 2 x batch B gives the same updates as one batch of 2B', async () => {
    // The big-batch source serves exactly the union of the two micro-batches of the same step.
    const big: TrainData = {
      ...fakeData(),
      trainBatch: (step, bs, seed) => {
        const [p, q] = [gen(2 * step, bs / 2, seed), gen(2 * step + 1, bs / 2, seed)];
        const cat = (x: Int32Array, y: Int32Array) => Int32Array.from([...x, ...y]);
        return { inputs: cat(p.inputs, q.inputs), targets: cat(p.targets, q.targets), batch: bs, seqLen: T };
      },
    };
    const acc = (await train(config({ steps: 6, batch_size: 2, grad_accum: 2 }))).res.losses;
    const one = (await train(config({ steps: 6, batch_size: 4, grad_accum: 1 }), undefined, big)).res.losses;
    acc.forEach((l, i) => expect(l).toBeCloseTo(one[i], 5));
  });

  it('stops with the abort reason when the signal fires', async () => {
    const ac = new AbortController();
    const model = fakeModel(0);
    const p = trainLoop(model, fakeData(), config({ steps: 50 }), {
      log: () => {},
      signal: ac.signal,
      onProgress: (pr) => pr.step === 3 && ac.abort(new Error('stop now')),
    });
    await expect(p).rejects.toThrow('stop now');
    model.dispose();
  });
});
