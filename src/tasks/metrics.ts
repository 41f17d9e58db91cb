// Metric formulas of docs/tasks.md 0.1 and 5.6.
import { IGNORE } from './types.ts';

/** Σℓ / (n_bytes · ln 2): bits per UTF-8 byte of the scored text (EOS = 1 byte). */
export function bitsPerByte(sumNats: number, nBytes: number): number {
  return sumNats / (nBytes * Math.LN2);
}

/** exp(Σℓ / n_tokens). */
export function tokenPerplexity(sumNats: number, nTokens: number): number {
  return Math.exp(sumNats / nTokens);
}

export interface AccuracyCounts {
  correct: number;
  scored: number;
  /** Rows with at least one scored position. */
  rows: number;
  /** Rows whose scored positions are all correct. */
  rowsExact: number;
}

/** Counts over one batch of argmax predictions [B*T] vs targets [B*T] (IGNORE = unscored). */
export function accuracyCounts(preds: ArrayLike<number>, targets: ArrayLike<number>, batch: number, seqLen: number): AccuracyCounts {
  if (preds.length !== targets.length || targets.length !== batch * seqLen) {
    throw new Error(`accuracyCounts: ${preds.length} predictions, ${targets.length} targets, batch ${batch} × ${seqLen}`);
  }
  const c: AccuracyCounts = { correct: 0, scored: 0, rows: 0, rowsExact: 0 };
  for (let b = 0; b < batch; b++) {
    let scored = 0;
    let ok = 0;
    for (let t = b * seqLen; t < (b + 1) * seqLen; t++) {
      if (targets[t] === IGNORE) continue;
      scored++;
      if (preds[t] === targets[t]) ok++;
    }
    c.correct += ok;
    c.scored += scored;
    if (scored > 0) {
      c.rows++;
      if (ok === scored) c.rowsExact++;
    }
  }
  return c;
}

export function addCounts(a: AccuracyCounts, b: AccuracyCounts): AccuracyCounts {
  return { correct: a.correct + b.correct, scored: a.scored + b.scored, rows: a.rows + b.rows, rowsExact: a.rowsExact + b.rowsExact };
}

/** Micro-averaged accuracy over every scored position. */
export function accuracy(c: AccuracyCounts): number {
  return c.scored ? c.correct / c.scored : NaN;
}

/** Fraction of rows whose scored positions are all correct. */
export function exactMatch(c: AccuracyCounts): number {
  return c.rows ? c.rowsExact / c.rows : NaN;
}
