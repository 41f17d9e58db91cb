/**
 * The one place for TensorFlow.js gap workarounds (docs/models.md 0.3). Each function has the same
 * value as the stock op and a gradient that works on every backend we use (cpu, wasm).
 * Gaps covered (tfjs 4.22): wasm has no UnsortedSegmentSum, so tf.gather's gradient (embeddings,
 * target-logit picking in the loss) fails there; tf.cumsum's gradient is wrong on a non-last axis
 * (throws, or silently transposed for square shapes); wasm Slice/Unpack/SplitV copy the whole
 * input per slice, Identity/Cast copy, and Cast-to-bool is wrong (patchWasmKernels).
 * logSigmoid is kept as the stable -softplus(-x) form (the stock gradient works in 4.22).
 */
import * as tf from '@tensorflow/tfjs';
import { broadcastLayout } from './broadcast.ts';

/** log(sigmoid(x)) = -softplus(-x): exact, stable for large |x|, differentiable everywhere. */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.softplus(tf.neg(x))));
}

/**
 * table[ids] for table [V, d] and int32 ids of any shape -> [...ids.shape, d].
 * Forward is a gather; the table gradient is a scatter-add of dy rows done in JS on the
 * synchronous cpu/wasm data (the UnsortedSegmentSum that tf.gather's gradient needs is missing
 * on wasm). Measured on wasm (V 8192, 8192 tokens, d 128): ~0.1 s forward+backward, versus ~11 s
 * (backward alone) for the alternative oneHot(ids)^T @ dy matmul. ids get a zero gradient.
 */
