// Choosing which runs of a plan a command works on: --only ID... (ids or unique id prefixes),
// --shard i/n (1-based; round-robin over the plan order so shards get similar mixes).
import { UserError } from '../errors.ts';

export function parseShard(s: string | undefined): { i: number; n: number } | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || i < 1 || i > n) throw new UserError(`--shard expects i/n with 1 <= i <= n (e.g. 2/4), got "${s}"`);
  return { i, n };
}

export function selectRuns<T extends { id: string }>(runs: T[], opts: { only?: string[]; shard?: string }): T[] {
  let out = runs;
  if (opts.only?.length) {
    const want = new Set<T>();
    for (const raw of opts.only
      .flatMap((x) => x.split(','))
      .map((x) => x.trim())
      .filter(Boolean)) {
      const hits = runs.filter((r) => r.id.startsWith(raw));
      if (hits.length === 0) throw new UserError(`--only: no run id starts with "${raw}" in this plan`);
      if (hits.length > 1 && !hits.some((h) => h.id === raw))
        throw new UserError(`--only: "${raw}" is ambiguous (${hits.map((h) => h.id).join(', ')})`);
      want.add(hits.find((h) => h.id === raw) ?? hits[0]!);
    }
    out = out.filter((r) => want.has(r));
  }
  const shard = parseShard(opts.shard);
  if (shard) out = out.filter((_r, k) => k % shard.n === shard.i - 1);
  return out;
}
