// Language modelling on real text (docs/tasks.md 5): split streams `EOS doc1 EOS doc2 ... EOS`, random training
// windows, non-overlapping evaluation windows (5.6).
import { z } from 'zod';
import { IGNORE, type Batch, type EvalSplit, type TaskData } from '../types.ts';
import * as path from 'node:path';
import { checkCorpusName, corpusStamp, loadCorpus, splitBytes, type Corpus, type SplitName } from '../corpus.ts';
import { byteTokenizer, bpeTokenizer, cachedBpeMerges, charAlphabet, charTokenizer, type Tokenizer } from '../tokenizers.ts';
import { cacheKey, resolveCacheDir } from '../cache.ts';
import { readJsonOrUndefined, writeJsonAtomic } from '../../util/fs.ts';
import { Rng } from '../prng.ts';
import { hash32 } from '../../util/hash.ts';
import { UserError } from '../../errors.ts';
import { posInt } from './fields.ts';
import { defineTask } from './types.ts';

export const lmTaskSchema = z.strictObject({
  kind: z.literal('lm').default('lm').describe('language modelling on real text (docs/tasks.md 5)'),
  corpus: z
    .string()
    .default('sotu')
    .describe(
      'sotu | gutenberg | brown (research-only licence) | file:PATH | dir:PATH (UTF-8 text; a relative PATH is read from the folder of the config file that names it)',
    ),
  tokenizer: z
    .enum(['byte', 'char', 'bpe'])
    .default('byte')
    .describe('byte (V=257, EOS=256) | char (training-split alphabet + UNK + EOS) | bpe (byte-level, trained on the training split)'),
  bpe_vocab: posInt('BPE vocabulary size including 256 bytes and EOS (tokenizer: bpe only)').min(258).max(65536).default(1024),
  seq_len: posInt('context length T of training and evaluation windows').default(256),
  ascii_fold: z.boolean().default(false).describe('fold ’ “ ” — – ° to ASCII before tokenising (small closed alphabet for char runs)'),
  split: z
    .enum(['default', 'chronological'])
    .default('default')
    .describe('default: the docs/tasks.md 5.4 split; chronological: SOTU train ≤ 1990, valid 1991–2005, test 2006–'),
  eval_windows: z
    .union([posInt('number of windows'), z.literal('all')])
    .default(200)
    .describe("non-overlapping evaluation windows per split: the first N windows of the split stream, or 'all' for the whole split"),
});
export type LmTask = z.infer<typeof lmTaskSchema>;

export interface Stream {
  /** `EOS doc1 EOS doc2 ... EOS` in the split's sorted document order. */
  ids: Int32Array;
  /** UTF-8 bytes behind each token; EOS = 1. Absent for byte tokens (all 1). */
  bytes?: Uint16Array;
  docs: number;
  textBytes: number;
}

function corpusOf(task: LmTask): Corpus {
  return loadCorpus(task.corpus, { asciiFold: task.ascii_fold, split: task.split });
}

const tokMemo = new Map<string, { tok: Tokenizer; info: Record<string, unknown> }>();

/** The task's tokenizer (char alphabet / BPE merges from the training split, BPE cached on disk). */
export function lmTokenizer(task: LmTask, cacheDir?: string): { tok: Tokenizer; info: Record<string, unknown> } {
  const key = JSON.stringify([
    task.corpus,
    task.ascii_fold,
    task.split,
    task.tokenizer,
    task.tokenizer === 'bpe' ? task.bpe_vocab : 0,
    resolveCacheDir(cacheDir),
  ]);
  const hit = tokMemo.get(key);
  if (hit) return hit;
  let out: { tok: Tokenizer; info: Record<string, unknown> };
  if (task.tokenizer === 'byte') out = { tok: byteTokenizer(), info: {} };
  else {
    const train = corpusOf(task).splits.train.map((d) => d.text);
    if (task.tokenizer === 'char') {
      out = { tok: charTokenizer(charAlphabet(train)), info: {} };
      try {
        writeJsonAtomic(charVocabFile(task, cacheDir), { corpus: corpusStamp(task.corpus), vocab_size: out.tok.vocabSize });
      } catch {
        /* the cache only spares `plan` a lower bound */
      }
    } else {
      const dir = resolveCacheDir(cacheDir);
      const { merges, file, hash } = cachedBpeMerges(train, task.bpe_vocab, dir, task.corpus);
      out = { tok: bpeTokenizer(merges, task.bpe_vocab), info: { merges_file: file, merges_hash: hash } };
    }
  }
  tokMemo.set(key, out);
  return out;
}

