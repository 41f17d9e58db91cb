import { describe, expect, it } from 'vitest';
import { pickToken } from '../src/train/sample.ts';

describe('generate: token sampling', () => {
  const logits = Float32Array.from([0.1, 2.0, -1.0, 1.5, 0.0]);

  it('temperature 0 and top-k 1 are greedy whatever the uniform draw', () => {
    for (const u of [0, 0.3, 0.999]) {
      expect(pickToken(logits, { temperature: 0 }, u)).toBe(1);
      expect(pickToken(logits, { temperature: 1, topK: 1 }, u)).toBe(1);
    }
  });

  it('samples by inverse CDF of softmax(logits / T); top-k removes the tail', () => {
    const p = Array.from(logits, (l) => Math.exp(l));
    const z = p.reduce((a, b) => a + b, 0);
    const cdf = p.map((_, i) => p.slice(0, i + 1).reduce((a, b) => a + b, 0) / z);
    // A draw just below / above each CDF step picks that token / the next one.
    for (let i = 0; i < 4; i++) {
      expect(pickToken(logits, { temperature: 1 }, cdf[i] - 1e-4)).toBe(i);
      expect(pickToken(logits, { temperature: 1 }, cdf[i] + 1e-4)).toBe(i + 1);
    }
    // top-2 keeps ids 1 and 3 only, in descending order: P(1) = e^2 / (e^2 + e^1.5).
    const p1 = Math.exp(2) / (Math.exp(2) + Math.exp(1.5));
    expect(pickToken(logits, { temperature: 1, topK: 2 }, p1 - 1e-4)).toBe(1);
    expect(pickToken(logits, { temperature: 1, topK: 2 }, p1 + 1e-4)).toBe(3);
    expect(pickToken(logits, { temperature: 1, topK: 2 }, 0.99999)).toBe(3);
  });
});
