/**
 * What training and evaluation read from a task: a slice of tasks/types.ts TaskData (any TaskData
 * is one), so the loop can also be driven by hand-made data in tests; Batch is the task's own.
 */
import type { Batch, EvalSplit, TaskData } from '../tasks/types.ts';

export type { Batch } from '../tasks/types.ts';

export type TrainData = Pick<TaskData, 'kind' | 'vocabSize' | 'seqLen' | 'trainBatch'> & {
  evalBatches(split: EvalSplit, batchSize: number, maxWindows?: number | 'all'): Iterable<Batch>;
  evalSize?: TaskData['evalSize'];
  describe?: TaskData['describe'];
};

/** Training progress, as the loop reports it and the worker forwards it to the runner. */
export interface Progress {
  step: number;
  totalSteps: number;
  loss: number;
  tokensPerS?: number;
  phase?: string;
}
