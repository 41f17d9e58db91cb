// PLACEHOLDER owned by the model-spec helper: replaced with the full schema, preset expansion,
// parameter counts and FLOPs. Export names below are the contract used by src/config.
import { z } from 'zod';

export const modelSchema = z.strictObject({
  preset: z.string().default('transformer'),
  d_model: z.number().int().positive().default(256),
  n_layers: z.number().int().positive().default(6),
});
export type ModelConfig = z.infer<typeof modelSchema>;

export interface ResolvedModel extends ModelConfig {
  vocab_size: number;
  layers: unknown[];
}

export function resolveModel(cfg: ModelConfig, ctx: { vocabSize: number; seqLen: number }): ResolvedModel {
  return { ...cfg, vocab_size: ctx.vocabSize, layers: [] };
}

export function countParams(_m: ResolvedModel): { params: number; paramsNonEmbedding: number } {
  return { params: NaN, paramsNonEmbedding: NaN };
}

export function flopsPerToken(_m: ResolvedModel, _seqLen: number): number {
  return NaN;
}

export const FLOPS_FORMULA_VERSION = 'models.md#8/v1';
