/*
 * Native element-wise, reduction, transpose, cumsum and softmax kernels: the non-matmul work of a
 * training step (docs/models.md 0.3). The tfjs wasm kernels run these single-threaded and call
 * the wasm libm for exp / erf (tens of nanoseconds per element); here they run on a small
 * persistent thread pool with an AVX2 exp when the CPU has it (runtime dispatch through target
 * attributes, so one binary runs on every x86-64), in place on the backend's memory.
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
 *   softmax(x, xOff, y, yOff, rows, n)             along the last axis of [rows, n]
 *   maskedSoftmax(x, xOff, mask|null, maskOff, y, yOff, meta, scale)       attention's masked
 *        softmax over [B, H, Tq, Tk]; meta Int32Array [B, H, Tq, Tk, mask strides sb, sh, si, sj]
 *   maskedSoftmaxGrad(p, pOff, dp, dpOff, mask|null, maskOff, dx, dxOff, meta, scale)   its gradient
 *   decayMatrix(a, aOff, m, mOff, rows, T)          a [rows, T] -> M [rows, T, T] (retention's decay)
 *   decayMatrixGrad(m, mOff, dm, dmOff, da, daOff, rows, T)                            its gradient
 *   setEltwiseThreads(n) -> n;  eltwiseThreads() -> n;  eltwiseIsa() -> "avx2" | "generic"
 *   setEltwiseIsa("generic" | "avx2") -> whether that code path is now in use
 */
#include "seqlab.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SEQLAB_X86 1
#endif

#define THREADS_MAX 64
/* Below this many elements per part a thread's wake-up costs more than it saves. */
#define GRAIN 32768

/* ---- a persistent pool running fn(ctx, lo, hi) over parts of [0, n) ---- */

typedef seqlab_range_fn range_fn;

static int g_threads = 1;
static pthread_mutex_t g_call = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_go = PTHREAD_COND_INITIALIZER, g_done = PTHREAD_COND_INITIALIZER;
static int g_workers = 0, g_pending = 0, g_parts = 1;
static long g_gen = 0, g_start_gen[THREADS_MAX];
static range_fn g_fn;
static void *g_ctx;
static int64_t g_n;

static void part_range(int64_t n, int part, int parts, int64_t *lo, int64_t *hi) {
  *lo = n * part / parts;
  *hi = n * (part + 1) / parts;
}

static void *worker(void *arg) {
  const int id = (int)(intptr_t)arg;
  pthread_mutex_lock(&g_mu);
  long seen = g_start_gen[id];
  for (;;) {
    while (g_gen == seen) pthread_cond_wait(&g_go, &g_mu);
    seen = g_gen;
    const int parts = g_parts;
    const range_fn fn = g_fn;
    void *ctx = g_ctx;
    const int64_t n = g_n;
    pthread_mutex_unlock(&g_mu);
    if (id < parts) {
      int64_t lo, hi;
      part_range(n, id, parts, &lo, &hi);
      if (lo < hi) fn(ctx, lo, hi);
    }
    pthread_mutex_lock(&g_mu);
    if (--g_pending == 0) pthread_cond_signal(&g_done);
  }
  return NULL;
}

/* Runs fn over [0, n) in parts of at least `grain` units, on up to g_threads threads. */
void seqlab_parallel_for(int64_t n, int64_t grain, range_fn fn, void *ctx) {
  if (n <= 0) return;
  pthread_mutex_lock(&g_call);
  int parts = g_threads;
  if (grain < 1) grain = 1;
  if (n / grain < parts) parts = (int)(n / grain) > 1 ? (int)(n / grain) : 1;
  while (g_workers < parts - 1) {
    pthread_t t;
    g_start_gen[g_workers + 1] = g_gen;
    if (pthread_create(&t, NULL, worker, (void *)(intptr_t)(g_workers + 1)) != 0) break;
    pthread_detach(t);
    g_workers++;
  }
  if (parts > g_workers + 1) parts = g_workers + 1;
  if (parts <= 1) {
    fn(ctx, 0, n);
    pthread_mutex_unlock(&g_call);
    return;
  }
  pthread_mutex_lock(&g_mu);
  g_fn = fn, g_ctx = ctx, g_n = n, g_parts = parts, g_pending = g_workers;
  g_gen++;
  pthread_cond_broadcast(&g_go);
  pthread_mutex_unlock(&g_mu);
  int64_t lo, hi;
  part_range(n, 0, parts, &lo, &hi);
  fn(ctx, lo, hi);
  pthread_mutex_lock(&g_mu);
  while (g_pending > 0) pthread_cond_wait(&g_done, &g_mu);
  pthread_mutex_unlock(&g_mu);
  pthread_mutex_unlock(&g_call);
}

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

