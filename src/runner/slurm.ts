// SLURM hand-off (docs/runner.md section 7): sbatch array scripts that reference only the sweep
// directory and an index file of run ids, split to fit MaxArraySize, throttled with %N.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { appendJsonl, readJsonl, writeFileAtomic } from '../util/fs.ts';
import { sweepFiles } from './layout.ts';
import { slurmJobRecordSchema, type SlurmJobRecord } from './records.ts';

export const DEFAULT_MAX_ARRAY_SIZE = 1001;

export type { SlurmJobRecord };

/** POSIX single-quoting: the only safe way to put a path in a shell script. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function run(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number };
    if (err.code === 'ENOENT') return undefined;
    throw new UserError(
      `${cmd} ${args.join(' ')} failed: ${String(err.stderr ?? err.message)
        .trim()
        .split('\n')
        .pop()}`,
      1,
    );
  }
}

export function commandExists(cmd: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, cmd)));
}

/** MaxArraySize from `scontrol show config` (largest index + 1), or undefined when unknown. */
export function parseMaxArraySize(scontrolConfig: string): number | undefined {
  const m = /^\s*MaxArraySize\s*=\s*(\d+)/m.exec(scontrolConfig);
  return m ? Number(m[1]) : undefined;
}

export function clusterMaxArraySize(): number | undefined {
  if (!commandExists('scontrol')) return undefined;
  try {
    const out = run('scontrol', ['show', 'config']);
    return out === undefined ? undefined : parseMaxArraySize(out);
  } catch {
    return undefined;
  }
}

/** Job id -> state for every job squeue knows, array tasks expanded (`123_4`); undefined without squeue. */
export function squeueStates(): Map<string, string> | undefined {
  if (!commandExists('squeue')) return undefined;
  let out: string | undefined;
  try {
    out = run('squeue', ['-h', '-r', '-o', '%i|%T']);
  } catch {
    return undefined;
  }
  if (out === undefined) return undefined;
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [id, state] = line.trim().split('|');
    if (id && state) m.set(id, state);
  }
  return m;
}

/**
 * Inside a SLURM job that is being ended: why, from squeue's reason (`TimeLimit` when --time ran
 * out, `Deadline` for --deadline); undefined outside SLURM or when squeue cannot tell.
 */
export function slurmEndReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const job = env.SLURM_JOB_ID;
  if (!job || !commandExists('squeue')) return undefined;
  try {
    const out = execFileSync('squeue', ['-h', '-j', job, '-o', '%r'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 3000,
    });
    return out.trim().split('\n')[0] || undefined;
  } catch {
    return undefined;
  }
}

/** This task's job id for `scontrol requeue` (`<array job>_<task>` for an array task). */
export function slurmTaskJobId(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID) return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID || undefined;
}

/** Put this task back in the queue (SLURM restarts its script from the top; the run resumes from its checkpoint). */
export function requeueSelf(env: NodeJS.ProcessEnv = process.env): string {
  const job = slurmTaskJobId(env);
  if (!job) throw new UserError('requeue: not inside a SLURM job (no SLURM_JOB_ID)', 1);
  if (run('scontrol', ['requeue', job]) === undefined) throw new UserError('scontrol not found on PATH: cannot requeue', 1);
  return job;
}

export function readSlurmJobs(sweepDir: string): SlurmJobRecord[] {
  return readJsonl(sweepFiles(sweepDir).slurmJobs).flatMap((j) => {
    const r = slurmJobRecordSchema.safeParse(j);
    return r.success ? [r.data] : [];
  });
}

/** Run id -> its SLURM task id (`<job>_<index>`) for the latest submission of each run. */
export function slurmTaskOfRun(jobs: SlurmJobRecord[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const j of jobs) j.ids.forEach((id, k) => m.set(id, `${j.job_id}_${k}`));
  return m;
}

