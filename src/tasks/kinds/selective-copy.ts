// Selective copying (Mamba §4.1.1; s4 `copying.py` variable mode; docs/tasks.md 2).
import type { Rng } from './prng.ts';
import { IGNORE } from './types.ts';
import type { Example } from './mqar.ts';

export interface CopyParams {
  L: number;
  M: number;
  A: number;
  selective: boolean;
}

export function copyExample(rng: Rng, p: CopyParams): Example {
  const { L, M, A } = p;
  const T = L + 2 * M;
  const tokens = Array.from({ length: M }, () => 1 + rng.randInt(A - 2));
  const pos = p.selective
    ? rng.sampleWithoutReplacement(L + M, M).sort((x, y) => x - y)
    : Array.from({ length: M }, (_, j) => j);
  const inputs = new Int32Array(T);
  const targets = new Int32Array(T).fill(IGNORE);
  for (let j = 0; j < M; j++) {
    inputs[pos[j]] = tokens[j];
    inputs[L + M + j] = A - 1; // marker: "now copy"
    targets[L + M + j] = tokens[j];
  }
  return { inputs, targets };
}
