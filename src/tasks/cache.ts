// datasets/cache/: fixed evaluation sets and BPE merges, keyed by a hash of what generated them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '../util/hash.ts';
import { writeFileAtomic } from '../util/fs.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** opts.cacheDir, else $SEQLAB_CACHE_DIR, else <repo>/datasets/cache. */
export function resolveCacheDir(cacheDir?: string): string {
  return path.resolve(cacheDir ?? process.env.SEQLAB_CACHE_DIR ?? path.join(repoRoot, 'datasets', 'cache'));
}

export function cacheKey(value: unknown): string {
  return sha256Hex(JSON.stringify(value)).slice(0, 16);
}

/** A named set of Int32 arrays in one binary file: JSON header line, then the raw little-endian data. */
export function writeArrays(file: string, meta: unknown, arrays: Record<string, Int32Array>): void {
  const names = Object.keys(arrays);
  const header = Buffer.from(JSON.stringify({ meta, arrays: names.map((n) => [n, arrays[n].length]) }) + '\n');
  const body = names.map((n) => Buffer.from(arrays[n].buffer, arrays[n].byteOffset, arrays[n].byteLength));
  writeFileAtomic(file, Buffer.concat([header, ...body]));
}

export function readArrays(file: string): Record<string, Int32Array> | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    const nl = buf.indexOf(0x0a);
    const head = JSON.parse(buf.subarray(0, nl).toString('utf8')) as { arrays: [string, number][] };
    const out: Record<string, Int32Array> = {};
    let off = nl + 1;
    for (const [name, len] of head.arrays) {
      const bytes = buf.subarray(off, off + len * 4);
      if (bytes.length !== len * 4) return undefined;
      out[name] = new Int32Array(Uint8Array.from(bytes).buffer);
      off += len * 4;
    }
    return off === buf.length ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Read a cached array set, or build and store it. A failed write (read-only tree) is not fatal. */
export function cachedArrays(
  cacheDir: string,
  name: string,
  meta: unknown,
  build: () => Record<string, Int32Array>,
): Record<string, Int32Array> {
  const file = path.join(cacheDir, `${name}-${cacheKey(meta)}.bin`);
  const hit = readArrays(file);
  if (hit) return hit;
  const arrays = build();
  try {
    writeArrays(file, meta, arrays);
  } catch {
    /* cache is an optimisation only */
  }
  return arrays;
}
