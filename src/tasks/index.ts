// Entry point: a parsed `task:` config -> TaskData for the training loop.
import { checkTaskData, validateTask, type TaskConfig } from './schema.ts';
import type { TaskData } from './types.ts';
import { loadLmTask } from './lm.ts';
import { loadInduction, loadListops, loadMqar, loadSelectiveCopy } from './synthetic.ts';

export type { Batch, TaskData, EvalSplit, ExtraEval } from './types.ts';
export { IGNORE } from './types.ts';
export { taskSchema, taskVocabSize, taskSeqLen, validateTask, checkTaskData, configVocabSize, type TaskConfig } from './schema.ts';

export function loadTask(task: TaskConfig, opts: { cacheDir?: string } = {}): TaskData {
  validateTask(task);
  checkTaskData(task, opts);
  switch (task.kind) {
    case 'lm':
      return loadLmTask(task, opts);
    case 'mqar':
      return loadMqar(task, opts.cacheDir);
    case 'selective_copy':
      return loadSelectiveCopy(task, opts.cacheDir);
    case 'induction':
      return loadInduction(task, opts.cacheDir);
    case 'listops':
      return loadListops(task, opts.cacheDir);
  }
}
