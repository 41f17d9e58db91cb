/**
 * The repository cites only itself: every design-document citation in code, configs and the
 * README points into docs/ (docs/README.md), names a section heading that exists there, and the
 * relative links inside docs/ resolve. Pure file reading, no tfjs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const docsDir = path.join(root, 'docs');

// The names are assembled at run time so that this file itself passes its own scan.
const DOC_NAMES = ['runner-anchors', 'models', 'tasks', 'runner'];
const MD = '.md';
/** Paths that lead outside the repository (the material the docs were written from). */
const OUTSIDE = [['shared', 'spec'].join('/'), ['shared', 'reference'].join('/'), ['..', 'shared'].join('/')];

/** Folders and root files whose text is scanned (docs/ is scanned for links and its own citations). */
const SCANNED_DIRS = ['src', 'test', 'bin', 'native', 'configs', '.ci'];
const SKIP_DIRS = new Set(['node_modules', 'build', '.git', '.vitest-cache', 'cache']);

function walk(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) walk(p, out);
    } else if (e.isFile()) out.push(p);
  }
  return out;
}

function readText(file: string): string | undefined {
  const buf = fs.readFileSync(file);
  if (buf.includes(0)) return undefined; // binary
  return buf.toString('utf8');
}

/** Every text file that must not cite outside the repository, relative path -> text. */
function scannedFiles(): Map<string, string> {
  const files = SCANNED_DIRS.flatMap((d) => walk(path.join(root, d)));
  for (const e of fs.readdirSync(root, { withFileTypes: true }))
    if (e.isFile() && e.name !== 'package-lock.json') files.push(path.join(root, e.name));
  const out = new Map<string, string>();
  for (const f of files) {
    const text = readText(f);
    if (text !== undefined) out.set(path.relative(root, f), text);
  }
  return out;
}

function docFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of walk(docsDir)) if (f.endsWith(MD)) out.set(path.relative(root, f), fs.readFileSync(f, 'utf8'));
  return out;
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

const NAME_RE = new RegExp(`(${DOC_NAMES.map((n) => n.replace(/-/g, '\\-')).join('|')})\\.md\\b`, 'g');

/** Mentions of a design document that do not go through docs/ (file:line and the text). */
function outsideMentions(file: string, text: string): string[] {
  const bad: string[] = [];
  for (const m of text.matchAll(NAME_RE)) {
    const prefix = /[\w./-]*$/.exec(text.slice(0, m.index))![0];
    if (!/^(\.\.?\/)*docs\/$/.test(prefix)) bad.push(`${file}:${lineOf(text, m.index!)}: ${prefix}${m[0]}`);
  }
  for (const needle of OUTSIDE) {
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) bad.push(`${file}:${lineOf(text, i)}: ${needle}`);
  }
  return bad;
}

interface Citation {
  doc: string; // models | tasks | runner | runner-anchors
  sections: string[];
  where: string;
}

const SEC = String.raw`(\d+(?:\.\d+)*)`;
const PREFIX = String.raw`(?:[Ss]ections?\s+|§\s*|init\s+)?`;
const FIRST = new RegExp(String.raw`^(?:\]\([^)\s]*\))?(?:#|\s+)${PREFIX}${SEC}`);
const NEXT = new RegExp(String.raw`^\s*(?:,|and|&|/|-|–|to)\s*${PREFIX}${SEC}`);

/**
 * Citations of the forms the code uses: `docs/models.md 4.1-4.4, init 4.6`, `docs/runner.md
 * section 7`, `docs/tasks.md 0.1 and 5.6`, `docs/models.md#8/v1`, and inside docs/ itself
 * `[runner](runner) section 5` (a sibling link, extension omitted here). A list ends at the first word that is not a section number.
 */
function citations(file: string, text: string, insideDocs: boolean): Citation[] {
  const out: Citation[] = [];
  for (const m of text.matchAll(NAME_RE)) {
    const prefix = /[\w./-]*$/.exec(text.slice(0, m.index))![0];
    const viaDocs = /^(\.\.?\/)*docs\/$/.test(prefix) || (insideDocs && (prefix === '' || prefix === '[' || prefix === './'));
    if (!viaDocs) continue;
    let rest = text.slice(m.index! + m[0].length, m.index! + m[0].length + 200);
    const sections: string[] = [];
    let s = FIRST.exec(rest);
    while (s) {
      sections.push(s[1]!);
      rest = rest.slice(s[0].length);
      s = NEXT.exec(rest);
    }
    if (sections.length) out.push({ doc: m[1]!, sections, where: `${file}:${lineOf(text, m.index!)}` });
  }
  return out;
}

