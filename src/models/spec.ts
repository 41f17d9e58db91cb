/**
 * The model spec: the config schema of `model:` (zod), the explicit layer list it resolves to,
 * and the pure functions of that list (parameter counts, FLOPs, decode state). No TensorFlow here.
 *
 * Contract for the model-layers code (src/models/model.ts, src/models/mixers/*):
 *
 *   interface ResolvedModel {
 *     preset: string; d_model: number; n_layers: number;   // n_layers = number of BASE layers
 *     vocab_size: number; seq_len: number;
 *     norm: 'rms' | 'layer'; norm_eps: number;              // shell norms (Norm_l1, Norm_l2, Norm_f)
 *     tie_embeddings: boolean; abs_pos: 'none' | 'learned';
 *     layers: LayerSpec[];       // explicit, in order from the embedding; every field resolved
 *     shared?: LayerSpec;        // zamba: ONE block at width 2*d_model, applied where markers sit
 *   }
 *   interface LayerSpec { mixer: MixerSpec | ParallelSpec | RoutedSpec | SharedMarker; ffn: FfnSpec }
 *   type FfnSpec = { kind: 'gelu' | 'swiglu'; hidden: number; bias: boolean } | null
 *
 * - Every MixerSpec field is concrete (no 'auto'): attn/swa `dh` (per-head width), retnet/selret
 *   `dqk`, `dvt`, `form` ('parallel' | 'chunk' | 'recurrent'), selret `write`, mamba `dtRank`,
 *   `scanChunk`, and mamba/mamba2 `dInner` (= expand * d, the inner width; use it, not expand).
 *   Head widths: attn dh; retnet dk = dqk / heads, dv = dvt / heads; mamba2 Hm = dInner / headDim.
 * - Parallel branches are ALREADY width-scaled (widthScale is informational; do not scale again).
 *   Each branch maps d -> d with its own output projection; merge per models.md 6.3.
 *   Routed branches are full width (6.4).
 * - Shared block (zamba, 6.2): a marker layer { mixer: { kind: 'shared', index: k }, ffn: null }
 *   means: g = concat(h, h_emb) [2d]; g <- g + Mixer(Norm1(g)); if ffn: g <- g + FFN(Norm2(g))
 *   using the `shared` LayerSpec's weights (one copy, norms of width 2d); then h <- h + g @ W_k
 *   with W_k a per-insertion Linear 2d -> d (no bias). Each insertion keeps its own KV cache.
 * - Biases: attn/swa `bias` = bias on Wq, Wk, Wv, Wo; mamba/mamba2 `bias` = bias on W_in and
 *   W_out; FFN `bias` = bias on W1 (and Wg) and W2. norm 'layer' = LayerNorm with bias.
 * - Parameter counts (params.ts) must equal the tf weights: see models.md 7 and params.ts.
 */
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { presetPattern } from './presets.ts';
import { expandPattern } from './patterns.ts';

export { countParams, layerParams, mixerParams } from './params.ts';
export { flopsPerToken, layerFlops, decodeStateFloats, FLOPS_FORMULA_VERSION } from './flops.ts';

// ------------------------------------------------------------------------------------------------
// Field schemas (no defaults): shared by the per-kind schemas and the flat `model.mixer` overrides.

const posInt = () => z.number().int().positive();
const auto = <T extends z.ZodType>(t: T) => z.union([z.literal('auto'), t]);

