/**
 * The machine's identity for per-machine caches (the tuned OpenBLAS core, the matmul peak behind
 * mfu): CPU model, core count and SIMD flags, and a small JSON store of measured facts under
 * ${SEQLAB_CACHE_DIR:-~/.cache/seqlab}/machine/ keyed by a hash of that identity and of whatever
 * else the fact depends on. Measuring once per machine makes figures comparable across runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonOrUndefined, writeJsonAtomic } from '../util/fs.ts';
import { sha256Hex } from '../util/hash.ts';

/** SIMD features the BLAS kernels depend on (Linux /proc/cpuinfo names). */
const SIMD_FLAGS = [
  'sse3',
  'ssse3',
  'sse4_2',
  'avx',
  'avx2',
  'fma',
  'avx512f',
  'avx512dq',
  'avx512cd',
  'avx512bw',
  'avx512vl',
  'avx512_bf16',
  'avx512_fp16',
  'amx_tile',
  'asimd',
  'sve',
];

export interface MachineId {
  cpu_model: string;
  cpu_count: number;
  arch: string;
  /** The SIMD flags of SIMD_FLAGS this CPU has, sorted. */
  simd: string[];
}

/** The CPU's flags (first processor of /proc/cpuinfo: x86 `flags`, arm `Features`); empty elsewhere. */
export function cpuFlags(cpuinfo?: string): Set<string> {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return new Set();
    }
  }
  const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  return new Set(line ? line.split(':')[1].trim().split(/\s+/) : []);
}

let cached: MachineId | undefined;

export function machineId(): MachineId {
  if (cached) return cached;
  const flags = cpuFlags();
  cached = {
    cpu_model: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cpu_count: os.availableParallelism(),
    arch: os.arch(),
    simd: SIMD_FLAGS.filter((f) => flags.has(f)),
  };
  return cached;
}

/** ${SEQLAB_CACHE_DIR:-~/.cache/seqlab}/machine */
export function machineCacheDir(): string {
  return path.join(process.env.SEQLAB_CACHE_DIR || path.join(os.homedir(), '.cache', 'seqlab'), 'machine');
}

/** The stable key of `what` on this machine. */
export function machineKey(what: unknown): string {
  return sha256Hex(JSON.stringify({ machine: machineId(), what })).slice(0, 16);
}

interface Store<T> {
  [key: string]: T;
}

/** The value cached under `key` in the store `name`, if any. */
export function readMachineCache<T>(name: string, key: string): T | undefined {
  return readJsonOrUndefined<Store<T>>(path.join(machineCacheDir(), `${name}.json`))?.[key];
}

/**
 * Stores `value` under `key` (read-modify-write, atomic rename: a concurrent writer may drop the
 * other's entry, which is then measured again, but never tears the file). Never throws: a
 * read-only home only costs a new measurement next time.
 */
export function writeMachineCache<T>(name: string, key: string, value: T): void {
  const file = path.join(machineCacheDir(), `${name}.json`);
  try {
    const store = readJsonOrUndefined<Store<T>>(file) ?? {};
    store[key] = value;
    writeJsonAtomic(file, store);
  } catch {
    /* not cached */
  }
}
