// Tokenisers of docs/tasks.md 5.5: byte (default), char (alphabet from the training split), byte-level BPE.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sha256Hex } from '../util/hash.ts';
import { writeJsonAtomic, readJsonOrUndefined } from '../util/fs.ts';

export interface Encoded {
  ids: Int32Array;
  /** UTF-8 bytes behind each token (for bpb); absent when every token is one byte. */
  bytes?: Uint16Array;
}

export interface Tokenizer {
  name: 'byte' | 'char' | 'bpe';
  vocabSize: number;
  eos: number;
  encode(text: string): Int32Array;
  encodeWithBytes(text: string): Encoded;
  /** Inverse of encode; EOS ids are dropped (document boundaries are not text). */
  decode(ids: ArrayLike<number>): string;
  describe(): Record<string, unknown>;
  /** Everything needed to rebuild this tokenizer without the corpus (saved with checkpoints). */
  state(): TokenizerState;
}

/** A tokenizer as data: byte, the char alphabet (code points), or the BPE merges in rank order. */
export type TokenizerState =
  | { kind: 'byte' }
  | { kind: 'char'; alphabet: number[] }
  | { kind: 'bpe'; vocab_size: number; version: string; merges: Array<[number, number]> };

/** Rebuild a tokenizer from its state (inverse of Tokenizer.state). */
export function tokenizerFromState(s: TokenizerState): Tokenizer {
  if (s.kind === 'byte') return byteTokenizer();
  if (s.kind === 'char') return charTokenizer(s.alphabet);
  if (s.version !== BPE_VERSION) throw new Error(`BPE tokenizer version "${s.version}" is not "${BPE_VERSION}"`);
  return bpeTokenizer(s.merges, s.vocab_size);
}

const utf8 = new TextEncoder();
const utf8dec = new TextDecoder('utf-8');

// ---------------------------------------------------------------- byte

export const BYTE_EOS = 256;

export function byteTokenizer(): Tokenizer {
  const encode = (text: string): Int32Array => Int32Array.from(utf8.encode(text));
  return {
    name: 'byte',
    vocabSize: 257,
    eos: BYTE_EOS,
    encode,
    encodeWithBytes: (text) => ({ ids: encode(text) }),
    decode(ids) {
      const b: number[] = [];
      for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && ids[i] < 256) b.push(ids[i]);
      return utf8dec.decode(Uint8Array.from(b));
    },
    describe: () => ({ tokenizer: 'byte', vocab_size: 257, eos: BYTE_EOS }),
    state: () => ({ kind: 'byte' }),
  };
}

// ---------------------------------------------------------------- char

/** The sorted set of code points in `texts`. */
export function charAlphabet(texts: Iterable<string>): number[] {
  const seen = new Set<number>();
  for (const t of texts) for (const ch of t) seen.add(ch.codePointAt(0)!);
  return [...seen].sort((a, b) => a - b);
}

/** ids 0..K-1 = the alphabet in code-point order, K = UNK, K+1 = EOS. */
export function charTokenizer(alphabet: number[]): Tokenizer {
  const K = alphabet.length;
  const UNK = K;
  const EOS = K + 1;
  const index = new Map<number, number>(alphabet.map((cp, i) => [cp, i]));
  const encodeWithBytes = (text: string): Encoded => {
    const ids = new Int32Array(text.length); // code points ≤ UTF-16 units
    const bytes = new Uint16Array(text.length);
    let n = 0;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      ids[n] = index.get(cp) ?? UNK;
      bytes[n++] = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }
    return { ids: ids.slice(0, n), bytes: bytes.slice(0, n) };
  };
  return {
    name: 'char',
    vocabSize: K + 2,
    eos: EOS,
    encode: (text) => encodeWithBytes(text).ids,
    encodeWithBytes,
    decode(ids) {
      let s = '';
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (id >= 0 && id < K) s += String.fromCodePoint(alphabet[id]);
        else if (id === UNK) s += '\ufffd';
      }
      return s;
    },
    describe: () => ({ tokenizer: 'char', vocab_size: K + 2, alphabet_size: K, unk: UNK, eos: EOS }),
    state: () => ({ kind: 'char', alphabet: [...alphabet] }),
  };
}

// ---------------------------------------------------------------- BPE

/** Words with a leading-space convention: letter runs, digit runs, other runs, whitespace (5.5). */
const PRE_SPLIT = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
export const BPE_VERSION =
  'bpe-v1: byte-level, pre-split / ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+/, ids 0-255 bytes, 256 EOS, 257+ merges';

export function preSplit(text: string): string[] {
  return text.match(PRE_SPLIT) ?? [];
}

const pairKey = (a: number, b: number): number => a * 65536 + b;