export const mixerFields = {
  heads: posInt().describe('number of heads (attn, swa, retnet, selret)'),
  rope: z.boolean().describe('rotary position encoding on q and k'),
  ropeFreqs: z.enum(['standard', 'torchscale']).describe("RoPE frequencies: 'standard' base^(-2i/m), 'torchscale' base^(-i/(m/2-1))"),
  ropeBase: z.number().positive().describe('RoPE base (10000)'),
  bias: z.boolean().describe('biases on the Linear projections (attn: Wq Wk Wv Wo; mamba: W_in W_out)'),
  dh: auto(posInt()).describe("attention head width; 'auto' = d_model / heads"),
  window: posInt().describe('sliding-window size W (swa): a token sees itself and the W-1 before it'),
  dqk: auto(posInt()).describe("total query/key width of retention; 'auto' = d_model"),
  dvt: auto(posInt()).describe("total value width of retention; 'auto' = round8(1.6875 d_model)"),
  headNorm: z.enum(['rms', 'layer']).describe('per-head norm of the retention output (no affine)'),
  headNormEps: z.number().nonnegative().describe('epsilon of the per-head norm'),
  retScale: z.enum(['none', 'decaySqrt']).describe("retention output scaling: 'decaySqrt' divides by sqrt(sum of decays)"),
  form: z.enum(['auto', 'parallel', 'chunk', 'recurrent']).describe("retention training form; 'auto' = parallel if seq_len <= 512 else chunk"),
  chunk: posInt().describe('chunk size C of the chunkwise retention / SSD forms'),
  decay: z.enum(['mamba', 'gla', 'fixed']).describe("selret log-decay: 'mamba' -exp(A_log) softplus(.), 'gla' logsigmoid(.)/tau, 'fixed' RetNet gammas"),
  write: z.enum(['auto', 'dt', 'none', 'sigmoid', 'complement']).describe("selret write strength; 'auto' = 'dt' with decay mamba, else 'none'"),
  granularity: z.enum(['head', 'key']).describe("selret decay per head ('head') or per key-dimension pair ('key', GLA-style)"),
  decayInit: z.enum(['retnet', 'mamba']).describe("selret decay init: 'retnet' gammas or 'mamba' (dt ~ logU(1e-3, 0.1), A ~ U(1, 16))"),
  keyDecayInit: z.enum(['tied', 'spread']).describe("selret key-decay init: 'tied' = head gamma for all pairs, 'spread' = rates x 1/4..4"),
  tau: z.number().positive().describe('selret gla decay normalizer tau'),
  // null is accepted because JSON writes -Infinity as null (stored configs round-trip).
  aMin: z.union([z.number().nonpositive(), z.literal(-Infinity), z.null()]).describe('lower clamp of the selret log-decay (-Infinity or null = none)'),
  intraMode: z.enum(['pairwise', 'factorized']).describe("selret key-decay intra-chunk mode ('factorized' needs chunk*|aMin| <= 60)"),
  dState: posInt().describe('SSM state size N (mamba 16, mamba2 64)'),
  dConv: posInt().describe('causal depthwise conv taps K'),
  expand: z.number().positive().describe('SSM expansion E: inner width = E * d_model'),
  innerNorms: z.boolean().describe('mamba: weightful RMSNorm on dtr, B, C (Jamba)'),
  dtRank: auto(posInt()).describe("mamba dt rank R; 'auto' = ceil(d_model / 16)"),
  dtMin: z.number().positive().describe('mamba dt init range minimum'),
  dtMax: z.number().positive().describe('mamba dt init range maximum'),
  dtInit: z.enum(['random', 'constant']).describe('mamba W_dt init'),
  dtScale: z.number().positive().describe('mamba W_dt init scale'),
  dtInitFloor: z.number().nonnegative().describe('mamba dt init floor'),
  convBias: z.boolean().describe('bias on the causal conv'),
  scan: z.enum(['chunked', 'sequential', 'logdepth']).describe('mamba scan algorithm (same function, different cost)'),
  scanChunk: auto(posInt()).describe("mamba chunked-scan chunk; 'auto' = round(sqrt(seq_len))"),
  headDim: posInt().describe('mamba2 head width P'),
  nGroups: posInt().describe('mamba2 B/C groups G'),
  aInitRange: z.tuple([z.number().positive(), z.number().positive()]).describe('mamba2 A init range [lo, hi]'),
  normEps: z.number().positive().describe('mamba2 gated RMSNorm epsilon'),
} as const;
type FieldName = keyof typeof mixerFields;
const F = mixerFields;

// ------------------------------------------------------------------------------------------------
// Per-kind mixer schemas (models.md 10.3). Parsing fills every default.

const attnShape = {
  heads: F.heads.default(4),
  rope: F.rope.default(true),
  ropeFreqs: F.ropeFreqs.default('standard'),
  ropeBase: F.ropeBase.default(10000),
  bias: F.bias.default(false),
  dh: F.dh.default('auto'),
};
export const attnSchema = z.strictObject({ kind: z.literal('attn'), ...attnShape }).describe('causal softmax attention with RoPE');
export const swaSchema = z
  .strictObject({ kind: z.literal('swa'), ...attnShape, window: F.window.default(64) })
  .describe('sliding-window causal attention');
