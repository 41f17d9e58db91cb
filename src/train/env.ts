/** env.json: where and how a run executed (provenance, not identity). */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { attentionFusedAvailable } from '../native/attention.ts';
import { nativeBuild } from '../native/build-status.ts';
import { kernelConfig } from '../native/config.ts';
import { blockStepReady } from '../native/decode-step.ts';
import { installMatmulKernels, type MatmulInfo } from '../native/matmul.ts';
import { fusedRetentionReady } from '../native/retention.ts';
import type { MatmulPeak } from '../measure/peak.ts';
import type { TfThreads } from '../backend/select.ts';

export type MatmulChoice = Pick<MatmulInfo, 'path' | 'reason'> & Partial<Pick<MatmulInfo, 'threads' | 'blas' | 'kernel' | 'eltwise'>>;

/** Backend start for the native kernels (src/native/matmul.ts): the kernel configuration, matmul and element-wise kernels; it logs its choice. */
export async function installMatmul(threads: number | undefined, log: (line: string) => void): Promise<MatmulChoice> {
  return installMatmulKernels({ ...(threads !== undefined ? { threads } : {}), log });
}

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** Commit and dirty flag of the code that runs (the repository holding this file). */
export function gitProvenance(): { commit: string | null; dirty: boolean | null } {
  const repo = REPO;
  const commit = git(['rev-parse', 'HEAD'], repo);
  if (!commit) return { commit: null, dirty: null };
  const status = git(['status', '--porcelain', '--untracked-files=no'], repo);
  return { commit, dirty: status === undefined ? null : status.length > 0 };
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** sha256 of package-lock.json (the exact dependency tree), or null where there is none. */
export function lockfileSha256(repo = REPO): string | null {
  try {
    return createHash('sha256')
      .update(fs.readFileSync(path.join(repo, 'package-lock.json')))
      .digest('hex');
  } catch {
    return null;
  }
}

/**
 * When and how the run was started: the UTC timestamp and the user's command line (set by the CLI
 * in SEQLAB_ARGV, which worker processes inherit; else this process's arguments).
 */
export function invocation(
  now = new Date(),
  env: NodeJS.ProcessEnv = process.env,
  argv = process.argv,
): { timestamp_utc: string; argv: string[] } {
  let args: string[] | undefined;
  try {
    const parsed: unknown = env.SEQLAB_ARGV ? JSON.parse(env.SEQLAB_ARGV) : undefined;
    if (Array.isArray(parsed) && parsed.every((a) => typeof a === 'string')) args = parsed;
  } catch {
    /* malformed: fall back to this process's arguments */
  }
  return { timestamp_utc: now.toISOString(), argv: args ?? argv.slice(1) };
}

async function wasmThreads(): Promise<number | null> {
  if (tf.getBackend() !== 'wasm') return null;
  try {
    const w = await import('@tensorflow/tfjs-backend-wasm');
    return w.getThreadsCount();
  } catch {
    return null;
  }
}

export async function collectEnv(o: {
  backend: { name: string; reason: string; tfThreads?: TfThreads };
  matmul: MatmulChoice;
  peak: MatmulPeak;
  threads?: number;
}): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  const tfThreads = o.backend.name === 'tensorflow' ? (o.backend.tfThreads ?? null) : null;
  return {
    ...invocation(),
    node: process.version,
    tfjs: tf.version.tfjs,
    backend: o.backend.name,
    backend_reason: o.backend.reason,
    cpu_model: cpus[0]?.model ?? null,
    cpu_count: cpus.length,
    threads: o.threads ?? null,
    // Threads really used by the kernels that do the work.
    matmul_threads: o.matmul.path === 'stock' ? null : (o.matmul.threads ?? null),
    wasm_threads: await wasmThreads(),
    tf_intra_op_threads: tfThreads?.intra_op ?? null,
    tf_inter_op_threads: tfThreads?.inter_op ?? null,
    tf_threads_source: tfThreads?.source ?? null,
    matmul_path: o.matmul.path,
    matmul_reason: o.matmul.reason,
    openblas_version: o.matmul.blas?.config ?? null,
    openblas_core: o.matmul.blas?.core ?? null,
    openblas_core_source: o.matmul.blas?.core_source ?? null,
    openblas_core_note: o.matmul.blas?.core_note ?? null,
    builtin_gemm_kernel: o.matmul.kernel ?? null,
    eltwise_kernels: o.matmul.eltwise?.enabled ? 'native' : 'stock',
    eltwise_reason: o.matmul.eltwise?.reason ?? null,
    eltwise_threads: o.matmul.eltwise?.enabled ? o.matmul.eltwise.threads : null,
    // the fused native paths (docs/models.md 0.3): attention and retention in training, one call per block in decoding
    fused_attention: attentionFusedAvailable(),
    fused_retention: fusedRetentionReady(),
    fused_decode: blockStepReady(),
    // the kernel configuration built once at backend start (src/native/config.ts): switches, threads
    kernel_config: kernelConfig(),
    ...nativeBuild(),
    matmul_peak_gflops: Number(o.peak.gflops.toFixed(3)),
    matmul_peak_shape: o.peak.shape,
    matmul_peak_source:
      o.peak.source === 'cache'
        ? `cached per machine and setup, measured ${o.peak.measured_at}`
        : `measured now (${o.peak.measured_at}), cached for later runs`,
    ...gitProvenance(),
    lockfile_sha256: lockfileSha256(),
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    total_memory_bytes: os.totalmem(),
    pid: process.pid,
  };
}
