/**
 * Data describing every mixer kind (fields, defaults, meaning), layer combinator, pattern type and
 * preset (its expansion), for `seqlab models` and the docs. Derived from the mixer registry and
 * the zod schemas so that it cannot drift from what the config accepts.
 */
import type { z } from 'zod';
import { flopsPerToken } from './flops.ts';
import { fieldDescription, MIXERS } from './kinds/registry.ts';
import { parallelSchema, patternSchema, routedSchema } from './layer.ts';
import { countParams } from './params.ts';
import { summarizeLayers } from './patterns.ts';
import { PRESET_DESCRIPTIONS, PRESETS, type PresetName } from './presets.ts';
import { resolveModelInput } from './spec.ts';

export interface FieldInfo {
  name: string;
  /** The default as it appears in YAML ('auto' rules are spelled out in `meaning`). */
  default: unknown;
  meaning: string;
}
export interface KindInfo {
  kind: string;
  summary: string;
  /** The FFN of a layer of this kind when its ffn is 'auto' (combinators: the first branch's). */
  defaultFfn?: string;
  fields: FieldInfo[];
}
export interface PatternInfo {
  type: string;
  fields: string[];
  meaning: string;
}
export interface PresetInfo {
  name: PresetName;
  expansion: string;
  /** Layer list at the example size (see CatalogExample). */
  layers: string[];
  params: number;
  paramsNonEmbedding: number;
  flopsPerToken: number;
}
export interface CatalogExample {
  d_model: number;
  n_layers: number;
  vocab_size: number;
  seq_len: number;
}
export interface Catalog {
  mixers: KindInfo[];
  combinators: KindInfo[];
  patterns: PatternInfo[];
  presets: PresetInfo[];
  example: CatalogExample;
}

type Shape = Record<string, z.ZodType>;
const shapeOf = (s: z.ZodType): Shape => (s as unknown as { shape: Shape }).shape;

function kindInfo(schema: z.ZodType): KindInfo {
  const shape = shapeOf(schema);
  const kind = (shape.kind as unknown as { value: string }).value;
  const defaults = schema.parse(
    kind === 'parallel' || kind === 'routed' ? { kind, branches: [{ kind: 'attn' }, { kind: 'mamba' }] } : { kind },
  ) as Record<string, unknown>;
  const fields = Object.entries(shape)
    .filter(([name]) => name !== 'kind')
    .map(([name, s]) => ({ name, default: name === 'branches' ? '(required)' : defaults[name], meaning: fieldDescription(s) }));
  return { kind, summary: schema.description ?? '', fields };
}

const PATTERN_MEANING: Record<string, string> = {
  uniform: 'every layer identical (the pure baselines)',
  alternating: 'layer i uses cycle[i mod cycle.length]',
  hierarchical: 'the first round(low_fraction * n_layers) layers use `low`, the rest `high`',
  interleave: 'layer i uses `minority` iff (i mod period) is in offsets, else `base` (Jamba: period 8, offsets [4])',
  sharedAttn: 'after every `every` base layers, one application of a single shared block at width 2d (Zamba)',
  explicit: 'a literal list of layers',
};

export function patternCatalog(): PatternInfo[] {
  const options = (patternSchema as unknown as { options: z.ZodType[] }).options;
  return options.map((o) => {
    const shape = shapeOf(o);
    const type = (shape.type as unknown as { value: string }).value;
    return { type, fields: Object.keys(shape).filter((k) => k !== 'type'), meaning: PATTERN_MEANING[type] ?? '' };
  });
}

export const DEFAULT_EXAMPLE: CatalogExample = { d_model: 256, n_layers: 6, vocab_size: 256, seq_len: 256 };

export function presetInfo(name: PresetName, ex: CatalogExample = DEFAULT_EXAMPLE): PresetInfo {
  const m = resolveModelInput(
    { preset: name, d_model: ex.d_model, n_layers: ex.n_layers },
    { vocabSize: ex.vocab_size, seqLen: ex.seq_len },
  );
  const { params, paramsNonEmbedding } = countParams(m);
  return {
    name,
    expansion: PRESET_DESCRIPTIONS[name],
    layers: summarizeLayers(m),
    params,
    paramsNonEmbedding,
    flopsPerToken: flopsPerToken(m, ex.seq_len),
  };
}

export function modelCatalog(ex: CatalogExample = DEFAULT_EXAMPLE): Catalog {
  return {
    mixers: MIXERS.map((m) => ({ ...kindInfo(m.schema), defaultFfn: m.defaultFfn ?? 'none' })),
    combinators: [kindInfo(parallelSchema), kindInfo(routedSchema)],
    patterns: patternCatalog(),
    presets: PRESETS.map((p) => presetInfo(p, ex)),
    example: ex,
  };
}
