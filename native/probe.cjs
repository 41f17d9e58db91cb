#!/usr/bin/env node
// Self-test and speed probe of the native addon, in a process of its own: build.js runs it after
// a build, and seqlab runs it with a candidate OPENBLAS_CORETYPE (OpenBLAS picks its kernels when
// the library is loaded, and a wrong core may crash, so each candidate needs a fresh process).
//
//   node native/probe.cjs [--addon PATH] [--engine cblas|builtin] [--kernel avx512|avx2|generic] [--n 1024] [--threads T]
//
// Prints one JSON line: { ok, why?, engine, config, corename, kernel, threads, gflops }.
// Exit 0 when the self-test passed, 1 otherwise (the line says why).
'use strict';
const path = require('node:path');
const os = require('node:os');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const addonPath = path.resolve(arg('addon', path.join(__dirname, 'build', 'Release', 'seqlab.node')));
const n = Number(arg('n', '1024'));
const threads = Number(arg('threads', String(os.availableParallelism ? os.availableParallelism() : os.cpus().length)));
const out = { ok: false, engine: null, config: null, corename: null, kernel: null, threads: null, gflops: null };

function finish(why) {
  if (why) out.why = why;
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(out.ok ? 0 : 1);
}

let m;
try {
  m = require(addonPath);
} catch (e) {
  finish(`cannot load ${addonPath}: ${String(e.message).split('\n')[0]}`);
}
const engine = arg('engine', m.hasCblas ? 'cblas' : 'builtin');
const gemm = engine === 'cblas' ? m.gemm : m.gemmBuiltin;
out.engine = engine;
const kernelName = arg('kernel', undefined);
if (kernelName !== undefined && !m.setBuiltinKernel(kernelName)) finish(`built-in kernel ${kernelName} is not available on this CPU`);
out.config = m.config();
out.corename = m.corename();
out.kernel = m.builtinKernel();
if (typeof gemm !== 'function') finish(`engine ${engine} is not in this build`);
out.threads = engine === 'cblas' ? m.setThreads(threads) : m.setBuiltinThreads(threads);

// Deterministic values in [-1, 1).
function fill(len, seed) {
  const v = new Float32Array(len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

// act(op(A) @ op(B) + bias) in float64 by the definition.
function reference(batch, M, N, K, tA, tB, a, sa, b, sb, bias, relu) {
  const c = new Float64Array(batch * M * N);
  for (let s = 0; s < batch; s++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let acc = bias ? bias[j] : 0;
        for (let k = 0; k < K; k++) acc += a[s * sa + (tA ? k * M + i : i * K + k)] * b[s * sb + (tB ? j * K + k : k * N + j)];
        c[(s * M + i) * N + j] = relu && acc < 0 ? 0 : acc;
      }
  return c;
}

// Shapes that cross every edge of the micro-kernels (MR up to 16, NR up to 32) and both threads.
const CASES = [
  [1, 1, 1, 1, false, false, false, false],
  [1, 37, 45, 29, false, false, false, false],
  [1, 37, 45, 29, true, false, true, true],
  [1, 37, 45, 29, false, true, false, true],
  [1, 37, 45, 29, true, true, true, false],
  [3, 13, 33, 70, false, false, true, false],
  [2, 130, 70, 400, false, true, false, false],
];
try {
  for (const [batch, M, N, K, tA, tB, bias, relu] of CASES) {
    const a = fill(batch * M * K, M),
      b = fill(batch * K * N, N + 7),
      bv = bias ? fill(N, 3) : null;
    const c = new Float32Array(batch * M * N).fill(NaN);
    gemm(a, 0, M * K, b, 0, K * N, c, 0, bv, 0, batch, M, N, K, tA, tB, relu ? 1 : 0);
    const r = reference(batch, M, N, K, tA, tB, a, M * K, b, K * N, bv, relu);
    for (let i = 0; i < r.length; i++) {
      if (!(Math.abs(c[i] - r[i]) <= 1e-4 * (1 + Math.sqrt(K)))) {
        finish(`self-test mismatch at ${batch}x${M}x${N}x${K} tA=${tA} tB=${tB}: ${c[i]} vs ${r[i]}`);
      }
    }
  }
  if (n > 0) {
    const a = fill(n * n, 1),
      b = fill(n * n, 2),
      c = new Float32Array(n * n);
    const once = () => gemm(a, 0, 0, b, 0, 0, c, 0, null, 0, 1, n, n, n, false, false, 0);
    once();
    const times = [];
    for (let r = 0; r < 7; r++) {
      const t0 = process.hrtime.bigint();
      once();
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    // Best of 7: on a shared machine the fastest repeat is the least disturbed one.
    out.gflops = Number(((2 * n ** 3) / Math.min(...times) / 1e9).toFixed(1));
  }
} catch (e) {
  finish(`self-test threw: ${String(e.message).split('\n')[0]}`);
}
out.ok = true;
finish();
