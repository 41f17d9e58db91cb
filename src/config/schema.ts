/**
 * The experiment config: the single source of truth for config types (z.infer). Every key has a
 * `.describe()` line: the config reference (docs/config-reference.md) is generated from these descriptions.
 */
import { z } from 'zod';
import { BACKENDS } from '../backend/select.ts';
import type { ResolvedModel } from '../models/resolved.ts';
import { modelSchema } from '../models/spec.ts';
import { taskSchema, type TaskConfig } from '../tasks/schema.ts';
import { claimsSchema } from './claims.ts';
import { profilesSchema } from './profiles.ts';

/** `90s`, `30m`, `2h`, `1d` or a number of seconds. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) return NaN;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

const duration = z
  .union([z.number().nonnegative(), z.string().regex(/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/, 'a duration like 90s, 30m or 2h')])
  .transform(parseDuration);

const posInt = () => z.number().int().positive();

export const trainSchema = z.strictObject({
  steps: posInt().default(200).describe('optimizer steps'),
  batch_size: posInt().default(16).describe('sequences per step (per micro-batch when grad_accum > 1)'),
  lr: z.number().positive().default(3e-3).describe('peak learning rate'),
  min_lr_ratio: z.number().min(0).max(1).default(0.1).describe('final lr as a fraction of lr (cosine / linear)'),
  warmup: z.number().int().nonnegative().default(20).describe('linear warmup steps'),
  schedule: z.enum(['cosine', 'linear', 'constant']).default('cosine').describe('lr schedule after warmup'),
  clip: z.number().nonnegative().default(1.0).describe('gradient clipping by global norm (0 = off)'),
  weight_decay: z
    .number()
    .nonnegative()
    .default(0.1)
    .describe('AdamW decoupled weight decay (not on norms, biases, gains, SSM A_log/D/dt bias)'),
  beta1: z.number().min(0).max(1).default(0.9).describe('AdamW beta1'),
  beta2: z.number().min(0).max(1).default(0.95).describe('AdamW beta2'),
  eps: z.number().positive().default(1e-8).describe('AdamW epsilon'),
  grad_accum: posInt().default(1).describe('micro-batches accumulated per optimizer step'),
  log_every: posInt().default(10).describe('steps between training-loss lines in metrics.jsonl'),
  timing_warmup: z.number().int().nonnegative().default(3).describe('first steps excluded from train_tokens_per_s'),
  checkpoint: z.boolean().default(true).describe('save final weights (safetensors) in checkpoint/'),
  checkpoint_every: z
    .union([
      posInt(),
      z
        .string()
        .regex(/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/, 'a duration with a unit like 90s, 10m or 2h')
        .refine((v) => !(parseDuration(v) <= 0), 'a duration above 0'),
    ])
    .nullable()
    .default('10m')
    .describe(
      'training checkpoint (weights, AdamW state, progress) for exact resume: every N steps (a number) or every duration (10m); null = only when stopped and after the last step (docs/runner.md section 11)',
    ),
  checkpoint_activations: z
    .boolean()
    .default(false)
    .describe(
      "recompute each block's forward in the backward pass: same loss and gradients, one block's activations in memory, ~1 extra forward",
    ),
  stop_at: z
    .strictObject({
      metric: z
        .string()
        .min(1)
        .describe(
          'evaluation metric of the split it names: valid_accuracy, valid_loss, valid_bpb, valid_exact_match, valid_ppl (or test_...)',
        ),
      at_least: z.number().optional().describe('stop once metric >= at_least (accuracy-like metrics)'),
      at_most: z.number().optional().describe('stop once metric <= at_most (loss-like metrics)'),
      every: posInt().optional().describe('steps between checks (default: eval.every)'),
    })
    .superRefine((r, ctx) => {
      if ((r.at_least === undefined) === (r.at_most === undefined))
        ctx.addIssue({ code: 'custom', path: [], message: 'a stop rule needs exactly one of at_least, at_most' });
    })
    .optional()
    .describe(
      'end training early once an evaluation reaches a target; records steps_to_target, examples_to_target, tokens_to_target (docs/runner.md 5.1)',
    ),
});

export const evalSchema = z.strictObject({
  every: z.number().int().nonnegative().default(0).describe('steps between validation evals (0 = only at the end)'),
  batches: z
    .union([posInt(), z.literal('all')])
    .default(16)
    .describe("eval batches per split ('all' = every window of the split)"),
  batch_size: posInt().optional().describe('eval batch size (default: train.batch_size)'),
  splits: z
    .array(z.enum(['valid', 'test']))
    .default(['valid', 'test'])
    .describe('splits evaluated at the end'),
});

export const benchSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('measure prefill and decode latency after training'),
  prefill_lengths: z
    .array(posInt())
    .min(1)
    .default([256])
    .describe('prompt lengths L for prefill_tokens_per_s@L and decode_ms_per_token@L'),
  decode_tokens: posInt().default(32).describe('tokens decoded after each prefill'),
  repeats: posInt().default(3).describe('repeats per measurement (median reported)'),
});

export const FAILURE_CLASSES = ['error', 'crash', 'timeout', 'lost'] as const;

export const executionSchema = z.strictObject({
  jobs: z
    .union([posInt(), z.literal('auto')])
    .default('auto')
    .describe('runs in parallel (auto = cores / threads per run)'),
  timeout: duration.nullable().default(null).describe('per-run wall-clock limit (90s, 30m, 2h; null = none)'),
  retries: z.number().int().nonnegative().default(0).describe('extra attempts for a failed run whose failure class is in retry_on'),
  retry_on: z
    .array(z.enum(FAILURE_CLASSES))
    .default(['crash', 'lost'])
    .describe('failure classes that are retried: error (the run threw), crash (worker died), timeout, lost (heartbeat stale)'),
  on_failure: z.enum(['continue', 'stop']).default('continue').describe('keep going after a failed run, or stop scheduling new runs'),
  max_failures: posInt().nullable().default(null).describe('stop scheduling after this many failed runs (null = no limit)'),
  max_runs: posInt().default(1000).describe('refuse larger sweeps unless --yes'),
  backend: z.enum(BACKENDS).default('auto').describe('tfjs backend (auto: tensorflow if it loads, else wasm, else cpu)'),
  blas_threads: z
    .union([posInt(), z.literal('auto')])
    .default('auto')
    .describe('matmul threads per run (auto: all cores for one job, 1 per job otherwise)'),
});

export const outputSchema = z.strictObject({
  root: z.string().min(1).default('runs').describe('folder that holds sweep directories (<root>/<name>/)'),
});

const axisValues = z.array(z.unknown()).min(1, 'a non-empty list of values');
const axes = z.record(z.string(), axisValues);

export const sweepSchema = z.strictObject({
  base: z.boolean().default(true).describe('include the base grid x zip runs (false: only the cases)'),
  grid: axes.default({}).describe('dotted key -> values; cartesian product, first axis slowest'),
  zip: axes.default({}).describe('dotted key -> values advanced together (equal lengths)'),
  cases: z
    .array(
      z.strictObject({
        name: z.string().min(1).describe('case label'),
        set: z.record(z.string(), z.unknown()).default({}).describe('dotted key -> value applied over the base config'),
        grid: axes.default({}).describe("the case's own grid"),
        zip: axes.default({}).describe("the case's own zipped axes"),
      }),
    )
    .default([])
    .describe('named sub-sweeps merged over the base config (their runs are added)'),
  exclude: z.array(z.record(z.string(), z.unknown())).default([]).describe('drop runs matching every key of an entry'),
});

export const configSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-"')
    .default('sweep')
    .describe('sweep name; results go to <output.root>/<name>/'),
  description: z.string().optional().describe('free text, kept with the sweep'),
  extends: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe('base config file(s), deep-merged (later wins, lists replace)'),
  task: taskSchema.describe('what to train and evaluate on (docs/tasks.md)'),
  model: modelSchema.describe('the architecture (docs/models.md)'),
  train: trainSchema,
  eval: evalSchema,
  bench: benchSchema,
  seeds: z.array(z.number().int().nonnegative()).min(1).default([0]).describe('every run is repeated once per seed'),
  sweep: sweepSchema,
  execution: executionSchema,
  output: outputSchema,
  claims: claimsSchema,
  profiles: profilesSchema,
});

/** Sections that may be omitted in YAML; they are filled with `{}` so their defaults apply. */
export const SECTIONS = ['task', 'model', 'train', 'eval', 'bench', 'sweep', 'execution', 'output'] as const;

export type ExperimentConfig = z.infer<typeof configSchema>;
export type TrainConfig = z.infer<typeof trainSchema>;
export type EvalConfig = z.infer<typeof evalSchema>;
export type BenchConfig = z.infer<typeof benchSchema>;
export type ExecutionConfig = z.infer<typeof executionSchema>;
export type OutputConfig = z.infer<typeof outputSchema>;
export type SweepConfig = z.infer<typeof sweepSchema>;

/** The fully resolved config of one run (config.json); its identity excludes `name`. */
export interface RunConfig {
  name: string;
  seed: number;
  task: TaskConfig;
  model: ResolvedModel;
  train: TrainConfig;
  eval: EvalConfig;
  bench: BenchConfig;
}
