/**
 * config.json, the fully resolved config of one run (docs/runner.md 4), read back with the schemas
 * it was written from: the config sections (task, train, eval, bench) and the stored form of the
 * resolved model (every mixer complete for its kind). A hand-edited or garbled file fails with one
 * line naming the file and the dotted key.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { storedMixerProblem } from '../models/kinds/registry.ts';
import type { ResolvedModel } from '../models/resolved.ts';
import { taskUnion } from '../tasks/kinds/registry.ts';
import { benchSchema, evalSchema, trainSchema, type RunConfig } from './schema.ts';

const posInt = z.number().int().positive();

/** A layer's mixer as stored: one of the mixer kinds with all its fields, a parallel/routed group of them, or a shared-block marker. */
const storedMixer = z.looseObject({ kind: z.string() }).superRefine((m, ctx) => {
  if (m.kind === 'shared') {
    if (!Number.isInteger(m.index))
      ctx.addIssue({ code: 'custom', path: ['index'], message: 'a shared-block marker needs an integer index' });
    return;
  }
  if (m.kind === 'parallel' || m.kind === 'routed') {
    if (!Array.isArray(m.branches) || m.branches.length === 0)
      return ctx.addIssue({ code: 'custom', path: ['branches'], message: 'expected a list of mixers' });
    m.branches.forEach((b: unknown, j: number) => {
      const p = b && typeof b === 'object' ? storedMixerProblem(b as Record<string, unknown>) : 'expected a mixer';
      if (p) ctx.addIssue({ code: 'custom', path: ['branches', j], message: p });
    });
    return;
  }
  const p = storedMixerProblem(m);
  if (p) ctx.addIssue({ code: 'custom', path: ['kind'], message: p });
});

const storedFfn = z.looseObject({ kind: z.enum(['gelu', 'swiglu']), hidden: posInt, bias: z.boolean() }).nullable();
const storedLayer = z.looseObject({ mixer: storedMixer, ffn: storedFfn });

/** The resolved model as config.json stores it (src/models/resolved.ts). */
const storedModelSchema = z.looseObject({
  preset: z.string(),
  d_model: posInt,
  n_layers: posInt,
  vocab_size: posInt,
  seq_len: posInt,
  norm: z.enum(['rms', 'layer']),
  norm_eps: z.number().positive(),
  tie_embeddings: z.boolean(),
  abs_pos: z.enum(['none', 'learned']),
  layers: z.array(storedLayer).min(1),
  shared: storedLayer.optional(),
});

export const runConfigSchema = z.strictObject({
  name: z.string(),
  seed: z.number().int().nonnegative(),
  task: taskUnion,
  model: storedModelSchema,
  train: trainSchema,
  eval: evalSchema,
  bench: benchSchema,
});

/** Read and check a run's config.json; UserError `FILE: key.path: problem` on the first problem. */
export function readRunConfig(file: string): RunConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const r = runConfigSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UserError(`${file}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  }
  return { ...r.data, model: r.data.model as unknown as ResolvedModel };
}
