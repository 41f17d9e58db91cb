/*
 * Native element-wise, reduction, transpose and cumsum kernels: the non-matmul work of a training
 * step (docs/models.md 0.3; softmax.c, decay.c and rope.c hold the rest). The tfjs wasm kernels
 * run these single-threaded and call the wasm libm for exp / erf (tens of nanoseconds per
 * element); here they run on the addon's thread pool (pool.c) with an AVX2 exp when the CPU has
 * it (vecmath.h, isa.c), in place on the backend's memory.
 *
 * JS API (offsets in BYTES into the view, counts in elements; every view may alias one heap):
 *   unary(op, x, xOff, y, yOff, n)                 y = f(x), op in UNARY_OPS below
 *   binary(op, a, aOff, b, bOff, y, yOff, meta)    y = a (op) b with broadcasting; meta is an
 *        Int32Array [rank, shape[rank], strideA[rank], strideB[rank]] of the output's collapsed
 *        shape, operand strides in elements (0 on broadcast dims)
 *   reduce(op, x, xOff, y, yOff, outer, R, inner)  x viewed as [outer, R, inner] -> y [outer, inner]
 *        (op 0 sum, 1 mean, 2 max)
 *   transpose(x, xOff, y, yOff, meta)              4-byte elements; meta Int32Array [rank,
 *        shape[rank] (input), perm[rank]]
 *   cumsum(x, xOff, y, yOff, rows, n, exclusive, reverse)   along the last axis of [rows, n]
 * (pool.c: setEltwiseThreads / eltwiseThreads; isa.c: eltwiseIsa / setEltwiseIsa)
 */
#include "vecmath.h"
#include "pool.h"

#include <math.h>
#include <string.h>

#define GRAIN SEQLAB_GRAIN

/* ---- scalar math (the reference the vector code follows, and the tails) ---- */

/* The stock kernels' ops, then the fused GELU (src/ops/gelu.ts): U_GELU x -> GELU(x), B_GELU_GRAD (x, dy) -> dy GELU'(x). */
enum { U_EXP, U_ERF, U_SIGMOID, U_SOFTPLUS, U_LOG, U_TANH, U_NEG, U_SQUARE, U_SQRT, U_RSQRT, U_RECIP, U_ABS, U_RELU, U_LOG1P, U_GELU, U_COUNT };
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_SQDIFF, B_GELU_GRAD, B_COUNT };

static inline float unary_s(int op, float x) {
  switch (op) {
    case U_EXP: return expf(x);
    case U_ERF: return erff(x); /* libm on the tails and CPUs without AVX2 */
    case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case U_SOFTPLUS: return (x > 0 ? x : 0.0f) + log1pf(expf(-fabsf(x)));
    case U_LOG: return logf(x);
    case U_TANH: return tanhf(x);
    case U_NEG: return -x;
    case U_SQUARE: return x * x;
    case U_SQRT: return sqrtf(x);
    case U_RSQRT: return 1.0f / sqrtf(x);
    case U_RECIP: return 1.0f / x;
    case U_ABS: return fabsf(x);
    case U_RELU: return x > 0 ? x : (x == x ? 0.0f : x);
    case U_GELU: return x * (erff(x * (float)M_SQRT1_2) + 1.0f) * 0.5f; /* the tensor form's order */
    default: return log1pf(x);
  }
}

/* GELU'(x) = Phi(x) + x phi(x): the exact GELU's derivative (docs/models.md 1.3). */
static inline float gelu_grad_s(float x) {
  return 0.5f * (1.0f + erff(x * (float)M_SQRT1_2)) + x * expf(-0.5f * x * x) * 0.3989422804014327f;
}

static inline float binary_s(int op, float a, float b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_GELU_GRAD: return b * gelu_grad_s(a);
    default: return (a - b) * (a - b);
  }
}