const retnetShape = {
  heads: F.heads.default(4),
  dqk: F.dqk.default('auto'),
  dvt: F.dvt.default('auto'),
  headNorm: F.headNorm.default('rms'),
  headNormEps: F.headNormEps.default(1e-6),
  ropeFreqs: F.ropeFreqs.default('torchscale'),
  ropeBase: F.ropeBase.default(10000),
  retScale: F.retScale.default('none'),
  form: F.form.default('auto'),
  chunk: F.chunk.default(64),
};
export const retnetSchema = z.strictObject({ kind: z.literal('retnet'), ...retnetShape }).describe('RetNet multi-scale retention');
export const selretSchema = z
  .strictObject({
    kind: z.literal('selret'),
    ...retnetShape,
    decay: F.decay.default('mamba'),
    write: F.write.default('auto'),
    granularity: F.granularity.default('head'),
    decayInit: F.decayInit.default('retnet'),
    keyDecayInit: F.keyDecayInit.default('tied'),
    tau: F.tau.default(16),
    aMin: F.aMin.default(-Infinity),
    intraMode: F.intraMode.default('pairwise'),
    rope: F.rope.default(true),
  })
  .describe('selective retention: retention with an input-dependent decay and write strength');
export const mambaSchema = z
  .strictObject({
    kind: z.literal('mamba'),
    dState: F.dState.default(16),
    dConv: F.dConv.default(4),
    expand: F.expand.default(2),
    innerNorms: F.innerNorms.default(false),
    dtRank: F.dtRank.default('auto'),
    dtMin: F.dtMin.default(1e-3),
    dtMax: F.dtMax.default(0.1),
    dtInit: F.dtInit.default('random'),
    dtScale: F.dtScale.default(1),
    dtInitFloor: F.dtInitFloor.default(1e-4),
    convBias: F.convBias.default(true),
    bias: F.bias.default(false),
    scan: F.scan.default('chunked'),
    scanChunk: F.scanChunk.default('auto'),
  })
  .describe('Mamba-1 selective SSM block');
export const mamba2Schema = z
  .strictObject({
    kind: z.literal('mamba2'),
    dState: F.dState.default(64),
    headDim: F.headDim.default(64),
    nGroups: F.nGroups.default(1),
    dConv: F.dConv.default(4),
    expand: F.expand.default(2),
    aInitRange: F.aInitRange.default([1, 16]),
    chunk: F.chunk.default(64),
    normEps: F.normEps.default(1e-5),
    convBias: F.convBias.default(true),
    bias: F.bias.default(false),
  })
  .describe('Mamba-2 block (SSD)');

export const MIXER_KINDS = ['attn', 'swa', 'retnet', 'selret', 'mamba', 'mamba2'] as const;
export type MixerKind = (typeof MIXER_KINDS)[number];
export const mixerSchemas = {
  attn: attnSchema,
  swa: swaSchema,
  retnet: retnetSchema,
  selret: selretSchema,
  mamba: mambaSchema,
  mamba2: mamba2Schema,
} as const;

export const mixerSchema = z.discriminatedUnion('kind', [attnSchema, swaSchema, retnetSchema, selretSchema, mambaSchema, mamba2Schema]);
/** A mixer as written in a config (defaults filled; may still hold 'auto'). */
export type MixerConfig = z.infer<typeof mixerSchema>;

export const parallelSchema = z
  .strictObject({
    kind: z.literal('parallel'),
    branches: z.array(mixerSchema).min(2).describe('mixers that all read the same normed input'),
    merge: z.enum(['normMean', 'normGateStatic', 'normGateToken']).default('normMean').describe('how branch outputs are merged (models.md 6.3)'),
    widthScale: z.number().positive().max(1).default(0.5).describe('internal widths of each branch (heads, dqk, dvt, expand) are multiplied by this'),
  })
  .describe('parallel branches in one layer (Hymba-like)');
