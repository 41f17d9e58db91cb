/**
 * The tensor half of the mixer registry: the layer class of every kind of kinds/registry.ts
 * (a kind without a builder here is a type error), plus the combinators.
 */
import type { MixerKind, MixerSpecOf } from '../kinds/registry.ts';
import { Attention } from './attn.ts';
import type { BuildSpec, Mixer, MixerContext } from './common.ts';
import { DeltaNet } from './deltanet.ts';
import { Mamba } from './mamba.ts';
import { Mamba2 } from './mamba2.ts';
import { ParallelMixer } from './parallel.ts';
import { RetNet } from './retnet.ts';
import { RoutedMixer } from './routed.ts';
import { SelectiveRetention } from './selret.ts';

const BUILDERS: { [K in MixerKind]: (spec: MixerSpecOf<K>, ctx: MixerContext) => Mixer } = {
  attn: (s, c) => new Attention(s, c),
  swa: (s, c) => new Attention(s, c),
  retnet: (s, c) => new RetNet(s, c),
  selret: (s, c) => new SelectiveRetention(s, c),
  mamba: (s, c) => new Mamba(s, c),
  mamba2: (s, c) => new Mamba2(s, c),
  deltanet: (s, c) => new DeltaNet(s, c),
};

export function buildMixer(spec: BuildSpec, ctx: MixerContext): Mixer {
  if (spec.kind === 'parallel') return new ParallelMixer(spec, ctx);
  if (spec.kind === 'routed') return new RoutedMixer(spec, ctx);
  const build = BUILDERS[spec.kind] as (s: BuildSpec, c: MixerContext) => Mixer;
  if (!build) throw new Error(`unknown mixer kind ${String(spec.kind)}`);
  return build(spec, ctx);
}