#ifdef SEQLAB_X86
/* Returns how many leading elements were done (a multiple of 8); the caller does the tail. */
AVX2 static int64_t unary_avx2(int op, const float *x, float *y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  switch (op) {
    case U_EXP:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
      break;
    case U_ERF:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, erf8(_mm256_loadu_ps(x + i)));
      break;
    case U_GELU:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gelu8(_mm256_loadu_ps(x + i)));
      break;
    case U_SIGMOID:
      for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_xor_ps(v, sign)))));
      }
      break;
    case U_NEG:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_xor_ps(_mm256_loadu_ps(x + i), sign));
      break;
    case U_SQUARE:
      for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, v));
      }
      break;
    case U_SQRT:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
      break;
    case U_RSQRT:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_sqrt_ps(_mm256_loadu_ps(x + i))));
      break;
    case U_RECIP:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_loadu_ps(x + i)));
      break;
    case U_ABS:
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
      break;
    case U_RELU:
      for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        /* max(v, 0) but NaN stays NaN */
        _mm256_storeu_ps(y + i, _mm256_blendv_ps(_mm256_max_ps(v, zero), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
      }
      break;
    default: break; /* softplus, log, tanh, log1p: scalar libm */
  }
  return i;
}

#define BIN_LOOP(expr)                                                                          \
  for (; i + 8 <= n; i += 8) {                                                                  \
    const __m256 va = sa ? _mm256_loadu_ps(a + i) : _mm256_broadcast_ss(a);                     \
    const __m256 vb = sb ? _mm256_loadu_ps(b + i) : _mm256_broadcast_ss(b);                     \
    _mm256_storeu_ps(y + i, expr);                                                              \
  }

/* One inner run of n outputs with operand strides sa, sb in {0, 1}; returns the elements done. */
AVX2 static int64_t binary_avx2(int op, const float *a, int64_t sa, const float *b, int64_t sb, float *y, int64_t n) {
  int64_t i = 0;
  switch (op) {
    case B_ADD: BIN_LOOP(_mm256_add_ps(va, vb)) break;
    case B_SUB: BIN_LOOP(_mm256_sub_ps(va, vb)) break;
    case B_MUL: BIN_LOOP(_mm256_mul_ps(va, vb)) break;
    case B_DIV: BIN_LOOP(_mm256_div_ps(va, vb)) break;
    case B_SQDIFF: BIN_LOOP(_mm256_mul_ps(_mm256_sub_ps(va, vb), _mm256_sub_ps(va, vb))) break;
    case B_GELU_GRAD: BIN_LOOP(_mm256_mul_ps(vb, gelu_grad8(va))) break;
  }
  return i;
}

AVX2 static float sum_avx2(const float *x, int64_t n, int64_t *done) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
  s0 = _mm256_add_ps(s0, s1);
  float lanes[8];
  _mm256_storeu_ps(lanes, s0);
  *done = i;
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}
#endif

/* ---- kernels over ranges ---- */

typedef struct {
  int op;
  const float *x;
  float *y;
} unary_ctx;

static void unary_range(void *p, int64_t lo, int64_t hi) {
  const unary_ctx *c = (const unary_ctx *)p;
  int64_t i = 0;
  const float *x = c->x + lo;
  float *y = c->y + lo;
  const int64_t n = hi - lo;
#ifdef SEQLAB_X86
  if (seqlab_use_avx2()) i = unary_avx2(c->op, x, y, n);
#endif
  for (; i < n; i++) y[i] = unary_s(c->op, x[i]);
}

#define RANK_MAX 8

typedef struct {
  int op, rank;
  const float *a, *b;
  float *y;
  int64_t shape[RANK_MAX], sa[RANK_MAX], sb[RANK_MAX];
} binary_ctx;

/* Output rows [lo, hi) of the collapsed shape (a row = the innermost dimension). */
static void binary_range(void *p, int64_t lo, int64_t hi) {
  const binary_ctx *c = (const binary_ctx *)p;
  const int r = c->rank;
  const int64_t inner = c->shape[r - 1], ia = c->sa[r - 1], ib = c->sb[r - 1];
  for (int64_t row = lo; row < hi; row++) {
    int64_t oa = 0, ob = 0, rem = row;
    for (int d = r - 2; d >= 0; d--) {
      const int64_t idx = rem % c->shape[d];
      rem /= c->shape[d];
      oa += idx * c->sa[d];
      ob += idx * c->sb[d];
    }
    const float *a = c->a + oa, *b = c->b + ob;
    float *y = c->y + row * inner;
    int64_t i = 0;
#ifdef SEQLAB_X86
    if (seqlab_use_avx2() && (ia == 0 || ia == 1) && (ib == 0 || ib == 1)) i = binary_avx2(c->op, a, ia, b, ib, y, inner);
#endif
    for (; i < inner; i++) y[i] = binary_s(c->op, a[i * ia], b[i * ib]);
  }
}

