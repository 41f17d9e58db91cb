// What `seqlab tasks` and `seqlab data` print: every task kind of the registry with its options, metrics
// and provenance, every corpus, and per-split
// statistics with reference floors.
import { z } from 'zod';
import { parseTask, type LmTask } from './schema.ts';
import { TASKS } from './kinds/registry.ts';
import type { EvalMetric } from '../metrics/names.ts';
import { BUILTIN_CORPORA, USER_CORPUS_HELP, loadCorpus, checkCorpusName } from './corpus.ts';
import { lmStream, lmTokenizer } from './kinds/lm.ts';
import { ngramFloors, gzipBpb } from './floors.ts';

export interface OptionInfo {
  key: string;
  type: string;
  default: unknown;
  description: string;
}
export interface TaskInfo {
  kind: string;
  description: string;
  options: OptionInfo[];
  /** Evaluation metrics reported per split (summary.json `valid_<metric>`, `test_<metric>`). */
  metrics: readonly EvalMetric[];
  source: string;
  licence: string;
}

function typeOf(p: Record<string, unknown>): string {
  if (Array.isArray(p.enum)) return (p.enum as unknown[]).join('|');
  if (p.const !== undefined) return JSON.stringify(p.const);
  if (Array.isArray(p.anyOf)) return (p.anyOf as Record<string, unknown>[]).map(typeOf).join('|');
  if (p.type === 'array') return `${typeOf((p.items ?? {}) as Record<string, unknown>)}[]`;
  const range: string[] = [];
  if (typeof p.minimum === 'number') range.push(`≥${p.minimum}`);
  if (typeof p.exclusiveMinimum === 'number') range.push(`>${p.exclusiveMinimum}`);
  if (typeof p.maximum === 'number' && p.maximum < Number.MAX_SAFE_INTEGER) range.push(`≤${p.maximum}`);
  return `${String(p.type ?? 'any')}${range.length ? ` ${range.join(' ')}` : ''}`;
}

export function taskCatalog(): TaskInfo[] {
  return TASKS.map(({ kind, schema, metrics, provenance }) => {
    const js = z.toJSONSchema(schema, { io: 'input' }) as { properties: Record<string, Record<string, unknown>> };
    const props = Object.entries(js.properties);
    return {
      kind,
      description: String(props.find(([k]) => k === 'kind')?.[1].description ?? ''),
      options: props
        .filter(([k]) => k !== 'kind')
        .map(([key, p]) => ({ key, type: typeOf(p), default: p.default, description: String(p.description ?? '') })),
      metrics,
      ...provenance,
    };
  });
}

export function corpusCatalog(): Array<{ name: string; source: string; about: string; licence: string; split: string }> {
  return [
    ...Object.entries(BUILTIN_CORPORA).map(([name, c]) => ({
      name,
      source: `npm ${c.package}`,
      about: c.about,
      licence: c.licence,
      split: c.split,
    })),
    { name: 'file:PATH / dir:PATH', source: 'your files (UTF-8)', about: USER_CORPUS_HELP, licence: 'yours', split: 'see about' },
  ];
}

export interface SplitStats {
  docs: number;
  bytes: number;
  chars: number;
  tokens: number;
}
export interface DataReport {
  corpus: string;
  tokenizer: string;
  vocab_size: number;
  split_rule: string;
  licence: string;
  splits: Record<'train' | 'valid' | 'test', SplitStats>;
  floors: { unigram_bpb: number; bigram_bpb: number; gzip_bpb: number; note: string };
}

/** Per-split documents, bytes, characters and tokens (incl. one EOS per document plus the leading one), and test floors. */
export function dataReport(
  corpus: string,
  opts: {
    tokenizer?: 'byte' | 'char' | 'bpe';
    bpeVocab?: number;
    asciiFold?: boolean;
    split?: 'default' | 'chronological';
    cacheDir?: string;
  } = {},
): DataReport {
  checkCorpusName(corpus, 'corpus');
  const task = parseTask({
    kind: 'lm',
    corpus,
    tokenizer: opts.tokenizer ?? 'byte',
    bpe_vocab: opts.bpeVocab ?? 1024,
    ascii_fold: opts.asciiFold ?? false,
    split: opts.split ?? 'default',
  }) as LmTask;
  const c = loadCorpus(corpus, { asciiFold: task.ascii_fold, split: task.split });
  const { tok } = lmTokenizer(task, opts.cacheDir);
  const splits = {} as DataReport['splits'];
  for (const sp of ['train', 'valid', 'test'] as const) {
    const s = lmStream(task, sp, opts.cacheDir);
    let chars = 0;
    for (const d of c.splits[sp]) for (const _ of d.text) chars++;
    splits[sp] = { docs: s.docs, bytes: s.textBytes, chars, tokens: s.ids.length };
  }
  const f = ngramFloors(lmStream(task, 'train', opts.cacheDir), lmStream(task, 'test', opts.cacheDir), tok.vocabSize);
  return {
    corpus,
    tokenizer: tok.name,
    vocab_size: tok.vocabSize,
    split_rule: c.splitRule,
    licence: c.licence,
    splits,
    floors: {
      unigram_bpb: f.unigram,
      bigram_bpb: f.bigram,
      gzip_bpb: gzipBpb(c.splits.test.map((d) => d.text)),
      note: `${tok.name}-token unigram (add-0.5) and bigram (interpolated toward the unigram, weight V) counted on train, scored on the test stream (EOS = 1 byte); gzip = node:zlib level 9 on the test documents joined by newlines`,
    },
  };
}
