// The config's `task:` section (docs/tasks.md): a discriminated union on `kind` over the task kinds of
// src/tasks/kinds/registry.ts, defaults = the docs/tasks.md "tiny" settings (lm keeps seq_len 256).
// Constraint checks that need more than one field are each kind's `validate` (config only: validate
// and plan never read a corpus); those that need the data its `checkData`.
import { UserError } from '../errors.ts';
import { TASKS, taskDef, taskUnion, type TaskConfig } from './kinds/registry.ts';
import type { TaskOptions } from './kinds/types.ts';

export { taskUnion, taskKindSchemas, type TaskConfig } from './kinds/registry.ts';
export type { LmTask } from './kinds/lm.ts';
export type { MqarTask } from './kinds/mqar.ts';
export type { SelectiveCopyTask } from './kinds/selective-copy.ts';
export type { InductionTask } from './kinds/induction.ts';
export type { ListopsTask } from './kinds/listops.ts';

/** `task:` section; an omitted section parses as the first kind of the table (lm on sotu with byte tokens; prefault runs the defaults). */
export const taskSchema = taskUnion
  .prefault({})
  .describe(`the task: ${TASKS.map((t, i) => (i === 0 ? `${t.kind} (default)` : t.kind)).join(' | ')}`);

/** Fill defaults for a partial task (e.g. from the CLI). */
export function parseTask(input: unknown): TaskConfig {
  const r = taskSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UserError(`task.${i.path.join('.')}: ${i.message}`);
  }
  return r.data;
}

/** Vocabulary size the model needs for this task (sync; may read the corpus / BPE cache). */
export function taskVocabSize(task: TaskConfig): number {
  return taskDef(task.kind).vocabSize(task, {});
}

/**
 * Vocabulary size from the config alone (no corpus read): exact for byte, bpe and the synthetic
 * tasks; for char tokens the size remembered from an earlier read of the same, unchanged corpus,
 * else undefined (known once `run` reads the data: checkTaskData).
 */
export function configVocabSize(task: TaskConfig, opts: TaskOptions = {}): number | undefined {
  const def = taskDef(task.kind);
  return def.configVocabSize ? def.configVocabSize(task, opts) : def.vocabSize(task, opts);
}

/**
 * The checks that need the data (an lm corpus read and tokenised: every split holds a window of
 * seq_len + 1 tokens); returns the exact vocabulary size. Throws a UserError naming the key.
 */
export function checkTaskData(task: TaskConfig, opts: TaskOptions = {}): { vocabSize: number } {
  const def = taskDef(task.kind);
  def.checkData?.(task, opts);
  return { vocabSize: def.vocabSize(task, opts) };
}

/** Context length the model sees (for FLOPs, shapes and position tables). */
export function taskSeqLen(task: TaskConfig): number {
  return taskDef(task.kind).seqLen(task);
}

/** Cross-field constraints (docs/tasks.md 6) from the config alone; throws a UserError naming the offending key. */
export function validateTask(task: TaskConfig): void {
  taskDef(task.kind).validate(task, (key, msg) => {
    throw new UserError(`task.${key}: ${msg}`);
  });
}
