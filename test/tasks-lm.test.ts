import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCorpus, splitBytes } from '../src/tasks/corpus.ts';
import { byteTokenizer, bpeTokenizer, charAlphabet, charTokenizer, trainBpe } from '../src/tasks/tokenizers.ts';
import { normalizeText, firstInvalidUtf8 } from '../src/tasks/text.ts';
import { loadTask, IGNORE } from '../src/tasks/index.ts';
import { checkTaskData, parseTask, taskVocabSize, validateTask, type LmTask } from '../src/tasks/schema.ts';
import { lmStream } from '../src/tasks/kinds/lm.ts';
import { bitsPerByte, tokenPerplexity, accuracyCounts, accuracy, exactMatch, addCounts } from '../src/tasks/metrics.ts';
import { UserError } from '../src/errors.ts';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-lm-'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-corpus-'));
const SAMPLE = 'Fellow-Citizens — the “Union” is 100° strong’s.\n\tNaïve café, 日本, 🚀 emoji.\n\nEnd.';

describe('split rule (docs/tasks.md 5.4)', () => {
  const counts = (name: string) => {
    const c = loadCorpus(name);
    return (['train', 'valid', 'test'] as const).map((s) => [c.splits[s].length, splitBytes(c.splits[s])]);
  };
  it('SOTU: 210/9,753,648 train, 12/490,294 valid, 11/517,470 test', () => {
    expect(counts('sotu')).toEqual([
      [210, 9753648],
      [12, 490294],
      [11, 517470],
    ]);
  });
  it('Brown (tags stripped): 450/5,489,769, 25/312,016, 25/307,663', () => {
    expect(counts('brown')).toEqual([
      [450, 5489769],
      [25, 312016],
      [25, 307663],
    ]);
  });
  it('Gutenberg splits within each book: 18 pieces per split, ≈90/5/5 of the bytes, all text kept', () => {
    const c = loadCorpus('gutenberg');
    const [tr, va, te] = (['train', 'valid', 'test'] as const).map((s) => splitBytes(c.splits[s]));
    expect(c.splits.train).toHaveLength(18);
    expect(c.splits.test).toHaveLength(18);
    expect(tr / (tr + va + te)).toBeCloseTo(0.9, 2);
    expect(te / (tr + va + te)).toBeCloseTo(0.05, 2);
    // Latin-1 books decode to real accented letters, not U+FFFD.
    expect(c.splits.train.some((d) => d.text.includes('\ufffd'))).toBe(false);
    for (const d of c.splits.valid) expect(d.text.startsWith('\n')).toBe(false);
  });
});

