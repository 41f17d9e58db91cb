/**
 * Can a run of this shape be allocated at all? A lower bound on what training needs — the
 * parameters with their gradients and both AdamW moments, plus the largest single activation — set
 * against the backend's memory, so that `d_model: 1000000000` is refused by `validate` naming the
 * key instead of dying in `run` on "Invalid typed array length".
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { UserError } from '../errors.ts';
import { countParams } from '../models/params.ts';
import { taskDef } from '../tasks/kinds/registry.ts';
import { humanCount } from '../util/format.ts';
import { ATTN_BLOCK, BLOCKED_ABOVE } from '../models/kinds/attn.ts';
import type { MixerSpec } from '../models/kinds/registry.ts';
import type { LayerSpec } from '../models/resolved.ts';
import type { RunConfig } from './schema.ts';

const F32 = 4;
/** weights + gradients + AdamW m and v, float32 each. */
export const BYTES_PER_PARAM = 4 * F32;
/** The wasm backend's heap is a 32-bit address space. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

export interface MemoryBudget {
  bytes: number;
  /** What the figure is, for the error line. */
  what: string;
}

/** Whether `auto` would find the native TensorFlow binding (resolved, not loaded). */
function tensorflowInstalled(): boolean {
  const require = createRequire(import.meta.url);
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
      return true;
    } catch {
      /* not installed */
    }
  }
  return false;
}

/** Memory a run may use on `backend`: wasm its 4 GiB heap, cpu / tensorflow / webgpu the machine's RAM. */
export function backendMemory(backend: string, totalmem = os.totalmem()): MemoryBudget {
  const ram = { bytes: totalmem, what: `the machine's memory (${backend} backend)` };
  const wasm = { bytes: WASM_HEAP_BYTES, what: `the wasm heap (${backend === 'auto' ? 'auto picks wasm here' : 'wasm backend'})` };
  if (backend === 'wasm') return wasm;
  if (backend === 'auto') return tensorflowInstalled() ? ram : wasm;
  return ram;
}

function mixers(l: LayerSpec): MixerSpec[] {
  const m = l.mixer;
  if (m.kind === 'shared') return [];
  if (m.kind === 'parallel' || m.kind === 'routed') return m.branches;
  return [m];
}

/** Widest per-token activation of a layer (FFN hidden, projected q/k/v, SSM inner width). */
function layerWidth(l: LayerSpec): number {
  let w = l.ffn ? l.ffn.hidden : 0;
  for (const m of mixers(l)) {
    if (m.kind === 'attn' || m.kind === 'swa') w = Math.max(w, m.heads * m.dh);
    else if (m.kind === 'retnet' || m.kind === 'selret' || m.kind === 'deltanet') w = Math.max(w, m.dqk, m.dvt);
    else w = Math.max(w, 2 * m.d_inner); // mamba in-projection: x and z
  }
  return w;
}

/** Heads of the mixers that materialise a T x T score matrix per head. */
function quadraticHeads(l: LayerSpec): number {
  let h = 0;
  for (const m of mixers(l)) {
    if (m.kind === 'attn') h = Math.max(h, m.heads);
    else if ((m.kind === 'retnet' || m.kind === 'selret' || m.kind === 'deltanet') && m.form === 'parallel') h = Math.max(h, m.heads);
  }
  return h;
}

export interface MemoryEstimate {
  params: number;
  paramBytes: number;
  /** Largest single activation of a training or evaluation step. */
  activationBytes: number;
  /** The config key that drives the largest term, and that term in words. */
  key: string;
  detail: string;
}

export function estimateMemory(cfg: RunConfig): MemoryEstimate {
  const m = cfg.model;
  const T = m.seq_len;
  const evalB = cfg.eval.batch_size ?? cfg.train.batch_size;
  const B = Math.max(cfg.train.batch_size, evalB);
  const bKey = evalB > cfg.train.batch_size ? 'eval.batch_size' : 'train.batch_size';
  const layers = [...m.layers, ...(m.shared ? [m.shared] : [])];
  const width = Math.max(m.d_model, m.vocab_size, ...layers.map(layerWidth));
  const heads = Math.max(0, ...layers.map(quadraticHeads));
  const { params } = countParams(m);
  const paramBytes = params * BYTES_PER_PARAM;
  // Parameters grow with the width; an activation with batch x length, and the larger of the two
  // is the likelier mistake (a batch of 10^7, a length of 10^5).
  const acts = [
    { bytes: B * T * width * F32, key: T >= B ? 'task.seq_len' : bKey, detail: `activations ${B} x ${T} x ${width}` },
    { bytes: B * heads * T * T * F32, key: T >= B ? 'task.seq_len' : bKey, detail: `attention scores ${B} x ${heads} heads x ${T} x ${T}` },
  ];
  // The latency benchmark prefills one sequence of each length L after training.
  const L = cfg.bench.enabled ? Math.max(0, ...cfg.bench.prefill_lengths) : 0;
  acts.push(
    { bytes: L * width * F32, key: 'bench.prefill_lengths', detail: `prefill activations 1 x ${L} x ${width}` },
    { bytes: heads * L * L * F32, key: 'bench.prefill_lengths', detail: `prefill attention scores 1 x ${heads} heads x ${L} x ${L}` },
  );
  // Extra evaluation sets (length extrapolation) run forward passes of eval batches at their own
  // lengths; past BLOCKED_ABOVE queries, attention holds one block of ATTN_BLOCK score rows at a time.
  const E = Math.max(0, ...(taskDef(cfg.task.kind).extraEvalLengths?.(cfg.task) ?? []));
  const rows = E > BLOCKED_ABOVE ? ATTN_BLOCK : E;
  acts.push(
    { bytes: evalB * E * width * F32, key: 'task.eval_lengths', detail: `evaluation activations ${evalB} x ${E} x ${width}` },
    {
      bytes: evalB * heads * rows * E * F32,
      key: 'task.eval_lengths',
      detail: `evaluation attention scores ${evalB} x ${heads} heads x ${rows} x ${E}`,
    },
  );
  const act = acts.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const key = paramBytes >= act.bytes ? 'model.d_model' : act.key;
  const detail = `${humanBytes(paramBytes)} for ${params >= 1e15 ? params.toExponential(2) : humanCount(params)} parameters (weights, gradients, AdamW moments) + ${humanBytes(act.bytes)} for ${act.detail} (float32)`;
  return { params, paramBytes, activationBytes: act.bytes, key, detail };
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === units.length - 1 && n >= 1024
    ? `${n.toExponential(2)} ${units[i]}`
    : `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Throws a UserError naming the key when the run cannot fit the backend's memory. */
export function checkMemory(cfg: RunConfig, budget: MemoryBudget): void {
  const e = estimateMemory(cfg);
  const need = e.paramBytes + e.activationBytes;
  if (!(need <= budget.bytes)) {
    throw new UserError(
      `${e.key}: this shape cannot be allocated: it needs at least ${humanBytes(need)} (${e.detail}), more than ${humanBytes(budget.bytes)} of ${budget.what}`,
    );
  }
}
