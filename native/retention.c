/*
 * Fused parallel retention (docs/models.md 3.3 and 5.4, scalar decay per head and position), forward
 * and backward, blockwise like attention.c, without the [T, T] decay or score matrices:
 *   o_i = sum_{j <= i} (q_i . k_j) D_ij v_j,   D_ij = exp(c_i - c_j),   c_t = a_0 + ... + a_t,
 * so D_ij = exp(a_{j+1} + ... + a_i) (1 on the diagonal), the decay matrix of the tensor form. The
 * prefix sums c are kept in float64 and each exponent c_i - c_j is rounded once, so long sequences
 * with strong decays lose no precision to the subtraction. With G_ij = dO_i . v_j and
 * W_ij = G_ij (q_i . k_j) D_ij the backward is
 *   dv_j = sum_i (q_i . k_j) D_ij dO_i,  dq_i = sum_j G_ij D_ij k_j,  dk_j = sum_i G_ij D_ij q_i,
 *   dc_i = sum_j W_ij - sum_j W_ji,      da_t = sum_{i >= t} dc_i.
 * Shapes (row-major): q, k, dq, dk [BH, T, dk]; v, o, dO, dv [BH, T, dv]; a, da [BH, T].
 * JS API (views: Array of typed arrays, offs: Float64Array of byte offsets, dims: Float64Array):
 *   retentionForward(views [q, k, v, a, o], offs, dims [BH, T, dk, dv])
 *   retentionBackward(views [q, k, v, a, dO, dq, dk, dv, da], offs, dims)
 */
#include "blockwise.h"

#include <math.h>

typedef struct {
  const float *q, *k, *v, *a, *dO;
  float *o, *dq, *dk, *dv, *da;
  int64_t T, dk_, dv_;
} ret_args;

/* c[t] = a_0 + ... + a_t in float64, then BK entries of +inf (decay_row reads whole blocks). */
INLINE void prefix_sums(const float *a, int64_t T, double *c) {
  double acc = 0.0;
  for (int64_t t = 0; t < T; t++) c[t] = (acc += a[t]);
  for (int64_t t = T; t < T + BK; t++) c[t] = INFINITY;
}

/* d[j] = exp(ci - c[j0 + j]) for j in [0, hi), 0 for j >= hi (keys after row i, or past the end:
 * c holds BK entries of +inf after the last position, so every lane reads a defined value). */
INLINE void decay_row(double ci, const double *c, int64_t j0, int64_t hi, float *d) {
  float z[BK];
  for (int64_t j = 0; j < BK; j++) z[j] = (float)(ci - c[j0 + j]);
  for (int64_t w = 0; w < BK / 8; w++) {
    const v8i j = (v8i){0, 1, 2, 3, 4, 5, 6, 7} + (int32_t)(8 * w);
    st8(d + 8 * w, (v8f)((v8i)exp8_nonpos(ld8(z + 8 * w)) & (j < (int32_t)hi)));
  }
}

INLINE void forward_body(const ret_args *a, int64_t bh, float *scr, const int64_t dk, const int64_t dv) {
  const int64_t T = a->T;
  const float *q = a->q + bh * T * dk, *k = a->k + bh * T * dk, *v = a->v + bh * T * dv;
  float *o = a->o + bh * T * dv;
  float *KT = scr, *s = KT + dk * BK, *d = s + BK;
  double *c = (double *)(d + BK); /* T + BK doubles */
  prefix_sums(a->a + bh * T, T, c);
  memset(o, 0, (size_t)(T * dv) * sizeof(float));
  for (int64_t i0 = 0; i0 < T; i0 += BQ) {
    const int64_t i1 = i0 + BQ < T ? i0 + BQ : T;
    for (int64_t j0 = 0; j0 < i1; j0 += BK) {
      const int64_t j1 = j0 + BK < T ? j0 + BK : T;
      transpose_block(k, j0, j1 - j0, dk, KT);
      for (int64_t i = i0; i < i1; i++) {
        const int64_t hi = (i + 1 < j1 ? i + 1 : j1) - j0;
        row_scores(q + i * dk, KT, dk, s);
        decay_row(c[i], c, j0, hi, d);
        for (int64_t j = 0; j < BK; j++) s[j] *= d[j];
        accumulate(o + i * dv, 1.0f, s, 1, v + j0 * dv, hi, dv);
      }
    }
  }
}

