/**
 * The slice of the task interface (src/tasks/index.ts) that training and evaluation use, stated
 * structurally so the loop can be driven by any data source (and tested with hand-made ones).
 */
export interface Batch {
  inputs: Int32Array; // [B*T]
  targets: Int32Array; // [B*T], IGNORE = -100 where nothing is scored
  batch: number;
  seqLen: number;
  /** lm: UTF-8 bytes of the scored text (EOS counts 1), for bits per byte. */
  scoredBytes?: number;
}

export interface TrainData {
  kind: 'lm' | 'synthetic';
  vocabSize: number;
  seqLen: number;
  trainBatch(step: number, batchSize: number, seed: number): Batch;
  evalBatches(split: 'valid' | 'test', batchSize: number, maxWindows?: number | 'all'): Iterable<Batch>;
  /** Windows / examples of the split's evaluation set (the task's own default size). */
  evalSize?(split: 'valid' | 'test'): number;
  describe?(): unknown;
}