export const routedSchema = z
  .strictObject({
    kind: z.literal('routed'),
    branches: z.array(mixerSchema).min(2).describe('mixers a token-wise router chooses between'),
    routing: z.enum(['soft', 'top1']).default('soft').describe("'soft' = probability-weighted sum, 'top1' = argmax branch"),
    temperature: z.number().positive().default(1).describe('router softmax temperature'),
    auxLossCoef: z.number().nonnegative().default(0.01).describe('load-balancing loss coefficient (top1)'),
    stateSkip: z.boolean().default(false).describe('a branch only absorbs the tokens routed to it (a different function)'),
  })
  .describe('token-wise routing between branches');
export type ParallelConfig = z.infer<typeof parallelSchema>;
export type RoutedConfig = z.infer<typeof routedSchema>;

export const ffnSchema = z
  .union([
    z.enum(['auto', 'gelu', 'swiglu', 'none']),
    z.null(),
    z.strictObject({
      kind: z.enum(['gelu', 'swiglu']).describe('FFN kind'),
      hidden: auto(posInt()).default('auto').describe("hidden width f; 'auto' = 4d (gelu) or round8(1.6875 d) (swiglu)"),
      bias: z.boolean().default(false).describe('biases on the FFN Linears'),
    }),
  ])
  .default('auto')
  .describe("the layer's FFN: 'auto' = per-mixer default (swiglu for retnet/selret, gelu for attn/swa, none for mamba; parallel/routed: the first branch's)");
export type FfnConfig = z.infer<typeof ffnSchema>;

export const layerSchema = z
  .strictObject({
    mixer: z
      .discriminatedUnion('kind', [attnSchema, swaSchema, retnetSchema, selretSchema, mambaSchema, mamba2Schema, parallelSchema, routedSchema])
      .describe('the sequence mixer: {kind: attn|swa|retnet|selret|mamba|mamba2|parallel|routed, ...fields}'),
    ffn: ffnSchema,
  })
  .describe('one layer: pre-norm mixer, then an optional pre-norm FFN');
export type LayerConfig = z.infer<typeof layerSchema>;

const nLayersField = posInt().optional().describe('number of layers (default: model.n_layers)');
export const patternSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('uniform'), layer: layerSchema.describe('the layer every position uses'), nLayers: nLayersField }),
    z.strictObject({ type: z.literal('alternating'), cycle: z.array(layerSchema).min(1).describe('layer i uses cycle[i mod length]'), nLayers: nLayersField }),
    z.strictObject({
      type: z.literal('hierarchical'),
      low: layerSchema.describe('layer of the lower (embedding-side) part'),
      high: layerSchema.describe('layer of the upper part'),
      nLayers: nLayersField,
      lowFraction: z.number().min(0).max(1).default(0.5).describe('fraction of layers (from the embedding) that use `low`'),
    }),
    z.strictObject({
      type: z.literal('interleave'),
      base: layerSchema.describe('the majority layer'),
      minority: layerSchema.describe('the layer placed at the offsets'),
      nLayers: nLayersField,
      period: posInt().describe('layer i uses `minority` iff (i mod period) is in offsets'),
      offsets: z.array(z.number().int().nonnegative()).min(1).describe('positions within each period that use `minority`'),
    }),
    z.strictObject({
      type: z.literal('sharedAttn'),
      base: layerSchema.describe('the base layer (Zamba: mamba)'),
      shared: layerSchema.describe('the shared block, run at width 2d on concat(h, h_emb)'),
      every: posInt().describe('one application of the shared block after every `every` base layers'),
      nLayers: nLayersField,
    }),
    z.strictObject({ type: z.literal('explicit'), layers: z.array(layerSchema).min(1).describe('the literal layer list') }),
  ])
  .describe('an explicit layer pattern (overrides the preset)');
export type Pattern = z.infer<typeof patternSchema>;
export type PatternInput = z.input<typeof patternSchema>;

// ------------------------------------------------------------------------------------------------
// The `model:` section.

export const PRESETS = [
  'transformer', 'retnet', 'mamba', 'mamba2', 'selret',
  'jamba', 'samba', 'mambaformer', 'hymba', 'zamba',
  'fusion-alt', 'fusion-hier', 'fusion-selret', 'fusion-par', 'fusion-route',
] as const;
export type PresetName = (typeof PRESETS)[number];