/** Split `ids` into arrays whose indices stay below maxArraySize. */
export function chunkIds(ids: string[], maxArraySize: number): string[][] {
  if (!Number.isInteger(maxArraySize) || maxArraySize < 1)
    throw new UserError(`MaxArraySize must be a positive integer, got ${maxArraySize}`);
  const out: string[][] = [];
  for (let k = 0; k < ids.length; k += maxArraySize) out.push(ids.slice(k, k + maxArraySize));
  return out;
}

/** Resources every array task asks for: sbatch options, validated before they reach a script. */
export interface SbatchResources {
  partition?: string;
  time?: string;
  account?: string;
  qos?: string;
  mem?: string;
  gres?: string;
  cpusPerTask?: number;
}

/**
 * Requeue before the time limit (docs/runner.md section 11), as submitit's Checkpointable does:
 * SLURM sends SIGUSR1 to the batch shell (`exec` itself) `signalBefore` seconds before --time runs
 * out; exec stops its worker (which checkpoints) and requeues the task, at most `maxRequeues` times.
 */
export interface RequeueOptions {
  maxRequeues: number;
  signalBefore: number;
}

export const DEFAULT_SIGNAL_BEFORE_S = 90;

export interface ArrayScriptOptions extends SbatchResources {
  requeue?: RequeueOptions;
  jobName: string;
  count: number;
  arrayLimit?: number;
  idsFile: string; // relative to the sweep dir
  sweepDir: string; // absolute
  array: number;
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const GRES_ITEM = /^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$/;

/**
 * What each sbatch option accepts (the sbatch man page, narrowed to what a name or amount can be):
 * a value that does not match never reaches a script, so no value is ever shell text.
 */
const SBATCH_FORMATS: Record<
  Exclude<keyof SbatchResources, 'cpusPerTask'>,
  { flag: string; ok: (v: string) => boolean; expected: string }
> = {
  partition: {
    flag: '--partition',
    ok: (v) => v.split(',').every((p) => NAME.test(p)),
    expected: 'a partition name (or a comma-separated list)',
  },
  // MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
  time: { flag: '--time', ok: (v) => /^(\d+-)?\d+(:\d+){0,2}$/.test(v), expected: 'a SLURM time (e.g. 30, 2:00:00, 1-00:00:00)' },
  account: { flag: '--account', ok: (v) => NAME.test(v), expected: 'an account name' },
  qos: { flag: '--qos', ok: (v) => NAME.test(v), expected: 'a QOS name' },
  mem: { flag: '--mem', ok: (v) => /^\d+[KMGT]?$/i.test(v), expected: 'a memory size per node (e.g. 4000, 500M, 16G)' },
  gres: {
    flag: '--gres',
    ok: (v) => v.split(',').every((g) => GRES_ITEM.test(g)),
    expected: 'name[:type]:count items, comma-separated (e.g. gpu:1, gpu:a100:2)',
  },
};

/** Check every given sbatch option; one UserError naming the first bad one. */
export function validateResources(r: { [K in keyof SbatchResources]?: string }): SbatchResources {
  const out: SbatchResources = {};
  for (const [key, f] of Object.entries(SBATCH_FORMATS) as [
    keyof typeof SBATCH_FORMATS,
    (typeof SBATCH_FORMATS)[keyof typeof SBATCH_FORMATS],
  ][]) {
    const v = r[key];
    if (v === undefined) continue;
    if (!f.ok(v)) throw new UserError(`${f.flag}: ${JSON.stringify(v)} is not ${f.expected}`); // JSON: a newline stays visible, one line
    out[key] = v;
  }
  if (r.cpusPerTask !== undefined) {
    const n = Number(r.cpusPerTask);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`--cpus-per-task expects a positive integer, got "${r.cpusPerTask}"`);
    out.cpusPerTask = n;
  }
  return out;
}

const SEQLAB_BIN = fileURLToPath(new URL('../../bin/seqlab.js', import.meta.url));

