/**
 * Backend selection: `auto` takes the native TensorFlow binding when it loads, else wasm, else the
 * pure-JS cpu backend. The choice and the reason go to env.json and the run log.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import { patchWasmKernels } from './compat.ts';
import { resolveThreads } from './threads.ts';

/** The requestable backends (execution.backend, --backend), one definition. */
export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'] as const;
export type BackendRequest = (typeof BACKENDS)[number];

export interface BackendChoice {
  name: string;
  reason: string;
  /** The tensorflow backend's thread pools, as handed to TensorFlow before it started. */
  tfThreads?: TfThreads;
}

export interface TfThreads {
  intra_op: number | null;
  inter_op: number | null;
  /** 'seqlab' (from execution.blas_threads / SEQLAB_BLAS_THREADS), 'environment' (the user's TF_NUM_*), or 'tensorflow' (its own default: all cores). */
  source: 'seqlab' | 'environment' | 'tensorflow';
}

const TF_VARS = ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS'] as const;

/**
 * TensorFlow sizes its intra-op and inter-op pools from TF_NUM_INTRAOP_THREADS /
 * TF_NUM_INTEROP_THREADS when its first context is created, which tfjs-node does on load; so the
 * run's thread count goes into those (and OMP_NUM_THREADS, for oneDNN) before the import. A
 * user's own TF_NUM_* wins. One inter-op thread: seqlab runs ops one at a time (eager).
 */
export function tensorflowThreads(threads: number | undefined, env: NodeJS.ProcessEnv = process.env): TfThreads {
  const read = (k: string) => (env[k] && Number.isInteger(Number(env[k])) ? Number(env[k]) : null);
  if (TF_VARS.some((k) => env[k])) return { intra_op: read(TF_VARS[0]), inter_op: read(TF_VARS[1]), source: 'environment' };
  if (threads === undefined) return { intra_op: null, inter_op: null, source: 'tensorflow' };
  env.TF_NUM_INTRAOP_THREADS = String(threads);
  env.TF_NUM_INTEROP_THREADS = '1';
  env.OMP_NUM_THREADS ??= String(threads);
  return { intra_op: threads, inter_op: 1, source: 'seqlab' };
}

function firstLine(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'not installed';
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
}

/** Load a backend package for its registration side effect (the specifier is not known to tsc). */
async function importOptional(specifier: string): Promise<void> {
  await import(/* @vite-ignore */ specifier);
}

type Attempt = { ok: true } | { ok: false; why: string };

let tfThreads: TfThreads | undefined;

async function tryTensorflow(threads?: number): Promise<Attempt> {
  const why: string[] = [];
  // Only the first load of the binding sees the variables; later calls report that first setting.
  const saved = Object.fromEntries(['OMP_NUM_THREADS', ...TF_VARS].map((k) => [k, process.env[k]]));
  const first = tfThreads === undefined;
  tfThreads ??= tensorflowThreads(threads ?? resolveThreads()); // the BLAS rule: SEQLAB_BLAS_THREADS, 1 per worker, or all cores
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importOptional(pkg);
      if (tf.findBackend('tensorflow') && (await tf.setBackend('tensorflow'))) return { ok: true };
      why.push(`${pkg} loaded but did not register the tensorflow backend`);
    } catch (e) {
      why.push(`${pkg}: ${firstLine(e)}`);
    }
  }
  if (first) {
    // Nothing loaded: leave the environment (and the workers') as it was.
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    tfThreads = undefined;
  }
  return { ok: false, why: why.join('; ') };
}

async function tryWasm(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    // View-based Slice/Unpack/SplitV/Identity/Cast: the stock wasm kernels copy (src/backend/compat.ts).
    patchWasmKernels();
    if (await tf.setBackend('wasm')) return { ok: true };
    return { ok: false, why: 'the wasm backend failed to initialise' };
  } catch (e) {
    return { ok: false, why: `@tensorflow/tfjs-backend-wasm: ${firstLine(e)}` };
  }
}

async function tryWebgpu(): Promise<Attempt> {
  try {
    await importOptional('@tensorflow/tfjs-backend-webgpu');
    if (await tf.setBackend('webgpu')) return { ok: true };
    return { ok: false, why: 'no WebGPU adapter in this process' };
  } catch (e) {
    return { ok: false, why: `@tensorflow/tfjs-backend-webgpu: ${firstLine(e)}` };
  }
}

async function tryCpu(): Promise<Attempt> {
  return (await tf.setBackend('cpu')) ? { ok: true } : { ok: false, why: 'the cpu backend failed to initialise' };
}

const ATTEMPTS: Record<Exclude<BackendRequest, 'auto'>, (threads?: number) => Promise<Attempt>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  webgpu: tryWebgpu,
  cpu: tryCpu,
};

function withThreads(c: BackendChoice): BackendChoice {
  return c.name === 'tensorflow' && tfThreads ? { ...c, tfThreads } : c;
}

/**
 * Make `requested` the active tfjs backend. A backend asked for by name that cannot be loaded is a
 * UserError (one line naming the cause); `auto` records why each better choice was skipped.
 */
export async function selectBackend(requested: BackendRequest | string, opts: { threads?: number } = {}): Promise<BackendChoice> {
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new UserError(`unknown backend '${requested}' (expected one of: ${BACKENDS.join(', ')})`);
  }
  if (requested !== 'auto') {
    const r = await ATTEMPTS[requested as Exclude<BackendRequest, 'auto'>](opts.threads);
    if (!r.ok) {
      throw new UserError(`backend '${requested}' is not available here (${r.why}); use --backend auto, wasm or cpu`);
    }
    return withThreads({ name: tf.getBackend(), reason: `requested ${requested}` });
  }
  const skipped: string[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    const r = await ATTEMPTS[name](opts.threads);
    if (r.ok) {
      const reason = skipped.length ? `auto chose ${name}: ${skipped.join('; ')}` : `auto chose ${name}: the first choice, and it loaded`;
      return withThreads({ name: tf.getBackend(), reason: name === 'cpu' ? `${reason} (pure JS, slow)` : reason });
    }
    skipped.push(`${name} unavailable (${r.why})`);
  }
  throw new UserError(`no tfjs backend could be initialised: ${skipped.join('; ')}`);
}
