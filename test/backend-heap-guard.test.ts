/**
 * guardWasmHeap: a tensor that cannot fit in the wasm heap throws one HeapExhausted line naming
 * its shape and size and what to change, instead of a wrapped / failed malloc corrupting the heap;
 * the backend keeps working afterwards.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainError } from '../src/errors.ts';
import { guardWasmHeap, HeapExhaustedError } from '../src/backend/heap-guard.ts';

beforeAll(async () => {
  await tf.setBackend('wasm');
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('wasm heap guard', () => {
  it('an 8 GiB tensor fails with one line naming it and the remedies; later ops still work', () => {
    expect(guardWasmHeap()).toBe(true);
    expect(guardWasmHeap()).toBe(true); // idempotent
    const before = tf.memory().numTensors;
    let err: unknown;
    try {
      tf.zeros([2, 1024, 1024, 1024]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeapExhaustedError);
    const line = explainError(err);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/^HeapExhausted: a float32 \[2, 1024, 1024, 1024\] tensor \(8\.00 GiB\) does not fit in the wasm heap/);
    expect(line).toMatch(/train\.batch_size or task\.seq_len, or set train\.checkpoint_activations: true$/);
    expect(tf.memory().numTensors).toBe(before);
    const s = tf.tidy(() => tf.ones([64, 64]).sum().dataSync()[0]);
    expect(s).toBe(4096);
  });
});