/* ---- AVX2 vector math ---- */

#ifdef SEQLAB_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* exp(x): x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial for e^r, times 2^n. Exact 0
 * below -87.3 (denormals flushed; exp(-1e4) must be exactly 0), +inf above 88.7, NaN kept. */
AVX2 static inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447505531f);
  const __m256 big = _mm256_cmp_ps(x, hi, _CMP_GT_OQ), small = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), small);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), big);
  return _mm256_blendv_ps(y, x, nan);
}

/* erf(x) as x P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf is +-1 in float32 beyond): the
 * rational approximation of Eigen's and XLA's float erf, within 2e-7 of erf for |x| < 1 and 4.2e-7
 * (7 ulps, near |x| = 3.3) everywhere; libm's erff costs ~10 ns an element. NaN kept. */
AVX2 static inline __m256 erf8(__m256 x) {
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
  const __m256 x2 = _mm256_mul_ps(xc, xc);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
  p = _mm256_mul_ps(xc, p);
  __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
  return _mm256_blendv_ps(_mm256_div_ps(p, q), x, nan);
}

/* GELU(x) = x (erf(x / sqrt 2) + 1) / 2 in the tensor form's order, and its derivative. */
AVX2 static inline __m256 gelu8(__m256 x) {
  const __m256 e = erf8(_mm256_mul_ps(x, _mm256_set1_ps((float)M_SQRT1_2)));
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_add_ps(e, _mm256_set1_ps(1.0f))), _mm256_set1_ps(0.5f));
}
AVX2 static inline __m256 gelu_grad8(__m256 x) {
  const __m256 cdf = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(_mm256_set1_ps(1.0f), erf8(_mm256_mul_ps(x, _mm256_set1_ps((float)M_SQRT1_2)))));
  const __m256 pdf = _mm256_mul_ps(exp8(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(x, x))), _mm256_set1_ps(0.3989422804014327f));
  return _mm256_fmadd_ps(x, pdf, cdf);
}

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

/* One softmax row in two passes: max, then exp(x - max) stored and summed; then a scale. */
AVX2 static void softmax_row_avx2(const float *x, float *y, int64_t n) {
  __m256 vm = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
  float lanes[8], m = -INFINITY;
  _mm256_storeu_ps(lanes, vm);
  for (int k = 0; k < 8; k++) m = lanes[k] > m ? lanes[k] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  vm = _mm256_set1_ps(m);
  __m256 vs = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(y + i, e);
    vs = _mm256_add_ps(vs, e);
  }
  _mm256_storeu_ps(lanes, vs);
  float s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < n; i++) s += (y[i] = expf(x[i] - m));
  const __m256 inv = _mm256_set1_ps(1.0f / s);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
  for (; i < n; i++) y[i] *= 1.0f / s;
}

