// PLACEHOLDER owned by the tasks helper: replaced with the full task schema (lm + synthetic tasks).
// Export names below are the contract used by src/config.
import { z } from 'zod';

export const taskSchema = z.strictObject({
  kind: z.literal('lm').default('lm'),
  corpus: z.string().default('sotu'),
  tokenizer: z.enum(['byte', 'char', 'bpe']).default('byte'),
  seq_len: z.number().int().positive().default(256),
});
export type TaskConfig = z.infer<typeof taskSchema>;

/** Vocabulary size the model needs for this task (sync; may read cached data). */
export function taskVocabSize(_task: TaskConfig): number {
  return 257;
}

/** Context length the model sees (for FLOPs and shapes). */
export function taskSeqLen(task: TaskConfig): number {
  return task.seq_len;
}
