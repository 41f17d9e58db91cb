/**
 * Checkpoints in the standard safetensors format (hand-written; the format is tiny):
 *   [8-byte little-endian u64 header length N][N bytes JSON header][tensor data]
 * The header maps each weight name to { dtype: 'F32', shape, data_offsets: [begin, end] }
 * (offsets relative to the start of the data section, little-endian float32 data, no gaps) and
 * holds `__metadata__` (string values only): the resolved model config as a JSON string, the run's
 * seed, the model's init seed (derived from it) and the tokenizer (byte, the char alphabet or the
 * BPE merges, as JSON) so that a copied run decodes without its corpus. The header is padded with spaces to a multiple of 8 bytes (as the reference writer
 * does). `dir/config.json` and `dir/tokenizer.json` repeat the config and the tokenizer for humans and tools.
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/fs.ts';
import { storedMixerProblem } from './kinds/registry.ts';
import { buildModel } from './model.ts';
import type { ResolvedModel } from './resolved.ts';
import type { LanguageModel } from './types.ts';
import type { TokenizerState } from '../tasks/tokenizers.ts';

export const CHECKPOINT_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const TOKENIZER_FILE = 'tokenizer.json';

export interface CheckpointMeta {
  /** the run's seed (config.seed) */
  seed?: number;
  tokenizer?: TokenizerState;
}

export interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  __metadata__?: Record<string, string>;
  [name: string]: TensorEntry | Record<string, string> | undefined;
}

/** Encode named float32 tensors (+ string metadata) as one safetensors buffer. */
export function encodeSafetensors(
  tensors: { name: string; shape: number[]; data: Float32Array }[],
  metadata: Record<string, string>,
): Buffer {
  const header: SafetensorsHeader = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const n = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hb.length + offset);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  let pos = 8 + hb.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i]!, pos + 4 * i);
    pos += t.data.length * 4;
  }
  return out;
}