static int g_avx2 = -1;
static int have_avx2(void) {
  if (g_avx2 < 0) {
    __builtin_cpu_init();
    g_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return g_avx2;
}
#else
static int have_avx2(void) { return 0; }
#endif

int seqlab_use_avx2(void) { return have_avx2(); }

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
  if (have_avx2()) i = unary_avx2(c->op, x, y, n);
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
    if (have_avx2() && (ia == 0 || ia == 1) && (ib == 0 || ib == 1)) i = binary_avx2(c->op, a, ia, b, ib, y, inner);
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
    if (have_avx2()) s = sum_avx2(x, R, &i);
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

/* y = softmax(x) over one row of n (x == y allowed). */
static void softmax_row(const float *x, float *y, int64_t n) {
#ifdef SEQLAB_X86
  if (have_avx2()) {
    softmax_row_avx2(x, y, n);
    return;
  }
#endif
  float m = -INFINITY, s = 0.0f;
  for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  for (int64_t i = 0; i < n; i++) s += (y[i] = expf(x[i] - m));
  const float inv = 1.0f / s;
  for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

static void softmax_range(void *p, int64_t lo, int64_t hi) {
  const scan_ctx *c = (const scan_ctx *)p;
  for (int64_t row = lo; row < hi; row++) softmax_row(c->x + row * c->n, c->y + row * c->n, c->n);
}

/* ---- attention's masked softmax (docs/models.md 2.1, rule N2 of 0.4) ----
 * z = a (scale x) + (1 - a) NEG over rows of Tk, p = softmax(z); backward dx = scale a p (dp - <dp, p>).
 * The mask a (0/1, or NULL for none) is broadcast over [B, H, Tq, Tk] by element strides. */

#define NEG_LOGIT -1e4f

typedef struct {
  const float *x, *a, *p, *dp;
  float *y;
  int64_t H, Tq, Tk, sb, sh, si, sj;
  float scale;
} msm_ctx;

static const float *mask_row(const msm_ctx *c, int64_t row) {
  if (!c->a) return NULL;
  const int64_t i = row % c->Tq, h = (row / c->Tq) % c->H, b = row / (c->Tq * c->H);
  return c->a + b * c->sb + h * c->sh + i * c->si;
}

static void msm_forward_range(void *p, int64_t lo, int64_t hi) {
  const msm_ctx *c = (const msm_ctx *)p;
  const int64_t n = c->Tk;
  for (int64_t row = lo; row < hi; row++) {
    const float *x = c->x + row * n, *a = mask_row(c, row);
    float *y = c->y + row * n;
    for (int64_t j = 0; j < n; j++) {
      const float t = x[j] * c->scale;
      y[j] = a ? t * a[j * c->sj] + (1.0f - a[j * c->sj]) * NEG_LOGIT : t;
    }
    softmax_row(y, y, n);
  }
}

static void msm_backward_range(void *p, int64_t lo, int64_t hi) {
  const msm_ctx *c = (const msm_ctx *)p;
  const int64_t n = c->Tk;
  for (int64_t row = lo; row < hi; row++) {
    const float *pr = c->p + row * n, *dp = c->dp + row * n, *a = mask_row(c, row);
    float *dx = c->y + row * n;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; j++) dot += dp[j] * pr[j];
    for (int64_t j = 0; j < n; j++) {
      const float dz = pr[j] * (dp[j] - dot);
      dx[j] = (a ? dz * a[j * c->sj] : dz) * c->scale;
    }
  }
}

/* ---- the decay matrix of retention (docs/models.md 5.4) ----
 * M[t, s] = exp(a_{s+1} + ... + a_t) for s <= t (1 on the diagonal), exactly 0 above it, per row of
 * a [rows, T], summed in the order of the tensor form exp(stableSegsum(a)) (no difference of long
 * cumulative sums, rule N3 of 0.4). Gradient: with G = dM * M, da_r = sum_{t >= r} sum_{s < r} G[t, s]. */

typedef struct {
  const float *a, *m, *dm;
  float *out;
  int64_t T;
} decay_ctx;

static void decay_forward_range(void *p, int64_t lo, int64_t hi) {
  const decay_ctx *c = (const decay_ctx *)p;
  const int64_t T = c->T;
  float seg[4096];
  for (int64_t row = lo; row < hi; row++) {
    const float *a = c->a + row * T;
    float *M = c->out + row * T * T;
    for (int64_t t = 0; t < T; t++) {
      for (int64_t s = 0; s < t; s++) seg[s] += a[t];
      seg[t] = 0.0f;
      float *Mt = M + t * T;
      int64_t s = 0;
#ifdef SEQLAB_X86
      if (have_avx2()) s = unary_avx2(U_EXP, seg, Mt, t + 1);
#endif
      for (; s <= t; s++) Mt[s] = expf(seg[s]);
      for (s = t + 1; s < T; s++) Mt[s] = 0.0f;
    }
  }
}

static void decay_backward_range(void *p, int64_t lo, int64_t hi) {
  const decay_ctx *c = (const decay_ctx *)p;
  const int64_t T = c->T;
  for (int64_t row = lo; row < hi; row++) {
    const float *M = c->m + row * T * T, *dM = c->dm + row * T * T;
    float *da = c->out + row * T;
    for (int64_t r = 0; r < T; r++) da[r] = 0.0f;
    for (int64_t t = 0; t < T; t++) {
      float pre = 0.0f; /* sum_{s < r} G[t, s] */
      for (int64_t r = 0; r <= t; r++) {
        da[r] += pre;
        pre += dM[t * T + r] * M[t * T + r];
      }
    }
  }
}

/* ---- N-API glue ---- */

static int get_i64(napi_env env, napi_value v, int64_t *out, const char *name) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "seqlab eltwise: %s must be a number", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* views[i] at byte offset offs[i] must hold `elems` 4-byte elements. */
static int get_ptr(napi_env env, napi_value view, napi_value off, int64_t elems, const char *name, void **out) {
  seqlab_view v;
  int64_t o;
  if (!seqlab_get_view(env, view, &v, name) || !get_i64(env, off, &o, name)) return 0;
  if (!seqlab_in_bounds(env, &v, o, 0, 1, elems, name)) return 0;
  *out = v.data + o;
  return 1;
}

/* An Int32Array of meta data (shape, strides, perm). */
static int get_meta(napi_env env, napi_value v, int32_t **out, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *data;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &data, &ab, &off) != napi_ok || type != napi_int32_array || *len < 1) {
    napi_throw_type_error(env, NULL, "seqlab eltwise: meta must be a non-empty Int32Array");
    return 0;
  }
  *out = (int32_t *)data;
  return 1;
}