describe('normalisation (5.3) and user corpora', () => {
  it('CRLF -> LF, C0 controls dropped, NFC, optional ASCII folding', () => {
    expect(normalizeText('a\r\nb\x02c\td\x1f', false)).toBe('a\nbc\td');
    expect(normalizeText('e\u0301', false)).toBe('\u00e9');
    expect(normalizeText('’“x”—–5°', true)).toBe(`'"x"---5 deg`);
  });

  it('a non-UTF-8 user file is a UserError naming the file and the byte offset', () => {
    const f = path.join(tmp, 'latin1.txt');
    fs.writeFileSync(f, Buffer.concat([Buffer.from('hello caf'), Buffer.from([0xe9]), Buffer.from(' world')]));
    expect(firstInvalidUtf8(fs.readFileSync(f))).toBe(9);
    const t = parseTask({ corpus: `file:${f}`, seq_len: 4 });
    expect(() => loadTask(t, { cacheDir })).toThrow(UserError);
    expect(() => loadTask(t, { cacheDir })).toThrow(/latin1\.txt.*byte offset 9/);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xed, 0xa0, 0x80]))).toBe(1); // UTF-16 surrogate
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf]))).toBe(1); // overlong
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82]))).toBe(1); // truncated
  });

  it('file: corpora split within the file; seq_len longer than a split is a UserError', () => {
    const f = path.join(tmp, 'paras.txt');
    fs.writeFileSync(f, Array.from({ length: 100 }, (_, i) => `Paragraph ${i} of the text.`).join('\n\n'));
    const c = loadCorpus(`file:${f}`);
    expect(c.splits.valid[0].text.startsWith('Paragraph')).toBe(true);
    expect(c.splits.train.length + c.splits.valid.length + c.splits.test.length).toBe(3);
    const t = loadTask(parseTask({ corpus: `file:${f}`, seq_len: 16 }), { cacheDir });
    expect(t.evalSize('test', 'all')).toBeGreaterThan(0);
    // The config alone cannot tell; the data step can.
    expect(() => validateTask(parseTask({ corpus: `file:${f}`, seq_len: 5000 }))).not.toThrow();
    expect(() => checkTaskData(parseTask({ corpus: `file:${f}`, seq_len: 5000 }))).toThrow(
      /task\.seq_len: 5000 is longer than the \w+ split/,
    );
    expect(() => loadTask(parseTask({ corpus: `file:${path.join(tmp, 'missing.txt')}` }))).toThrow(/task\.corpus.*no such file/);
  });

  it('dir: corpora use the document rule from 20 files on', () => {
    const d = path.join(tmp, 'docs');
    fs.mkdirSync(d);
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(d, `doc${String(i).padStart(2, '0')}.txt`), `document ${i}\n`);
    const c = loadCorpus(`dir:${d}`);
    expect(c.splits.valid.map((x) => x.id)).toEqual(['doc10.txt', 'doc30.txt']);
    expect(c.splits.test.map((x) => x.id)).toEqual(['doc19.txt', 'doc39.txt']);
  });
});

describe('tokenizers (5.5)', () => {
  it('byte tokenizer round-trips UTF-8 text; V = 257 with EOS = 256', () => {
    const tok = byteTokenizer();
    const ids = tok.encode(SAMPLE);
    expect(ids).toHaveLength(Buffer.byteLength(SAMPLE));
    expect(tok.decode(ids)).toBe(SAMPLE);
    expect(tok.decode([...ids, 256])).toBe(SAMPLE);
    expect(taskVocabSize(parseTask({}))).toBe(257);
  });

  it('char tokenizer: sorted training alphabet + UNK + EOS, round trip on seen text', () => {
    const alpha = charAlphabet([SAMPLE]);
    expect(alpha).toEqual([...alpha].sort((a, b) => a - b));
    const tok = charTokenizer(alpha);
    expect(tok.vocabSize).toBe(alpha.length + 2);
    const enc = tok.encodeWithBytes(SAMPLE);
    expect(tok.decode(enc.ids)).toBe(SAMPLE);
    expect(enc.bytes!.reduce((s, b) => s + b, 0)).toBe(Buffer.byteLength(SAMPLE));
    expect(Array.from(tok.encode('Zq'))).toEqual([alpha.length, alpha.length]); // unseen -> UNK
    const sotuChar = parseTask({ tokenizer: 'char' }) as LmTask;
    const V = taskVocabSize(sotuChar);
    expect(V).toBeGreaterThan(80);
    expect(V).toBeLessThanOrEqual(100);
  });

  it('BPE is deterministic (same merges twice), reaches the vocabulary, and round-trips', () => {
    const texts = loadCorpus('sotu').splits.test.map((d) => d.text);
    const m1 = trainBpe(texts, 400);
    const m2 = trainBpe([...texts], 400);
    expect(m1).toEqual(m2);
    expect(m1).toHaveLength(400 - 257);
    const tok = bpeTokenizer(m1, 400);
    for (const t of [texts[0].slice(0, 20000), SAMPLE, '  double  spaces\n\n\nand 12345 digits!!']) {
      const ids = tok.encode(t);
      expect(tok.decode(ids)).toBe(t);
      if (t.length > 1000) expect(ids.length).toBeLessThan(Buffer.byteLength(t) / 2);
    }
    const enc = tok.encodeWithBytes(SAMPLE);
    expect(enc.bytes!.reduce((s, b) => s + b, 0)).toBe(Buffer.byteLength(SAMPLE));
    // Tie-break: among equally frequent pairs the smallest (left, right) ids merge first.
    expect(trainBpe(['ab ab cd cd'], 259)).toEqual([
      [32, 99],
      [97, 98],
    ]);
  });
});

