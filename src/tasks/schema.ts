// The config's `task:` section (docs/tasks.md): a discriminated union on `kind`, defaults = the docs/tasks.md "tiny"
// settings (lm keeps seq_len 256). Constraint checks that need more than one field live in validateTask
// (config only: validate and plan never read a corpus); those that need the data in checkTaskData.
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { checkCorpusName } from './corpus.ts';
import { cachedCharVocabSize, checkLmData, lmVocabSize } from './lm.ts';

const int = (d: string) => z.number().int().describe(d);
const posInt = (d: string) => z.number().int().positive().describe(d);
const dataSeed = z
  .number()
  .int()
  .nonnegative()
  .default(123)
  .describe('base seed of the fixed valid/test sets (and of a fixed training pool); the run seed drives training order');

export const lmTaskSchema = z.strictObject({
  kind: z.literal('lm').default('lm').describe('language modelling on real text (docs/tasks.md 5)'),
  corpus: z
    .string()
    .default('sotu')
    .describe('sotu | gutenberg | brown (research-only licence) | file:PATH | dir:PATH (UTF-8 text; a relative PATH is read from the folder of the config file that names it)'),
  tokenizer: z.enum(['byte', 'char', 'bpe']).default('byte').describe('byte (V=257, EOS=256) | char (training-split alphabet + UNK + EOS) | bpe (byte-level, trained on the training split)'),
  bpe_vocab: posInt('BPE vocabulary size including 256 bytes and EOS (tokenizer: bpe only)').min(258).max(65536).default(1024),
  seq_len: posInt('context length T of training and evaluation windows').default(256),
  ascii_fold: z.boolean().default(false).describe('fold ’ “ ” — – ° to ASCII before tokenising (small closed alphabet for char runs)'),
  split: z.enum(['default', 'chronological']).default('default').describe('default: the docs/tasks.md 5.4 split; chronological: SOTU train ≤ 1990, valid 1991–2005, test 2006–'),
  eval_windows: z
    .union([posInt('number of windows'), z.literal('all')])
    .default(200)
    .describe("non-overlapping evaluation windows per split: the first N windows of the split stream, or 'all' for the whole split"),
});

