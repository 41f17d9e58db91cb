// Creating and reading a sweep directory: sweep.yaml, plan.json (versioned), runs/<id>/config.json.
// Nothing already there is deleted or overwritten: a new config adds runs, never removes them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { executionSchema, type ExecutionConfig } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { sha256Hex } from '../util/hash.ts';
import { readJsonOrUndefined, writeFileAtomic, writeJsonAtomic } from '../util/fs.ts';
import { RunLock } from './lock.ts';
import { runFiles, sweepFiles, SWEEP_FORMAT_VERSION } from './layout.ts';
import { firstIssue, planEntrySchema, type PlanEntry } from './records.ts';

/** The part of config/plan.ts's Plan the runner needs (structural, so tests can build one). */
export interface SweepPlan {
  name: string;
  sweepDir: string;
  runs: { id: string; index: number; axes: Record<string, unknown>; case?: string; config: unknown }[];
  execution: ExecutionSettings;
  sweepYaml: string;
}

/** The execution settings: config/schema.ts's, defaults included (one definition). */
export type ExecutionSettings = ExecutionConfig;

/** What executing a run needs of its plan entry (a planned run from config/plan.ts is one too). */
export type RunRef = Pick<PlanEntry, 'id' | 'axes' | 'case'>;

export type { PlanEntry };

/** plan.json (format_version is checked first, so an old layout gets the version message). */
export const planFileSchema = z.object({
  format_version: z.number(),
  name: z.string(),
  created: z.string().optional(),
  updated: z.string().optional(),
  // Missing (a hand-made or older plan): the schema's defaults, as for a config without `execution`.
  execution: executionSchema.prefault({}),
  runs: z.array(planEntrySchema),
  /** Absolute paths of the config files whose runs are in this sweep (absent in older sweeps). */
  sources: z.array(z.string()).optional(),
});
export type PlanFile = z.infer<typeof planFileSchema>;

export interface PrepareOptions {
  /** The config file the plan came from (a different file with the same name is refused without `yes`). */
  source?: string;
  /** Accept adding to a sweep that another config file made. */
  yes?: boolean;
  /** Where to say that a different config joins the sweep (default: stderr). */
  note?: (line: string) => void;
}

/** Read plan.json; refuse one written by another format version (docs/runner.md section 8). */
export function readPlanFile(sweepDir: string): PlanFile | undefined {
  const file = sweepFiles(sweepDir).plan;
  if (!fs.existsSync(file)) return undefined;
  const raw = readJsonOrUndefined<Record<string, unknown>>(file);
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.runs))
    throw new UserError(`${file} is not a seqlab plan file (unreadable JSON); move it away or pick another output.root`);
  if (raw.format_version !== SWEEP_FORMAT_VERSION)
    throw new UserError(
      `${sweepDir} was written by an incompatible seqlab version (sweep format ${String(raw.format_version)}, this seqlab reads ${SWEEP_FORMAT_VERSION}); use another output.root or that seqlab version`,
    );
  // Through the schema: the execution settings `exec` applies on a node get their defaults here too.
  const plan = planFileSchema.safeParse(raw);
  if (!plan.success)
    throw new UserError(`${file}: ${firstIssue(plan.error)} (a damaged plan file; move it away or pick another output.root)`);
  return plan.data;
}

export function requirePlanFile(sweepDir: string): PlanFile {
  if (!fs.existsSync(sweepDir)) throw new UserError(`no such sweep directory: ${sweepDir}`);
  const plan = readPlanFile(sweepDir);
  if (!plan) throw new UserError(`${sweepDir} is not a sweep directory (no plan.json)`);
  return plan;
}

/**
 * Write (or extend) the sweep directory for a plan; returns the merged plan file. Concurrent
 * `seqlab run`s on one sweep serialise on plan.lock so neither loses the other's new runs.
 */
export async function prepareSweepDir(plan: SweepPlan, opts: PrepareOptions = {}): Promise<PlanFile> {
  const f = sweepFiles(plan.sweepDir);
  const note = opts.note ?? ((line: string) => process.stderr.write(`seqlab: note: ${line}\n`));
  const source = opts.source === undefined ? undefined : path.resolve(opts.source);
  readPlanFile(plan.sweepDir); // version check before touching anything
  fs.mkdirSync(f.runsDir, { recursive: true });
  const lock = await waitForLock(f.planLock);
  try {
    const existing = readPlanFile(plan.sweepDir);
    const kept = writeSweepYaml(plan);
    if (existing && kept) {
      const sources = existing.sources ?? [];
      if (source && sources.length && !sources.includes(source) && !opts.yes) {
        fs.rmSync(path.join(plan.sweepDir, kept));
        throw new UserError(
          `${source}: sweep "${plan.name}" in ${plan.sweepDir} was made by another config (${sources.join(', ')}) and this one differs; give it its own name, or pass --yes to add its runs to that sweep`,
        );
      }
      note(`${plan.sweepDir}: this config differs from the sweep's sweep.yaml; its runs join the sweep (config kept as ${kept})`);
    }
    const now = new Date().toISOString();
    const merged: PlanFile = existing ?? {
      format_version: SWEEP_FORMAT_VERSION,
      name: plan.name,
      created: now,
      updated: now,
      execution: plan.execution,
      runs: [],
    };
    const known = new Set(merged.runs.map((r) => r.id));
    let added = 0;
    for (const r of plan.runs) {
      const rf = runFiles(plan.sweepDir, r.id);
      if (!fs.existsSync(rf.config)) writeJsonAtomic(rf.config, r.config);
      if (known.has(r.id)) continue;
      known.add(r.id);
      const entry: PlanEntry = {
        id: r.id,
        index: merged.runs.length,
        axes: r.axes,
        config: path.relative(plan.sweepDir, rf.config),
        added: now,
      };
      if (r.case !== undefined) entry.case = r.case;
      merged.runs.push(entry);
      added++;
    }
    // The latest execution settings are what `exec` on a cluster node applies.
    merged.execution = plan.execution;
    const newSource = source !== undefined && !(merged.sources ?? []).includes(source);
    if (newSource) merged.sources = [...(merged.sources ?? []), source!];
    if (added || !existing || newSource || JSON.stringify(existing.execution) !== JSON.stringify(plan.execution)) {
      merged.updated = now;
      writeJsonAtomic(f.plan, merged);
    }
    return merged;
  } finally {
    lock.release();
  }
}

/**
 * sweep.yaml keeps the first config; a different later config is kept beside it, not over it.
 * Returns the name of the file newly written beside it (a config this sweep had not seen), if any.
 */
function writeSweepYaml(plan: SweepPlan): string | undefined {
  const f = sweepFiles(plan.sweepDir);
  if (!fs.existsSync(f.sweepYaml)) {
    writeFileAtomic(f.sweepYaml, plan.sweepYaml);
    return undefined;
  }
  if (fs.readFileSync(f.sweepYaml, 'utf8') === plan.sweepYaml) return undefined;
  const name = `sweep.${sha256Hex(plan.sweepYaml).slice(0, 8)}.yaml`;
  const other = path.join(plan.sweepDir, name);
  if (fs.existsSync(other)) return undefined;
  writeFileAtomic(other, plan.sweepYaml);
  return name;
}

export async function waitForLock(file: string, timeoutMs = 60_000): Promise<RunLock> {
  const t0 = Date.now();
  for (;;) {
    const r = RunLock.acquire(file);
    if ('lock' in r) return r.lock;
    if (Date.now() - t0 > timeoutMs) throw new UserError(`timed out waiting for ${file}`, 1);
    await new Promise((res) => setTimeout(res, 50));
  }
}
