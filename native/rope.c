/*
 * Rotary position encoding (docs/models.md 1.4) as one native rotation, forward or back (the
 * gradient), on the thread pool.
 *
 * JS API: rope(x, xOff, cos, cosOff, sin, sinOff, y, yOff, rows, T, m, sign)   offsets in BYTES
 */
#include "seqlab.h"
#include "pool.h"

#define GRAIN SEQLAB_GRAIN

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
  SEQLAB_ARGS(12)
  int64_t rows, T, m;
  double sign;
  void *x, *cs, *sn, *y;
  if (!seqlab_arg_i64(env, argv[8], &rows, "rows") || !seqlab_arg_i64(env, argv[9], &T, "T") || !seqlab_arg_i64(env, argv[10], &m, "m") ||
      napi_get_value_double(env, argv[11], &sign) != napi_ok)
    return NULL;
  if (rows < 1 || T < 1 || m < 2 || m % 2 || rows % T) {
    napi_throw_range_error(env, NULL, "seqlab eltwise.rope: rows a positive multiple of T, m even");
    return NULL;
  }
  if (!seqlab_arg_floats(env, argv[0], argv[1], rows * m, "x", &x) || !seqlab_arg_floats(env, argv[2], argv[3], T * m, "cos", &cs) ||
      !seqlab_arg_floats(env, argv[4], argv[5], T * m, "sin", &sn) || !seqlab_arg_floats(env, argv[6], argv[7], rows * m, "y", &y))
    return NULL;
  rope_ctx c = {(const float *)x, (const float *)cs, (const float *)sn, (float *)y, T, m, sign < 0 ? -1.0f : 1.0f};
  seqlab_parallel_for(rows, (GRAIN + m - 1) / m, rope_range, &c);
  return NULL;
}
napi_status seqlab_register_rope(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"rope", js_rope},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_status s = seqlab_export(env, exports, fns[i].name, fns[i].fn);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}