export const mqarTaskSchema = z.strictObject({
  kind: z.literal('mqar').describe('multi-query associative recall (Zoology; docs/tasks.md 1)'),
  vocab_size: posInt('V: vocabulary size; keys 1..V/2-1, values V/2..V-1, 0 = filler').default(64),
  seq_len: posInt('N: input length (even)').default(32),
  num_kv_pairs: posInt('D: key-value pairs per example (= scored positions)').default(4),
  power_a: z.number().positive().max(1).default(0.01).describe('a: query slot j gets weight a*j^(a-1) (power law toward the context)'),
  passes: posInt('P: times the key-value context is repeated (JRT variant)').default(1),
  random_non_queries: z.boolean().default(false).describe('fill empty slots with random tokens instead of 0'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of the fixed valid and test sets').default(1000),
  data_seed: dataSeed,
});

export const selectiveCopyTaskSchema = z.strictObject({
  kind: z.literal('selective_copy').describe('selective copying (Mamba paper 4.1.1; docs/tasks.md 2)'),
  noise_len: posInt('L: blank positions; input length T = L + 2M').default(32),
  copy_len: posInt('M: data tokens to remember and copy').default(4),
  alphabet_size: posInt('A: ids incl. specials: 0 blank, 1..A-2 data, A-1 marker').default(8),
  selective: z.boolean().default(true).describe('true: tokens at random positions; false: the LTI-solvable control (tokens first)'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of the fixed valid and test sets').default(1000),
  data_seed: dataSeed,
});

export const inductionTaskSchema = z.strictObject({
  kind: z.literal('induction').describe('induction heads with length extrapolation (Mamba paper 4.1.2; docs/tasks.md 3)'),
  vocab_size: posInt('V: ids 0..V-3 ordinary, V-2 trigger, V-1 unused').default(16),
  seq_len: posInt('N: training body length (inputs are N+1 tokens)').default(32),
  train_loss: z.enum(['answer', 'all']).default('answer').describe("answer: train on the final answer only; all: plain LM loss on every position (safari)"),
  eval_lengths: z.array(posInt('body length')).default([16, 32, 64, 128, 256]).describe('body lengths N of the extra extrapolation eval sets'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of each fixed valid/test set').default(500),
  data_seed: dataSeed,
});

export const listopsTaskSchema = z.strictObject({
  kind: z.literal('listops').describe('LRA ListOps, 10-way classification read at the appended EOS (docs/tasks.md 4)'),
  max_depth: posInt('maximum tree depth (root = 1)').default(4),
  max_args: posInt('maximum arguments per operator (min 2)').default(5),
  min_len: int('accept trees with min_len < length (tokens, without EOS)').nonnegative().default(10),
  max_len: posInt('accept trees with length < max_len; padded length with EOS is at most max_len').default(50),
  train_examples: posInt('training examples (fixed pool, cut first from one de-duplicated generation)').default(10000),
  valid_examples: posInt('valid examples (cut after train)').default(1000),
  test_examples: posInt('test examples (cut last)').default(2000),
  data_seed: dataSeed,
});

/** The discriminated union itself (for documentation walkers). */
export const taskUnion = z.discriminatedUnion('kind', [
  lmTaskSchema,
  mqarTaskSchema,
  selectiveCopyTaskSchema,
  inductionTaskSchema,
  listopsTaskSchema,
]);

/** `task:` section; an omitted section parses as lm on sotu with byte tokens (prefault runs the defaults). */
export const taskSchema = taskUnion.prefault({}).describe('the task: lm (default) | mqar | selective_copy | induction | listops');

export const taskKindSchemas = {
  lm: lmTaskSchema,
  mqar: mqarTaskSchema,
  selective_copy: selectiveCopyTaskSchema,
  induction: inductionTaskSchema,
  listops: listopsTaskSchema,
} as const;

export type TaskConfig = z.infer<typeof taskUnion>;
export type LmTask = z.infer<typeof lmTaskSchema>;
export type MqarTask = z.infer<typeof mqarTaskSchema>;
export type SelectiveCopyTask = z.infer<typeof selectiveCopyTaskSchema>;
export type InductionTask = z.infer<typeof inductionTaskSchema>;
export type ListopsTask = z.infer<typeof listopsTaskSchema>;

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
  switch (task.kind) {
    case 'lm':
      if (task.tokenizer === 'byte') return 257;
      if (task.tokenizer === 'bpe') return task.bpe_vocab;
      return lmVocabSize(task);
    case 'mqar':
    case 'induction':
      return task.vocab_size;
    case 'selective_copy':
      return task.alphabet_size;
    case 'listops':
      return 17;
  }
}

/**
 * Vocabulary size from the config alone (no corpus read): exact for byte, bpe and the synthetic
 * tasks; for char tokens the size remembered from an earlier read of the same, unchanged corpus,
 * else undefined (known once `run` reads the data: checkTaskData).
 */
export function configVocabSize(task: TaskConfig, opts: { cacheDir?: string } = {}): number | undefined {
  if (task.kind === 'lm' && task.tokenizer === 'char') return cachedCharVocabSize(task, opts.cacheDir);
  return taskVocabSize(task);
}

/**
 * The checks that need the data (an lm corpus read and tokenised: every split holds a window of
 * seq_len + 1 tokens); returns the exact vocabulary size. Throws a UserError naming the key.
 */
export function checkTaskData(task: TaskConfig, opts: { cacheDir?: string } = {}): { vocabSize: number } {
  if (task.kind === 'lm') {
    checkLmData(task, opts.cacheDir);
    return { vocabSize: lmVocabSize(task) };
  }
  return { vocabSize: taskVocabSize(task) };
}

/** Context length the model sees (for FLOPs, shapes and position tables). */
export function taskSeqLen(task: TaskConfig): number {
  switch (task.kind) {
    case 'lm':
    case 'mqar':
      return task.seq_len;
    case 'selective_copy':
      return task.noise_len + 2 * task.copy_len;
    case 'induction':
      return task.seq_len + 1;
    case 'listops':
      return task.max_len;
  }
}

/** Cross-field constraints (docs/tasks.md 6) from the config alone; throws a UserError naming the offending key. */
export function validateTask(task: TaskConfig): void {
  const fail = (key: string, msg: string): never => {
    throw new UserError(`task.${key}: ${msg}`);
  };
  switch (task.kind) {
    case 'lm':
      checkCorpusName(task.corpus);
      if (task.split === 'chronological' && task.corpus !== 'sotu') fail('split', `'chronological' is defined for sotu only (corpus is ${task.corpus})`);
      if (task.seq_len < 2) fail('seq_len', `must be at least 2 (got ${task.seq_len})`);
      return;
    case 'mqar': {
      const { vocab_size: V, seq_len: N, num_kv_pairs: D, passes: P } = task;
      if (N % 2 !== 0) fail('seq_len', `MQAR needs an even input length N (got ${N})`);
      if (V <= N) fail('vocab_size', `MQAR needs V > N (got V=${V}, N=${N})`);
      if (2 * D * P + 2 * D > N) {
        fail('num_kv_pairs', `MQAR needs 2·D·P + 2·D ≤ N${P === 1 ? ' (4·D ≤ N when P = 1)' : ''} (got D=${D}, P=${P}, N=${N})`);
      }
      const keys = Math.floor(V / 2) - 1;
      if (D > keys) fail('num_kv_pairs', `only ${keys} key ids exist for V=${V} (got D=${D})`);
      return;
    }
    case 'selective_copy':
      if (task.alphabet_size < 3) fail('alphabet_size', `needs A ≥ 3 (blank, ≥ 1 data token, marker; got ${task.alphabet_size})`);
      return;
    case 'induction':
      if (task.seq_len < 3) fail('seq_len', `induction needs N ≥ 3 (got ${task.seq_len})`);
      if (task.vocab_size < 3) fail('vocab_size', `induction needs V ≥ 3 (got ${task.vocab_size})`);
      for (const n of task.eval_lengths) if (n < 3) fail('eval_lengths', `every length must be ≥ 3 (got ${n})`);
      return;
    case 'listops':
      if (task.min_len >= task.max_len) fail('min_len', `needs min_len < max_len (got ${task.min_len} ≥ ${task.max_len})`);
      if (task.max_len - task.min_len < 2) fail('max_len', `no integer length lies strictly between ${task.min_len} and ${task.max_len}`);
      if (task.max_args < 2) fail('max_args', `needs at least 2 (got ${task.max_args})`);
      if (task.max_depth < 2 && task.min_len >= 1) fail('max_depth', `depth 1 only makes single digits (length 1), none longer than min_len=${task.min_len}`);
      return;
  }
}
