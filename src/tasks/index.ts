// Entry point: a parsed `task:` config -> TaskData for the training loop (built by its kind's module).
import { taskDef } from './kinds/registry.ts';
import { checkTaskData, validateTask, type TaskConfig } from './schema.ts';
import type { TaskOptions } from './kinds/types.ts';
import type { TaskData } from './types.ts';

export type { Batch, TaskData, EvalSplit, ExtraEval } from './types.ts';
export { IGNORE } from './types.ts';
export { taskSchema, taskVocabSize, taskSeqLen, validateTask, checkTaskData, configVocabSize, type TaskConfig } from './schema.ts';
export { taskMetrics } from './kinds/registry.ts';

export function loadTask(task: TaskConfig, opts: TaskOptions = {}): TaskData {
  validateTask(task);
  checkTaskData(task, opts);
  return taskDef(task.kind).load(task, opts);
}