/** `model.mixer`: flat overrides applied to every mixer of the model that has the field. */
export const mixerOverridesSchema = z
  .strictObject(Object.fromEntries(Object.entries(F).map(([k, s]) => [k, s.optional()])) as {
    [K in FieldName]: z.ZodOptional<(typeof F)[K]>;
  })
  .describe('field overrides applied to every mixer of the model that has the field (e.g. decay: gla, chunk: 32)');
export type MixerOverrides = z.infer<typeof mixerOverridesSchema>;

export const modelSchema = z.strictObject({
  preset: z.enum(PRESETS).default('transformer').describe('named architecture (see `seqlab models`)'),
  d_model: posInt().default(256).describe('model width d'),
  n_layers: posInt().default(6).describe('number of (base) layers'),
  heads: posInt().optional().describe('shorthand: heads of every attention/retention mixer'),
  mixer: mixerOverridesSchema.optional(),
  // Lazy so that the generated config reference shows one row here instead of every nested
  // layer field (the full pattern reference is `seqlab models`).
  pattern: z
    .lazy(() => patternSchema)
    .optional()
    .describe('explicit layer pattern overriding the preset: {type: uniform|alternating|hierarchical|interleave|sharedAttn|explicit, ...} (see `seqlab models`)'),
  ffn: z.enum(['auto', 'gelu', 'swiglu', 'none']).default('auto').describe("FFN of every layer; 'auto' = the preset's choice (per-mixer default)"),
  ffn_hidden: posInt().optional().describe('FFN hidden width of every layer that has an FFN (default 4d gelu, round8(1.6875d) swiglu)'),
  ffn_bias: z.boolean().default(false).describe('biases on every FFN Linear (nanoGPT form)'),
  norm: z.enum(['rms', 'layer']).default('rms').describe("shell norms: 'rms' RMSNorm, 'layer' LayerNorm with bias"),
  norm_eps: z.number().positive().default(1e-5).describe('epsilon of the shell norms'),
  tie_embeddings: z.boolean().default(true).describe('share the embedding with the LM head'),
  abs_pos: z.enum(['none', 'learned']).default('none').describe("absolute position embedding ('learned' only for a nanoGPT baseline)"),
});
export type ModelConfig = z.infer<typeof modelSchema>;
export type ModelConfigInput = z.input<typeof modelSchema>;

// ------------------------------------------------------------------------------------------------
// Resolved types (what the model code builds from).

export type AttnMixer = Omit<z.infer<typeof attnSchema>, 'dh'> & { dh: number };
export type SwaMixer = Omit<z.infer<typeof swaSchema>, 'dh'> & { dh: number };
type RetnetResolved = { dqk: number; dvt: number; form: 'parallel' | 'chunk' | 'recurrent' };
export type RetnetMixer = Omit<z.infer<typeof retnetSchema>, keyof RetnetResolved> & RetnetResolved;
export type SelretMixer = Omit<z.infer<typeof selretSchema>, keyof RetnetResolved | 'write' | 'aMin'> &
  RetnetResolved & { write: 'dt' | 'none' | 'sigmoid' | 'complement'; /** -Infinity = no clamp */ aMin: number };
export type MambaMixer = Omit<z.infer<typeof mambaSchema>, 'dtRank' | 'scanChunk'> & { dtRank: number; scanChunk: number; dInner: number };
export type Mamba2Mixer = z.infer<typeof mamba2Schema> & { dInner: number };
export type MixerSpec = AttnMixer | SwaMixer | RetnetMixer | SelretMixer | MambaMixer | Mamba2Mixer;
export type ParallelSpec = Omit<ParallelConfig, 'branches'> & { branches: MixerSpec[] };
export type RoutedSpec = Omit<RoutedConfig, 'branches'> & { branches: MixerSpec[] };
export interface SharedMarker {
  kind: 'shared';
  /** Insertion index k (0-based): selects the per-insertion Linear W_k and the KV cache. */
  index: number;
}
export type FfnSpec = { kind: 'gelu' | 'swiglu'; hidden: number; bias: boolean } | null;
export interface LayerSpec {
  mixer: MixerSpec | ParallelSpec | RoutedSpec | SharedMarker;
  ffn: FfnSpec;
}

export interface ResolvedModel {
  preset: string;
  d_model: number;
  /** Number of base layers (zamba's shared-block markers come on top of these in `layers`). */
  n_layers: number;
  vocab_size: number;
  seq_len: number;
  norm: 'rms' | 'layer';
  norm_eps: number;
  tie_embeddings: boolean;
  abs_pos: 'none' | 'learned';
  layers: LayerSpec[];
  /** zamba: the shared block, at width 2 * d_model. */
  shared?: LayerSpec;
}

