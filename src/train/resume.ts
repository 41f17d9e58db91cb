/**
 * Training checkpoints and exact resume (docs/runner.md section 11). Every `train.checkpoint_every`
 * steps (or seconds), when the run is stopped between steps (Ctrl-C, a timeout, SLURM's warning
 * signal) and once after the last step, the loop's whole state goes to
 * `<run>/train_state/step-<N>.safetensors`: the weights, both AdamW moments and its update count,
 * the loop's progress object (step, losses, evals, timing samples, logging window; everything a
 * stopping rule can read) and metrics.jsonl as it stood at that step. The data stream needs no
 * state of its own (batch i is a pure function of i and the data seed, and i is the step), the
 * model has no dropout and its init seed is fixed by the config, so nothing else is random.
 *
 * The file is the safetensors format of src/models/checkpoint.ts; its metadata holds the format
 * version, the run id (the config identity), the step and a crc32c over the metadata and the
 * tensor data. It is written atomically (temp file, fsync, rename); the previous checkpoint is
 * removed only after the new one is complete. On resume the newest readable checkpoint wins: a
 * truncated or corrupted one is skipped with one log line and renamed `*.unreadable` (the
 * previous one is used, else step 0); one
 * written by another config or by a newer format is refused (UserError: the run fails with one
 * line and nothing is overwritten).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '@aws-crypto/crc32c';
import * as tf from '@tensorflow/tfjs';
import { parseDuration, type TrainConfig } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { decodeSafetensors, encodeSafetensors } from '../models/checkpoint.ts';
import { writeFileAtomic } from '../util/fs.ts';
import type { SplitMetrics } from './eval.ts';
import type { AdamW } from './optimizer.ts';
import { listTrainStates, TRAIN_STATE_DIR, trainStateFile } from './state-files.ts';

export { clearTrainState, TRAIN_STATE_DIR } from './state-files.ts';

export const TRAIN_STATE_FORMAT = 1;
const FORMAT_NAME = 'seqlab-train-state';

/**
 * Everything the training loop has accumulated: saved whole, so whatever reads it (the logging
 * window, a stopping rule over `evals`) resumes exactly where it stopped.
 */
export interface LoopProgress {
  /** optimizer steps completed (= the next step's index = the data stream's position) */
  steps: number;
  tokens: number;
  trainLoss: number;
  losses: number[];
  numTensors: number[];
  evals: { step: number; split: string; metrics: SplitMetrics }[];
  /** tokens/s of every timed step (train_tokens_per_s is their median) */
  stepRates: number[];
  /** losses since the last logged training line */
  window: number[];
  gradNorm: number;
  peakTensorBytes: number;
  /** training-loop seconds before this attempt */
  trainTimeS: number;
  /** metrics.jsonl time_s at the checkpoint */
  elapsedS: number;
  /** times this run was resumed from a checkpoint */
  resumes: number;
  /** the step at which train.stop_at's target was reached (training is over) */
  stoppedAt?: number;
}

export function freshProgress(): LoopProgress {
  return {
    steps: 0,
    tokens: 0,
    trainLoss: NaN,
    losses: [],
    numTensors: [],
    evals: [],
    stepRates: [],
    window: [],
    gradNorm: NaN,
    peakTensorBytes: 0,
    trainTimeS: 0,
    elapsedS: 0,
    resumes: 0,
  };
}

/** JSON that keeps NaN and +-Infinity (a loss can be either). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v));
}
function fromJson<T>(text: string): T {
  return JSON.parse(text, (_k, v) =>
    v && typeof v === 'object' && typeof v.$num === 'string' && Object.keys(v).length === 1 ? Number(v.$num) : v,
  ) as T;
}

/** `train.checkpoint_every` as a rule: a step count (a number) or a duration (a string such as 10m); null: only on stop and at the end. */
export type CheckpointEvery = { steps: number } | { seconds: number } | null;

