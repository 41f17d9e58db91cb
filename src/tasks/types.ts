// The data contract between tasks and the training loop.

/** Target id of positions that add nothing to the loss or the metrics. */
export const IGNORE = -100;

export type EvalSplit = 'valid' | 'test';

export interface Batch {
  /** [B*T] row-major token ids. */
  inputs: Int32Array;
  /** [B*T], IGNORE where unscored. */
  targets: Int32Array;
  batch: number;
  seqLen: number;
  /** UTF-8 bytes of the scored text (EOS = 1 byte); lm only, for bpb. */
  scoredBytes?: number;
}

/** An extra fixed evaluation set (e.g. induction at another length). */
export interface ExtraEval {
  name: string;
  seqLen: number;
  evalBatches(split: EvalSplit, batchSize: number): Batch[];
  evalSize(split: EvalSplit): number;
}

export interface TaskData {
  kind: 'lm' | 'synthetic';
  name: string;
  vocabSize: number;
  seqLen: number;
  /** Deterministic in (seed, step): a fresh stream or the fixed pool, as the task says. */
  trainBatch(step: number, batchSize: number, seed: number): Batch;
  /** lm: non-overlapping windows of the split stream (5.6); synthetic: the fixed cached eval set. */
  evalBatches(split: EvalSplit, batchSize: number, maxWindows?: number | 'all'): Batch[];
  /** Windows / examples that evalBatches yields. */
  evalSize(split: EvalSplit, maxWindows?: number | 'all'): number;
  /** Chance / majority baseline for accuracy tasks. */
  chance?: number;
  /** Extra evaluation sets (induction: one per eval length). */
  extraEvals?: ExtraEval[];
  encode?(text: string): Int32Array;
  decode?(ids: ArrayLike<number>): string;
  /** Eval protocol, windows, tokenizer, readout ... for the results record. */
  describe(): Record<string, unknown>;
}