export const round8 = (x: number): number => 8 * Math.round(x / 8);

// ------------------------------------------------------------------------------------------------
// Resolution.

/** Parse + resolve in one go (for tests and tools that hold a raw object). */
export function resolveModelInput(input: ModelConfigInput, ctx: { vocabSize: number; seqLen: number }): ResolvedModel {
  const parsed = modelSchema.safeParse(input);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new UserError(`model.${i.path.join('.')}: ${i.message}`);
  }
  return resolveModel(parsed.data, ctx);
}

export function resolveModel(cfg: ModelConfig, ctx: { vocabSize: number; seqLen: number }): ResolvedModel {
  const d = cfg.d_model;
  if (!Number.isInteger(ctx.vocabSize) || ctx.vocabSize < 1) throw new UserError(`model: vocabulary size must be a positive integer (got ${ctx.vocabSize})`);
  if (!Number.isInteger(ctx.seqLen) || ctx.seqLen < 1) throw new UserError(`model: seq_len must be a positive integer (got ${ctx.seqLen})`);

  let pattern: Pattern;
  if (cfg.pattern) pattern = cfg.pattern;
  else {
    const parsed = patternSchema.safeParse(presetPattern(cfg.preset, cfg.n_layers));
    if (!parsed.success) throw new Error(`preset ${cfg.preset} is malformed: ${parsed.error.message}`);
    pattern = parsed.data;
  }
  const where = cfg.pattern ? 'model.pattern' : `preset ${cfg.preset}`;
  const expanded = expandPattern(pattern, cfg.n_layers, where);

  // Overrides first (on config mixers, before 'auto' is resolved and widths are scaled).
  const allMixers = (l: LayerConfig | 'shared'): MixerConfig[] =>
    l === 'shared' ? [] : l.mixer.kind === 'parallel' || l.mixer.kind === 'routed' ? l.mixer.branches : [l.mixer];
  const mixers = [...expanded.layers, ...(expanded.shared ? [expanded.shared] : [])].flatMap(allMixers);
  const overrides: [string, string, unknown][] = [];
  if (cfg.heads !== undefined) overrides.push(['model.heads', 'heads', cfg.heads]);
  for (const [k, v] of Object.entries(cfg.mixer ?? {})) if (v !== undefined) overrides.push([`model.mixer.${k}`, k, v]);
  for (const [key, field, value] of overrides) {
    const targets = mixers.filter((m) => field in m);
    // model.heads is a shorthand that may meet a model without heads (a preset sweep over mamba);
    // a model.mixer field nothing has is a mistake.
    if (targets.length === 0 && key !== 'model.heads') {
      const kinds = [...new Set(mixers.map((m) => m.kind))].join(', ');
      throw new UserError(`${key}: no mixer of ${where} has the field '${field}' (its mixers: ${kinds}); see \`seqlab models\``);
    }
    for (const m of targets) (m as Record<string, unknown>)[field] = Array.isArray(value) ? [...value] : value;
  }

  const layers: LayerSpec[] = [];
  let insertions = 0;
  for (const l of expanded.layers) {
    if (l === 'shared') layers.push({ mixer: { kind: 'shared', index: insertions++ }, ffn: null });
    else layers.push(resolveLayer(l, cfg, d, ctx.seqLen, `layer ${layers.length}`, true));
  }
  // A shared block with no insertion would be dead weight: drop it.
  const used = layers.some((l) => l.mixer.kind === 'shared');
  const shared = expanded.shared && used ? resolveLayer(expanded.shared, cfg, 2 * d, ctx.seqLen, 'the shared block (width 2*d_model)', false) : undefined;

  return {
    preset: cfg.pattern ? 'custom' : cfg.preset,
    d_model: d,
    n_layers: expanded.layers.filter((l) => l !== 'shared').length,
    vocab_size: ctx.vocabSize,
    seq_len: ctx.seqLen,
    norm: cfg.norm,
    norm_eps: cfg.norm_eps,
    tie_embeddings: cfg.tie_embeddings,
    abs_pos: cfg.abs_pos,
    layers,
    ...(shared ? { shared } : {}),
  };
}

