/**
 * `seqlab generate RUN_DIR --prompt TEXT --tokens N`: sample from a trained run's checkpoint through
 * the decode path (prefill, then one model.step per token: KV cache / recurrent state).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { selectBackend } from '../backend/select.ts';
import { loadCheckpoint, readCheckpointMeta } from '../models/checkpoint.ts';
import { tokenizerFromState, type Tokenizer } from '../tasks/tokenizers.ts';
import type { LanguageModel } from '../models/types.ts';
import { loadTask } from '../tasks/index.ts';

export interface SampleOptions {
  tokens: number;
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens (0 / undefined = all). */
  topK?: number;
  seed: number;
}

/** mulberry32: a small seeded uniform [0, 1) generator (sampling only; not for data). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draw a token from one row of logits (temperature, top-k) with uniform draw u. */
export function pickToken(logits: Float32Array, o: Pick<SampleOptions, 'temperature' | 'topK'>, u: number): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (!(o.temperature > 0)) return best;
  let ids = Array.from(logits.keys());
  if (o.topK && o.topK > 0 && o.topK < logits.length) ids = ids.sort((a, b) => logits[b] - logits[a]).slice(0, o.topK);
  const w = ids.map((i) => Math.exp((logits[i] - logits[best]) / o.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let j = 0; j < ids.length; j++) {
    acc += w[j] / total;
    if (u < acc) return ids[j];
  }
  return ids[ids.length - 1];
}

/**
 * Prefill the prompt, then sample `tokens` ids one model.step at a time. `onLogits` sees the
 * logits each sampled token was drawn from (for tests and diagnostics).
 */
export function sampleIds(model: LanguageModel, prompt: Int32Array, o: SampleOptions, onLogits?: (l: Float32Array) => void): number[] {
  if (prompt.length === 0) throw new UserError('generate: the prompt encodes to no tokens; give a non-empty --prompt');
  const draw = rng(o.seed);
  const out: number[] = [];
  const x = tf.tensor2d(prompt, [1, prompt.length], 'int32');
  const pre = model.prefill(x);
  x.dispose();
  let state = pre.state;
  let logits = tf.tidy(() => pre.logits.slice([0, prompt.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync() as Float32Array;
  pre.logits.dispose();
  try {
    for (let i = 0; i < o.tokens; i++) {
      onLogits?.(logits);
      const id = pickToken(logits, o, draw());
      out.push(id);
      if (i === o.tokens - 1) break;
      const tok = tf.tensor1d([id], 'int32');
      const next = model.step(tok, state);
      tok.dispose();
      model.disposeState(state);
      state = next.state;
      logits = next.logits.dataSync() as Float32Array;
      next.logits.dispose();
    }
  } finally {
    model.disposeState(state);
  }
  return out;
}

interface GenerateCliOptions {
  prompt: string;
  tokens: string;
  temperature: string;
  topK?: string;
  seed: string;
  backend: string;
}

function num(name: string, v: string, check: (n: number) => boolean, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new UserError(`generate: --${name} must be ${what} (got '${v}')`);
  return n;
}

export async function generateText(runDir: string, o: { prompt: string; sample: SampleOptions; backend?: string }): Promise<string> {
  const cfgFile = path.join(runDir, 'config.json');
  const ckpt = path.join(runDir, 'checkpoint');
  if (!fs.existsSync(cfgFile)) throw new UserError(`generate: ${runDir} is not a run directory (no config.json)`);
  if (!fs.existsSync(ckpt)) throw new UserError(`generate: ${runDir} has no checkpoint/ (the run is not finished, or train.checkpoint was false)`);
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as RunConfig;
  if (cfg.task.kind !== 'lm') throw new UserError(`generate: task '${cfg.task.kind}' has no text tokenizer; generate needs an lm task`);
  // The tokenizer saved with the checkpoint (a copied run decodes without its corpus); checkpoints
  // from before it was saved rebuild it from the task.
  const saved = readCheckpointMeta(ckpt).tokenizer;
  let tok: Pick<Tokenizer, 'encode' | 'decode'>;
  if (saved) tok = tokenizerFromState(saved);
  else {
    const task = loadTask(cfg.task);
    if (!task.encode || !task.decode) throw new UserError(`generate: task '${cfg.task.kind}' has no text tokenizer; generate needs an lm task`);
    tok = { encode: task.encode, decode: task.decode };
  }
  await selectBackend(o.backend ?? 'auto');
  const model = loadCheckpoint(ckpt);
  try {
    const ids = sampleIds(model, tok.encode(o.prompt), o.sample);
    return tok.decode(ids);
  } finally {
    model.dispose();
  }
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description("sample text from a trained run's checkpoint (recurrent / KV-cache decode path)")
    .argument('<run_dir>', 'a run directory: runs/<sweep>/runs/<id>')
    .requiredOption('--prompt <text>', 'text to continue')
    .option('--tokens <n>', 'tokens to generate', '200')
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', '0.8')
    .option('--top-k <k>', 'sample among the k most likely tokens only')
    .option('--seed <s>', 'sampling seed', '0')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm, cpu, webgpu', 'auto')
    .addHelpText('after', '\nExample:\n  $ seqlab generate runs/quickstart/runs/3f2a9c1b0d4e --prompt "The state of the Union is" --tokens 200 --temperature 0.8')
    .action(async (runDir: string, opts: GenerateCliOptions) => {
      const sample: SampleOptions = {
        tokens: num('tokens', opts.tokens, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
        temperature: num('temperature', opts.temperature, (n) => n >= 0, 'a number >= 0'),
        topK: opts.topK === undefined ? undefined : num('top-k', opts.topK, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
        seed: num('seed', opts.seed, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer'),
      };
      const text = await generateText(runDir, { prompt: opts.prompt, sample, backend: opts.backend });
      process.stdout.write(opts.prompt + text + '\n');
    });
}