describe('lm TaskData (5.6)', () => {
  const task = parseTask({ seq_len: 64, eval_windows: 10 }) as LmTask;
  const t = loadTask(task, { cacheDir });

  it('train batches are deterministic in (seed, step), differ across seeds, targets are the next tokens', () => {
    const a = t.trainBatch(5, 4, 0);
    expect(t.trainBatch(5, 4, 0)).toEqual(a);
    expect(t.trainBatch(5, 4, 1).inputs).not.toEqual(a.inputs);
    expect(t.trainBatch(6, 4, 0).inputs).not.toEqual(a.inputs);
    for (let b = 0; b < 4; b++) {
      for (let i = 0; i + 1 < 64; i++) expect(a.targets[b * 64 + i]).toBe(a.inputs[b * 64 + i + 1]);
    }
    expect(a.scoredBytes).toBe(4 * 64);
  });

  it("'all' eval windows are non-overlapping and score every token after the first EOS exactly once", () => {
    const s = lmStream(task, 'valid', cacheDir);
    const batches = t.evalBatches('valid', 32, 'all');
    let bytes = 0;
    let k = 1;
    let mismatches = 0;
    for (const b of batches) {
      bytes += b.scoredBytes!;
      for (const x of b.targets) if (x !== IGNORE && x !== s.ids[k++]) mismatches++;
    }
    expect(k).toBe(s.ids.length);
    expect(mismatches).toBe(0);
    expect(bytes).toBe(s.textBytes + s.docs); // EOS = 1 byte
    expect(t.evalSize('valid', 'all')).toBe(batches.reduce((n, b) => n + b.batch, 0));
    expect(t.evalSize('valid')).toBe(10);
    expect(t.evalBatches('valid', 4).map((b) => b.batch)).toEqual([4, 4, 2]);
  });

  it('char-token batches count the UTF-8 bytes of their scored text', () => {
    const c = loadTask(parseTask({ tokenizer: 'char', seq_len: 32 }), { cacheDir });
    const s = lmStream(parseTask({ tokenizer: 'char', seq_len: 32 }) as LmTask, 'test', cacheDir);
    const total = c.evalBatches('test', 64, 'all').reduce((n, b) => n + b.scoredBytes!, 0);
    expect(total).toBe(s.textBytes + s.docs);
    expect(c.decode!(c.encode!('The Union is strong.'))).toBe('The Union is strong.');
  });
});

describe('metrics (0.1, 5.6)', () => {
  it('a model uniform over the 256 byte ids scores exactly 8.0 bpb', () => {
    const b = loadTask(parseTask({ seq_len: 64 }), { cacheDir }).trainBatch(0, 8, 3);
    let nats = 0;
    let n = 0;
    for (const x of b.targets) if (x !== IGNORE) (nats += Math.log(256)), n++;
    expect(bitsPerByte(nats, b.scoredBytes!)).toBeCloseTo(8, 12);
    expect(tokenPerplexity(nats, n)).toBeCloseTo(256, 9);
  });

  it('accuracy is micro-averaged over scored positions; exact match counts all-correct rows', () => {
    const targets = Int32Array.from([IGNORE, 3, 4, IGNORE, IGNORE, 5, IGNORE, IGNORE, IGNORE]);
    const preds = Int32Array.from([9, 3, 0, 1, 1, 5, 2, 2, 2]);
    const c = accuracyCounts(preds, targets, 3, 3);
    expect(c).toEqual({ correct: 2, scored: 3, rows: 2, rowsExact: 1 });
    expect(accuracy(c)).toBeCloseTo(2 / 3);
    expect(exactMatch(addCounts(c, c))).toBe(0.5);
  });
});