export function embeddingLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [V, d] = table.shape;
  const f = tf.customGrad(((tbl: tf.Tensor, idx: tf.Tensor, save: tf.GradSaveFunc) => {
    save([idx]);
    const value = tf.gather(tbl, idx.reshape([-1])).reshape([...idx.shape, d]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const g = dy.dataSync();
      const id = saved[0].dataSync();
      const acc = new Float32Array(V * d);
      for (let r = 0; r < id.length; r++) {
        const row = id[r];
        if (row < 0 || row >= V) continue; // out-of-range ids gather zeros on cpu/wasm
        const o = row * d;
        const gi = r * d;
        for (let j = 0; j < d; j++) acc[o + j] += g[gi + j];
      }
      return [tf.tensor2d(acc, [V, d]), tf.zerosLike(saved[0])];
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.tidy(() => f(table, ids.dtype === 'int32' ? ids : ids.cast('int32')));
}

/**
 * Summed token cross-entropy of logits [N, V] against int32 targets [N]; targets equal to
 * ignoreIndex contribute nothing (and get zero gradient). loss_i = logSumExp(logits_i) -
 * logits_i[target_i]. Custom gradient (softmax - onehot) * keep * dy, with the one-hot part
 * subtracted in JS: no tf.gather gradient (missing on wasm) and no [N, V] one-hot tensor.
 * count is the number of non-ignored targets (read from targets, synchronously).
 * Throws if a kept target is outside [0, V).
 */
export function sparseCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, ignoreIndex = -100): { sumLoss: tf.Scalar; count: number } {
  const V = logits.shape[logits.rank - 1];
  const tgt = targets.dataSync();
  const N = tgt.length;
  const keepRows: number[] = [];
  for (let i = 0; i < N; i++) {
    if (tgt[i] === ignoreIndex) continue;
    if (!(tgt[i] >= 0 && tgt[i] < V)) throw new Error(`sparseCrossEntropy: target ${tgt[i]} at row ${i} outside [0, ${V})`);
    keepRows.push(i);
  }
  const count = keepRows.length;
  const flat = Int32Array.from(keepRows, (i) => i * V + tgt[i]);
  const keep = Float32Array.from(tgt, (x) => (x === ignoreIndex ? 0 : 1));
  const f = tf.customGrad(((lg: tf.Tensor, save: tf.GradSaveFunc) => {
    const m = tf.max(lg, 1, true); // [N, 1]
    const e = tf.exp(tf.sub(lg, m)); // [N, V], <= 1
    const s = tf.sum(e, 1, true); // [N, 1], >= 1
    const keepT = tf.tensor2d(keep, [N, 1]);
    save([e, s, keepT]);
    const lse = tf.add(tf.log(s), m);
    const picked = count > 0 ? tf.sum(tf.gather(lg.reshape([-1]), tf.tensor1d(flat, 'int32'))) : tf.scalar(0);
    const value = tf.sub(tf.sum(tf.mul(lse, keepT)), picked);
    const gradFunc = (dy: tf.Tensor, [e0, s0, k0]: tf.Tensor[]) => {
      const p = tf.mul(tf.div(e0, s0), tf.mul(k0, dy)).dataSync() as Float32Array; // copy, edited below
      const g = dy.dataSync()[0];
      for (let i = 0; i < flat.length; i++) p[flat[i]] -= g;
      return tf.tensor2d(p, [N, V]);
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const sumLoss = tf.tidy(() => f(logits.reshape([-1, V])) as tf.Scalar);
  return { sumLoss, count };
}

/**
 * tf.cumsum with a correct gradient on any axis. tfjs 4.22's Cumsum gradient transposes its
 * result by the axis permutation when axis is not the last one (a shape/value bug; the forward is
 * right). Cumsum over the last axis is correct, so move the axis last, cumsum, and move it back.
 */
export function cumsum(x: tf.Tensor, axis = 0, exclusive = false, reverse = false): tf.Tensor {
  const ax = axis < 0 ? axis + x.rank : axis;
  if (ax === x.rank - 1) return tf.cumsum(x, ax, exclusive, reverse);
  return tf.tidy(() => {
    const perm = x.shape.map((_, i) => i);
    perm[ax] = x.rank - 1;
    perm[x.rank - 1] = ax; // a swap is its own inverse
    return tf.cumsum(x.transpose(perm), x.rank - 1, exclusive, reverse).transpose(perm);
  });
}

// ---------------------------------------------------------------------------------------------
// wasm Slice / Unpack / SplitV: tfjs-backend-wasm 4.22 reads the WHOLE input with readSync (a
// full heap copy) for every slice it takes, so unstacking a [T, ...] tensor costs T full copies
// (seconds for a 2M-element tensor). The replacements below copy from a heap view instead.
// wasm GatherV2 (axis gather, batchDims 0) and the comparison kernels under broadcasting are
// orders of magnitude slower than a plain copy loop (see the header); they are replaced by loops
// over heap views with the same values and errors (an out-of-range id throws, as stock does).
// wasm Identity and same-dtype Cast copy their input (autograd emits one per mul/add gradient);
// the replacements share the buffer by reference count, as the cpu backend does (tensors are
// immutable). Cast to bool is fixed (the stock kernel copies bytes, so -2 became 254).
// Otherwise values are identical; only speed changes. Gradients are defined on the ops and
// are untouched.

interface WasmTensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
interface WasmBackendLike {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): WasmTensorInfo;
  typedArrayFromHeap(t: WasmTensorInfo): Float32Array | Int32Array | Uint8Array;
}

function viewGather(x: WasmTensorInfo, indices: WasmTensorInfo, axis: number, backend: WasmBackendLike): WasmTensorInfo {
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax)),
    N = x.shape[ax],
    inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const M = tf.util.sizeFromShape(indices.shape);
  const out = backend.makeOutput([...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype);
  if (outer * M * inner === 0) return out;
  const o = backend.typedArrayFromHeap(out),
    xv = backend.typedArrayFromHeap(x),
    iv = backend.typedArrayFromHeap(indices);
  for (let m = 0; m < M; m++) tf.util.assert(iv[m] >= 0 && iv[m] < N, () => `GatherV2: the index value ${iv[m]} is not in [0, ${N - 1}]`);
  for (let p = 0; p < outer; p++) {
    for (let m = 0; m < M; m++) {
      const id = iv[m],
        dst = (p * M + m) * inner;
      if (inner === 1) o[dst] = xv[p * N + id];
      else o.set(xv.subarray((p * N + id) * inner, (p * N + id + 1) * inner), dst);
    }
  }
  return out;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  Greater: (a, b) => a > b,
  GreaterEqual: (a, b) => a >= b,
  Less: (a, b) => a < b,
  LessEqual: (a, b) => a <= b,
  Equal: (a, b) => a === b,
  NotEqual: (a, b) => a !== b,
};

function viewCompare(name: string, a: WasmTensorInfo, b: WasmTensorInfo, backend: WasmBackendLike): WasmTensorInfo | undefined {
  const layout = broadcastLayout(a.shape, b.shape);
  if (!layout) return undefined; // let the stock kernel report the shape error
  const out = backend.makeOutput(layout.out, 'bool');
  const n = tf.util.sizeFromShape(layout.out);
  if (n === 0) return out;
  const o = backend.typedArrayFromHeap(out),
    av = backend.typedArrayFromHeap(a),
    bv = backend.typedArrayFromHeap(b);
  const m = layout.meta,
    r = m[0],
    inner = m[r],
    ia = m[2 * r],
    ib = m[3 * r];
  const cmp = COMPARE[name];
  for (let row = 0; row < n / inner; row++) {
    let oa = 0,
      ob = 0,
      rem = row;
    for (let d = r - 2; d >= 0; d--) {
      const idx = rem % m[1 + d];
      rem = (rem - idx) / m[1 + d];
      oa += idx * m[1 + r + d];
      ob += idx * m[1 + 2 * r + d];
    }
    for (let i = 0, y = row * inner; i < inner; i++, y++) o[y] = cmp(av[oa + i * ia], bv[ob + i * ib]) ? 1 : 0;
  }
  return out;
}

function viewSlice(x: WasmTensorInfo, begin: number[], size: number[], backend: WasmBackendLike): WasmTensorInfo {
  const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, begin, size);
  const out = backend.makeOutput(s, x.dtype);
  const n = tf.util.sizeFromShape(s);
  if (n === 0) return out;
  // views are taken after makeOutput: growing the heap would detach earlier views
  const outVals = backend.typedArrayFromHeap(out);
  const xVals = backend.typedArrayFromHeap(x);
  const rank = x.shape.length;
  if (rank === 0) {
    outVals.set(xVals.subarray(0, 1));
    return out;
  }
  const strides = [...tf.util.computeStrides(x.shape), 1];
  // trailing dims taken whole are merged into one contiguous run per outer index
  let r = rank - 1;
  while (r > 0 && s[r] === x.shape[r]) r--;
  const run = tf.util.sizeFromShape(s.slice(r));
  const outer = n / run;
  const idx = new Array(r).fill(0);
  for (let o = 0; o < outer; o++) {
    let off = b[r] * strides[r];
    for (let d = 0; d < r; d++) off += (b[d] + idx[d]) * strides[d];
    outVals.set(xVals.subarray(off, off + run), o * run);
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < s[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** The stock wasm Cast to bool copies bytes (-2 becomes 254); tf semantics are x != 0. */
function castToBool(x: WasmTensorInfo, backend: WasmBackendLike): WasmTensorInfo {
  const out = backend.makeOutput(x.shape, 'bool');
  const o = backend.typedArrayFromHeap(out);
  const v = backend.typedArrayFromHeap(x);
  for (let i = 0; i < v.length; i++) o[i] = v[i] !== 0 ? 1 : 0;
  return out;
}

let wasmPatched = false;

/**
 * Replace the wasm Slice, Unpack and SplitV kernels by view-based copies (see above). Call after
 * importing '@tensorflow/tfjs-backend-wasm'; idempotent; a no-op when the wasm kernels are not
 * registered. String tensors keep the stock kernels.
 */
export function patchWasmKernels(): boolean {
  if (wasmPatched) return true;
  const names = ['Slice', 'Unpack', 'SplitV', 'Identity', 'Cast', 'GatherV2', ...Object.keys(COMPARE)];
  const stock = Object.fromEntries(names.map((n) => [n, tf.getKernel(n, 'wasm')]));
  if (names.some((n) => !stock[n])) return false;
  type Args = { inputs: Record<string, WasmTensorInfo>; attrs: Record<string, unknown>; backend: WasmBackendLike };
  /** Replaces kernel `name`; string and complex inputs, and cases f declines (undefined), go to stock. */
  const register = (name: string, f: (a: Args) => WasmTensorInfo | WasmTensorInfo[] | undefined) => {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: ((args: Args) => {
        const viaStock = () => stock[name]!.kernelFunc(args as never) as WasmTensorInfo | WasmTensorInfo[];
        if (Object.values(args.inputs).some((t) => t.dtype === 'string' || t.dtype === 'complex64')) return viaStock();
        const x = args.inputs.x ?? args.inputs.value;
        if (name === 'Cast' && args.attrs.dtype !== x.dtype) {
          if (args.attrs.dtype === 'bool') return castToBool(x, args.backend);
          return viaStock();
        }
        return f(args) ?? viaStock();
      }) as unknown as tf.KernelFunc,
    });
  };
  register('Slice', ({ inputs, attrs, backend }) => viewSlice(inputs.x, attrs.begin as number[], attrs.size as number[], backend));
  register('Unpack', ({ inputs, attrs, backend }) => {
    const x = inputs.value;
    const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + x.shape.length : (attrs.axis as number);
    const outShape = x.shape.filter((_, i) => i !== axis);
    const begin = x.shape.map(() => 0);
    const size = x.shape.slice();
    size[axis] = 1;
    const outs: WasmTensorInfo[] = [];
    for (let i = 0; i < x.shape[axis]; i++) {
      begin[axis] = i;
      const o = viewSlice(x, begin, size, backend);
      outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
    }
    return outs;
  });
  register('SplitV', ({ inputs, attrs, backend }) => {
    const x = inputs.x;
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
    const begin = x.shape.map(() => 0);
    return sizes.map((sz) => {
      const size = x.shape.slice();
      size[axis] = sz;
      const o = viewSlice(x, begin, size, backend);
      begin[axis] += sz;
      return o;
    });
  });
  const share = ({ inputs, backend }: Args) => {
    const x = inputs.x;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  register('Identity', share);
  register('Cast', share); // only same-dtype casts reach here (see register)
  register('GatherV2', ({ inputs, attrs, backend }) =>
    ((attrs.batchDims as number | undefined) ?? 0) === 0 ? viewGather(inputs.x, inputs.indices, attrs.axis as number, backend) : undefined,
  );
  for (const name of Object.keys(COMPARE)) register(name, ({ inputs, backend }) => viewCompare(name, inputs.a, inputs.b, backend));
  wasmPatched = true;
  return true;
}

// Patch at import when the wasm backend module was imported first (the usual order).
patchWasmKernels();
