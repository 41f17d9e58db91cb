// MQAR: multi-query associative recall (Zoology `multiquery_ar`; docs/tasks.md 1).
import type { Rng } from './prng.ts';
import { IGNORE } from './types.ts';

export interface MqarParams {
  V: number;
  N: number;
  D: number;
  a: number;
  P: number;
  randomNonQueries: boolean;
}

export interface Example {
  inputs: Int32Array;
  targets: Int32Array;
}

/**
 * Lay out one example (1.3 steps 2–5) from its draws: keys[i] pairs with values[i] and is queried in
 * two-token slot slots[i] (0-based) of the region after the P context passes.
 */
export function mqarLayout(N: number, P: number, keys: number[], values: number[], slots: number[]): Example {
  const D = keys.length;
  const B = new Int32Array(N + 1); // work buffer, 0 = filler
  const Lb = new Int32Array(N + 1).fill(IGNORE);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < D; i++) {
      B[2 * D * p + 2 * i] = keys[i];
      B[2 * D * p + 2 * i + 1] = values[i];
    }
  }
  const q0 = 2 * D * P;
  for (let i = 0; i < D; i++) {
    B[q0 + 2 * slots[i]] = keys[i];
    Lb[q0 + 2 * slots[i] + 1] = values[i];
  }
  return { inputs: B.slice(0, N), targets: Lb.slice(1, N + 1) };
}

export function mqarExample(rng: Rng, p: MqarParams): Example {
  const { V, N, D, a, P } = p;
  const half = Math.floor(V / 2);
  const keys = rng.sampleWithoutReplacement(half - 1, D).map((k) => k + 1);
  const values = rng.sampleWithoutReplacement(V - half, D).map((v) => v + half);
  const S = Math.floor((N - 2 * D * P) / 2);
  const w = Array.from({ length: S }, (_, j) => a * Math.pow(j + 1, a - 1));
  const slots = rng.weightedSampleWithoutReplacement(w, D);
  const ex = mqarLayout(N, P, keys, values, slots);
  if (p.randomNonQueries) {
    for (let t = 0; t < N; t++) if (ex.inputs[t] === 0) ex.inputs[t] = rng.randInt(V);
  }
  return ex;
}