export function lmVocabSize(task: LmTask, cacheDir?: string): number {
  return lmTokenizer(task, cacheDir).tok.vocabSize;
}

/** Where the size of a char vocabulary is remembered once the corpus has been read (keyed by its stat stamp). */
function charVocabFile(task: LmTask, cacheDir?: string): string {
  return path.join(resolveCacheDir(cacheDir), `char-vocab-${cacheKey([corpusStamp(task.corpus), task.ascii_fold, task.split])}.json`);
}

/** The char vocabulary of an earlier read of this corpus (unchanged since), without reading it. */
export function cachedCharVocabSize(task: LmTask, cacheDir?: string): number | undefined {
  const hit = readJsonOrUndefined<{ vocab_size?: unknown }>(charVocabFile(task, cacheDir));
  return typeof hit?.vocab_size === 'number' && Number.isInteger(hit.vocab_size) ? hit.vocab_size : undefined;
}

const streamMemo = new Map<string, Stream>();

export function lmStream(task: LmTask, split: SplitName, cacheDir?: string): Stream {
  const { tok } = lmTokenizer(task, cacheDir);
  const key = JSON.stringify([
    task.corpus,
    task.ascii_fold,
    task.split,
    task.tokenizer,
    task.tokenizer === 'bpe' ? task.bpe_vocab : 0,
    resolveCacheDir(cacheDir),
    split,
  ]);
  const hit = streamMemo.get(key);
  if (hit) return hit;
  const docs = corpusOf(task).splits[split];
  const parts = docs.map((d) => tok.encodeWithBytes(d.text));
  const n = parts.reduce((s, p) => s + p.ids.length + 1, 1);
  const ids = new Int32Array(n);
  const bytes = tok.name === 'byte' ? undefined : new Uint16Array(n);
  let o = 0;
  ids[o] = tok.eos;
  if (bytes) bytes[o] = 1;
  o++;
  for (const p of parts) {
    ids.set(p.ids, o);
    if (bytes) bytes.set(p.bytes!, o);
    o += p.ids.length;
    ids[o] = tok.eos;
    if (bytes) bytes[o] = 1;
    o++;
  }
  const s: Stream = { ids, bytes, docs: docs.length, textBytes: splitBytes(docs) };
  streamMemo.set(key, s);
  return s;
}

/** seq_len must fit every split: a training window needs T+1 tokens, evaluation at least one window. */
export function checkLmData(task: LmTask, cacheDir?: string): void {
  for (const split of ['train', 'valid', 'test'] as const) {
    const n = lmStream(task, split, cacheDir).ids.length;
    if (n < task.seq_len + 1) {
      throw new UserError(
        `task.seq_len: ${task.seq_len} is longer than the ${split} split of ${task.corpus} (${n} ${task.tokenizer} tokens incl. EOS; need seq_len + 1)`,
      );
    }
  }
}

function windowBatch(s: Stream, starts: number[], T: number, pad: number): Batch {
  const B = starts.length;
  const inputs = new Int32Array(B * T).fill(pad);
  const targets = new Int32Array(B * T).fill(IGNORE);
  let scoredBytes = 0;
  for (let b = 0; b < B; b++) {
    const st = starts[b];
    const len = Math.min(T, s.ids.length - 1 - st); // a tail window can be short: padded, unscored
    inputs.set(s.ids.subarray(st, st + len), b * T);
    targets.set(s.ids.subarray(st + 1, st + 1 + len), b * T);
    if (s.bytes) for (let t = 1; t <= len; t++) scoredBytes += s.bytes[st + t];
    else scoredBytes += len;
  }
  return { inputs, targets, batch: B, seqLen: T, scoredBytes };
}