/** The batch script. Paths are single-quoted; no value from the config appears in it. */
export function arrayScript(o: ArrayScriptOptions): string {
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=${o.jobName}`,
    `#SBATCH --array=0-${o.count - 1}${o.arrayLimit ? `%${o.arrayLimit}` : ''}`,
    `#SBATCH --output=slurm/logs/array-${o.array}_%a.out`,
    '#SBATCH --open-mode=append',
    `#SBATCH --cpus-per-task=${o.cpusPerTask ?? 1}`,
  ];
  if (o.partition) lines.push(`#SBATCH --partition=${o.partition}`);
  if (o.time) lines.push(`#SBATCH --time=${o.time}`);
  if (o.account) lines.push(`#SBATCH --account=${o.account}`);
  if (o.qos) lines.push(`#SBATCH --qos=${o.qos}`);
  if (o.mem) lines.push(`#SBATCH --mem=${o.mem}`);
  if (o.gres) lines.push(`#SBATCH --gres=${o.gres}`);
  if (o.requeue) lines.push('#SBATCH --requeue', `#SBATCH --signal=B:USR1@${o.requeue.signalBefore}`);
  lines.push(
    '# Written by `seqlab submit`. Task i runs line i (0-based) of the index file through',
    '# `seqlab exec`, which takes the run lock and writes the same files as a local run.',
    'set -euo pipefail',
    `cd ${shq(o.sweepDir)}`,
    `exec ${shq(process.execPath)} ${shq(process.env.SEQLAB_BIN ?? SEQLAB_BIN)} exec . --ids ${shq(o.idsFile)} --index "$SLURM_ARRAY_TASK_ID"${o.requeue ? ` --max-requeues ${o.requeue.maxRequeues}` : ''}`,
    '',
  );
  return lines.join('\n');
}

/** Next free array number: scripts are never overwritten, so resubmission keeps the history. */
export function nextArrayNumber(sweepDir: string): number {
  const dir = sweepFiles(sweepDir).slurmDir;
  let max = 0;
  for (const n of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const m = /^array-(\d+)\.sbatch$/.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

export interface PreparedArray {
  array: number;
  script: string; // absolute
  idsFile: string; // relative to the sweep dir
  ids: string[];
  text: string;
}

export function prepareArrays(
  sweepDir: string,
  ids: string[],
  o: Omit<ArrayScriptOptions, 'count' | 'idsFile' | 'sweepDir' | 'array'> & { maxArraySize: number },
): PreparedArray[] {
  const abs = path.resolve(sweepDir);
  let k = nextArrayNumber(sweepDir);
  return chunkIds(ids, o.maxArraySize).map((chunk) => {
    const array = k++;
    const idsFile = `slurm/array-${array}.ids`;
    const text = arrayScript({ ...o, count: chunk.length, idsFile, sweepDir: abs, array });
    return { array, script: path.join(abs, 'slurm', `array-${array}.sbatch`), idsFile, ids: chunk, text };
  });
}

export function writeArray(sweepDir: string, a: PreparedArray): void {
  fs.mkdirSync(path.join(sweepDir, 'slurm', 'logs'), { recursive: true });
  writeFileAtomic(path.join(sweepDir, a.idsFile), a.ids.join('\n') + '\n');
  writeFileAtomic(a.script, a.text);
  fs.chmodSync(a.script, 0o755);
}

/** sbatch the script (argv, no shell); returns the job id and records it in slurm/jobs.jsonl. */
export function sbatch(sweepDir: string, a: PreparedArray): string {
  const out = run('sbatch', ['--parsable', `--chdir=${path.resolve(sweepDir)}`, a.script]);
  if (out === undefined) throw new UserError('sbatch not found on PATH: is this a SLURM login node?', 1);
  const jobId = out.trim().split('\n').pop()!.split(';')[0]!.trim();
  if (!/^\d+$/.test(jobId)) throw new UserError(`sbatch printed "${out.trim()}", expected a job id`, 1);
  const rec: SlurmJobRecord = {
    job_id: jobId,
    array: a.array,
    script: path.relative(path.resolve(sweepDir), a.script),
    ids_file: a.idsFile,
    ids: a.ids,
    time: new Date().toISOString(),
  };
  appendJsonl(sweepFiles(sweepDir).slurmJobs, rec);
  return jobId;
}