/** Parse a safetensors buffer (F32 tensors only). Throws UserError on a malformed file. */
export function decodeSafetensors(
  buf: Buffer,
  file = 'checkpoint',
): { header: SafetensorsHeader; tensors: Map<string, { shape: number[]; data: Float32Array }> } {
  if (buf.length < 8) throw new UserError(`${file}: not a safetensors file (shorter than 8 bytes)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new UserError(`${file}: safetensors header length ${n} exceeds the file size ${buf.length}`);
  let header: SafetensorsHeader;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as SafetensorsHeader;
  } catch {
    throw new UserError(`${file}: safetensors header is not valid JSON`);
  }
  const dataStart = 8 + n;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const t = e as TensorEntry;
    if (t.dtype !== 'F32') throw new UserError(`${file}: tensor ${name} has dtype ${t.dtype}; only F32 is supported`);
    const [b, end] = t.data_offsets;
    const count = t.shape.reduce((a, x) => a * x, 1);
    if (end - b !== 4 * count || dataStart + end > buf.length)
      throw new UserError(`${file}: tensor ${name} has inconsistent data_offsets [${b}, ${end}] for shape [${t.shape}]`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(dataStart + b + 4 * i);
    tensors.set(name, { shape: t.shape, data });
  }
  return { header, tensors };
}

/** Write dir/model.safetensors and dir/config.json (each atomically: temp file, then rename). */
export function saveCheckpoint(model: LanguageModel, dir: string, meta: CheckpointMeta = {}): void {
  const tensors = [...model.weights.entries()].map(([name, v]) => ({ name, shape: v.shape, data: v.dataSync() as Float32Array }));
  const initSeed = (model as { seed?: number }).seed;
  const metadata: Record<string, string> = { format: 'seqlab', config: JSON.stringify(model.config) };
  if (meta.seed !== undefined) metadata.seed = String(meta.seed);
  if (initSeed !== undefined) metadata.init_seed = String(initSeed);
  if (meta.tokenizer) metadata.tokenizer = JSON.stringify(meta.tokenizer);
  writeFileAtomic(path.join(dir, CHECKPOINT_FILE), encodeSafetensors(tensors, metadata));
  writeJsonAtomic(path.join(dir, CONFIG_FILE), model.config);
  if (meta.tokenizer) writeJsonAtomic(path.join(dir, TOKENIZER_FILE), meta.tokenizer);
}

/** The metadata of a checkpoint (seed, init seed, tokenizer) without loading its weights. */
export function readCheckpointMeta(dir: string): { seed?: number; initSeed?: number; tokenizer?: TokenizerState } {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(file)) throw new UserError(`no checkpoint at ${file}`);
  const fd = fs.openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    if (n > fs.fstatSync(fd).size) throw new UserError(`${file}: safetensors header length ${n} exceeds the file size`);
    const hb = Buffer.alloc(n);
    fs.readSync(fd, hb, 0, n, 8);
    let meta: Record<string, string> | undefined;
    try {
      meta = (JSON.parse(hb.toString('utf8')) as SafetensorsHeader).__metadata__;
    } catch {
      throw new UserError(`${file}: safetensors header is not valid JSON`);
    }
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return {
      seed: num(meta?.seed),
      initSeed: num(meta?.init_seed),
      tokenizer: meta?.tokenizer ? (JSON.parse(meta.tokenizer) as TokenizerState) : undefined,
    };
  } finally {
    fs.closeSync(fd);
  }
}

/** The first stored layer mixer (or branch) that cannot be built, as `layers.<i>.mixer...: why`. */
export function storedModelProblem(cfg: ResolvedModel): string | undefined {
  const layers = [
    ...(cfg.layers ?? []).map((l, i) => [`layers.${i}`, l] as const),
    ...(cfg.shared ? [['shared', cfg.shared] as const] : []),
  ];
  for (const [at, l] of layers) {
    const m = l.mixer as unknown as Record<string, unknown>;
    if (m.kind === 'shared') continue;
    const parts =
      m.kind === 'parallel' || m.kind === 'routed'
        ? (m.branches as Record<string, unknown>[]).map((b, j) => [`${at}.mixer.branches.${j}`, b] as const)
        : [[`${at}.mixer`, m] as const];
    for (const [where, b] of parts) {
      const p = storedMixerProblem(b);
      if (p) return `${where}: ${p}`;
    }
  }
  return undefined;
}

/** Rebuild the model from the checkpoint's metadata and load every weight (names and shapes must match). */
export function loadCheckpoint(dir: string): LanguageModel {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(file)) throw new UserError(`no checkpoint at ${file}`);
  const { header, tensors } = decodeSafetensors(fs.readFileSync(file), file);
  const cfgText = header.__metadata__?.config;
  if (!cfgText) throw new UserError(`${file}: safetensors metadata has no model config`);
  // JSON has no -Infinity: selret's default a_min comes back as null, which the mixer reads as no clamp.
  const cfg = JSON.parse(cfgText) as ResolvedModel;
  const problem = storedModelProblem(cfg);
  if (problem) throw new UserError(`${file}: model config: ${problem}`);
  const model = buildModel(cfg, Number(header.__metadata__?.init_seed ?? header.__metadata__?.seed ?? 0));
  for (const [name, v] of model.weights) {
    const t = tensors.get(name);
    if (!t) {
      model.dispose();
      throw new UserError(`${file}: weight ${name} is missing`);
    }
    if (t.shape.join(',') !== v.shape.join(',')) {
      model.dispose();
      throw new UserError(`${file}: weight ${name} has shape [${t.shape}], the model expects [${v.shape}]`);
    }
    const value = tf.tensor(t.data, t.shape, 'float32');
    v.assign(value);
    value.dispose();
  }
  const extra = [...tensors.keys()].filter((k) => !model.weights.has(k));
  if (extra.length) {
    model.dispose();
    throw new UserError(`${file}: unexpected weights ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', ...' : ''}`);
  }
  return model;
}
