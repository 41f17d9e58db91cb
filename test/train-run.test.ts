/**
 * One real run end to end (real task, model, checkpoint) on wasm with a tiny config: the files of
 * docs/runner.md 4, the metrics of docs/runner.md 5, FLOPs = docs/models.md 8, determinism, divergence, memory,
 * and the checkpoint round trip through the generate path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { generateText, sampleIds } from '../src/commands/generate.ts';
import { loadPlan } from '../src/config/plan.ts';
import type { RunConfig } from '../src/config/schema.ts';
import { metricKeys, unitOf } from '../src/metrics/names.ts';
import { loadCheckpoint, saveCheckpoint } from '../src/models/checkpoint.ts';
import { buildModel } from '../src/models/model.ts';
import { flopsPerToken, FLOPS_FORMULA_VERSION } from '../src/models/flops.ts';
import { countParams } from '../src/models/params.ts';
import { loadTask, taskMetrics } from '../src/tasks/index.ts';
import { trainLoop } from '../src/train/loop.ts';
import { runTraining } from '../src/train/run.ts';
import { readJsonl } from '../src/util/fs.ts';
import { subSeed } from '../src/util/hash.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-run-'));

/** A resolved RunConfig through the real config path (YAML -> plan), tiny shapes. */
function tinyConfig(preset: string, set: string[] = []): RunConfig {
  const file = path.join(tmp, `tiny-${preset}.yaml`);
  fs.writeFileSync(
    file,
    [
      'name: tiny',
      'task: { kind: lm, corpus: sotu, tokenizer: byte, seq_len: 16, eval_windows: 8 }',
      `model: { preset: ${preset}, d_model: 16, n_layers: 1 }`,
      'train: { steps: 6, batch_size: 4, lr: 1e-2, warmup: 2, log_every: 1, timing_warmup: 2 }',
      'eval: { batches: 2, batch_size: 4 }',
      'bench: { prefill_lengths: [8, 16], decode_tokens: 3, repeats: 1 }',
    ].join('\n'),
  );
  return loadPlan(file, { set }).runs[0].config;
}

const logs: string[] = [];
const opts = { backend: 'wasm', log: (l: string) => logs.push(l) };