#define ARGS(count)                                                                         \
  size_t argc = count;                                                                      \
  napi_value argv[count];                                                                   \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count) {   \
    napi_throw_type_error(env, NULL, "seqlab eltwise: expected " #count " arguments");     \
    return NULL;                                                                            \
  }

static napi_value js_unary(napi_env env, napi_callback_info info) {
  ARGS(6)
  int64_t op, n;
  void *x, *y;
  if (!get_i64(env, argv[0], &op, "op") || !get_i64(env, argv[5], &n, "n")) return NULL;
  if (op < 0 || op >= U_COUNT || n < 0) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.unary: op or n out of range");
    return NULL;
  }
  if (n == 0) return NULL;
  if (!get_ptr(env, argv[1], argv[2], n, "x", &x) || !get_ptr(env, argv[3], argv[4], n, "y", &y)) return NULL;
  unary_ctx c = {(int)op, (const float *)x, (float *)y};
  seqlab_parallel_for(n, GRAIN, unary_range, &c);
  return NULL;
}

static napi_value js_binary(napi_env env, napi_callback_info info) {
  ARGS(8)
  int64_t op;
  int32_t *meta;
  size_t len;
  if (!get_i64(env, argv[0], &op, "op") || !get_meta(env, argv[7], &meta, &len)) return NULL;
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
  if (!get_ptr(env, argv[1], argv[2], ea, "a", &a) || !get_ptr(env, argv[3], argv[4], eb, "b", &b) ||
      !get_ptr(env, argv[5], argv[6], n, "y", &y))
    return NULL;
  c.a = (const float *)a, c.b = (const float *)b, c.y = (float *)y;
  const int64_t inner = c.shape[r - 1];
  seqlab_parallel_for(n / inner, (GRAIN + inner - 1) / inner, binary_range, &c);
  return NULL;
}

