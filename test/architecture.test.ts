/**
 * The import graph of src/ (docs/architecture.md 1): every folder sits in one layer, a file imports
 * only from its own layer or below, and no chain of imports comes back to where it started (value
 * or type-level). The addon is reached through src/native/ only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../src');

/** Lowest first; a folder (or top-level file) may import its own layer and the layers before it. */
const LAYERS: string[][] = [
  ['util', 'errors.ts'],
  ['stats'],
  ['metrics'],
  ['backend'],
  ['native'],
  ['tasks'],
  ['ops'],
  ['models'],
  ['measure'],
  ['config'],
  ['train'],
  ['runner'],
  ['report', 'claims', 'export', 'bench'],
  ['commands'],
  ['cli.ts'],
];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

/** Relative imports of a file (import / export ... from, dynamic import of a literal), resolved. */
function importsOf(file: string): string[] {
  const src = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)|new URL\('(\.[^']+\.ts)'/g,
  )) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    out.push(path.resolve(path.dirname(file), spec));
  }
  return out;
}

const top = (file: string) => path.relative(SRC, file).split(path.sep)[0]!;
const layerOf = (file: string) => LAYERS.findIndex((l) => l.includes(top(file)));
const rel = (f: string) => path.relative(SRC, f);

const all = files(SRC);
const graph = new Map(all.map((f) => [f, importsOf(f).filter((t) => t.startsWith(SRC))]));

describe('architecture: the import graph of src/', () => {
  it('every folder of src/ has a layer', () => {
    const unplaced = [...new Set(all.map(top))].filter((t) => !LAYERS.some((l) => l.includes(t)));
    expect(unplaced).toEqual([]);
  });

  it('no file imports from a higher layer', () => {
    const up: string[] = [];
    for (const [f, targets] of graph) for (const t of targets) if (layerOf(t) > layerOf(f)) up.push(`${rel(f)} -> ${rel(t)}`);
    expect(up).toEqual([]);
  });

  it('no import cycle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map(rel).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...stack, f]);
      state.set(f, 'done');
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