function defaultFfnKind(m: LayerConfig['mixer']): 'gelu' | 'swiglu' | null {
  const k = m.kind === 'parallel' || m.kind === 'routed' ? m.branches[0]!.kind : m.kind;
  return k === 'retnet' || k === 'selret' ? 'swiglu' : k === 'attn' || k === 'swa' ? 'gelu' : null;
}

function resolveFfn(l: LayerConfig, cfg: ModelConfig, width: number, applyModelFfn: boolean): FfnSpec {
  let f = l.ffn;
  if (applyModelFfn && cfg.ffn !== 'auto') f = cfg.ffn;
  if (f === 'auto') f = defaultFfnKind(l.mixer);
  if (f === null || f === 'none') return null;
  const spec = typeof f === 'string' ? { kind: f, hidden: 'auto' as const, bias: false } : f;
  let hidden = spec.hidden === 'auto' ? (spec.kind === 'gelu' ? 4 * width : round8(1.6875 * width)) : spec.hidden;
  if (applyModelFfn && cfg.ffn_hidden !== undefined) hidden = cfg.ffn_hidden;
  return { kind: spec.kind, hidden, bias: spec.bias || cfg.ffn_bias };
}

function resolveLayer(l: LayerConfig, cfg: ModelConfig, width: number, seqLen: number, at: string, main: boolean): LayerSpec {
  const m = l.mixer;
  let mixer: LayerSpec['mixer'];
  if (m.kind === 'parallel') {
    const branches = m.branches.map((b, i) => resolveMixer(b, width, seqLen, `${at}, parallel branch ${i}`, m.widthScale));
    mixer = { ...m, branches };
  } else if (m.kind === 'routed') {
    const branches = m.branches.map((b, i) => resolveMixer(b, width, seqLen, `${at}, routed branch ${i}`, 1));
    mixer = { ...m, branches };
  } else mixer = resolveMixer(m, width, seqLen, at, 1);
  return { mixer, ffn: resolveFfn(l, cfg, width, main) };
}

/** Scale a total head width W = H * w to the (already scaled) head count H2, keeping w even. */
function scaledHeadWidth(total: number, heads: number, ws: number): number {
  return 2 * Math.max(1, Math.round((total * ws) / heads / 2));
}

function fail(key: string, msg: string): never {
  throw new UserError(`${key}: ${msg}`);
}

/**
 * Resolve one mixer at model width d: fill every 'auto', apply the parallel width scale, and
 * check shapes. Errors name the config key a user would change.
 */
