import { describe, expect, it } from 'vitest';
import { explainError } from '../src/errors.ts';

describe('explainError', () => {
  it('names an aborted wasm heap instead of the TypeError tfjs throws after it', () => {
    const e = new TypeError("Cannot read properties of undefined (reading 'map')");
    e.stack = `TypeError: ${e.message}\n    at Engine.runKernelFunc (engine.ts:738:31)\n    at sum_ (sum.js:59:19)`;
    expect(explainError(e)).toMatch(/out of memory \(the wasm heap is limited to 4 GB\)/);
  });

  it('keeps other errors as name: message on one line', () => {
    expect(explainError(new RangeError('bad size'))).toBe('RangeError: bad size');
    expect(explainError(new Error('plain'))).toBe('plain');
    const t = new TypeError("Cannot read properties of undefined (reading 'map')");
    t.stack = 'TypeError: x\n    at myCode (a.ts:1:1)';
    expect(explainError(t)).toBe("TypeError: Cannot read properties of undefined (reading 'map')");
  });
});
