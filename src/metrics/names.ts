/**
 * The metric names of runner.md section 5: the single list that summary.json, the report and the
 * tests use. `@L` names are templates expanded per bench prefill length.
 */
export interface MetricName {
  name: string;
  unit: 'count' | 'FLOP' | 'tokens/s' | 'ratio' | 'ms' | 'bytes' | 'nats/token' | 'bits/byte' | '' | 'fraction' | 's';
  /** Which runs report it: every run, language-model tasks, or synthetic (accuracy) tasks. */
  applies: 'all' | 'lm' | 'synthetic';
  /** Per split (valid_/test_ prefix) or per prefill length (@L suffix). */
  per?: 'split' | 'length';
  description: string;
}

export const METRICS: readonly MetricName[] = [
  { name: 'params', unit: 'count', applies: 'all', description: 'all trainable parameters (models.md 7)' },
  { name: 'params_non_embedding', unit: 'count', applies: 'all', description: 'parameters minus the token embedding' },
  { name: 'flops_per_token_fwd', unit: 'FLOP', applies: 'all', description: "forward FLOPs per token at the run's seq_len (models.md 8)" },
  { name: 'train_flops', unit: 'FLOP', applies: 'all', description: '3 x forward x tokens trained' },
  { name: 'train_tokens_per_s', unit: 'tokens/s', applies: 'all', description: 'median over timed steps, warmup steps excluded, data loading included' },
  { name: 'mfu', unit: 'ratio', applies: 'all', description: "achieved training FLOP/s over the backend's measured matmul peak" },
  { name: 'prefill_tokens_per_s', unit: 'tokens/s', applies: 'all', per: 'length', description: 'batch 1, forward over L tokens, median of repeats' },
  { name: 'decode_ms_per_token', unit: 'ms', applies: 'all', per: 'length', description: 'recurrent / KV-cache step latency after a prefill of L tokens' },
  { name: 'peak_tensor_bytes', unit: 'bytes', applies: 'all', description: "max of the backend's live tensor bytes during a training step" },
  { name: 'rss_peak_bytes', unit: 'bytes', applies: 'all', description: 'process peak resident memory' },
  { name: 'state_bytes_per_sequence', unit: 'bytes', applies: 'all', description: 'decode-time state per sequence (KV cache at the largest bench L for attention)' },
  { name: 'loss', unit: 'nats/token', applies: 'all', per: 'split', description: 'mean over all scored tokens of the split (non-overlapping windows)' },
  { name: 'bpb', unit: 'bits/byte', applies: 'lm', per: 'split', description: 'tasks.md 5.6' },
  { name: 'ppl', unit: '', applies: 'all', per: 'split', description: 'token perplexity exp(loss)' },
  { name: 'accuracy', unit: 'fraction', applies: 'synthetic', description: 'argmax accuracy over the scored positions of the test split' },
  { name: 'exact_match', unit: 'fraction', applies: 'synthetic', description: 'fraction of test examples whose scored positions are all correct' },
  { name: 'wall_s', unit: 's', applies: 'all', description: 'whole run' },
];

/** The concrete summary.json keys that apply to a run. */
export function metricKeys(opts: {
  kind: 'lm' | 'synthetic';
  splits: readonly string[];
  prefillLengths: readonly number[];
  bench: boolean;
}): string[] {
  const out: string[] = [];
  for (const m of METRICS) {
    if (m.applies !== 'all' && m.applies !== opts.kind) continue;
    if (m.per === 'split') for (const s of opts.splits) out.push(`${s}_${m.name}`);
    else if (m.per === 'length') {
      if (opts.bench) for (const L of opts.prefillLengths) out.push(`${m.name}@${L}`);
    } else out.push(m.name);
  }
  return out;
}

/** Unit of a concrete key (`valid_bpb`, `decode_ms_per_token@256`, ...). */
export function unitOf(key: string): string | undefined {
  const base = key.replace(/@\d+$/, '');
  const direct = METRICS.find((m) => m.name === base);
  if (direct) return direct.unit;
  const split = METRICS.find((m) => m.per === 'split' && base.endsWith(`_${m.name}`));
  return split?.unit;
}