export function loadLmTask(task: LmTask, opts: { cacheDir?: string } = {}): TaskData {
  const { tok, info } = lmTokenizer(task, opts.cacheDir);
  const corpus = corpusOf(task);
  const T = task.seq_len;
  const stream = (split: SplitName) => lmStream(task, split, opts.cacheDir);
  const windows = (split: EvalSplit, maxWindows: number | 'all' = task.eval_windows): number => {
    const all = Math.ceil((stream(split).ids.length - 1) / T);
    return maxWindows === 'all' ? all : Math.min(all, maxWindows);
  };
  return {
    kind: 'lm',
    name: `lm:${task.corpus}:${task.tokenizer}`,
    vocabSize: tok.vocabSize,
    seqLen: T,
    trainBatch(step, batchSize, seed) {
      const s = stream('train');
      const rng = new Rng(hash32(`lm:train:${seed}:${step}`));
      const starts = Array.from({ length: batchSize }, () => rng.randInt(s.ids.length - T));
      return windowBatch(s, starts, T, tok.eos);
    },
    evalBatches(split, batchSize, maxWindows) {
      const n = windows(split, maxWindows);
      const out: Batch[] = [];
      for (let w = 0; w < n; w += batchSize) {
        const starts: number[] = [];
        for (let k = w; k < Math.min(n, w + batchSize); k++) starts.push(k * T);
        out.push(windowBatch(stream(split), starts, T, tok.eos));
      }
      return out;
    },
    evalSize: (split, maxWindows) => windows(split, maxWindows),
    encode: (text) => tok.encode(text),
    decode: (ids) => tok.decode(ids),
    describe() {
      const splits: Record<string, unknown> = {};
      for (const sp of ['train', 'valid', 'test'] as const) {
        const s = stream(sp);
        splits[sp] = { docs: s.docs, bytes: s.textBytes, tokens: s.ids.length };
      }
      return {
        task: 'lm',
        corpus: task.corpus,
        corpus_source: corpus.source,
        licence: corpus.licence,
        split_rule: corpus.splitRule,
        ascii_fold: task.ascii_fold,
        ...tok.describe(),
        ...info,
        seq_len: T,
        splits,
        stream: 'EOS doc1 EOS doc2 ... EOS per split, documents in sorted order; the first EOS is context only',
        train_sampling: 'uniform random windows of T+1 tokens from the train stream, seeded by hash32(lm:train:<seed>:<step>)',
        eval_protocol:
          'non-overlapping windows of length T, state reset per window; a short tail window is padded and unscored past the end',
        eval_windows: task.eval_windows === 'all' ? 'all (whole split)' : `first ${task.eval_windows} windows of each split stream`,
        metrics:
          'loss nats/token over scored tokens; bpb = Σnats / (UTF-8 bytes of scored text, EOS = 1 byte) / ln 2; token ppl = exp(mean nats)',
      };
    },
  };
}

export const lm = defineTask({
  kind: 'lm',
  schema: lmTaskSchema,
  family: 'lm',
  metrics: ['loss', 'ppl', 'bpb', 'eval_tokens', 'eval_windows'],
  // Each corpus carries its own source and licence (corpus.ts BUILTIN_CORPORA, listed by `seqlab tasks`).
  provenance: {
    source: 'the text corpus named by task.corpus (see the corpora)',
    licence: "the corpus's own (see the corpora; file:/dir: yours)",
  },
  validate(task, fail) {
    checkCorpusName(task.corpus);
    if (task.split === 'chronological' && task.corpus !== 'sotu')
      fail('split', `'chronological' is defined for sotu only (corpus is ${task.corpus})`);
    if (task.seq_len < 2) fail('seq_len', `must be at least 2 (got ${task.seq_len})`);
  },
  seqLen: (task) => task.seq_len,
  vocabSize: (task, opts) =>
    task.tokenizer === 'byte' ? 257 : task.tokenizer === 'bpe' ? task.bpe_vocab : lmVocabSize(task, opts.cacheDir),
  // char: the size remembered from an earlier read of the same, unchanged corpus (else known once `run` reads it)
  configVocabSize: (task, opts) =>
    task.tokenizer === 'byte' ? 257 : task.tokenizer === 'bpe' ? task.bpe_vocab : cachedCharVocabSize(task, opts.cacheDir),
  checkData: (task, opts) => checkLmData(task, opts.cacheDir),
  load: (task, opts) => loadLmTask(task, opts),
});
