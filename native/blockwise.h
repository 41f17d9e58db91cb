/*
 * Shared pieces of the blockwise causal kernels (attention.c, retention.c): per (batch, head) pair,
 * blocks of BQ query rows against blocks of BK keys up to the diagonal, the key block transposed so
 * a row of scores is a register-blocked axpy over keys, row accumulators held in registers, and a
 * runner that spreads the pairs over the addon's thread pool (pool.c) with private scratch.
 * Everything here is static: each kernel file compiles it for its AVX2 and generic bodies.
 */
#ifndef SEQLAB_BLOCKWISE_H
#define SEQLAB_BLOCKWISE_H

#include "seqlab.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BQ 64 /* query rows per block */
#define BK 64 /* keys per block */

/* KT[c, j] = K[j0 + j, c] for j < n: a key block transposed, so a row of scores is an axpy over keys. */
INLINE void transpose_block(const float *K, int64_t j0, int64_t n, int64_t dh, float *KT) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t c = 0; c < dh; c++) KT[c * BK + j] = K[(j0 + j) * dh + c];
  for (int64_t c = 0; c < dh; c++)
    for (int64_t j = n; j < BK; j++) KT[c * BK + j] = 0.0f; /* a short last block: full-width rows stay finite */
}

/* Eight-float vectors (GCC vector extensions): ymm registers in the AVX2 build, SSE pairs otherwise. */
typedef float v8f __attribute__((vector_size(32)));
INLINE v8f ld8(const float *p) {
  v8f v;
  memcpy(&v, p, sizeof v);
  return v;
}
INLINE void st8(float *p, v8f v) { memcpy(p, &v, sizeof v); }
INLINE v8f bc8(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
typedef int32_t v8i __attribute__((vector_size(32)));

/* exp(x) for x <= 0 on eight lanes: exp_nonpos (seqlab.h) written with vector operations, since the
 * compiler leaves the scalar one unvectorised here; below -87.3 (and -inf) the result is 0. */
INLINE v8f exp8_nonpos(v8f x) {
  const v8i under = x < bc8(-87.3f);
  const v8f xc = (v8f)(((v8i)x & ~under) | ((v8i)bc8(-87.3f) & under));
  const v8f kf = (xc * bc8(1.44269504088896341f) + bc8(12582912.0f)) - bc8(12582912.0f);
  v8f r = xc - kf * bc8(0.693145751953125f);
  r = r - kf * bc8(1.428606765330187045e-06f);
  v8f p = bc8(1.0f / 720.0f);
  p = p * r + bc8(1.0f / 120.0f);
  p = p * r + bc8(1.0f / 24.0f);
  p = p * r + bc8(1.0f / 6.0f);
  p = p * r + bc8(0.5f);
  p = p * r + bc8(1.0f);
  p = p * r + bc8(1.0f);
  const v8i two_k = (__builtin_convertvector(kf, v8i) + 127) << 23;
  return (v8f)((v8i)(p * (v8f)two_k) & ~under);
}

/* s[j] = x . KT[:, j] for the whole block, j < BK = 64: eight accumulators held in registers. */
INLINE void row_scores(const float *x, const float *KT, int64_t dh, float *s) {
  v8f a0 = bc8(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int64_t c = 0; c < dh; c++) {
    const v8f xc = bc8(x[c]);
    const float *kt = KT + c * BK;
    a0 += xc * ld8(kt), a1 += xc * ld8(kt + 8), a2 += xc * ld8(kt + 16), a3 += xc * ld8(kt + 24);
    a4 += xc * ld8(kt + 32), a5 += xc * ld8(kt + 40), a6 += xc * ld8(kt + 48), a7 += xc * ld8(kt + 56);
  }
  st8(s, a0), st8(s + 8, a1), st8(s + 16, a2), st8(s + 24, a3);
  st8(s + 32, a4), st8(s + 40, a5), st8(s + 48, a6), st8(s + 56, a7);
}

/* acc[dh] = scale * acc + sum_{j < n} coef[j * stride] rows[j]: the row accumulator in registers when
 * dh is a multiple of 8 up to 64 (a constant in the specialised bodies), plain loops otherwise. */
INLINE void accumulate(float *acc, float scale, const float *coef, int64_t stride, const float *rows, int64_t n, int64_t dh) {
  if (dh % 8 == 0 && dh <= 64) {
    v8f r[8] = {{0}};
#pragma GCC unroll 8
    for (int64_t w = 0; w < dh / 8; w++) r[w] = ld8(acc + 8 * w) * bc8(scale);
    for (int64_t j = 0; j < n; j++) {
      const v8f cj = bc8(coef[j * stride]);
      const float *row = rows + j * dh;
#pragma GCC unroll 8
      for (int64_t w = 0; w < dh / 8; w++) r[w] += cj * ld8(row + 8 * w);
    }
#pragma GCC unroll 8
    for (int64_t w = 0; w < dh / 8; w++) st8(acc + 8 * w, r[w]);
    return;
  }
  for (int64_t c = 0; c < dh; c++) acc[c] *= scale;
  for (int64_t j = 0; j < n; j++)
    for (int64_t c = 0; c < dh; c++) acc[c] += coef[j * stride] * rows[j * dh + c];
}

/* The (views, offsets, dims) arguments of a blockwise kernel, dims read as four integers. */
typedef struct {
  napi_value views;
  const double *offs;
  uint32_t n_offs;
  int64_t dims[4];
} kernel_args;

/* Reads the arguments; dims[i] must be >= min[i] (`doc` names them in the error). Returns 0 with a JS
 * error pending otherwise. */
static int read_kernel_args(napi_env env, napi_callback_info info, const char *fn, const char *doc, const int64_t *min, kernel_args *k) {
  const double *d;
  if (!seqlab_kernel_args(env, info, fn, doc, 4, &k->views, &k->offs, &k->n_offs, &d)) return 0;
  for (int i = 0; i < 4; i++)
    if ((k->dims[i] = (int64_t)d[i]) < min[i]) {
      char msg[200];
      snprintf(msg, sizeof msg, "seqlab %s: dims must be %s", fn, doc);
      napi_throw_range_error(env, NULL, msg);
      return 0;
    }
  return 1;
}

/* Slot i of the arguments as `n` floats (required). */
static int kernel_slot(napi_env env, const char *fn, const kernel_args *k, uint32_t i, int64_t n, float **dst) {
  return seqlab_slot(env, fn, k->views, k->offs, k->n_offs, i, n, 0, dst);
}

typedef void (*seqlab_pair_fn)(const void *args, int64_t bh, float *scratch);

typedef struct {
  const void *args;
  seqlab_pair_fn fn;
  float *scratch;
  int64_t per;
} pairs_job;

static void pairs_range(void *ctx, int64_t lo, int64_t hi) {
  const pairs_job *job = (const pairs_job *)ctx;
  for (int64_t bh = lo; bh < hi; bh++) job->fn(job->args, bh, job->scratch + bh * job->per);
}

/* Runs fn on every pair [0, BH) on the thread pool, `per` floats of scratch each; on running out of
 * memory throws an Error naming `name` and returns 0. */
static int seqlab_run_pairs(napi_env env, const char *name, const void *args, int64_t BH, int64_t per, seqlab_pair_fn fn) {
  pairs_job job = {args, fn, (float *)malloc((size_t)(BH * per) * sizeof(float)), per};
  if (!job.scratch) {
    char msg[120];
    snprintf(msg, sizeof msg, "seqlab %s: out of memory for %lld floats of scratch", name, (long long)(BH * per));
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  seqlab_parallel_for(BH, 1, pairs_range, &job);
  free(job.scratch);
  return 1;
}

/* A pair function `name` that runs the AVX2 body where the CPU has it, else the generic one. */
#if defined(__x86_64__) || defined(__i386__)
#define PAIR_FN(name, type, avx2, generic)                                  \
  static void name(const void *a, int64_t bh, float *s) {                   \
    if (seqlab_use_avx2()) avx2((const type *)a, bh, s);                    \
    else generic((const type *)a, bh, s);                                   \
  }
#else
#define PAIR_FN(name, type, avx2, generic) \
  static void name(const void *a, int64_t bh, float *s) { generic((const type *)a, bh, s); }
#endif

#endif