static napi_value js_reduce(napi_env env, napi_callback_info info) {
  ARGS(8)
  int64_t op, outer, R, inner;
  if (!get_i64(env, argv[0], &op, "op") || !get_i64(env, argv[5], &outer, "outer") || !get_i64(env, argv[6], &R, "R") ||
      !get_i64(env, argv[7], &inner, "inner"))
    return NULL;
  if (op < 0 || op > 2 || outer < 1 || R < 1 || inner < 1) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.reduce: op or extents out of range");
    return NULL;
  }
  void *x, *y;
  if (!get_ptr(env, argv[1], argv[2], outer * R * inner, "x", &x) || !get_ptr(env, argv[3], argv[4], outer * inner, "y", &y))
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
  ARGS(5)
  int32_t *meta;
  size_t len;
  if (!get_meta(env, argv[4], &meta, &len)) return NULL;
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
  if (!get_ptr(env, argv[0], argv[1], n, "x", &x) || !get_ptr(env, argv[2], argv[3], n, "y", &y)) return NULL;
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
  ARGS(8)
  int64_t rows, n, ex, rev;
  if (!get_i64(env, argv[4], &rows, "rows") || !get_i64(env, argv[5], &n, "n") || !get_i64(env, argv[6], &ex, "exclusive") ||
      !get_i64(env, argv[7], &rev, "reverse"))
    return NULL;
  if (rows < 1 || n < 1) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.cumsum: extents out of range");
    return NULL;
  }
  void *x, *y;
  if (!get_ptr(env, argv[0], argv[1], rows * n, "x", &x) || !get_ptr(env, argv[2], argv[3], rows * n, "y", &y)) return NULL;
  scan_ctx c = {(const float *)x, (float *)y, n, ex != 0, rev != 0};
  seqlab_parallel_for(rows, (GRAIN + n - 1) / n, cumsum_range, &c);
  return NULL;
}

static napi_value js_softmax(napi_env env, napi_callback_info info) {
  ARGS(6)
  int64_t rows, n;
  if (!get_i64(env, argv[4], &rows, "rows") || !get_i64(env, argv[5], &n, "n")) return NULL;
  if (rows < 1 || n < 1) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.softmax: extents out of range");
    return NULL;
  }
  void *x, *y;
  if (!get_ptr(env, argv[0], argv[1], rows * n, "x", &x) || !get_ptr(env, argv[2], argv[3], rows * n, "y", &y)) return NULL;
  scan_ctx c = {(const float *)x, (float *)y, n, 0, 0};
  seqlab_parallel_for(rows, (GRAIN / 4 + n - 1) / n, softmax_range, &c);
  return NULL;
}

/* Optional mask view (null / undefined: no mask). */
static int get_mask(napi_env env, napi_value view, napi_value off, int64_t extent, void **out) {
  napi_valuetype t;
  if (napi_typeof(env, view, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *out = NULL;
    return 1;
  }
  return get_ptr(env, view, off, extent, "mask", out);
}

/* meta: Int32Array [B, H, Tq, Tk, sb, sh, si, sj] (mask strides in elements). */
static int msm_meta(napi_env env, napi_value v, msm_ctx *c, int64_t *n, int64_t *mask_extent) {
  int32_t *m;
  size_t len;
  if (!get_meta(env, v, &m, &len)) return 0;
  if (len != 8 || m[0] < 1 || m[1] < 1 || m[2] < 1 || m[3] < 1 || m[4] < 0 || m[5] < 0 || m[6] < 0 || m[7] < 0) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.maskedSoftmax: meta must be [B, H, Tq, Tk, sb, sh, si, sj] >= 0");
    return 0;
  }
  c->H = m[1], c->Tq = m[2], c->Tk = m[3], c->sb = m[4], c->sh = m[5], c->si = m[6], c->sj = m[7];
  *n = (int64_t)m[0] * m[1] * m[2] * m[3];
  *mask_extent = 1 + (int64_t)(m[0] - 1) * m[4] + (int64_t)(m[1] - 1) * m[5] + (int64_t)(m[2] - 1) * m[6] + (int64_t)(m[3] - 1) * m[7];
  return 1;
}

/* maskedSoftmax(x, xOff, mask|null, maskOff, y, yOff, meta, scale) */
static napi_value js_masked_softmax(napi_env env, napi_callback_info info) {
  ARGS(8)
  msm_ctx c;
  memset(&c, 0, sizeof c);
  int64_t n, extent;
  double scale;
  void *x, *a, *y;
  if (!msm_meta(env, argv[6], &c, &n, &extent) || napi_get_value_double(env, argv[7], &scale) != napi_ok) return NULL;
  if (!get_ptr(env, argv[0], argv[1], n, "x", &x) || !get_mask(env, argv[2], argv[3], extent, &a) ||
      !get_ptr(env, argv[4], argv[5], n, "y", &y))
    return NULL;
  c.x = (const float *)x, c.a = (const float *)a, c.y = (float *)y, c.scale = (float)scale;
  seqlab_parallel_for(n / c.Tk, (GRAIN / 4 + c.Tk - 1) / c.Tk, msm_forward_range, &c);
  return NULL;
}