async function run(cfg: RunConfig, name: string) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg)); // the scheduler's file
  return { dir, ...(await runTraining(cfg, dir, opts)) };
}

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('runTraining (real model and task)', () => {
  let cfg: RunConfig;
  let first: Awaited<ReturnType<typeof run>>;

  it('writes metrics.jsonl, env.json, checkpoint/ and summary.json with every applicable metric, finite and in its unit', async () => {
    cfg = tinyConfig('transformer');
    first = await run(cfg, 'a');
    const { dir, state, summary } = first;
    expect(state).toBe('done');
    for (const f of ['metrics.jsonl', 'env.json', 'summary.json', 'checkpoint/model.safetensors'])
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(summary)));

    const keys = metricKeys({ reports: taskMetrics({ kind: 'lm' }), splits: ['valid', 'test'], prefillLengths: [8, 16], bench: true });
    expect(keys).toContain('decode_ms_per_token@16');
    for (const k of keys) {
      const v = onDisk[k];
      expect(typeof v, k).toBe('number');
      expect(Number.isFinite(v), k).toBe(true);
      const unit = unitOf(k);
      if (unit === 'ratio') expect(v, k).toBeGreaterThan(0);
      else if (unit === 'bits/byte')
        expect(v, k).toBeLessThan(9); // a uniform byte model is 8.01
      else expect(v, k).toBeGreaterThan(0);
      if (unit === 'count' || unit === 'bytes') expect(Number.isInteger(v), k).toBe(true);
    }
    // Unit relations: byte tokens, so bpb = loss / ln 2 up to the EOS bytes and ppl = e^loss.
    expect(onDisk.valid_ppl).toBeCloseTo(Math.exp(onDisk.valid_loss), 6);
    expect(onDisk.valid_bpb).toBeCloseTo(onDisk.valid_loss / Math.LN2, 2);
    expect(onDisk.mfu).toBeLessThan(1);
    expect(onDisk.rss_peak_bytes).toBeGreaterThan(onDisk.peak_tensor_bytes);
    // KV cache at L = 16 for one attention layer: 2 * L * d floats.
    expect(onDisk.state_bytes_per_sequence).toBe(4 * 2 * 16 * 16);

    const env = JSON.parse(fs.readFileSync(path.join(dir, 'env.json'), 'utf8'));
    expect(env).toMatchObject({ node: process.version, tfjs: '4.22.0', backend: 'wasm', backend_reason: 'requested wasm' });
    for (const k of ['cpu_model', 'matmul_path', 'matmul_peak_gflops', 'hostname', 'commit', 'dirty']) expect(env, k).toHaveProperty(k);
    expect(env.matmul_peak_gflops).toBeGreaterThan(0);

    const lines = readJsonl<Record<string, unknown>>(path.join(dir, 'metrics.jsonl'));
    expect(lines.filter((l) => !l.split).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines.filter((l) => l.split).map((l) => l.split)).toEqual(['valid', 'test']);
  });

  it('a synthetic task reports accuracy and exact_match (and per-length accuracy for induction), no bpb', async () => {
    const file = path.join(tmp, 'ind.yaml');
    fs.writeFileSync(
      file,
      [
        'task: { kind: induction, vocab_size: 8, seq_len: 8, eval_lengths: [8, 16], eval_examples: 16 }',
        'model: { preset: selret, d_model: 16, n_layers: 1 }',
        'train: { steps: 3, batch_size: 4, timing_warmup: 1, checkpoint: false }',
        'eval: { batches: all }',
        'bench: { prefill_lengths: [8], decode_tokens: 2, repeats: 1 }',
      ].join('\n'),
    );
    const res = await run(loadPlan(file).runs[0].config, 'ind');
    const s: Record<string, unknown> = res.summary;
    for (const k of metricKeys({
      reports: taskMetrics({ kind: 'induction' }),
      splits: ['valid', 'test'],
      prefillLengths: [8],
      bench: true,
    })) {
      expect(Number.isFinite(s[k]), k).toBe(true);
    }
    expect(s.accuracy).toBe(s.test_accuracy);
    expect(s.accuracy as number).toBeGreaterThanOrEqual(0);
    expect(s.accuracy as number).toBeLessThanOrEqual(1);
    expect(s.exact_match as number).toBeLessThanOrEqual(s.accuracy as number); // one scored position each: equal
    expect(s.test_eval_windows).toBe(16); // 'all' = the whole fixed set
    expect(s).toHaveProperty(['test_accuracy@N=16']);
    expect(s).not.toHaveProperty('valid_bpb');
  });

  it('FLOPs and params in summary.json equal docs/models.md 7/8 for the config', () => {
    const s = first.summary;
    const fwd = flopsPerToken(cfg.model, 16);
    expect(s.flops_per_token_fwd).toBe(fwd);
    expect(s.flops_formula).toBe(FLOPS_FORMULA_VERSION);
    expect(s.train_flops).toBe(3 * fwd * 6 * 4 * 16);
    expect(s.params).toBe(countParams(cfg.model).params);
    expect(s.params_non_embedding).toBe(countParams(cfg.model).paramsNonEmbedding);
  });

  it('same config and seed give the same loss curve; another seed gives another', async () => {
    const curve = (dir: string) =>
      readJsonl<{ train_loss?: number }>(path.join(dir, 'metrics.jsonl'))
        .filter((l) => l.train_loss !== undefined)
        .map((l) => l.train_loss);
    const again = await run(cfg, 'b');
    const other = await run(tinyConfig('transformer', ['seeds=[1]']), 'c');
    expect(curve(again.dir)).toEqual(curve(first.dir));
    expect(again.summary.valid_loss).toBe(first.summary.valid_loss);
    expect(curve(other.dir)).not.toEqual(curve(first.dir));
  });

  it('a huge learning rate diverges: state diverged, summary.json and the metrics so far kept', async () => {
    const res = await run(tinyConfig('transformer', ['train.lr=1e30', 'train.warmup=0', 'train.clip=0']), 'div');
    expect(res.state).toBe('diverged');
    expect(res.summary.state).toBe('diverged');
    expect(fs.existsSync(path.join(res.dir, 'summary.json'))).toBe(true);
    expect(res.summary.steps).toBeLessThan(6);
    const lines = readJsonl<Record<string, unknown>>(path.join(res.dir, 'metrics.jsonl'));
    expect(lines.length).toBe(res.summary.steps);
    expect(Number.isFinite(lines[0].train_loss)).toBe(true);
    expect(fs.existsSync(path.join(res.dir, 'checkpoint'))).toBe(false);
  });

  it('tf.memory() stays flat across training steps and across decode steps (mamba: conv + ssm state)', async () => {
    const c = tinyConfig('mamba');
    const before = tf.memory().numTensors;
    const model = buildModel(c.model, subSeed(c.seed, 'init'));
    const data = loadTask(c.task);
    const res = await trainLoop(model, data, c, { log: () => {} });
    expect(new Set(res.numTensors).size).toBe(1);
    const counts: number[] = [];
    const prompt = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const pre = model.prefill(prompt);
    prompt.dispose();
    pre.logits.dispose();
    let state = pre.state;
    for (let i = 0; i < 6; i++) {
      const tok = tf.tensor1d([i], 'int32');
      const next = model.step(tok, state);
      tok.dispose();
      next.logits.dispose();
      model.disposeState(state);
      state = next.state;
      counts.push(tf.memory().numTensors);
    }
    model.disposeState(state);
    expect(new Set(counts).size).toBe(1);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checkpoint round trip through the generate path: the loaded model gives the same logits and text', async () => {
    const c = tinyConfig('retnet');
    const model = buildModel(c.model, subSeed(c.seed, 'init'));
    await trainLoop(model, loadTask(c.task), { ...c, train: { ...c.train, steps: 3 } }, { log: () => {} });
    const dir = path.join(tmp, 'ckpt');
    saveCheckpoint(model, dir);
    const loaded = loadCheckpoint(dir);
    const prompt = Int32Array.from(Buffer.from('The Union '));
    const a: Float32Array[] = [];
    const b: Float32Array[] = [];
    const o = { tokens: 5, temperature: 1, topK: 20, seed: 3 };
    const idsA = sampleIds(model, prompt, o, (l) => a.push(l.slice()));
    const idsB = sampleIds(loaded, prompt, o, (l) => b.push(l.slice()));
    expect(idsB).toEqual(idsA);
    expect(b.length).toBe(5);
    b.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(a[i][j], 5)));
    model.dispose();
    loaded.dispose();

    // The CLI path on the run directory of the first test: deterministic for a seed.
    const g = { prompt: 'We the People', sample: { tokens: 12, temperature: 0.8, seed: 1 }, backend: 'wasm' };
    const t1 = await generateText(first.dir, g);
    expect(typeof t1).toBe('string');
    expect(await generateText(first.dir, g)).toBe(t1);
    await expect(generateText(tmp, g)).rejects.toThrow(/not a run directory/);
  });
});