INLINE void backward_body(const ret_args *a, int64_t bh, float *scr, const int64_t dk, const int64_t dv) {
  const int64_t T = a->T;
  const float *q = a->q + bh * T * dk, *k = a->k + bh * T * dk, *v = a->v + bh * T * dv, *dO = a->dO + bh * T * dv;
  float *dq = a->dq + bh * T * dk, *dkk = a->dk + bh * T * dk, *dvv = a->dv + bh * T * dv, *da = a->da + bh * T;
  /* S = (q . k) D and GD = (dO . v) D of one block pair, [BQ, BK] each, 0 past the diagonal */
  float *KT = scr, *VT = KT + dk * BK, *S = VT + dv * BK, *GD = S + BQ * BK, *d = GD + BQ * BK;
  double *c = (double *)(d + BK), *dc = c + T + BK; /* T + BK and T doubles */
  prefix_sums(a->a + bh * T, T, c);
  memset(dq, 0, (size_t)(T * dk) * sizeof(float));
  memset(dkk, 0, (size_t)(T * dk) * sizeof(float));
  memset(dvv, 0, (size_t)(T * dv) * sizeof(float));
  for (int64_t t = 0; t < T; t++) dc[t] = 0.0;
  for (int64_t i0 = 0; i0 < T; i0 += BQ) {
    const int64_t i1 = i0 + BQ < T ? i0 + BQ : T, nr = i1 - i0;
    for (int64_t j0 = 0; j0 < i1; j0 += BK) {
      const int64_t j1 = j0 + BK < T ? j0 + BK : T, nk = j1 - j0;
      transpose_block(k, j0, nk, dk, KT);
      transpose_block(v, j0, nk, dv, VT);
      float wcol[BK] = {0};
      for (int64_t r = 0; r < nr; r++) {
        const int64_t i = i0 + r, hi = (i + 1 < j1 ? i + 1 : j1) - j0;
        float *sr = S + r * BK, *gr = GD + r * BK;
        row_scores(q + i * dk, KT, dk, sr);
        row_scores(dO + i * dv, VT, dv, gr);
        decay_row(c[i], c, j0, hi, d);
        float wrow = 0.0f;
        for (int64_t j = 0; j < BK; j++) {
          const float w = gr[j] * sr[j] * d[j];
          wrow += w;
          wcol[j] += w;
          sr[j] *= d[j];
          gr[j] *= d[j];
        }
        dc[i] += wrow;
      }
      for (int64_t j = 0; j < nk; j++) dc[j0 + j] -= wcol[j];
      for (int64_t r = 0; r < nr; r++) accumulate(dq + (i0 + r) * dk, 1.0f, GD + r * BK, 1, k + j0 * dk, nk, dk);
      for (int64_t j = 0; j < nk; j++) {
        accumulate(dkk + (j0 + j) * dk, 1.0f, GD + j, BK, q + i0 * dk, nr, dk);
        accumulate(dvv + (j0 + j) * dv, 1.0f, S + j, BK, dO + i0 * dv, nr, dv);
      }
    }
  }
  double acc = 0.0;
  for (int64_t t = T - 1; t >= 0; t--) da[t] = (float)(acc += dc[t]);
}

/* The bodies with equal key and value widths 16, 32 or 64 as constants (accumulators in registers). */
#define BY_DIMS(body, a, bh, scr)                                                           \
  if ((a)->dk_ == (a)->dv_ && ((a)->dk_ == 16 || (a)->dk_ == 32 || (a)->dk_ == 64)) {     \
    if ((a)->dk_ == 16) body(a, bh, scr, 16, 16);                                         \
    else if ((a)->dk_ == 32) body(a, bh, scr, 32, 32);                                    \
    else body(a, bh, scr, 64, 64);                                                        \
  } else                                                                                  \
    body(a, bh, scr, (a)->dk_, (a)->dv_);

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void forward_avx2(const ret_args *a, int64_t bh, float *s) { BY_DIMS(forward_body, a, bh, s) }
__attribute__((target("avx2,fma"))) static void backward_avx2(const ret_args *a, int64_t bh, float *s) { BY_DIMS(backward_body, a, bh, s) }
#else
#define forward_avx2 forward_generic
#define backward_avx2 backward_generic
#endif
static void forward_generic(const ret_args *a, int64_t bh, float *s) { BY_DIMS(forward_body, a, bh, s) }
static void backward_generic(const ret_args *a, int64_t bh, float *s) { BY_DIMS(backward_body, a, bh, s) }
PAIR_FN(forward_unit, ret_args, forward_avx2, forward_generic)
PAIR_FN(backward_unit, ret_args, backward_avx2, backward_generic)

/* ---- N-API glue ---- */

static int parse(napi_env env, napi_callback_info info, const char *fn, int backward, ret_args *a, int64_t *BH) {
  static const int64_t min[4] = {1, 1, 1, 1};
  kernel_args k;
  if (!read_kernel_args(env, info, fn, "[BH, T, dk, dv] (each >= 1)", min, &k)) return 0;
  memset(a, 0, sizeof *a);
  *BH = k.dims[0], a->T = k.dims[1], a->dk_ = k.dims[2], a->dv_ = k.dims[3];
  const int64_t K = *BH * a->T * a->dk_, V = *BH * a->T * a->dv_, L = *BH * a->T;
  float *p[9];
  const int64_t n[9] = {K, K, V, L, V, K, K, V, L}; /* forward: q k v a o; backward: q k v a dO dq dk dv da */
  for (uint32_t i = 0; i < (backward ? 9u : 5u); i++)
    if (!kernel_slot(env, fn, &k, i, n[i], &p[i])) return 0;
  a->q = p[0], a->k = p[1], a->v = p[2], a->a = p[3];
  if (!backward) {
    a->o = p[4];
    return 1;
  }
  a->dO = p[4], a->dq = p[5], a->dk = p[6], a->dv = p[7], a->da = p[8];
  return 1;
}

static napi_value js_forward(napi_env env, napi_callback_info info) {
  ret_args a;
  int64_t BH;
  if (!parse(env, info, "retentionForward", 0, &a, &BH)) return NULL;
  seqlab_run_pairs(env, "retentionForward", &a, BH, a.dk_ * BK + 2 * BK + 2 * (a.T + BK), forward_unit);
  return NULL;
}

static napi_value js_backward(napi_env env, napi_callback_info info) {
  ret_args a;
  int64_t BH;
  if (!parse(env, info, "retentionBackward", 1, &a, &BH)) return NULL;
  seqlab_run_pairs(env, "retentionBackward", &a, BH, (a.dk_ + a.dv_) * BK + 2 * BQ * BK + BK + 2 * (a.T + BK) + 2 * a.T, backward_unit);
  return NULL;
}

napi_status seqlab_register_retention(napi_env env, napi_value exports) {
  napi_status s = seqlab_export(env, exports, "retentionForward", js_forward);
  return s != napi_ok ? s : seqlab_export(env, exports, "retentionBackward", js_backward);
}
