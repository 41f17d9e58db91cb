/*
 * The decay matrix of retention (docs/models.md 5.4) and its gradient, on the thread pool.
 *
 * JS API (offsets in BYTES into the view, counts in elements):
 *   decayMatrix(a, aOff, m, mOff, rows, T)          a [rows, T] -> M [rows, T, T]
 *   decayMatrixGrad(m, mOff, dm, dmOff, da, daOff, rows, T)
 */
#include "vecmath.h"
#include "pool.h"

#include <math.h>

#define GRAIN SEQLAB_GRAIN

/* M[t, s] = exp(a_{s+1} + ... + a_t) for s <= t (1 on the diagonal), exactly 0 above it, per row of
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
      if (seqlab_use_avx2()) s = exp_avx2(seg, Mt, t + 1);
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

#define DECAY_T_MAX 4096

/* decayMatrix(a, aOff, m, mOff, rows, T) */
static napi_value js_decay_matrix(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(6)
  int64_t rows, T;
  void *a, *m;
  if (!seqlab_arg_i64(env, argv[4], &rows, "rows") || !seqlab_arg_i64(env, argv[5], &T, "T")) return NULL;
  if (rows < 1 || T < 1 || T > DECAY_T_MAX) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.decayMatrix: rows >= 1 and 1 <= T <= 4096");
    return NULL;
  }
  if (!seqlab_arg_floats(env, argv[0], argv[1], rows * T, "a", &a) || !seqlab_arg_floats(env, argv[2], argv[3], rows * T * T, "m", &m)) return NULL;
  decay_ctx c = {(const float *)a, NULL, NULL, (float *)m, T};
  seqlab_parallel_for(rows, (GRAIN + T * T - 1) / (T * T), decay_forward_range, &c);
  return NULL;
}

/* decayMatrixGrad(m, mOff, dm, dmOff, da, daOff, rows, T) */
static napi_value js_decay_matrix_grad(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(8)
  int64_t rows, T;
  void *m, *dm, *da;
  if (!seqlab_arg_i64(env, argv[6], &rows, "rows") || !seqlab_arg_i64(env, argv[7], &T, "T")) return NULL;
  if (rows < 1 || T < 1 || T > DECAY_T_MAX) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.decayMatrixGrad: rows >= 1 and 1 <= T <= 4096");
    return NULL;
  }
  if (!seqlab_arg_floats(env, argv[0], argv[1], rows * T * T, "m", &m) || !seqlab_arg_floats(env, argv[2], argv[3], rows * T * T, "dm", &dm) ||
      !seqlab_arg_floats(env, argv[4], argv[5], rows * T, "da", &da))
    return NULL;
  decay_ctx c = {NULL, (const float *)m, (const float *)dm, (float *)da, T};
  seqlab_parallel_for(rows, (GRAIN + T * T - 1) / (T * T), decay_backward_range, &c);
  return NULL;
}

napi_status seqlab_register_decay(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"decayMatrix", js_decay_matrix},
      {"decayMatrixGrad", js_decay_matrix_grad},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_status s = seqlab_export(env, exports, fns[i].name, fns[i].fn);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}