typedef struct {
  int op;
  const float *x;
  float *y;
  int64_t R, inner;
} reduce_ctx;

/* inner == 1: one output per row of R; ranges are over rows. */
static void reduce_rows(void *p, int64_t lo, int64_t hi) {
  const reduce_ctx *c = (const reduce_ctx *)p;
  const int64_t R = c->R;
  for (int64_t o = lo; o < hi; o++) {
    const float *x = c->x + o * R;
    if (c->op == 2) {
      float m = -INFINITY;
      for (int64_t r = 0; r < R; r++) m = (x[r] > m || x[r] != x[r]) ? x[r] : m;
      c->y[o] = m;
      continue;
    }
    int64_t i = 0;
    float s = 0.0f;
#ifdef SEQLAB_X86
    if (seqlab_use_avx2()) s = sum_avx2(x, R, &i);
#endif
    for (; i < R; i++) s += x[i];
    c->y[o] = c->op == 1 ? s / (float)R : s;
  }
}

/* inner > 1: y[o, :] = reduce over r of x[o, r, :]; ranges are over (outer x inner-block) units. */
#define INNER_BLOCK 1024
static void reduce_cols(void *p, int64_t lo, int64_t hi) {
  const reduce_ctx *c = (const reduce_ctx *)p;
  const int64_t R = c->R, inner = c->inner, nb = (inner + INNER_BLOCK - 1) / INNER_BLOCK;
  for (int64_t u = lo; u < hi; u++) {
    const int64_t o = u / nb, j0 = (u % nb) * INNER_BLOCK, j1 = j0 + INNER_BLOCK < inner ? j0 + INNER_BLOCK : inner;
    float *y = c->y + o * inner;
    const float *x = c->x + o * R * inner;
    if (c->op == 2) {
      for (int64_t j = j0; j < j1; j++) y[j] = -INFINITY;
      for (int64_t r = 0; r < R; r++)
        for (int64_t j = j0; j < j1; j++) {
          const float v = x[r * inner + j];
          y[j] = (v > y[j] || v != v) ? v : y[j];
        }
      continue;
    }
    for (int64_t j = j0; j < j1; j++) y[j] = 0.0f;
    for (int64_t r = 0; r < R; r++) {
      const float *xr = x + r * inner;
#pragma omp simd
      for (int64_t j = j0; j < j1; j++) y[j] += xr[j];
    }
    if (c->op == 1)
      for (int64_t j = j0; j < j1; j++) y[j] /= (float)R;
  }
}

typedef struct {
  int rank;
  const uint32_t *x;
  uint32_t *y;
  int64_t oshape[RANK_MAX], istride[RANK_MAX]; /* output shape; input stride of each output dim */
} transpose_ctx;

/* Output rows [lo, hi) (a row = the output's innermost dimension). */
static void transpose_range(void *p, int64_t lo, int64_t hi) {
  const transpose_ctx *c = (const transpose_ctx *)p;
  const int r = c->rank;
  const int64_t inner = c->oshape[r - 1], s = c->istride[r - 1];
  for (int64_t row = lo; row < hi; row++) {
    int64_t off = 0, rem = row;
    for (int d = r - 2; d >= 0; d--) {
      off += (rem % c->oshape[d]) * c->istride[d];
      rem /= c->oshape[d];
    }
    const uint32_t *x = c->x + off;
    uint32_t *y = c->y + row * inner;
    if (s == 1) memcpy(y, x, (size_t)inner * 4);
    else
      for (int64_t i = 0; i < inner; i++) y[i] = x[i * s];
  }
}

/* [.., A, B] -> [.., B, A]: 32 x 32 tiles over the slices; units are (slice, tile row). */
typedef struct {
  const uint32_t *x;
  uint32_t *y;
  int64_t A, B, tilesA;
} swap_ctx;

static void swap_range(void *p, int64_t lo, int64_t hi) {
  const swap_ctx *c = (const swap_ctx *)p;
  const int64_t A = c->A, B = c->B;
  for (int64_t u = lo; u < hi; u++) {
    const int64_t s = u / c->tilesA, a0 = (u % c->tilesA) * 32, a1 = a0 + 32 < A ? a0 + 32 : A;
    const uint32_t *x = c->x + s * A * B;
    uint32_t *y = c->y + s * A * B;
    for (int64_t b0 = 0; b0 < B; b0 += 32) {
      const int64_t b1 = b0 + 32 < B ? b0 + 32 : B;
      for (int64_t a = a0; a < a1; a++)
        for (int64_t b = b0; b < b1; b++) y[b * A + a] = x[a * B + b];
    }
  }
}

