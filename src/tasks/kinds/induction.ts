// Induction heads (safari `generate_induction_head`; docs/tasks.md 3).
import type { Rng } from './prng.ts';
import { IGNORE } from './types.ts';
import type { Example } from './mqar.ts';

export interface InductionParams {
  V: number;
  N: number;
  /** 'answer': only the last target is scored; 'all': every next token is a target. */
  loss: 'answer' | 'all';
}

export function inductionExample(rng: Rng, p: InductionParams): Example {
  const { V, N } = p;
  const TRIGGER = V - 2;
  const full = new Int32Array(N + 2);
  for (let t = 0; t < N; t++) full[t] = rng.randInt(V - 2);
  const pos = rng.randInt(N - 2); // 0..N-3, so the answer s[pos+1] lies inside the body
  full[pos] = TRIGGER;
  full[N] = TRIGGER;
  full[N + 1] = full[pos + 1];
  const inputs = full.slice(0, N + 1);
  const targets = full.slice(1, N + 2);
  if (p.loss === 'answer') targets.fill(IGNORE, 0, N);
  return { inputs, targets };
}
