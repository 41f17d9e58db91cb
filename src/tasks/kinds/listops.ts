// LRA ListOps (long-range-arena `data/listops.py`, input pipeline; docs/tasks.md 4).
import type { Rng } from './prng.ts';
import { UserError } from '../errors.ts';

export const LISTOPS_OPS = ['[MIN', '[MAX', '[MED', '[SM'] as const;
export const LISTOPS_PAD = 0;
export const LISTOPS_CLOSE = 15;
export const LISTOPS_EOS = 16;
export const LISTOPS_VOCAB = 17;
/** 0 PAD, 1..10 digits '0'..'9', 11 [MIN, 12 [MAX, 13 [MED, 14 [SM, 15 X, 16 EOS. */
export const LISTOPS_SYMBOLS = ['<pad>', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ...LISTOPS_OPS, 'X', '<eos>'];
export const digitId = (d: number): number => d + 1;

function apply(op: number, args: number[]): number {
  switch (op) {
    case 0:
      return Math.min(...args);
    case 1:
      return Math.max(...args);
    case 2: {
      const s = [...args].sort((x, y) => x - y);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : Math.floor((s[m - 1] + s[m]) / 2);
    }
    default:
      return args.reduce((x, y) => x + y, 0) % 10;
  }
}

/** Value of a tree in the LRA token form, e.g. `[MAX 2 9 [MIN 4 7 X 0 X` -> 9. */
export function evaluateListOps(text: string): number {
  const toks = text.trim().split(/\s+/);
  let i = 0;
  const node = (): number => {
    const t = toks[i++];
    if (t === undefined) throw new Error('ListOps: unexpected end of expression');
    if (/^\d$/.test(t)) return Number(t);
    const op = LISTOPS_OPS.indexOf(t as (typeof LISTOPS_OPS)[number]);
    if (op < 0) throw new Error(`ListOps: unknown token ${t}`);
    const args: number[] = [];
    while (toks[i] !== 'X') {
      if (i >= toks.length) throw new Error('ListOps: missing X');
      args.push(node());
    }
    i++;
    return apply(op, args);
  };
  const v = node();
  if (i !== toks.length) throw new Error('ListOps: trailing tokens');
  return v;
}

interface Tree {
  ids: number[];
  value: number;
}

/** 4.1: a leaf with probability 0.75 (always at maxDepth), else an operator over 2..maxArgs children. */
function node(rng: Rng, depth: number, maxDepth: number, maxArgs: number): Tree {
  const r = depth < maxDepth ? rng.uniform() : 1;
  if (r > 0.25) {
    const d = rng.randInt(10);
    return { ids: [digitId(d)], value: d };
  }
  const k = 2 + rng.randInt(maxArgs - 1);
  const children = Array.from({ length: k }, () => node(rng, depth + 1, maxDepth, maxArgs));
  const op = rng.randInt(4);
  return {
    ids: [11 + op, ...children.flatMap((c) => c.ids), LISTOPS_CLOSE],
    value: apply(op, children.map((c) => c.value)),
  };
}

export interface ListopsParams {
  maxDepth: number;
  maxArgs: number;
  minLen: number;
  maxLen: number;
}

/**
 * One de-duplicated pool in generation order (0.2: split by cutting it, so the splits are disjoint).
 * Each example's ids end with EOS; `minLen < length < maxLen` counts tokens without EOS.
 */
export function listopsPool(rng: Rng, p: ListopsParams, n: number): Tree[] {
  const seen = new Set<string>();
  const out: Tree[] = [];
  const maxTries = 2000 * n + 100_000;
  for (let tries = 0; out.length < n; tries++) {
    if (tries > maxTries) {
      throw new UserError(
        `task.max_len: only ${out.length} distinct ListOps trees of length in (${p.minLen}, ${p.maxLen}) found after ${tries} draws; need ${n} (widen the length range or lower the example counts)`,
      );
    }
    const t = node(rng, 1, p.maxDepth, p.maxArgs);
    if (t.ids.length <= p.minLen || t.ids.length >= p.maxLen) continue;
    const key = t.ids.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ids: [...t.ids, LISTOPS_EOS], value: t.value });
  }
  return out;
}

export function listopsText(ids: ArrayLike<number>): string {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === LISTOPS_PAD || ids[i] === LISTOPS_EOS) continue;
    out.push(LISTOPS_SYMBOLS[ids[i]]);
  }
  return out.join(' ');
}
