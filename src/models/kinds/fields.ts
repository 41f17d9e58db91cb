/**
 * Field builders and resolution helpers shared by the mixer kinds (pure; no TensorFlow.js).
 * A kind module writes `heads: heads().default(4)`: the type and meaning come from here, the
 * default from the kind.
 */
import { z } from 'zod';
import { UserError } from '../../errors.ts';
import type { ResolveContext } from './types.ts';

export const posInt = () => z.number().int().positive();
export const auto = <T extends z.ZodType>(t: T) => z.union([z.literal('auto'), t]);

/** 8 * round(x / 8): the widths RetNet rounds to (dvt, swiglu hidden). */
export const round8 = (x: number): number => 8 * Math.round(x / 8);

export const heads = () => posInt().describe('number of heads');
export const ropeFreqs = () =>
  z.enum(['standard', 'torchscale']).describe("RoPE frequencies: 'standard' base^(-2i/m), 'torchscale' base^(-i/(m/2-1))");
export const ropeBase = () => z.number().positive().describe('RoPE base');
export const chunk = () => posInt().describe('chunk size C of the chunkwise form');
export const rope = () => z.boolean().describe('rotary position encoding on q and k');
export const headNormEps = () => z.number().nonnegative().describe('epsilon of the per-head norm');
export const dqk = () => auto(posInt()).describe("total query/key width; 'auto' = d_model");
export const dvt = (autoRule: string) => auto(posInt()).describe(`total value width; 'auto' = ${autoRule}`);
// SSM blocks (mamba, mamba2)
export const dState = () => posInt().describe('SSM state size N');
export const dConv = () => posInt().describe('causal depthwise conv taps K');
export const expand = () => z.number().positive().describe('SSM expansion E: inner width = E * d_model');
export const convBias = () => z.boolean().describe('bias on the causal conv');
export const ssmBias = () => z.boolean().describe('biases on W_in and W_out');
export const form = () =>
  z
    .enum(['auto', 'parallel', 'chunk', 'recurrent'])
    .describe("training form (same function, different cost); 'auto' = parallel if seq_len <= 512 else chunk");

export type Form = 'parallel' | 'chunk' | 'recurrent';

/** The one place a training form is chosen. */
export function resolveForm(f: Form | 'auto', seqLen: number): Form {
  return f === 'auto' ? (seqLen <= 512 ? 'parallel' : 'chunk') : f;
}

export function fail(key: string, msg: string): never {
  throw new UserError(`${key}: ${msg}`);
}

/** Head count scaled by the parallel width scale (at least 1). */
export function scaleHeads(h: number, c: ResolveContext): number {
  return c.widthScale === 1 ? h : Math.max(1, Math.round(h * c.widthScale));
}

/** Scale a total head width W = H * w to the (already scaled) head count H2, keeping w even. */
export function scaledHeadWidth(total: number, heads: number, ws: number): number {
  return 2 * Math.max(1, Math.round((total * ws) / heads / 2));
}

/** Inner width E * d (scaled by the width scale); a multiple of `unit` (mamba2 head_dim). */
export function innerWidth(expand: number, c: ResolveContext, unit: number, unitKey: string): number {
  const exact = expand * c.d;
  if (c.widthScale === 1) {
    if (Math.abs(exact - Math.round(exact)) > 1e-9)
      fail('model.mixer.expand', `expand ${expand} * d_model ${c.d} = ${exact} is not an integer (${c.at})`);
    const din = Math.round(exact);
    if (din % unit !== 0)
      fail(unitKey, `inner width ${din} (expand * d_model) is not divisible by ${unitKey.split('.').pop()} ${unit} (${c.at})`);
    return din;
  }
  return unit * Math.max(1, Math.round((exact * c.widthScale) / unit));
}
