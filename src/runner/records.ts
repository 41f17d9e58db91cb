// The runner's on-disk records (docs/runner.md section 4) as zod schemas: their TypeScript types are
// inferred from these, and whatever is read back from disk (by another process, another host, or
// after a hand edit) is checked against the same definition. plan.json's schema, which embeds the
// config's execution settings, lives in sweep-dir.ts: this module stays light (the lock, ledger and
// every worker load it) and never imports the config schema at run time.
import { z } from 'zod';

export type FailureClass = typeof import('../config/schema.ts').FAILURE_CLASSES[number];

export const RUN_STATES = ['planned', 'running', 'done', 'failed', 'timed_out', 'diverged', 'cancelled', 'lost'] as const;
export const runStateSchema = z.enum(RUN_STATES);
export type RunState = z.infer<typeof runStateSchema>;

/** One line of ledger.jsonl: a state transition of one attempt. */
export const ledgerEntrySchema = z.object({
  id: z.string(),
  state: runStateSchema,
  attempt: z.number().int().nonnegative(),
  time: z.string(),
  pid: z.number().int(),
  host: z.string(),
  error: z.string().optional(),
  slurm_job: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;

/** One attempt in status.json. */
export const attemptRecordSchema = z.object({
  attempt: z.number().int().nonnegative(),
  state: runStateSchema,
  start: z.string(),
  end: z.string().optional(),
  wall_s: z.number().optional(),
  pid: z.number().int(),
  host: z.string(),
  worker_pid: z.number().int().optional(),
  exit_code: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  error: z.string().optional(),
  slurm_job: z.string().optional(),
});
export type AttemptRecord = z.infer<typeof attemptRecordSchema>;

/** runs/<id>/status.json. */
export const runStatusSchema = z.object({
  id: z.string(),
  state: runStateSchema,
  attempt: z.number().int().nonnegative(),
  attempts: z.array(attemptRecordSchema),
  updated: z.string(),
  error: z.string().optional(),
});
export type RunStatusFile = z.infer<typeof runStatusSchema>;

/** runs/<id>/lock: the owner of a run. */
export const lockInfoSchema = z.object({
  pid: z.number().int(),
  host: z.string(),
  token: z.string(),
  started: z.string(),
  heartbeat: z.string(),
  /** The worker process that does the work, once spawned (its death is checked too). */
  worker_pid: z.number().int().optional(),
  slurm_job: z.string().optional(),
});
export type LockInfo = z.infer<typeof lockInfoSchema>;

/** One run of plan.json. */
export const planEntrySchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a run id (letters, digits, _ and -: it names a folder)'),
  index: z.number().int().nonnegative(),
  axes: z.record(z.string(), z.unknown()),
  case: z.string().optional(),
  config: z.string(),
  added: z.string(),
});
export type PlanEntry = z.infer<typeof planEntrySchema>;

/** One submitted array, as recorded in slurm/jobs.jsonl. */
export const slurmJobRecordSchema = z.object({
  job_id: z.string(),
  array: z.number().int(),
  script: z.string(),
  ids_file: z.string(),
  ids: z.array(z.string()),
  time: z.string(),
});
export type SlurmJobRecord = z.infer<typeof slurmJobRecordSchema>;

/** The first problem of a failed parse, as `dotted.path: message`. */
export function firstIssue(e: z.ZodError): string {
  const i = e.issues[0]!;
  return `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`;
}
