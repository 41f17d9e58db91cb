/**
 * `seqlab bench` measurements of one model config (docs/runner.md 1): forward and forward+backward
 * tokens/s and peak live tensor bytes across sequence lengths, prefill throughput and per-token
 * decode latency. Random weights: speed and memory do not depend on training.
 */
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../config/schema.ts';
import { buildModel } from '../models/model.ts';
import { flopsPerToken } from '../models/flops.ts';
import { countParams } from '../models/params.ts';
import type { LanguageModel } from '../models/types.ts';
import { nllSum } from '../train/loss.ts';
import { subSeed } from '../util/hash.ts';
import { benchDecode, medianMs, syntheticTokens, withPeakBytes } from '../measure/measure.ts';

export interface BenchOptions {
  /** Sequence lengths (default: the run's seq_len). */
  seqLens?: number[];
  /** Training batch for the forward / backward rows (default: train.batch_size). */
  batch?: number;
  /** Timed repeats per measurement, after one untimed warmup (default: bench.repeats). */
  repeats?: number;
  /** Tokens decoded after each prefill (default: bench.decode_tokens). */
  decodeTokens?: number;
  /** Skip the forward+backward rows (inference-only benchmarks). */
  forwardOnly?: boolean;
  log?: (line: string) => void;
}

export interface BenchRow {
  preset: string;
  seq_len: number;
  batch: number;
  params: number;
  flops_per_token_fwd: number;
  fwd_tokens_per_s: number;
  fwd_peak_bytes: number;
  fwd_bwd_tokens_per_s?: number;
  fwd_bwd_peak_bytes?: number;
  /** Batch 1, forward over L tokens. */
  prefill_tokens_per_s: number;
  decode_ms_per_token: number;
  state_bytes_per_sequence: number;
}

/** Median seconds of `fn` over `repeats` timed runs after one warmup; also its peak tensor bytes. */
async function timeIt(fn: () => tf.Tensor, repeats: number): Promise<{ s: number; peakBytes: number }> {
  const first = await withPeakBytes(fn);
  await first.result.data();
  first.result.dispose();
  // The peak-bytes run above is the warm-up.
  return { s: (await medianMs(fn, { minReps: repeats, warmup: false })) / 1000, peakBytes: first.peakBytes };
}

function fwdBwd(model: LanguageModel, x: tf.Tensor2D, y: tf.Tensor2D, checkpointActivations: boolean): tf.Tensor {
  return tf.tidy(() => {
    const vars = [...model.weights.values()];
    const { value, grads } = tf.variableGrads(() => {
      const { logits, auxLoss } = model.forward(x, { checkpointActivations });
      const loss = nllSum(logits, y);
      return auxLoss ? (tf.add(loss, auxLoss) as tf.Scalar) : loss;
    }, vars);
    // Fold every gradient into the result so none can be skipped by a lazy backend.
    return tf.addN([value, ...Object.values(grads).map((g) => tf.sum(g))]);
  });
}

export async function benchModel(cfg: RunConfig, opts: BenchOptions = {}): Promise<BenchRow[]> {
  const m = cfg.model;
  const seqLens = opts.seqLens ?? [m.seq_len];
  const B = opts.batch ?? cfg.train.batch_size;
  const repeats = opts.repeats ?? cfg.bench.repeats;
  const decodeTokens = opts.decodeTokens ?? cfg.bench.decode_tokens;
  const V = m.vocab_size;
  const { params } = countParams(m);
  const model = buildModel(m, subSeed(cfg.seed, 'init'));
  const rows: BenchRow[] = [];
  try {
    for (const L of seqLens) {
      if (m.abs_pos === 'learned' && L > m.seq_len) {
        opts.log?.(`bench ${m.preset}: skipping L=${L} (learned positions stop at ${m.seq_len})`);
        continue;
      }
      const x = tf.tensor2d(syntheticTokens(B, L, V, 1), [B, L], 'int32');
      const y = tf.tensor2d(syntheticTokens(B, L, V, 2), [B, L], 'int32');
      try {
        const fwd = await timeIt(
          () =>
            tf.tidy(() => {
              const { logits, auxLoss } = model.forward(x);
              auxLoss?.dispose();
              return tf.sum(logits);
            }),
          repeats,
        );
        const row: BenchRow = {
          preset: m.preset,
          seq_len: L,
          batch: B,
          params,
          flops_per_token_fwd: flopsPerToken(m, L),
          fwd_tokens_per_s: (B * L) / fwd.s,
          fwd_peak_bytes: fwd.peakBytes,
          prefill_tokens_per_s: NaN,
          decode_ms_per_token: NaN,
          state_bytes_per_sequence: NaN,
        };
        if (!opts.forwardOnly) {
          const fb = await timeIt(() => fwdBwd(model, x, y, cfg.train.checkpoint_activations), repeats);
          row.fwd_bwd_tokens_per_s = (B * L) / fb.s;
          row.fwd_bwd_peak_bytes = fb.peakBytes;
        }
        const dec = await benchDecode(model, V, L, { decodeTokens, repeats });
        row.prefill_tokens_per_s = dec.prefillTokensPerS;
        row.decode_ms_per_token = dec.decodeMsPerToken;
        row.state_bytes_per_sequence = dec.stateBytes;
        rows.push(row);
        opts.log?.(
          `bench ${m.preset} L=${L} B=${B}: fwd ${row.fwd_tokens_per_s.toFixed(0)} tok/s` +
            (row.fwd_bwd_tokens_per_s !== undefined ? `, fwd+bwd ${row.fwd_bwd_tokens_per_s.toFixed(0)} tok/s` : '') +
            `, prefill ${row.prefill_tokens_per_s.toFixed(0)} tok/s, decode ${row.decode_ms_per_token.toFixed(2)} ms/token`,
        );
      } finally {
        x.dispose();
        y.dispose();
      }
    }
  } finally {
    model.dispose();
  }
  return rows;
}