/**
 * Train byte-level BPE: merge the most frequent adjacent pair until `vocabSize` ids (256 bytes + EOS +
 * merges), ties broken by the smallest (left, right) ids. Stops early if no pair occurs twice.
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number): Array<[number, number]> {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of preSplit(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of counts) {
    words.push(Array.from(utf8.encode(w)));
    freq.push(c);
  }
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addWord = (wi: number, sign: number): void => {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i], w[i + 1]);
      const c = (pairCount.get(k) ?? 0) + sign * freq[wi];
      if (c === 0) pairCount.delete(k);
      else pairCount.set(k, c);
      if (sign > 0) {
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addWord(wi, +1);

  const merges: Array<[number, number]> = [];
  for (let id = BYTE_EOS + 1; id < vocabSize; id++) {
    let best = -1;
    let bestCount = 1;
    for (const [k, c] of pairCount) {
      if (c > bestCount || (c === bestCount && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best < 0) break;
    const a = Math.floor(best / 65536);
    const b = best % 65536;
    merges.push([a, b]);
    for (const wi of where.get(best) ?? []) {
      const w = words[wi];
      let has = false;
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) has = true;
      if (!has) continue;
      addWord(wi, -1);
      words[wi] = mergePair(w, a, b, id);
      addWord(wi, +1);
    }
    where.delete(best);
  }
  return merges;
}

function mergePair(w: number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < w.length; i++) {
    if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
      out.push(id);
      i++;
    } else out.push(w[i]);
  }
  return out;
}

export function bpeTokenizer(merges: Array<[number, number]>, vocabSize = BYTE_EOS + 1 + merges.length): Tokenizer {
  const rank = new Map<number, number>(merges.map(([a, b], r) => [pairKey(a, b), r]));
  const bytesOf: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) bytesOf.push(Uint8Array.of(i));
  bytesOf.push(new Uint8Array(0)); // EOS
  for (const [a, b] of merges) {
    const m = new Uint8Array(bytesOf[a].length + bytesOf[b].length);
    m.set(bytesOf[a]);
    m.set(bytesOf[b], bytesOf[a].length);
    bytesOf.push(m);
  }
  const cache = new Map<string, number[]>();
  const encodeWord = (word: string): number[] => {
    const hit = cache.get(word);
    if (hit) return hit;
    let w = Array.from(utf8.encode(word));
    // Apply merges in training order: the lowest-ranked adjacent pair first, every occurrence.
    for (;;) {
      let bestRank = Infinity;
      for (let i = 0; i + 1 < w.length; i++) {
        const r = rank.get(pairKey(w[i], w[i + 1]));
        if (r !== undefined && r < bestRank) bestRank = r;
      }
      if (bestRank === Infinity) break;
      const [a, b] = merges[bestRank];
      w = mergePair(w, a, b, BYTE_EOS + 1 + bestRank);
    }
    if (cache.size < 200_000) cache.set(word, w);
    return w;
  };
  const encodeWithBytes = (text: string): Encoded => {
    const ids: number[] = [];
    for (const word of preSplit(text)) for (const id of encodeWord(word)) ids.push(id);
    const out = Int32Array.from(ids);
    const bytes = new Uint16Array(out.length);
    for (let i = 0; i < out.length; i++) bytes[i] = bytesOf[out[i]].length;
    return { ids: out, bytes };
  };
  return {
    name: 'bpe',
    vocabSize,
    eos: BYTE_EOS,
    encode: (text) => encodeWithBytes(text).ids,
    encodeWithBytes,
    decode(ids) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (id >= 0 && id < bytesOf.length && id !== BYTE_EOS) parts.push(bytesOf[id]);
      }
      return Buffer.concat(parts).toString('utf8');
    },
    describe: () => ({ tokenizer: 'bpe', vocab_size: vocabSize, merges: merges.length, eos: BYTE_EOS, version: BPE_VERSION }),
    state: () => ({ kind: 'bpe', vocab_size: vocabSize, version: BPE_VERSION, merges: merges.map(([a, b]) => [a, b] as [number, number]) }),
  };
}

/** Train (or read from datasets/cache) the BPE merges for a training split. */
export function cachedBpeMerges(
  trainTexts: string[],
  vocabSize: number,
  cacheDir: string | undefined,
  label: string,
): { merges: Array<[number, number]>; file?: string; hash: string } {
  const h = sha256Hex(JSON.stringify([BPE_VERSION, vocabSize, sha256Hex(trainTexts.join('\u0000'))])).slice(0, 16);
  const file = cacheDir ? path.join(cacheDir, `bpe-${h}.json`) : undefined;
  if (file && fs.existsSync(file)) {
    const hit = readJsonOrUndefined<{ merges: Array<[number, number]> }>(file);
    if (hit && Array.isArray(hit.merges)) return { merges: hit.merges, file, hash: h };
  }
  const merges = trainBpe(trainTexts, vocabSize);
  if (file) writeJsonAtomic(file, { version: BPE_VERSION, corpus: label, vocab_size: vocabSize, merges });
  return { merges, file, hash: h };
}
