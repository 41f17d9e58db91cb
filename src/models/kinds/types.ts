/**
 * The contract of one mixer kind's pure half (schema, resolution, counts; no TensorFlow.js):
 * everything `validate`, `plan`, `seqlab models` and the config reference need. The tensor half
 * (the layer that builds weights) lives in src/models/mixers/<kind>.ts and receives the resolved
 * spec this module produces.
 */
import type { z } from 'zod';

/** Where and how wide a mixer is resolved. */
export interface ResolveContext {
  /** Width of the residual stream the mixer reads and writes. */
  d: number;
  /** The task's context length (auto forms and chunks). */
  seqLen: number;
  /** Human-readable place for error messages, e.g. `layer 3, parallel branch 1`. */
  at: string;
  /** Parallel branches: internal widths are multiplied by this (1 elsewhere). */
  widthScale: number;
}

export type FfnKind = 'gelu' | 'swiglu';

export interface MixerDef<K extends string, S extends z.ZodType<{ kind: K }>, R extends { kind: K }> {
  kind: K;
  /** The kind's config schema (its .describe() is the one-line summary of `seqlab models`); every field has its default (written here and nowhere else). */
  schema: S;
  /** The FFN a layer of this kind gets when its `ffn` is 'auto'. */
  defaultFfn: FfnKind | null;
  /** SSM-style stacks rescale the FFN output projection like W_out (docs/models.md 4.6). */
  ssmInit: boolean;
  /** Fill every 'auto', apply the width scale, check shapes (errors name the config key). */
  resolve(m: z.infer<S>, c: ResolveContext): R;
  /** Exact parameters of the mixer at width d (its input norm not included), docs/models.md 7. */
  params(m: R, d: number): number;
  /** Forward FLOPs per token at width d and context T, docs/models.md 8. */
  flops(m: R, d: number, T: number): number;
  /** Decode-state floats per sequence after t tokens, docs/models.md 9. */
  stateFloats(m: R, t: number): number;
  /** One line, e.g. `attn(H4 dh64 rope=false)`. */
  describe(m: R): string;
}

type Counts = 'params' | 'flops' | 'stateFloats' | 'describe';

/**
 * `defineMixer({ kind, schema, resolve, ... }).counts({ params, flops, stateFloats, describe })`:
 * two steps so that the resolved type is inferred from `resolve` and then types the counts.
 */
export function defineMixer<K extends string, S extends z.ZodType<{ kind: K }>, R extends { kind: K }>(
  base: Omit<MixerDef<K, S, R>, Counts>,
) {
  return { counts: (c: Pick<MixerDef<K, S, R>, Counts>): MixerDef<K, S, R> => ({ ...base, ...c }) };
}