export function checkpointEvery(value: TrainConfig['checkpoint_every']): CheckpointEvery {
  if (value === null || value === undefined) return null;
  return typeof value === 'number' ? { steps: value } : { seconds: parseDuration(value) };
}

export interface TrainStateOptions {
  /** `<run>/train_state` */
  dir: string;
  /** the run id (config identity) the checkpoints belong to */
  runId: string;
  every: CheckpointEvery;
  /** metrics.jsonl: its text up to the checkpoint travels inside the checkpoint */
  metricsFile?: string;
}

export interface Restored {
  progress: LoopProgress;
  file: string;
}

function crcOf(meta: Record<string, string>, data: Uint8Array): string {
  const m = Buffer.from(
    JSON.stringify(
      Object.entries(meta)
        .filter(([k]) => k !== 'crc32c')
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
  );
  const c = crc32c(Buffer.concat([m, data]));
  return c.toString(16).padStart(8, '0');
}

/** The size a safetensors file declares (header + the end of its last tensor), if its header parses. */
function expectedSize(buf: Buffer): number | undefined {
  if (buf.length < 8) return 16; // shorter than any checkpoint
  const n = Number(buf.readBigUInt64LE(0));
  try {
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets?: [number, number] }>;
    const end = Math.max(0, ...Object.values(header).map((e) => e?.data_offsets?.[1] ?? 0));
    return 8 + n + end;
  } catch {
    return 8 + n > buf.length ? 8 + n : undefined;
  }
}

/** Saves and restores one run's training state for the loop. */
export class TrainState {
  private lastSaveStep = -1;
  private lastSaveTime = performance.now();

  constructor(
    private readonly o: TrainStateOptions,
    private readonly weights: ReadonlyMap<string, tf.Variable>,
    private readonly opt: AdamW,
    private readonly log: (line: string) => void,
  ) {}

  /** Is a periodic checkpoint due after `steps` completed steps? */
  due(steps: number): boolean {
    const e = this.o.every;
    if (!e || steps === this.lastSaveStep) return false;
    if ('steps' in e) return steps % e.steps === 0;
    return (performance.now() - this.lastSaveTime) / 1000 >= e.seconds;
  }

