/*
 * Softmax along the last axis and attention's masked softmax (docs/models.md 2.1, rule N2 of 0.4),
 * forward and backward, on the thread pool with the AVX2 exp (vecmath.h) where the CPU has it.
 *
 * JS API (offsets in BYTES into the view, counts in elements; every view may alias one heap):
 *   softmax(x, xOff, y, yOff, rows, n)             along the last axis of [rows, n]
 *   maskedSoftmax(x, xOff, mask|null, maskOff, y, yOff, meta, scale)       attention's masked
 *        softmax over [B, H, Tq, Tk]; meta Int32Array [B, H, Tq, Tk, mask strides sb, sh, si, sj]
 *   maskedSoftmaxGrad(p, pOff, dp, dpOff, mask|null, maskOff, dx, dxOff, meta, scale)   its gradient
 */
#include "vecmath.h"
#include "pool.h"

#include <math.h>
#include <string.h>

#define GRAIN SEQLAB_GRAIN

typedef struct {
  const float *x;
  float *y;
  int64_t n;
} rows_ctx;

#ifdef SEQLAB_X86
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
#endif

/* y = softmax(x) over one row of n (x == y allowed). */
static void softmax_row(const float *x, float *y, int64_t n) {
#ifdef SEQLAB_X86
  if (seqlab_use_avx2()) {
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
  const rows_ctx *c = (const rows_ctx *)p;
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

static napi_value js_softmax(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(6)
  int64_t rows, n;
  if (!seqlab_arg_i64(env, argv[4], &rows, "rows") || !seqlab_arg_i64(env, argv[5], &n, "n")) return NULL;
  if (rows < 1 || n < 1) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.softmax: extents out of range");
    return NULL;
  }
  void *x, *y;
  if (!seqlab_arg_floats(env, argv[0], argv[1], rows * n, "x", &x) || !seqlab_arg_floats(env, argv[2], argv[3], rows * n, "y", &y)) return NULL;
  rows_ctx c = {(const float *)x, (float *)y, n};
  seqlab_parallel_for(rows, (GRAIN / 4 + n - 1) / n, softmax_range, &c);
  return NULL;
}

/* meta: Int32Array [B, H, Tq, Tk, sb, sh, si, sj] (mask strides in elements). */
static int msm_meta(napi_env env, napi_value v, msm_ctx *c, int64_t *n, int64_t *mask_extent) {
  int32_t *m;
  size_t len;
  if (!seqlab_arg_meta(env, v, &m, &len)) return 0;
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
  SEQLAB_ARGS(8)
  msm_ctx c;
  memset(&c, 0, sizeof c);
  int64_t n, extent;
  double scale;
  void *x, *a, *y;
  if (!msm_meta(env, argv[6], &c, &n, &extent) || napi_get_value_double(env, argv[7], &scale) != napi_ok) return NULL;
  if (!seqlab_arg_floats(env, argv[0], argv[1], n, "x", &x) || !seqlab_arg_mask(env, argv[2], argv[3], extent, &a) ||
      !seqlab_arg_floats(env, argv[4], argv[5], n, "y", &y))
    return NULL;
  c.x = (const float *)x, c.a = (const float *)a, c.y = (float *)y, c.scale = (float)scale;
  seqlab_parallel_for(n / c.Tk, (GRAIN / 4 + c.Tk - 1) / c.Tk, msm_forward_range, &c);
  return NULL;
}

/* maskedSoftmaxGrad(p, pOff, dp, dpOff, mask|null, maskOff, dx, dxOff, meta, scale) */
static napi_value js_masked_softmax_grad(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(10)
  msm_ctx c;
  memset(&c, 0, sizeof c);
  int64_t n, extent;
  double scale;
  void *p, *dp, *a, *dx;
  if (!msm_meta(env, argv[8], &c, &n, &extent) || napi_get_value_double(env, argv[9], &scale) != napi_ok) return NULL;
  if (!seqlab_arg_floats(env, argv[0], argv[1], n, "p", &p) || !seqlab_arg_floats(env, argv[2], argv[3], n, "dp", &dp) ||
      !seqlab_arg_mask(env, argv[4], argv[5], extent, &a) || !seqlab_arg_floats(env, argv[6], argv[7], n, "dx", &dx))
    return NULL;
  c.p = (const float *)p, c.dp = (const float *)dp, c.a = (const float *)a, c.y = (float *)dx, c.scale = (float)scale;
  seqlab_parallel_for(n / c.Tk, (GRAIN / 4 + c.Tk - 1) / c.Tk, msm_backward_range, &c);
  return NULL;
}
napi_status seqlab_register_softmax(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"softmax", js_softmax},
      {"maskedSoftmax", js_masked_softmax},
      {"maskedSoftmaxGrad", js_masked_softmax_grad},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_status s = seqlab_export(env, exports, fns[i].name, fns[i].fn);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}
