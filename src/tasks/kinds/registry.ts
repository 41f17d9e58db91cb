/**
 * The task kinds: one line per module. Everything that is per kind (the `task:` schema and its
 * defaults, the checks, the data, the metrics a run reports, `seqlab tasks`, the config reference)
 * is driven by this table; a new kind is its module, its tests and one line here (docs/tasks.md 6.1).
 */
import { z } from 'zod';
import type { EvalMetric } from '../../metrics/names.ts';
import type { TaskData } from '../types.ts';
import { induction } from './induction.ts';
import { listops } from './listops.ts';
import { lm } from './lm.ts';
import { modularArithmetic } from './modular-arithmetic.ts';
import { mqar } from './mqar.ts';
import { parity } from './parity.ts';
import { selectiveCopy } from './selective-copy.ts';
import type { Fail, TaskOptions } from './types.ts';

/** The first kind is the default of an omitted `task:` section. */
export const TASKS = [lm, mqar, selectiveCopy, induction, listops, parity, modularArithmetic] as const;

type Defs = (typeof TASKS)[number];
export type TaskKind = Defs['kind'];

type SchemasOf<T> = { -readonly [I in keyof T]: T[I] extends { schema: infer S } ? S : never };
/** The discriminated union itself (for documentation walkers). */
export const taskUnion = z.discriminatedUnion('kind', TASKS.map((t) => t.schema) as unknown as SchemasOf<typeof TASKS>);
export type TaskConfig = z.infer<typeof taskUnion>;
export type TaskConfigOf<K extends TaskKind> = Extract<TaskConfig, { kind: K }>;

export const taskKindSchemas = Object.fromEntries(TASKS.map((t) => [t.kind, t.schema])) as {
  [K in TaskKind]: Extract<Defs, { kind: K }>['schema'];
};
export const TASK_KINDS = TASKS.map((t) => t.kind) as unknown as readonly TaskKind[];

/** One kind's definition with its config type erased (the single place the union is narrowed). */
export interface ErasedTaskDef {
  kind: TaskKind;
  schema: z.ZodType;
  family: 'lm' | 'synthetic';
  metrics: readonly EvalMetric[];
  provenance: { source: string; licence: string };
  validate(task: TaskConfig, fail: Fail): void;
  seqLen(task: TaskConfig): number;
  extraEvalLengths?(task: TaskConfig): number[];
  vocabSize(task: TaskConfig, opts: TaskOptions): number;
  configVocabSize?(task: TaskConfig, opts: TaskOptions): number | undefined;
  checkData?(task: TaskConfig, opts: TaskOptions): void;
  load(task: TaskConfig, opts: TaskOptions): TaskData;
}
const BY_KIND = new Map<string, ErasedTaskDef>(TASKS.map((t) => [t.kind, t as unknown as ErasedTaskDef]));

export function taskDef(kind: TaskKind): ErasedTaskDef {
  const def = BY_KIND.get(kind);
  if (!def) throw new Error(`unknown task kind ${String(kind)}`);
  return def;
}

export const isTaskKind = (k: string): k is TaskKind => BY_KIND.has(k);

/** The evaluation metrics a run of this task reports per split (summary.json, docs/runner.md 5). */
export const taskMetrics = (task: Pick<TaskConfig, 'kind'>): readonly EvalMetric[] => taskDef(task.kind).metrics;

/** The task kinds that report an evaluation metric. */
export const kindsReporting = (metric: string): ErasedTaskDef[] =>
  TASKS.map((t) => taskDef(t.kind)).filter((t) => (t.metrics as readonly string[]).includes(metric));
