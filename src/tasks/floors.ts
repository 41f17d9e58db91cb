// Reference floors for a corpus' test split (docs/tasks.md 5.6): unigram and bigram models counted on the
// training stream, and gzip -9 on the test text alone.
import { gzipSync } from 'node:zlib';
import type { Stream } from './kinds/lm.ts';

export interface Floors {
  unigram_bpb: number;
  bigram_bpb: number;
  gzip_bpb: number;
  smoothing: string;
}

/** Add-α unigram and a bigram interpolated toward it (Dirichlet prior of weight β); token-level, bpb over scored bytes. */
export function ngramFloors(train: Stream, test: Stream, V: number, alpha = 0.5, beta = 1): { unigram: number; bigram: number } {
  const uni = new Float64Array(V);
  for (let i = 1; i < train.ids.length; i++) uni[train.ids[i]]++;
  const n = train.ids.length - 1;
  const pUni = (x: number): number => (uni[x] + alpha) / (n + alpha * V);
  const ctx = new Float64Array(V);
  const big = new Map<number, number>();
  for (let i = 1; i < train.ids.length; i++) {
    const a = train.ids[i - 1];
    const k = a * V + train.ids[i];
    ctx[a]++;
    big.set(k, (big.get(k) ?? 0) + 1);
  }
  let uNats = 0;
  let bNats = 0;
  let bytes = 0;
  // The first EOS is context only; every following token is scored.
  for (let i = 1; i < test.ids.length; i++) {
    const a = test.ids[i - 1];
    const x = test.ids[i];
    const pu = pUni(x);
    uNats -= Math.log(pu);
    bNats -= Math.log(((big.get(a * V + x) ?? 0) + beta * V * pu) / (ctx[a] + beta * V));
    bytes += test.bytes ? test.bytes[i] : 1;
  }
  const toBits = (nats: number): number => nats / (bytes * Math.LN2);
  return { unigram: toBits(uNats), bigram: toBits(bNats) };
}

/** gzip -9 bits per byte of the test documents joined by newlines. */
export function gzipBpb(texts: string[]): number {
  const buf = Buffer.from(texts.join('\n'), 'utf8');
  return (gzipSync(buf, { level: 9 }).length * 8) / buf.length;
}
