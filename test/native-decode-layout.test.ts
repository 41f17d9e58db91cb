/**
 * The fused decode step's layout (native/decode-layout.json): the addon reports the layout it was
 * compiled with, and it must be the table the TypeScript side packs by (a stale addon or a table
 * edited without a rebuild fails here); packing by name refuses a missing or unknown field.
 */
import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../src/native/addon.ts';
import {
  blockSlot,
  DECODE_LAYOUT,
  decodeCode,
  decodeLayoutNames,
  packFloats,
  packInts,
  packMixerSlots,
} from '../src/native/decode-layout.ts';

const addon = loadNativeAddon().addon as unknown as Record<string, unknown> | undefined;

describe('decode layout', () => {
  it.skipIf(!addon)('the addon was compiled with the table the TypeScript side packs by', () => {
    expect(typeof addon!.decodeLayout, 'the addon has no decodeLayout(): rebuild it (node native/build.js)').toBe('function');
    expect((addon!.decodeLayout as () => string[])()).toEqual(decodeLayoutNames());
  });

  it('lists every field, slot and code of the table once, in table order', () => {
    const names = decodeLayoutNames();
    expect(new Set(names).size).toBe(names.length);
    expect(names.slice(0, 3)).toEqual(['ints.block.B', 'ints.block.d', 'ints.block.mixer']);
    expect(names).toContain('slots.retention.SOut');
    expect(names).toContain('codes.write.complement=3');
    expect(names.filter((n) => n.startsWith('slots.mamba.'))).toHaveLength(
      DECODE_LAYOUT.slots.mamba.weights.length + 2 * DECODE_LAYOUT.slots.mamba.state.length,
    );
  });

  it('packs by name in table order, and refuses a missing or unknown name', () => {
    expect(packInts('mamba', { innerNorms: true, R: 4, K: 3, N: 2, din: 1 })).toEqual([1, 2, 3, 4, 1]);
    expect(packFloats('retention', { ropeTheta: [5, 6], logGammas: [3, 4], aMin: 2, headEps: 1 })).toEqual([1, 2, 3, 4, 5, 6]);
    const w = Object.fromEntries(DECODE_LAYOUT.slots.attention.weights.map((n, i) => [n, i]));
    expect(packMixerSlots('attention', 'weights', w)).toEqual(DECODE_LAYOUT.slots.attention.weights.map((_, i) => i));
    expect(() => packInts('mamba', { din: 1, N: 2, K: 3, R: 4 })).toThrow(/lacks innerNorms/);
    expect(() => packInts('attention', { H: 1, dh: 2, rope: 0, n: 0, nOut: 1, window: 3 })).toThrow(/unknown window/);
    expect(() => packMixerSlots('retention', 'state', { S: 1 })).toThrow(/lacks z/);
    expect(() => decodeCode('write', 'gate')).toThrow(/write\.gate/);
    expect(blockSlot('hOut')).toBe(DECODE_LAYOUT.slots.block.length - 1);
  });
});