export function resolveMixer(m: MixerConfig, d: number, seqLen: number, at: string, widthScale = 1): MixerSpec {
  const ws = widthScale;
  const scaleHeads = (h: number) => (ws === 1 ? h : Math.max(1, Math.round(h * ws)));
  switch (m.kind) {
    case 'attn':
    case 'swa': {
      let dh: number;
      if (m.dh === 'auto') {
        if (d % m.heads !== 0) fail('model.d_model', `${d} is not divisible by heads ${m.heads} of the ${m.kind} mixer (${at}); change model.d_model or model.heads`);
        dh = d / m.heads;
      } else dh = m.dh;
      const heads = scaleHeads(m.heads);
      if (ws !== 1) dh = scaledHeadWidth(m.heads * dh, heads, ws);
      if (m.rope && dh % 2 !== 0) fail(m.dh === 'auto' ? 'model.heads' : 'model.mixer.dh', `attention head width ${dh} is odd but rope needs an even width (${at})`);
      return { ...m, heads, dh };
    }
    case 'retnet':
    case 'selret': {
      let dqk = m.dqk === 'auto' ? d : m.dqk;
      let dvt = m.dvt === 'auto' ? round8(1.6875 * d) : m.dvt;
      if (dqk % m.heads !== 0)
        fail(m.dqk === 'auto' ? 'model.d_model' : 'model.mixer.dqk', `${m.dqk === 'auto' ? 'd_model ' : 'dqk '}${dqk} is not divisible by heads ${m.heads} of the ${m.kind} mixer (${at}); change it or model.heads`);
      if (dvt % m.heads !== 0)
        fail('model.mixer.dvt', `dvt ${dvt}${m.dvt === 'auto' ? ' (round8(1.6875 d_model))' : ''} is not divisible by heads ${m.heads} of the ${m.kind} mixer (${at}); set model.mixer.dvt or model.heads`);
      const heads = scaleHeads(m.heads);
      if (ws !== 1) {
        dqk = heads * scaledHeadWidth(dqk, heads, ws);
        dvt = heads * scaledHeadWidth(dvt, heads, ws);
      }
      const dk = dqk / heads;
      const rope = m.kind === 'retnet' || m.rope;
      if (rope && dk % 2 !== 0) fail('model.heads', `key head width dqk/heads = ${dk} is odd but rope needs an even width (${at})`);
      const form = m.form === 'auto' ? (seqLen <= 512 ? 'parallel' : 'chunk') : m.form;
      const base = { ...m, heads, dqk, dvt, form } as const;
      if (m.kind === 'retnet') return base as RetnetMixer;
      const s = base as typeof base & z.infer<typeof selretSchema>;
      const aMin = s.aMin ?? -Infinity;
      const write = s.write === 'auto' ? (s.decay === 'mamba' ? 'dt' : 'none') : s.write;
      if (write === 'dt' && s.decay !== 'mamba') fail('model.mixer.write', `write 'dt' needs decay 'mamba' (decay is '${s.decay}', ${at}); use none, sigmoid or complement`);
      if (s.granularity === 'key') {
        if (s.decay === 'fixed') fail('model.mixer.granularity', `granularity 'key' needs an input-dependent decay (decay is 'fixed', ${at})`);
        if (dk % 2 !== 0) fail('model.heads', `key decay pairs need an even key head width (dqk/heads = ${dk}, ${at})`);
        if (s.retScale === 'decaySqrt') fail('model.mixer.retScale', `'decaySqrt' is defined for scalar decays only (granularity 'key', ${at})`);
        if (s.intraMode === 'factorized' && !(s.chunk * Math.abs(aMin) <= 60))
          fail('model.mixer.intraMode', `'factorized' needs chunk * |aMin| <= 60 (chunk ${s.chunk}, aMin ${aMin}, ${at}); set model.mixer.aMin or use 'pairwise'`);
      }
      return { ...s, write, aMin } as SelretMixer;
    }
    case 'mamba': {
      if (m.dtMin > m.dtMax) fail('model.mixer.dtMin', `dtMin ${m.dtMin} > dtMax ${m.dtMax} (${at})`);
      const dInner = innerWidth(m.expand, d, ws, 1, at);
      const dtRank = m.dtRank === 'auto' ? Math.ceil(d / 16) : m.dtRank;
      const scanChunk = m.scanChunk === 'auto' ? Math.max(1, Math.round(Math.sqrt(seqLen))) : m.scanChunk;
      return { ...m, expand: dInner / d, dtRank, scanChunk, dInner };
    }
    case 'mamba2': {
      if (m.aInitRange[0] > m.aInitRange[1]) fail('model.mixer.aInitRange', `[${m.aInitRange}] must be [lo, hi] with lo <= hi (${at})`);
      const dInner = innerWidth(m.expand, d, ws, m.headDim, at);
      const hm = dInner / m.headDim;
      if (hm % m.nGroups !== 0) fail('model.mixer.nGroups', `nGroups ${m.nGroups} does not divide the ${hm} SSM heads (inner width ${dInner} / headDim ${m.headDim}, ${at})`);
      return { ...m, aInitRange: [m.aInitRange[0], m.aInitRange[1]], expand: dInner / d, dInner };
    }
  }
}

/** Inner width E * d (scaled by ws); a multiple of `unit` (mamba2 headDim). */
function innerWidth(expand: number, d: number, ws: number, unit: number, at: string): number {
  const exact = expand * d;
  if (ws === 1) {
    if (Math.abs(exact - Math.round(exact)) > 1e-9) fail('model.mixer.expand', `expand ${expand} * d_model ${d} = ${exact} is not an integer (${at})`);
    const din = Math.round(exact);
    if (din % unit !== 0) fail('model.mixer.headDim', `inner width ${din} (expand * d_model) is not divisible by headDim ${unit} (${at})`);
    return din;
  }
  return unit * Math.max(1, Math.round((exact * ws) / unit));
}