/* maskedSoftmaxGrad(p, pOff, dp, dpOff, mask|null, maskOff, dx, dxOff, meta, scale) */
static napi_value js_masked_softmax_grad(napi_env env, napi_callback_info info) {
  ARGS(10)
  msm_ctx c;
  memset(&c, 0, sizeof c);
  int64_t n, extent;
  double scale;
  void *p, *dp, *a, *dx;
  if (!msm_meta(env, argv[8], &c, &n, &extent) || napi_get_value_double(env, argv[9], &scale) != napi_ok) return NULL;
  if (!get_ptr(env, argv[0], argv[1], n, "p", &p) || !get_ptr(env, argv[2], argv[3], n, "dp", &dp) ||
      !get_mask(env, argv[4], argv[5], extent, &a) || !get_ptr(env, argv[6], argv[7], n, "dx", &dx))
    return NULL;
  c.p = (const float *)p, c.dp = (const float *)dp, c.a = (const float *)a, c.y = (float *)dx, c.scale = (float)scale;
  seqlab_parallel_for(n / c.Tk, (GRAIN / 4 + c.Tk - 1) / c.Tk, msm_backward_range, &c);
  return NULL;
}

#define DECAY_T_MAX 4096

/* decayMatrix(a, aOff, m, mOff, rows, T) */
static napi_value js_decay_matrix(napi_env env, napi_callback_info info) {
  ARGS(6)
  int64_t rows, T;
  void *a, *m;
  if (!get_i64(env, argv[4], &rows, "rows") || !get_i64(env, argv[5], &T, "T")) return NULL;
  if (rows < 1 || T < 1 || T > DECAY_T_MAX) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.decayMatrix: rows >= 1 and 1 <= T <= 4096");
    return NULL;
  }
  if (!get_ptr(env, argv[0], argv[1], rows * T, "a", &a) || !get_ptr(env, argv[2], argv[3], rows * T * T, "m", &m)) return NULL;
  decay_ctx c = {(const float *)a, NULL, NULL, (float *)m, T};
  seqlab_parallel_for(rows, (GRAIN + T * T - 1) / (T * T), decay_forward_range, &c);
  return NULL;
}

/* decayMatrixGrad(m, mOff, dm, dmOff, da, daOff, rows, T) */
static napi_value js_decay_matrix_grad(napi_env env, napi_callback_info info) {
  ARGS(8)
  int64_t rows, T;
  void *m, *dm, *da;
  if (!get_i64(env, argv[6], &rows, "rows") || !get_i64(env, argv[7], &T, "T")) return NULL;
  if (rows < 1 || T < 1 || T > DECAY_T_MAX) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.decayMatrixGrad: rows >= 1 and 1 <= T <= 4096");
    return NULL;
  }
  if (!get_ptr(env, argv[0], argv[1], rows * T * T, "m", &m) || !get_ptr(env, argv[2], argv[3], rows * T * T, "dm", &dm) ||
      !get_ptr(env, argv[4], argv[5], rows * T, "da", &da))
    return NULL;
  decay_ctx c = {NULL, (const float *)m, (const float *)dm, (float *)da, T};
  seqlab_parallel_for(rows, (GRAIN + T * T - 1) / (T * T), decay_backward_range, &c);
  return NULL;
}

/* Rotary encoding of rows of m (interleaved pairs, docs/models.md 1.4) with per-position tables
 * cos, sin [T, m] (each pair's value twice): y_2i = x_2i c - sign x_2i+1 s, y_2i+1 = x_2i+1 c + sign x_2i s.
 * sign -1 is the transpose (the gradient: dx from dy). Row r of x sits at position r mod T. */
typedef struct {
  const float *x, *cos, *sin;
  float *y;
  int64_t T, m;
  float sign;
} rope_ctx;

