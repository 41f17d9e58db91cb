/**
 * The `model:` config section (zod) and its resolution into the explicit layer list
 * (resolved.ts) that every run stores and the model code builds from. Pure: no TensorFlow here.
 * Per-kind fields, defaults and checks live in the kind modules (./kinds); this file applies the
 * model-wide overrides, the FFN choice and the pattern expansion.
 */
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { posInt, round8 } from './kinds/fields.ts';
import { mixerDef, mixerOverridesSchema, resolveMixer, type MixerConfig } from './kinds/registry.ts';
import { patternSchema, type LayerConfig, type Pattern } from './layer.ts';
import { expandPattern } from './patterns.ts';
import { canonicalPreset, presetPattern, PRESETS } from './presets.ts';
import type { FfnSpec, LayerSpec, ResolvedModel } from './resolved.ts';

export const modelSchema = z.strictObject({
  preset: z.enum(PRESETS).default('transformer').describe('named architecture (see `seqlab models`)'),
  d_model: posInt().default(256).describe('model width d'),
  n_layers: posInt().default(6).describe('number of (base) layers'),
  heads: posInt().optional().describe('shorthand: heads of every mixer that has heads'),
  mixer: mixerOverridesSchema.optional(),
  // Lazy so that the generated config reference shows one row here instead of every nested
  // layer field (the full pattern reference is `seqlab models`).
  pattern: z
    .lazy(() => patternSchema)
    .optional()
    .describe(
      'explicit layer pattern overriding the preset: {type: uniform|alternating|hierarchical|interleave|sharedAttn|explicit, ...} (see `seqlab models`)',
    ),
  ffn: z
    .enum(['auto', 'gelu', 'swiglu', 'none'])
    .default('auto')
    .describe("FFN of every layer; 'auto' = the preset's choice (per-mixer default)"),
  ffn_hidden: posInt().optional().describe('FFN hidden width of every layer that has an FFN (default 4d gelu, round8(1.6875d) swiglu)'),
  ffn_bias: z.boolean().default(false).describe('biases on every FFN Linear (nanoGPT form)'),
  norm: z.enum(['rms', 'layer']).default('rms').describe("shell norms: 'rms' RMSNorm, 'layer' LayerNorm with bias"),
  norm_eps: z.number().positive().default(1e-5).describe('epsilon of the shell norms'),
  tie_embeddings: z.boolean().default(true).describe('share the embedding with the LM head'),
  abs_pos: z.enum(['none', 'learned']).default('none').describe("absolute position embedding ('learned' only for a nanoGPT baseline)"),
});
export type ModelConfig = z.infer<typeof modelSchema>;
export type ModelConfigInput = z.input<typeof modelSchema>;

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
  if (!Number.isInteger(ctx.vocabSize) || ctx.vocabSize < 1)
    throw new UserError(`model: vocabulary size must be a positive integer (got ${ctx.vocabSize})`);
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
  const shared =
    expanded.shared && used
      ? resolveLayer(expanded.shared, cfg, 2 * d, ctx.seqLen, 'the shared block (width 2*d_model)', false)
      : undefined;

  return {
    preset: cfg.pattern ? 'custom' : canonicalPreset(cfg.preset, cfg.n_layers),
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
  return mixerDef(m.kind === 'parallel' || m.kind === 'routed' ? m.branches[0]!.kind : m.kind).defaultFfn;
}

function resolveFfn(l: LayerConfig, cfg: ModelConfig, width: number, applyModelFfn: boolean): FfnSpec | null {
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
    const branches = m.branches.map((b, i) => resolveMixer(b, width, seqLen, `${at}, parallel branch ${i}`, m.width_scale));
    mixer = { ...m, branches };
  } else if (m.kind === 'routed') {
    const branches = m.branches.map((b, i) => resolveMixer(b, width, seqLen, `${at}, routed branch ${i}`, 1));
    mixer = { ...m, branches };
  } else mixer = resolveMixer(m, width, seqLen, at, 1);
  return { mixer, ffn: resolveFfn(l, cfg, width, main) };
}
