/**
 * The mixer kinds: one line per module. Everything that is per kind (the layer schema, the
 * `model.mixer` overrides, resolution, parameter and FLOP counts, decode state, `seqlab models`,
 * the config reference) is driven by this table. Pure: no TensorFlow.js.
 */
import { z } from 'zod';
import { attn } from './attn.ts';
import { deltanet } from './deltanet.ts';
import { mamba } from './mamba.ts';
import { mamba2 } from './mamba2.ts';
import { retnet } from './retnet.ts';
import { selret } from './selret.ts';
import { swa } from './swa.ts';
import type { FfnKind, ResolveContext } from './types.ts';

export const MIXERS = [attn, swa, retnet, selret, mamba, mamba2, deltanet] as const;

type Defs = (typeof MIXERS)[number];
export type MixerKind = Defs['kind'];
/** A mixer as written in a config (defaults filled; may still hold 'auto'). */
export type MixerConfig = z.infer<Defs['schema']>;
/** A resolved mixer: every field concrete; what the tensor half builds from. */
export type MixerSpec = ReturnType<Defs['resolve']>;
export type MixerSpecOf<K extends MixerKind> = Extract<MixerSpec, { kind: K }>;

export const MIXER_KINDS = MIXERS.map((m) => m.kind) as unknown as readonly MixerKind[];

/** Each kind's schema, in table order (for the discriminated unions of layer.ts). */
type SchemasOf<T> = { -readonly [I in keyof T]: T[I] extends { schema: infer S } ? S : never };
export const mixerSchemaList = MIXERS.map((m) => m.schema) as unknown as SchemasOf<typeof MIXERS>;
export const mixerSchemas = Object.fromEntries(MIXERS.map((m) => [m.kind, m.schema])) as {
  [K in MixerKind]: Extract<Defs, { kind: K }>['schema'];
};

/** One kind's definition with its spec type erased (the single place the union is narrowed). */
interface ErasedDef {
  kind: MixerKind;
  schema: z.ZodType;
  defaultFfn: FfnKind | null;
  ssmInit: boolean;
  resolve(m: MixerConfig, c: ResolveContext): MixerSpec;
  params(m: MixerSpec, d: number): number;
  flops(m: MixerSpec, d: number, T: number): number;
  stateFloats(m: MixerSpec, t: number): number;
  describe(m: MixerSpec): string;
}
const BY_KIND = new Map<string, ErasedDef>(MIXERS.map((m) => [m.kind, m as unknown as ErasedDef]));

export function mixerDef(kind: MixerKind): ErasedDef {
  const def = BY_KIND.get(kind);
  if (!def) throw new Error(`unknown mixer kind ${String(kind)}`);
  return def;
}

export const isMixerKind = (k: string): k is MixerKind => BY_KIND.has(k);

/**
 * Why a stored resolved mixer (checkpoint metadata, config.json) cannot be built, or undefined:
 * an unknown kind, or a field of its kind missing (e.g. written before the snake_case keys).
 */
export function storedMixerProblem(m: Record<string, unknown>): string | undefined {
  const kind = String(m.kind);
  if (!isMixerKind(kind)) return `unknown mixer kind '${kind}'`;
  const shape = (mixerDef(kind).schema as unknown as { shape: Record<string, unknown> }).shape;
  const missing = Object.keys(shape).filter((f) => !(f in m));
  return missing.length ? `${kind} mixer lacks ${missing.join(', ')} (written by an older seqlab?)` : undefined;
}

/** Resolve one mixer at width d (see ResolveContext). */
export function resolveMixer(m: MixerConfig, d: number, seqLen: number, at: string, widthScale = 1): MixerSpec {
  return mixerDef(m.kind).resolve(m, { d, seqLen, at, widthScale });
}

export const mixerParams = (m: MixerSpec, d: number): number => mixerDef(m.kind).params(m, d);
export const mixerFlops = (m: MixerSpec, d: number, T: number): number => mixerDef(m.kind).flops(m, d, T);
export const mixerStateFloats = (m: MixerSpec, t: number): number => mixerDef(m.kind).stateFloats(m, t);
export const describeMixer = (m: MixerSpec): string => mixerDef(m.kind).describe(m);

// ------------------------------------------------------------------------------------------------
// `model.mixer`: flat overrides of every field of every kind (a field shared by several kinds has
// one type; a test checks that the kinds agree).

type AnyDef = { type: string; innerType?: z.ZodType };
/** The field's schema without its default (overrides have none: unset = the kind's default). */
function withoutDefault(s: z.ZodType): z.ZodType {
  const def = s.def as unknown as AnyDef;
  return def.type === 'default' ? withoutDefault(def.innerType!) : s;
}

/** field -> kinds that have it, in table order. */
export const FIELD_KINDS: ReadonlyMap<string, MixerKind[]> = (() => {
  const out = new Map<string, MixerKind[]>();
  for (const m of MIXERS) for (const f of Object.keys(m.schema.shape)) if (f !== 'kind') out.set(f, [...(out.get(f) ?? []), m.kind]);
  return out;
})();

function fieldSchema(kind: MixerKind, f: string): z.ZodType {
  return (mixerDef(kind).schema as unknown as { shape: Record<string, z.ZodType> }).shape[f]!;
}

/** A field's meaning, looking through .default() / .optional() wrappers. */
export function fieldDescription(s: z.ZodType): string {
  let cur: z.ZodType | undefined = s;
  while (cur) {
    if (cur.description) return cur.description;
    cur = (cur.def as unknown as AnyDef).innerType;
  }
  return '';
}

/** `meaning (kinds)`, or `kinds: meaning; kinds: meaning` where the kinds describe a field differently. */
function overrideDescription(f: string, kinds: MixerKind[]): string {
  const byMeaning = new Map<string, MixerKind[]>();
  for (const k of kinds) {
    const m = fieldDescription(fieldSchema(k, f));
    byMeaning.set(m, [...(byMeaning.get(m) ?? []), k]);
  }
  if (byMeaning.size === 1) return `${[...byMeaning.keys()][0]} (${kinds.join(', ')})`;
  return [...byMeaning].map(([m, ks]) => `${ks.join(', ')}: ${m}`).join('; ');
}

export const mixerOverridesSchema = z
  .strictObject(
    Object.fromEntries(
      [...FIELD_KINDS].map(([f, kinds]) => [
        f,
        withoutDefault(fieldSchema(kinds[0]!, f)).optional().describe(overrideDescription(f, kinds)),
      ]),
    ) as Record<string, z.ZodOptional<z.ZodType>>,
  )
  .describe('field overrides applied to every mixer of the model that has the field (e.g. decay: gla, chunk: 32)');
export type MixerOverrides = Record<string, unknown>;

/** The per-kind schema of field `f` (tests compare the kinds that share a field). */
export const mixerFieldSchema = fieldSchema;
