/*
 * Fused LayerNorm / RMSNorm with affine weight (docs/models.md 1.2) over the last axis, forward and
 * backward, one pass each on the addon's thread pool (src/ops/norm.ts):
 *   LayerNorm: mu = mean(x), r = 1 / sqrt(mean((x - mu)^2) + eps), xh = (x - mu) r, y = xh w + b
 *   RMSNorm:   mu = 0,       r = 1 / sqrt(mean(x^2) + eps),        xh = x r,        y = xh w
 * The forward keeps r per row (and mu); with g = dy w the backward is
 *   dx = r (g - mean(g) - xh mean(g xh))   (RMSNorm: without the mean(g) term),
 *   dw = sum over rows of dy xh,   db = sum over rows of dy.
 * JS API (views: Array of typed arrays or null, offs: Float64Array of byte offsets):
 *   normForward(views [x, w, b|null, y, mu, r], offs, dims [rows, d, layer (0/1), eps])
 *   normBackward(views [x, w, mu, r, dy, dx, dw, db|null], offs, dims)
 */
#include "seqlab.h"
#include "pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 64 /* rows per unit of work: the backward's dw / db partial sums are per unit */

typedef struct {
  const float *x, *w, *b, *mu_in, *r_in, *dy;
  float *y, *mu, *r, *dx, *dw, *db;
  float *partial; /* backward: 2 d floats per unit */
  int64_t rows, d;
  int layer, backward;
  float eps;
} norm_args;

INLINE void forward_rows(const norm_args *a, int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; i++)
    a->r[i] = seqlab_norm_row(a->x + i * a->d, a->d, a->layer, a->eps, a->w, a->b, a->y + i * a->d, &a->mu[i]);
}

INLINE void backward_rows(const norm_args *a, int64_t unit, int64_t r0, int64_t r1) {
  const int64_t d = a->d;
  float *dw = a->partial + unit * 2 * d, *db = dw + d;
  memset(dw, 0, (size_t)(2 * d) * sizeof(float));
  for (int64_t i = r0; i < r1; i++) {
    const float *x = a->x + i * d, *dy = a->dy + i * d;
    float *dx = a->dx + i * d;
    const float mu = a->mu_in[i], r = a->r_in[i];
    float mg = 0.0f, mgx = 0.0f;
#pragma omp simd reduction(+ : mg, mgx)
    for (int64_t j = 0; j < d; j++) {
      const float g = dy[j] * a->w[j], xh = (x[j] - mu) * r;
      mg += g;
      mgx += g * xh;
      dw[j] += dy[j] * xh;
      db[j] += dy[j];
    }
    mg = a->layer ? mg / (float)d : 0.0f;
    mgx /= (float)d;
    for (int64_t j = 0; j < d; j++) dx[j] = r * (dy[j] * a->w[j] - mg - (x[j] - mu) * r * mgx);
  }
}

/* One unit of ROWS rows, forward or backward (a->backward). */
INLINE void unit_body(const norm_args *a, int64_t u) {
  const int64_t r0 = u * ROWS, r1 = r0 + ROWS < a->rows ? r0 + ROWS : a->rows;
  if (a->backward) backward_rows(a, u, r0, r1);
  else forward_rows(a, r0, r1);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void unit_avx2(const norm_args *a, int64_t u) { unit_body(a, u); }
#endif
static void unit_generic(const norm_args *a, int64_t u) { unit_body(a, u); }

static void units_range(void *ctx, int64_t lo, int64_t hi) {
  const norm_args *a = (const norm_args *)ctx;
  for (int64_t u = lo; u < hi; u++) {
#if defined(__x86_64__) || defined(__i386__)
    if (seqlab_use_avx2()) {
      unit_avx2(a, u);
      continue;
    }
#endif
    unit_generic(a, u);
  }
}

/* ---- N-API glue ---- */

/* (views, offsets, dims [rows, d, layer, eps]): fills rows, d, layer, eps; 0 with an error pending. */
static int parse(napi_env env, napi_callback_info info, const char *fn, napi_value *views, const double **offs, uint32_t *n_offs, norm_args *a) {
  const char *doc = "[rows >= 1, d >= 1, layer, eps >= 0]";
  const double *dims;
  if (!seqlab_kernel_args(env, info, fn, doc, 4, views, offs, n_offs, &dims)) return 0;
  memset(a, 0, sizeof *a);
  if ((a->rows = (int64_t)dims[0]) < 1 || (a->d = (int64_t)dims[1]) < 1 || !(dims[3] >= 0)) {
    char msg[160];
    snprintf(msg, sizeof msg, "seqlab %s: dims must be %s", fn, doc);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  a->layer = dims[2] != 0;
  a->eps = (float)dims[3];
  return 1;
}

static napi_value js_forward(napi_env env, napi_callback_info info) {
  const char *fn = "normForward";
  norm_args a;
  napi_value v;
  const double *offs;
  uint32_t n;
  if (!parse(env, info, fn, &v, &offs, &n, &a)) return NULL;
  const int64_t X = a.rows * a.d;
  float *p[6];
  const int64_t sz[6] = {X, a.d, a.d, X, a.rows, a.rows};
  for (uint32_t i = 0; i < 6; i++)
    if (!seqlab_slot(env, fn, v, offs, n, i, sz[i], i == 2, &p[i])) return NULL;
  a.x = p[0], a.w = p[1], a.b = p[2], a.y = p[3], a.mu = p[4], a.r = p[5];
  seqlab_parallel_for((a.rows + ROWS - 1) / ROWS, 8, units_range, &a);
  return NULL;
}

static napi_value js_backward(napi_env env, napi_callback_info info) {
  const char *fn = "normBackward";
  norm_args a;
  napi_value v;
  const double *offs;
  uint32_t n;
  if (!parse(env, info, fn, &v, &offs, &n, &a)) return NULL;
  const int64_t X = a.rows * a.d, units = (a.rows + ROWS - 1) / ROWS;
  float *p[8];
  const int64_t sz[8] = {X, a.d, a.rows, a.rows, X, X, a.d, a.d};
  for (uint32_t i = 0; i < 8; i++)
    if (!seqlab_slot(env, fn, v, offs, n, i, sz[i], i == 7, &p[i])) return NULL;
  a.x = p[0], a.w = p[1], a.mu_in = p[2], a.r_in = p[3], a.dy = p[4], a.dx = p[5], a.dw = p[6], a.db = p[7];
  a.partial = (float *)malloc((size_t)(units * 2 * a.d) * sizeof(float));
  if (!a.partial) {
    napi_throw_error(env, NULL, "seqlab normBackward: out of memory for the partial sums");
    return NULL;
  }
  a.backward = 1;
  seqlab_parallel_for(units, 8, units_range, &a);
  /* the units' partial sums, added in unit order (the same on any number of threads) */
  memset(a.dw, 0, (size_t)a.d * sizeof(float));
  if (a.db) memset(a.db, 0, (size_t)a.d * sizeof(float));
  for (int64_t u = 0; u < units; u++) {
    const float *pw = a.partial + u * 2 * a.d, *pb = pw + a.d;
    for (int64_t j = 0; j < a.d; j++) a.dw[j] += pw[j];
    if (a.db)
      for (int64_t j = 0; j < a.d; j++) a.db[j] += pb[j];
  }
  free(a.partial);
  return NULL;
}

napi_status seqlab_register_norm(napi_env env, napi_value exports) {
  napi_status s = seqlab_export(env, exports, "normForward", js_forward);
  return s != napi_ok ? s : seqlab_export(env, exports, "normBackward", js_backward);
}