typedef struct {
  const float *x;
  float *y;
  int64_t n;
  int exclusive, reverse;
} scan_ctx;

static void cumsum_range(void *p, int64_t lo, int64_t hi) {
  const scan_ctx *c = (const scan_ctx *)p;
  const int64_t n = c->n;
  for (int64_t row = lo; row < hi; row++) {
    const float *x = c->x + row * n;
    float *y = c->y + row * n;
    float s = 0.0f;
    if (!c->reverse) {
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        if (c->exclusive) y[i] = s, s += v;
        else s += v, y[i] = s;
      }
    } else {
      for (int64_t i = n - 1; i >= 0; i--) {
        const float v = x[i];
        if (c->exclusive) y[i] = s, s += v;
        else s += v, y[i] = s;
      }
    }
  }
}

/* ---- N-API entry points ---- */

static napi_value js_unary(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(6)
  int64_t op, n;
  void *x, *y;
  if (!seqlab_arg_i64(env, argv[0], &op, "op") || !seqlab_arg_i64(env, argv[5], &n, "n")) return NULL;
  if (op < 0 || op >= U_COUNT || n < 0) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.unary: op or n out of range");
    return NULL;
  }
  if (n == 0) return NULL;
  if (!seqlab_arg_floats(env, argv[1], argv[2], n, "x", &x) || !seqlab_arg_floats(env, argv[3], argv[4], n, "y", &y)) return NULL;
  unary_ctx c = {(int)op, (const float *)x, (float *)y};
  seqlab_parallel_for(n, GRAIN, unary_range, &c);
  return NULL;
}

static napi_value js_binary(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(8)
  int64_t op;
  int32_t *meta;
  size_t len;
  if (!seqlab_arg_i64(env, argv[0], &op, "op") || !seqlab_arg_meta(env, argv[7], &meta, &len)) return NULL;
  const int r = meta[0];
  if (op < 0 || op >= B_COUNT || r < 1 || r > RANK_MAX || len != (size_t)(1 + 3 * r)) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.binary: op or meta out of range");
    return NULL;
  }
  binary_ctx c;
  memset(&c, 0, sizeof c);
  c.op = (int)op, c.rank = r;
  int64_t n = 1, ea = 1, eb = 1; /* output size; operand extents (last index + 1) */
  for (int d = 0; d < r; d++) {
    c.shape[d] = meta[1 + d], c.sa[d] = meta[1 + r + d], c.sb[d] = meta[1 + 2 * r + d];
    if (c.shape[d] < 1 || c.sa[d] < 0 || c.sb[d] < 0) {
      napi_throw_range_error(env, NULL, "seqlab eltwise.binary: negative extent or stride");
      return NULL;
    }
    n *= c.shape[d];
    ea += (c.shape[d] - 1) * c.sa[d];
    eb += (c.shape[d] - 1) * c.sb[d];
  }
  void *a, *b, *y;
  if (!seqlab_arg_floats(env, argv[1], argv[2], ea, "a", &a) || !seqlab_arg_floats(env, argv[3], argv[4], eb, "b", &b) ||
      !seqlab_arg_floats(env, argv[5], argv[6], n, "y", &y))
    return NULL;
  c.a = (const float *)a, c.b = (const float *)b, c.y = (float *)y;
  const int64_t inner = c.shape[r - 1];
  seqlab_parallel_for(n / inner, (GRAIN + inner - 1) / inner, binary_range, &c);
  return NULL;
}