/** Section numbers of a Markdown document: `## 5. Title` -> 5, `### 5.4 Title` -> 5.4. */
function headings(markdown: string): string[] {
  const out: string[] = [];
  for (const line of markdown.split('\n')) {
    const m = /^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

function docHeadings(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const name of DOC_NAMES) {
    const f = path.join(docsDir, name + MD);
    if (fs.existsSync(f)) out.set(name, new Set(headings(fs.readFileSync(f, 'utf8'))));
  }
  return out;
}

function missingSections(cits: Citation[], known: Map<string, Set<string>>): string[] {
  const bad: string[] = [];
  for (const c of cits) {
    const secs = known.get(c.doc);
    if (!secs) {
      bad.push(`${c.where}: docs/${c.doc}${MD} does not exist`);
      continue;
    }
    for (const s of c.sections) if (!secs.has(s)) bad.push(`${c.where}: docs/${c.doc}${MD} has no section ${s}`);
  }
  return bad;
}

/** Relative Markdown links `[text](target)` of a file that do not resolve to an existing file. */
function brokenLinks(file: string, text: string): string[] {
  const bad: string[] = [];
  for (const m of text.matchAll(/\[[^\]\n]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // URL, mailto:, in-page anchor
    const rel = decodeURIComponent(target.split('#')[0]!);
    if (!fs.existsSync(path.resolve(root, path.dirname(file), rel))) bad.push(`${file}:${lineOf(text, m.index!)}: ${target}`);
  }
  return bad;
}

describe('design documents live in docs/', () => {
  it('docs/ has an index and the three design documents, each with unique section numbers', () => {
    expect(fs.existsSync(path.join(docsDir, 'README' + MD))).toBe(true);
    for (const name of ['models', 'tasks', 'runner']) {
      const h = headings(fs.readFileSync(path.join(docsDir, name + MD), 'utf8'));
      expect(h.length, name).toBeGreaterThan(8);
      expect(
        h.filter((x, i) => h.indexOf(x) !== i),
        `${name}: duplicated section numbers`,
      ).toEqual([]);
    }
  });

  it('no file in src/, test/, bin/, native/, configs/, .ci/ or the repository root cites a document outside the repository', () => {
    const bad = [...scannedFiles()].flatMap(([f, t]) => outsideMentions(f, t));
    expect(bad, `cite docs/<doc>${MD} instead:\n${bad.join('\n')}`).toEqual([]);
  });

  it('every cited docs/<doc>.md section exists as a heading of that document', () => {
    const known = docHeadings();
    const cits = [
      ...[...scannedFiles()].flatMap(([f, t]) => citations(f, t, false)),
      ...[...docFiles()].flatMap(([f, t]) => citations(f, t, true)),
    ];
    // The code cites the docs in well over a hundred places; a parser that finds nothing is broken.
    expect(cits.length).toBeGreaterThan(80);
    const bad = missingSections(cits, known);
    expect(bad, bad.join('\n')).toEqual([]);
  });

  it('relative links in docs/ and the README resolve to files that exist', () => {
    const files = [...docFiles(), ['README' + MD, fs.readFileSync(path.join(root, 'README' + MD), 'utf8')] as const];
    const bad = files.flatMap(([f, t]) => brokenLinks(f, t));
    expect(bad, bad.join('\n')).toEqual([]);
  });
});

describe('the checkers themselves', () => {
  const M = 'models' + MD;
  it('parse lists, ranges and prefixes the way the code writes them', () => {
    const secs = (s: string, inside = false) => citations('x', s, inside).map((c) => c.sections);
    expect(secs(`(docs/${M} 4.1-4.4, init 4.6)`)).toEqual([['4.1', '4.4', '4.6']]);
    expect(secs(`(docs/${M} 3.3, 5.4, 5.5 SD-CHUNK)`)).toEqual([['3.3', '5.4', '5.5']]);
    expect(secs(`docs/tasks${MD} 0.1 and 5.6.`)).toEqual([['0.1', '5.6']]);
    expect(secs(`docs/tasks${MD} 5.1–5.4)`)).toEqual([['5.1', '5.4']]);
    expect(secs(`docs/runner${MD} section 7: sbatch`)).toEqual([['7']]);
    expect(secs(`'docs/${M}#8/v1'`)).toEqual([['8']]);
    expect(secs(`docs/${M} 8 worked example: d 256, T 256`)).toEqual([['8']]);
    expect(secs(`docs/runner${MD} 4, the metrics of docs/runner${MD} 5`)).toEqual([['4'], ['5']]);
    expect(secs(`the architecture (docs/${M})`)).toEqual([]);
    expect(secs(`[runner${MD}](runner${MD}) section 5`, true)).toEqual([['5']]);
  });

  it('report bare or outside mentions, missing sections and broken links', () => {
    expect(outsideMentions('f.ts', `see ${M} 4.1`)).toHaveLength(1);
    expect(outsideMentions('f.ts', `see ../spec/${M} 4.1`)).toHaveLength(1);
    expect(outsideMentions('f.ts', `see ${OUTSIDE[0]}/x`)).toHaveLength(1);
    expect(outsideMentions('f.ts', `see docs/${M} 4.1 and ../docs/${M}`)).toEqual([]);
    const known = new Map([['models', new Set(['4', '4.1'])]]);
    expect(missingSections(citations('f.ts', `docs/${M} 4.1, 4.9`, false), known)).toEqual([`f.ts:1: docs/${M} has no section 4.9`]);
    expect(missingSections(citations('f.ts', `docs/tasks${MD} 1`, false), known)).toHaveLength(1);
    expect(brokenLinks('docs/x.md', `[a](${M}) [b](https://example.org) [c](#top) [d](no-such-file.md)`)).toEqual([
      'docs/x.md:1: no-such-file.md',
    ]);
    expect(headings('## 12. Tests\n### 12.1 More\nnot a heading 3.4\n')).toEqual(['12', '12.1']);
  });
});
