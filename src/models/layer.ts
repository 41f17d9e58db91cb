/**
 * Config schemas of a layer (docs/models.md 6.1): the mixer (any kind of kinds/registry.ts, or a
 * parallel / routed combinator of them), the FFN, and the stacking patterns. Pure zod.
 */
import { z } from 'zod';
import { auto, posInt } from './kinds/fields.ts';
import { mixerSchemaList } from './kinds/registry.ts';

export const mixerSchema = z.discriminatedUnion('kind', mixerSchemaList);
const kindList = (extra: string[]) => [...mixerSchemaList.map((s) => s.shape.kind.value), ...extra].join('|');

export const parallelSchema = z
  .strictObject({
    kind: z.literal('parallel'),
    branches: z.array(mixerSchema).min(2).describe('mixers that all read the same normed input'),
    merge: z
      .enum(['normMean', 'normGateStatic', 'normGateToken'])
      .default('normMean')
      .describe('how branch outputs are merged (docs/models.md 6.3)'),
    width_scale: z
      .number()
      .positive()
      .max(1)
      .default(0.5)
      .describe('internal widths of each branch (heads, dqk, dvt, expand) are multiplied by this'),
  })
  .describe('parallel branches in one layer (Hymba-like)');
export const routedSchema = z
  .strictObject({
    kind: z.literal('routed'),
    branches: z.array(mixerSchema).min(2).describe('mixers a token-wise router chooses between'),
    routing: z.enum(['soft', 'top1']).default('soft').describe("'soft' = probability-weighted sum, 'top1' = argmax branch"),
    temperature: z.number().positive().default(1).describe('router softmax temperature'),
    aux_loss_coef: z.number().nonnegative().default(0.01).describe('load-balancing loss coefficient (top1)'),
    state_skip: z.boolean().default(false).describe('a branch only absorbs the tokens routed to it (a different function)'),
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
  .describe("the layer's FFN: 'auto' = the mixer kind's default (see `seqlab models`; parallel/routed: the first branch's)");
export type FfnConfig = z.infer<typeof ffnSchema>;

export const layerSchema = z
  .strictObject({
    mixer: z
      .discriminatedUnion('kind', [...mixerSchemaList, parallelSchema, routedSchema])
      .describe(`the sequence mixer: {kind: ${kindList(['parallel', 'routed'])}, ...fields}`),
    ffn: ffnSchema,
  })
  .describe('one layer: pre-norm mixer, then an optional pre-norm FFN');
export type LayerConfig = z.infer<typeof layerSchema>;

const nLayersField = posInt().optional().describe('number of layers (default: model.n_layers)');
export const patternSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('uniform'), layer: layerSchema.describe('the layer every position uses'), n_layers: nLayersField }),
    z.strictObject({
      type: z.literal('alternating'),
      cycle: z.array(layerSchema).min(1).describe('layer i uses cycle[i mod length]'),
      n_layers: nLayersField,
    }),
    z.strictObject({
      type: z.literal('hierarchical'),
      low: layerSchema.describe('layer of the lower (embedding-side) part'),
      high: layerSchema.describe('layer of the upper part'),
      n_layers: nLayersField,
      low_fraction: z.number().min(0).max(1).default(0.5).describe('fraction of layers (from the embedding) that use `low`'),
    }),
    z.strictObject({
      type: z.literal('interleave'),
      base: layerSchema.describe('the majority layer'),
      minority: layerSchema.describe('the layer placed at the offsets'),
      n_layers: nLayersField,
      period: posInt().describe('layer i uses `minority` iff (i mod period) is in offsets'),
      offsets: z.array(z.number().int().nonnegative()).min(1).describe('positions within each period that use `minority`'),
    }),
    z.strictObject({
      type: z.literal('sharedAttn'),
      base: layerSchema.describe('the base layer (Zamba: mamba)'),
      shared: layerSchema.describe('the shared block, run at width 2d on concat(h, h_emb)'),
      every: posInt().describe('one application of the shared block after every `every` base layers'),
      n_layers: nLayersField,
    }),
    z.strictObject({ type: z.literal('explicit'), layers: z.array(layerSchema).min(1).describe('the literal layer list') }),
  ])
  .describe('an explicit layer pattern (overrides the preset)');
export type Pattern = z.infer<typeof patternSchema>;
export type PatternInput = z.input<typeof patternSchema>;
