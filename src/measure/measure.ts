/**
 * Measurements shared by training runs and `seqlab bench`: the backend's matmul peak, prefill and
 * decode latency, forward / forward+backward throughput and peak live tensor bytes.
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../models/types.ts';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Median wall-clock ms of `fn`, after one untimed warm-up unless `warmup` is false: at least
 * `minReps` timed runs, more (up to `maxReps`) while they total less than `minMs`. The tensors
 * `fn` returns are awaited, so the time includes the backend finishing, then disposed.
 */
export async function medianMs(
  fn: () => tf.Tensor | tf.Tensor[],
  opts: { minReps?: number; maxReps?: number; minMs?: number; warmup?: boolean } = {},
): Promise<number> {
  const { minReps = 3, minMs = 0, warmup = true } = opts;
  const maxReps = opts.maxReps ?? minReps;
  const run = async () => {
    const t0 = performance.now();
    const outs = [fn()].flat();
    await Promise.all(outs.map((o) => o.data()));
    const ms = performance.now() - t0;
    tf.dispose(outs);
    return ms;
  };
  if (warmup) await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (performance.now() - start < minMs && times.length < maxReps)) times.push(await run());
  return median(times);
}

/** Await the backend (wasm / cpu are synchronous; tensorflow / webgpu may not be). */
async function sync(t: tf.Tensor): Promise<void> {
  await t.data();
}

const peakCache = new Map<string, number>();

/**
 * The backend's matmul throughput in GFLOP/s: median of timed 1024 x 1024 x 1024 products after
 * one untimed warmup, measured once per process and backend (docs/runner.md 5, mfu).
 */
export async function matmulPeakGflops(n = 1024, repeats = 5): Promise<number> {
  const key = `${tf.getBackend()}:${n}`;
  const cached = peakCache.get(key);
  if (cached !== undefined) return cached;
  const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
  const times: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await sync(c);
    c.dispose();
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  a.dispose();
  b.dispose();
  const gflops = (2 * n ** 3) / median(times) / 1e9;
  peakCache.set(key, gflops);
  return gflops;
}

/** A deterministic prompt of `len` token ids in [0, vocab) (content does not change timing). */
export function syntheticTokens(batch: number, len: number, vocab: number, seed = 1): Int32Array {
  const out = new Int32Array(batch * len);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) % vocab;
  }
  return out;
}

export interface DecodeBench {
  /** Batch-1 forward over L tokens, median over repeats. */
  prefillTokensPerS: number;
  /** Per-token latency of model.step after a prefill of L tokens, median over repeats. */
  decodeMsPerToken: number;
  /** Decode state right after the prefill of L tokens (batch 1, so per sequence). */
  stateBytes: number;
}

/** Prefill L tokens through the model's prefill path, then decode `decodeTokens` greedily via step. */
export async function benchDecode(
  model: LanguageModel,
  vocab: number,
  L: number,
  opts: { decodeTokens: number; repeats: number },
): Promise<DecodeBench> {
  const prompt = syntheticTokens(1, L, vocab);
  const prefillS: number[] = [];
  const decodeMs: number[] = [];
  let stateBytes = 0;
  // One untimed round first: kernels compile / allocate on first use.
  for (let r = 0; r <= opts.repeats; r++) {
    const x = tf.tensor2d(prompt, [1, L], 'int32');
    const t0 = performance.now();
    const { logits, state } = model.prefill(x);
    const last = tf.tidy(() => tf.argMax(logits.slice([0, L - 1, 0], [1, 1, -1]).reshape([1, -1]), -1).toInt());
    await sync(last);
    const t1 = performance.now();
    x.dispose();
    logits.dispose();
    stateBytes = model.stateBytes(state); // at L: the KV cache holds exactly the prompt
    let token = last as tf.Tensor1D;
    let st = state;
    const t2 = performance.now();
    for (let i = 0; i < opts.decodeTokens; i++) {
      const out = model.step(token, st);
      const next = tf.tidy(() => tf.argMax(out.logits, -1).toInt()) as tf.Tensor1D;
      await sync(next);
      out.logits.dispose();
      model.disposeState(st);
      token.dispose();
      st = out.state;
      token = next;
    }
    const t3 = performance.now();
    model.disposeState(st);
    token.dispose();
    if (r === 0) continue;
    prefillS.push((t1 - t0) / 1000);
    decodeMs.push((t3 - t2) / opts.decodeTokens);
  }
  return { prefillTokensPerS: L / median(prefillS), decodeMsPerToken: median(decodeMs), stateBytes };
}

/**
 * Run `fn` and return the peak of live tensor bytes during it (the engine's total: weights and
 * optimizer state included) and the function's result. The engine's byte counter is observed
 * through a setter for the duration of `fn`: every allocation and disposal passes through it, at
 * no cost, where tf.profile records every kernel (and overflows the call stack on the ~10^5
 * kernels of a long sequential scan).
 */
export async function withPeakBytes<T>(fn: () => T): Promise<{ result: T; peakBytes: number }> {
  const state = (tf.engine() as unknown as { state: { numBytes: number } }).state;
  let current = state.numBytes;
  let peak = current;
  Object.defineProperty(state, 'numBytes', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (v: number) => {
      current = v;
      if (v > peak) peak = v;
    },
  });
  try {
    const result = fn();
    return { result, peakBytes: peak };
  } finally {
    Object.defineProperty(state, 'numBytes', { configurable: true, enumerable: true, writable: true, value: current });
  }
}

export function rssPeakBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