static void rope_range(void *p, int64_t lo, int64_t hi) {
  const rope_ctx *c = (const rope_ctx *)p;
  const int64_t m = c->m;
  for (int64_t r = lo; r < hi; r++) {
    const float *x = c->x + r * m, *cs = c->cos + (r % c->T) * m, *sn = c->sin + (r % c->T) * m;
    float *y = c->y + r * m;
    for (int64_t i = 0; i < m; i += 2) {
      const float s = c->sign * sn[i];
      y[i] = x[i] * cs[i] + (-x[i + 1]) * s;
      y[i + 1] = x[i + 1] * cs[i + 1] + x[i] * s;
    }
  }
}

/* rope(x, xOff, cos, cosOff, sin, sinOff, y, yOff, rows, T, m, sign) */
static napi_value js_rope(napi_env env, napi_callback_info info) {
  ARGS(12)
  int64_t rows, T, m;
  double sign;
  void *x, *cs, *sn, *y;
  if (!get_i64(env, argv[8], &rows, "rows") || !get_i64(env, argv[9], &T, "T") || !get_i64(env, argv[10], &m, "m") ||
      napi_get_value_double(env, argv[11], &sign) != napi_ok)
    return NULL;
  if (rows < 1 || T < 1 || m < 2 || m % 2 || rows % T) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.rope: rows a positive multiple of T, m even");
    return NULL;
  }
  if (!get_ptr(env, argv[0], argv[1], rows * m, "x", &x) || !get_ptr(env, argv[2], argv[3], T * m, "cos", &cs) ||
      !get_ptr(env, argv[4], argv[5], T * m, "sin", &sn) || !get_ptr(env, argv[6], argv[7], rows * m, "y", &y))
    return NULL;
  rope_ctx c = {(const float *)x, (const float *)cs, (const float *)sn, (float *)y, T, m, sign < 0 ? -1.0f : 1.0f};
  seqlab_parallel_for(rows, (GRAIN + m - 1) / m, rope_range, &c);
  return NULL;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  ARGS(1)
  int32_t n;
  napi_value out;
  if (napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.setEltwiseThreads: expected a positive integer");
    return NULL;
  }
  pthread_mutex_lock(&g_call);
  g_threads = n < THREADS_MAX ? n : THREADS_MAX;
  pthread_mutex_unlock(&g_call);
  napi_create_int32(env, g_threads, &out);
  return out;
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, g_threads, &out);
  return out;
}

/* setEltwiseIsa("generic" | "avx2") -> whether that code now runs (tests reach both paths). */
static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  ARGS(1)
  char name[16];
  size_t len;
  napi_value out;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "seqlab eltwise.setEltwiseIsa: expected a string");
    return NULL;
  }
  pthread_mutex_lock(&g_call);
#ifdef SEQLAB_X86
  g_avx2 = -1;
  const int ok = strcmp(name, "generic") == 0 ? (g_avx2 = 0, 1) : strcmp(name, "avx2") == 0 ? have_avx2() : (have_avx2(), 0);
#else
  const int ok = strcmp(name, "generic") == 0;
#endif
  pthread_mutex_unlock(&g_call);
  napi_get_boolean(env, ok, &out);
  return out;
}

static napi_value js_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, have_avx2() ? "avx2" : "generic", NAPI_AUTO_LENGTH, &out);
  return out;
}

napi_status seqlab_register_eltwise(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"unary", js_unary},         {"binary", js_binary},   {"reduce", js_reduce},
      {"transpose", js_transpose}, {"cumsum", js_cumsum},   {"softmax", js_softmax},
      {"setEltwiseThreads", js_set_threads}, {"eltwiseThreads", js_threads}, {"eltwiseIsa", js_isa}, {"setEltwiseIsa", js_set_isa},
      {"maskedSoftmax", js_masked_softmax}, {"maskedSoftmaxGrad", js_masked_softmax_grad},
      {"decayMatrix", js_decay_matrix}, {"decayMatrixGrad", js_decay_matrix_grad}, {"rope", js_rope},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_status s = seqlab_export(env, exports, fns[i].name, fns[i].fn);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}