  /** Write the checkpoint of `p` (after p.steps steps); the older ones go once it is complete (the newest previous one stays). */
  save(p: LoopProgress): void {
    if (p.steps === this.lastSaveStep) return;
    const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
    for (const [name, v] of this.weights) tensors.push({ name: `w/${name}`, shape: v.shape, data: v.dataSync() as Float32Array });
    for (const { name, m, v } of this.opt.moments()) {
      tensors.push({ name: `m/${name}`, shape: m.shape, data: m.dataSync() as Float32Array });
      tensors.push({ name: `v/${name}`, shape: v.shape, data: v.dataSync() as Float32Array });
    }
    const meta: Record<string, string> = {
      format: FORMAT_NAME,
      version: String(TRAIN_STATE_FORMAT),
      run_id: this.o.runId,
      step: String(p.steps),
      adam_t: String(this.opt.t),
      progress: toJson(p),
      metrics_jsonl: this.o.metricsFile && fs.existsSync(this.o.metricsFile) ? fs.readFileSync(this.o.metricsFile, 'utf8') : '',
    };
    const data = Buffer.concat(tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
    meta.crc32c = crcOf(meta, data);
    const file = trainStateFile(this.o.dir, p.steps);
    writeFileAtomic(file, encodeSafetensors(tensors, meta));
    this.lastSaveStep = p.steps;
    this.lastSaveTime = performance.now();
    for (const old of listTrainStates(this.o.dir).slice(2)) fs.rmSync(old.file, { force: true });
  }

  /**
   * Load the newest usable checkpoint into the weights and the optimizer, put metrics.jsonl back
   * as it stood then, and return the progress; undefined (step 0) when there is none.
   */
  restore(): Restored | undefined {
    // A write cut short by kill -9 leaves its temporary file; only this run's worker writes here (it holds the run lock).
    for (const n of fs.existsSync(this.o.dir) ? fs.readdirSync(this.o.dir) : [])
      if (/\.tmp-\d+-/.test(n)) fs.rmSync(path.join(this.o.dir, n), { force: true });
    for (const { step, file } of listTrainStates(this.o.dir)) {
      const got = this.read(file, step);
      if (!got) continue;
      const { progress, metrics, adamT, tensors } = got;
      for (const [name, v] of this.weights) tf.tidy(() => v.assign(tf.tensor(tensors.get(`w/${name}`)!.data, v.shape, 'float32')));
      this.opt.restore(
        adamT,
        new Map(this.opt.moments().map(({ name }) => [name, { m: tensors.get(`m/${name}`)!.data, v: tensors.get(`v/${name}`)!.data }])),
      );
      if (this.o.metricsFile) writeFileAtomic(this.o.metricsFile, metrics); // what came after the checkpoint goes
      this.lastSaveStep = step;
      progress.resumes += 1;
      return { progress, file };
    }
    return undefined;
  }

  /** Decode and check one checkpoint: undefined (with one log line) when unreadable; UserError when it belongs elsewhere. */
  private read(file: string, step: number) {
    const rel = path.join(TRAIN_STATE_DIR, path.basename(file));
    const skip = (why: string) => {
      // Kept for inspection under a name that is never read again (nothing on disk is deleted).
      fs.renameSync(file, `${file}.unreadable`);
      this.log(`resume: ${rel} skipped: ${why} (kept as ${rel}.unreadable)`);
      return undefined;
    };
    let decoded: ReturnType<typeof decodeSafetensors>;
    let meta: Record<string, string>;
    try {
      const buf = fs.readFileSync(file);
      const size = expectedSize(buf);
      if (size !== undefined && size > buf.length) return skip(`truncated (${buf.length} of ${size} bytes)`);
      decoded = decodeSafetensors(buf, rel);
      meta = decoded.header.__metadata__ ?? {};
      if (meta.format !== FORMAT_NAME) return skip('not a seqlab training checkpoint');
      const n = Number(buf.readBigUInt64LE(0));
      if (meta.crc32c !== crcOf(meta, buf.subarray(8 + n))) return skip('checksum mismatch (corrupted)');
    } catch (e) {
      return skip(e instanceof Error ? e.message.replace(`${rel}: `, '') : String(e));
    }
    if (Number(meta.version) > TRAIN_STATE_FORMAT)
      throw new UserError(
        `${rel}: training checkpoint format ${meta.version} is newer than this seqlab reads (${TRAIN_STATE_FORMAT}); move the file away to start from step 0`,
      );
    if (meta.run_id !== this.o.runId)
      throw new UserError(
        `${rel}: training checkpoint of run ${meta.run_id}, not of this run (${this.o.runId}): another config; move it away to start from step 0`,
      );
    if (Number(meta.step) !== step) return skip(`its step ${meta.step} does not match its name`);
    const tensors = decoded.tensors;
    const expect: [string, number[]][] = [
      ...[...this.weights].map(([n, v]) => [`w/${n}`, v.shape] as [string, number[]]),
      ...this.opt
        .moments()
        .flatMap(({ name, m }) => [[`m/${name}`, m.shape] as [string, number[]], [`v/${name}`, m.shape] as [string, number[]]]),
    ];
    for (const [name, shape] of expect) {
      const t = tensors.get(name);
      if (!t) throw new UserError(`${rel}: tensor ${name} is missing: the checkpoint does not fit this model`);
      if (t.shape.join(',') !== shape.join(','))
        throw new UserError(`${rel}: tensor ${name} has shape [${t.shape}], the model expects [${shape}]`);
    }
    return {
      progress: fromJson<LoopProgress>(meta.progress ?? '{}'),
      metrics: meta.metrics_jsonl ?? '',
      adamT: Number(meta.adam_t),
      tensors,
    };
  }
}
