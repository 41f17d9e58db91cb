/**
 * Backend selection: `auto` takes the native TensorFlow binding when it loads, else wasm, else the
 * pure-JS cpu backend. The choice and the reason go to env.json and the run log.
 */
import * as tf from '@tensorflow/tfjs';
import { executionSchema, type ExecutionConfig } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { patchWasmKernels } from './compat.ts';

/** The requestable backends: the config schema's list (execution.backend), one definition. */
export type BackendRequest = ExecutionConfig['backend'];
export const BACKENDS: readonly BackendRequest[] = executionSchema.shape.backend.unwrap().options;

export interface BackendChoice {
  name: string;
  reason: string;
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

async function tryTensorflow(): Promise<Attempt> {
  const why: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importOptional(pkg);
      if (tf.findBackend('tensorflow') && (await tf.setBackend('tensorflow'))) return { ok: true };
      why.push(`${pkg} loaded but did not register the tensorflow backend`);
    } catch (e) {
      why.push(`${pkg}: ${firstLine(e)}`);
    }
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

const ATTEMPTS: Record<Exclude<BackendRequest, 'auto'>, () => Promise<Attempt>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  webgpu: tryWebgpu,
  cpu: tryCpu,
};

/**
 * Make `requested` the active tfjs backend. A backend asked for by name that cannot be loaded is a
 * UserError (one line naming the cause); `auto` records why each better choice was skipped.
 */
export async function selectBackend(requested: BackendRequest | string): Promise<BackendChoice> {
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new UserError(`unknown backend '${requested}' (expected one of: ${BACKENDS.join(', ')})`);
  }
  if (requested !== 'auto') {
    const r = await ATTEMPTS[requested as Exclude<BackendRequest, 'auto'>]();
    if (!r.ok) {
      throw new UserError(
        `backend '${requested}' is not available here (${r.why}); use --backend auto, wasm or cpu`,
      );
    }
    return { name: tf.getBackend(), reason: `requested ${requested}` };
  }
  const skipped: string[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    const r = await ATTEMPTS[name]();
    if (r.ok) {
      const reason = skipped.length ? `auto chose ${name}: ${skipped.join('; ')}` : `auto chose ${name}: the first choice, and it loaded`;
      return { name: tf.getBackend(), reason: name === 'cpu' ? `${reason} (pure JS, slow)` : reason };
    }
    skipped.push(`${name} unavailable (${r.why})`);
  }
  throw new UserError(`no tfjs backend could be initialised: ${skipped.join('; ')}`);
}
