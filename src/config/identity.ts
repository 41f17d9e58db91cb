/**
 * Run identity: the first 12 hex of sha256 of the canonical JSON of the resolved run config
 * (sorted keys, normalised numbers, labels excluded). Same config -> same id -> same directory.
 */
import { sha256Hex } from '../util/hash.ts';
import type { RunConfig } from './schema.ts';

/** JSON with sorted keys; -0 becomes 0 and non-finite numbers become strings, so every value has one spelling. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return JSON.stringify(value === 0 ? 0 : value); // 1e-3 and 0.001 print alike
    return JSON.stringify(String(value));
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new Error(`canonicalJson: unsupported value of type ${typeof value}`);
}

/** Keys of a run config that label it but do not change what is computed. */
const LABELS = ['name'] as const;

/**
 * A char vocabulary is a function of the task (corpus, folding, split) that is known only once the
 * corpus is read, so it is left out of the identity: `plan` (which reads no corpus) and `run` give a
 * run the same id.
 */
function derivedFromData(cfg: RunConfig): boolean {
  return cfg.task.kind === 'lm' && cfg.task.tokenizer === 'char';
}

/** Train keys that say how a run is kept, not what it computes (a resumed run ends as an uninterrupted one). */
const TRAIN_KEEPING = ['checkpoint_every'] as const;

export function runId(cfg: RunConfig): string {
  const identity: Record<string, unknown> = { ...cfg };
  for (const k of LABELS) delete identity[k];
  if (cfg.train)
    identity.train = Object.fromEntries(Object.entries(cfg.train).filter(([k]) => !(TRAIN_KEEPING as readonly string[]).includes(k)));
  if (derivedFromData(cfg)) identity.model = { ...cfg.model, vocab_size: undefined };
  return sha256Hex(canonicalJson(identity)).slice(0, 12);
}