static napi_value js_reduce(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(8)
  int64_t op, outer, R, inner;
  if (!seqlab_arg_i64(env, argv[0], &op, "op") || !seqlab_arg_i64(env, argv[5], &outer, "outer") || !seqlab_arg_i64(env, argv[6], &R, "R") ||
      !seqlab_arg_i64(env, argv[7], &inner, "inner"))
    return NULL;
  if (op < 0 || op > 2 || outer < 1 || R < 1 || inner < 1) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.reduce: op or extents out of range");
    return NULL;
  }
  void *x, *y;
  if (!seqlab_arg_floats(env, argv[1], argv[2], outer * R * inner, "x", &x) || !seqlab_arg_floats(env, argv[3], argv[4], outer * inner, "y", &y))
    return NULL;
  reduce_ctx c = {(int)op, (const float *)x, (float *)y, R, inner};
  if (inner == 1) seqlab_parallel_for(outer, (GRAIN + R - 1) / R, reduce_rows, &c);
  else {
    const int64_t nb = (inner + INNER_BLOCK - 1) / INNER_BLOCK, per = R * (inner < INNER_BLOCK ? inner : INNER_BLOCK);
    seqlab_parallel_for(outer * nb, (GRAIN + per - 1) / per, reduce_cols, &c);
  }
  return NULL;
}

static napi_value js_transpose(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(5)
  int32_t *meta;
  size_t len;
  if (!seqlab_arg_meta(env, argv[4], &meta, &len)) return NULL;
  const int r = meta[0];
  if (r < 1 || r > RANK_MAX || len != (size_t)(1 + 2 * r)) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.transpose: meta out of range");
    return NULL;
  }
  int64_t ishape[RANK_MAX], istr[RANK_MAX], n = 1;
  int seen = 0;
  for (int d = 0; d < r; d++) {
    ishape[d] = meta[1 + d];
    if (ishape[d] < 1 || meta[1 + r + d] < 0 || meta[1 + r + d] >= r || (seen & (1 << meta[1 + r + d]))) {
      napi_throw_range_error(env, NULL, "seqlab eltwise.transpose: bad shape or permutation");
      return NULL;
    }
    seen |= 1 << meta[1 + r + d];
    n *= ishape[d];
  }
  for (int d = r - 1, s = 1; d >= 0; d--) istr[d] = s, s *= (int)ishape[d];
  void *x, *y;
  if (!seqlab_arg_floats(env, argv[0], argv[1], n, "x", &x) || !seqlab_arg_floats(env, argv[2], argv[3], n, "y", &y)) return NULL;
  const int *perm = meta + 1 + r;
  if (r >= 2 && perm[r - 1] == r - 2 && perm[r - 2] == r - 1) {
    int identity = 1;
    for (int d = 0; d < r - 2; d++) identity &= perm[d] == d;
    if (identity) {
      const int64_t A = ishape[r - 2], B = ishape[r - 1];
      swap_ctx c = {(const uint32_t *)x, (uint32_t *)y, A, B, (A + 31) / 32};
      const int64_t units = n / (A * B) * c.tilesA;
      seqlab_parallel_for(units, (GRAIN + 32 * B - 1) / (32 * B), swap_range, &c);
      return NULL;
    }
  }
  transpose_ctx c;
  memset(&c, 0, sizeof c);
  c.rank = r, c.x = (const uint32_t *)x, c.y = (uint32_t *)y;
  for (int d = 0; d < r; d++) c.oshape[d] = ishape[perm[d]], c.istride[d] = istr[perm[d]];
  const int64_t inner = c.oshape[r - 1];
  seqlab_parallel_for(n / inner, (GRAIN + inner - 1) / inner, transpose_range, &c);
  return NULL;
}

static napi_value js_cumsum(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(8)
  int64_t rows, n, ex, rev;
  if (!seqlab_arg_i64(env, argv[4], &rows, "rows") || !seqlab_arg_i64(env, argv[5], &n, "n") || !seqlab_arg_i64(env, argv[6], &ex, "exclusive") ||
      !seqlab_arg_i64(env, argv[7], &rev, "reverse"))
    return NULL;
  if (rows < 1 || n < 1) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.cumsum: extents out of range");
    return NULL;
  }
  void *x, *y;
  if (!seqlab_arg_floats(env, argv[0], argv[1], rows * n, "x", &x) || !seqlab_arg_floats(env, argv[2], argv[3], rows * n, "y", &y)) return NULL;
  scan_ctx c = {(const float *)x, (float *)y, n, ex != 0, rev != 0};
  seqlab_parallel_for(rows, (GRAIN + n - 1) / n, cumsum_range, &c);
  return NULL;
}
napi_status seqlab_register_eltwise(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"unary", js_unary},
      {"binary", js_binary},
      {"reduce", js_reduce},
      {"transpose", js_transpose},
      {"cumsum", js_cumsum},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_status s = seqlab_export(env, exports, fns[i].name, fns[i].fn);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}
