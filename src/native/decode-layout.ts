/**
 * The fused decode step's argument layout (docs/models.md 0.3): native/decode-layout.json, the one
 * table that native/decode.c's enums are generated from (native/decode-layout.js) and that the
 * descriptors of src/models/fused-step.ts and the mixers' `fusedStep` are packed by, name by name.
 * The addon reports the layout it was compiled with (`decodeLayout()`); `decodeLayoutNames()` is
 * the same list from the table, so a diverging table or a stale addon is caught (fused-step.ts then
 * takes the tensor path; test/native-decode-layout.test.ts fails).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The mixers the fused step covers (decode.c's mixer codes). */
export type DecodeMixer = 'retention' | 'mamba' | 'attention';
type Part = 'block' | DecodeMixer;

interface DecodeLayoutTable {
  ints: Record<Part, string[]>;
  floats: Record<Part, string[]>;
  slots: { block: string[] } & Record<DecodeMixer, { weights: string[]; state: string[] }>;
  codes: Record<string, Record<string, number>>;
}

export const DECODE_LAYOUT_PATH = fileURLToPath(new URL('../../native/decode-layout.json', import.meta.url));
export const DECODE_LAYOUT: DecodeLayoutTable = JSON.parse(readFileSync(DECODE_LAYOUT_PATH, 'utf8'));

/** A part's slot names: the block's list, or a mixer's weights, state and the state's successors (`<state>Out`). */
export function slotNames(part: Part, t: DecodeLayoutTable = DECODE_LAYOUT): string[] {
  if (part === 'block') return t.slots.block;
  const { weights, state } = t.slots[part];
  return [...weights, ...state, ...state.map((s) => `${s}Out`)];
}

/** Every name of the table in the order native/decode.c's decodeLayout() lists what it was compiled with. */
export function decodeLayoutNames(t: DecodeLayoutTable = DECODE_LAYOUT): string[] {
  const parts = (kind: 'ints' | 'floats') => Object.entries(t[kind]).flatMap(([part, names]) => names.map((n) => `${kind}.${part}.${n}`));
  const slots = Object.keys(t.slots).flatMap((part) => slotNames(part as Part, t).map((n) => `slots.${part}.${n}`));
  const codes = Object.entries(t.codes).flatMap(([group, c]) => Object.entries(c).map(([n, v]) => `codes.${group}.${n}=${v}`));
  return [...parts('ints'), ...parts('floats'), ...slots, ...codes];
}

/** The code of an enumerated int (decode.c's MIX_*, NORM_*, FFN_*, DECAY_*, WRITE_*). */
export function decodeCode(group: string, name: string): number {
  const v = DECODE_LAYOUT.codes[group]?.[name];
  if (v === undefined) throw new Error(`decode layout: no code ${group}.${name} in native/decode-layout.json`);
  return v;
}

/** `values` in the order of `names`; every name must be given (undefined allowed) and no other. */
function inOrder<T>(what: string, names: string[], values: Record<string, T>): T[] {
  const extra = Object.keys(values).filter((k) => !names.includes(k));
  const missing = names.filter((n) => !(n in values));
  if (extra.length || missing.length)
    throw new Error(
      `decode layout: ${what} ${missing.length ? `lacks ${missing.join(', ')}` : ''}${missing.length && extra.length ? ' and ' : ''}${extra.length ? `has unknown ${extra.join(', ')}` : ''} (native/decode-layout.json)`,
    );
  return names.map((n) => values[n]!);
}

/** A part's ints by name (booleans as 0 / 1), in the table's order. */
export function packInts(part: Part, values: Record<string, number | boolean>): number[] {
  return inOrder(`ints.${part}`, DECODE_LAYOUT.ints[part], values).map(Number);
}

/** A part's floats by name (a name ending in [] is a run: without the brackets, an array), in the table's order. */
export function packFloats(part: Part, values: Record<string, number | ArrayLike<number>>): number[] {
  const names = DECODE_LAYOUT.floats[part].map((n) => n.replace(/\[\]$/, ''));
  return inOrder(`floats.${part}`, names, values).flatMap((v) => (typeof v === 'number' ? [v] : Array.from(v)));
}

/** The block's slots by name (undefined: an absent slot), in the table's order. */
export function packBlockSlots<T>(values: Record<string, T | undefined>): (T | undefined)[] {
  return inOrder('slots.block', DECODE_LAYOUT.slots.block, values);
}

/** The index of one of the block's slots. */
export function blockSlot(name: string): number {
  const i = DECODE_LAYOUT.slots.block.indexOf(name);
  if (i < 0) throw new Error(`decode layout: no block slot ${name} in native/decode-layout.json`);
  return i;
}

/** A mixer's weight or state slots by name (undefined: absent), in the table's order. */
export function packMixerSlots<T>(
  mixer: DecodeMixer,
  group: 'weights' | 'state',
  values: Record<string, T | undefined>,
): (T | undefined)[] {
  return inOrder(`slots.${mixer}.${group}`, DECODE_LAYOUT.slots[mixer][group], values);
}

/** A mixer's state names in slot order (its `MixerState` keys). */
export function stateNames(mixer: DecodeMixer): string[] {
  return DECODE_LAYOUT.slots[mixer].state;
}
