/** Builds a mixer from its resolved spec (models.md 10.3 fields). */
import { Attention } from './attn.ts';
import type { Mixer, MixerContext, Spec } from './common.ts';
import { Mamba } from './mamba.ts';
import { Mamba2 } from './mamba2.ts';
import { ParallelMixer } from './parallel.ts';
import { RetNet } from './retnet.ts';
import { RoutedMixer } from './routed.ts';
import { SelectiveRetention } from './selret.ts';

export function buildMixer(spec: Spec, ctx: MixerContext): Mixer {
  switch (spec.kind) {
    case 'attn':
    case 'swa':
      return new Attention(spec, ctx);
    case 'retnet':
      return new RetNet(spec, ctx);
    case 'selret':
      return new SelectiveRetention(spec, ctx);
    case 'mamba':
      return new Mamba(spec, ctx);
    case 'mamba2':
      return new Mamba2(spec, ctx);
    case 'parallel':
      return new ParallelMixer(spec, ctx);
    case 'routed':
      return new RoutedMixer(spec, ctx);
    default:
      throw new Error(`unknown mixer kind ${String(spec.kind)}`);
  }
}
