/*
 * Fused causal softmax attention (docs/models.md 2.1 and 0.3; sliding window as `swa`), forward and
 * backward, in the manner of FlashAttention-2 (Dao 2023): the [T, T] score and probability
 * matrices are never formed. Per (batch, head) the forward walks blocks of BK keys up to the
 * diagonal (and no further back than the window), keeping each query row's running max m, sum l
 * and output accumulator (online softmax), and stores o and the row's log-sum-exp
 *   lse_i = m_i + log l_i,   P_ij = exp(s_ij - lse_i),   s_ij = (q_i . k_j) / sqrt(dh).
 * The backward recomputes P from q, k and lse block by block:
 *   D_i = dO_i . o_i,  dP_ij = dO_i . v_j,  dS_ij = P_ij (dP_ij - D_i),
 *   dq_i = sum_j dS_ij k_j / sqrt(dh),  dk_j = sum_i dS_ij q_i / sqrt(dh),  dv_j = sum_i P_ij dO_i.
 * Keys j attend to query i iff j <= i and j > i - window (window 0: no window). Masked pairs
 * contribute exactly 0, as the tensor form's masked softmax (rule N2). Causality skips the blocks
 * above the diagonal: at T 256 about 40% of the full product's work.
 *
 * Shapes (row-major): q, k, v, o, dO, dq, dk, dv [BH, T, dh]; lse [BH, T].
 * JS API (views: Array of typed arrays, offs: Float64Array of byte offsets, dims: Float64Array):
 *   attentionForward(views [q, k, v, o, lse], offs, dims [BH, T, dh, window])
 *   attentionBackward(views [q, k, v, o, lse, dO, dq, dk, dv], offs, dims)
 * Work is split over the BH (batch, head) pairs on the addon's thread pool (pool.c).
 */
#include "blockwise.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
  const float *q, *k, *v, *o, *lse, *dO;
  float *out, *lse_out, *dq, *dk, *dv;
  int64_t T, dh, window;
  float scale;
} attn_args;

/* The keys of query row i inside block [j0, j1): [lo, hi) relative to j0 (empty when lo >= hi). */
INLINE void key_range(const attn_args *a, int64_t i, int64_t j0, int64_t j1, int64_t *lo, int64_t *hi) {
  const int64_t first = a->window > 0 && i - a->window + 1 > j0 ? i - a->window + 1 : j0;
  *lo = first - j0;
  *hi = (i + 1 < j1 ? i + 1 : j1) - j0;
}

/* s[j] = exp(s[j] * scale - shift) for j in [lo, hi), 0 elsewhere in the block; returns the sum. */
INLINE float block_exp(float *s, float scale, float shift, int64_t lo, int64_t hi) {
  v8f sum = bc8(0);
  for (int64_t w = 0; w < BK / 8; w++) {
    const v8i j = (v8i){0, 1, 2, 3, 4, 5, 6, 7} + (int32_t)(8 * w);
    const v8i in = (j >= (int32_t)lo) & (j < (int32_t)hi);
    const v8f z = ld8(s + 8 * w) * bc8(scale) - bc8(shift);
    const v8f e = (v8f)((v8i)exp8_nonpos(z) & in);
    st8(s + 8 * w, e);
    sum += e;
  }
  return ((sum[0] + sum[4]) + (sum[1] + sum[5])) + ((sum[2] + sum[6]) + (sum[3] + sum[7]));
}

/* The key blocks of query block [i0, i1): from the first key any row may see to the diagonal. */
INLINE int64_t first_key(const attn_args *a, int64_t i0) {
  const int64_t j = a->window > 0 && i0 - a->window + 1 > 0 ? i0 - a->window + 1 : 0;
  return j - j % BK;
}

INLINE void forward_body(const attn_args *a, int64_t bh, float *scr, const int64_t dh) {
  const int64_t T = a->T;
  const float *q = a->q + bh * T * dh, *k = a->k + bh * T * dh, *v = a->v + bh * T * dh;
  float *o = a->out + bh * T * dh, *lse = a->lse_out + bh * T;
  float *KT = scr, *s = KT + dh * BK, *acc = s + BK, *m = acc + BQ * dh, *l = m + BQ;
  for (int64_t i0 = 0; i0 < T; i0 += BQ) {
    const int64_t i1 = i0 + BQ < T ? i0 + BQ : T;
    for (int64_t r = 0; r < i1 - i0; r++) m[r] = -INFINITY, l[r] = 0.0f;
    memset(acc, 0, (size_t)(BQ * dh) * sizeof(float));
    for (int64_t j0 = first_key(a, i0); j0 < i1; j0 += BK) {
      const int64_t j1 = j0 + BK < T ? j0 + BK : T;
      transpose_block(k, j0, j1 - j0, dh, KT);
      for (int64_t i = i0; i < i1; i++) {
        int64_t lo, hi;
        key_range(a, i, j0, j1, &lo, &hi);
        if (lo >= hi) continue;
        const int64_t r = i - i0;
        row_scores(q + i * dh, KT, dh, s);
        float mx = m[r];
        for (int64_t j = lo; j < hi; j++) mx = s[j] * a->scale > mx ? s[j] * a->scale : mx;
        const float corr = expf(m[r] - mx); /* 0 on the row's first block (m = -inf) */
        const float sum = block_exp(s, a->scale, mx, lo, hi);
        l[r] = l[r] * corr + sum;
        m[r] = mx;
        accumulate(acc + r * dh, corr, s + lo, 1, v + (j0 + lo) * dh, hi - lo, dh);
      }
    }
    for (int64_t i = i0; i < i1; i++) {
      const int64_t r = i - i0;
      const float inv = 1.0f / l[r];
      for (int64_t c = 0; c < dh; c++) o[i * dh + c] = acc[r * dh + c] * inv;
      lse[i] = m[r] + logf(l[r]);
    }
  }
}

INLINE void backward_body(const attn_args *a, int64_t bh, float *scr, const int64_t dh) {
  const int64_t T = a->T;
  const size_t off = (size_t)(bh * T * dh);
  const float *q = a->q + off, *k = a->k + off, *v = a->v + off, *o = a->o + off, *dO = a->dO + off, *lse = a->lse + bh * T;
  float *dq = a->dq + off, *dk = a->dk + off, *dv = a->dv + off;
  /* P and dS of one (query block, key block) pair, [BQ, BK] each; masked entries 0 */
  float *KT = scr, *VT = KT + dh * BK, *P = VT + dh * BK, *DS = P + BQ * BK, *D = DS + BQ * BK;
  memset(dq, 0, (size_t)(T * dh) * sizeof(float));
  memset(dk, 0, (size_t)(T * dh) * sizeof(float));
  memset(dv, 0, (size_t)(T * dh) * sizeof(float));
  for (int64_t i = 0; i < T; i++) {
    float d = 0.0f;
    for (int64_t c = 0; c < dh; c++) d += dO[i * dh + c] * o[i * dh + c];
    D[i] = d;
  }
  for (int64_t i0 = 0; i0 < T; i0 += BQ) {
    const int64_t i1 = i0 + BQ < T ? i0 + BQ : T, nr = i1 - i0;
    for (int64_t j0 = first_key(a, i0); j0 < i1; j0 += BK) {
      const int64_t j1 = j0 + BK < T ? j0 + BK : T, nk = j1 - j0;
      transpose_block(k, j0, nk, dh, KT);
      transpose_block(v, j0, nk, dh, VT);
      for (int64_t r = 0; r < nr; r++) {
        const int64_t i = i0 + r;
        int64_t lo, hi;
        key_range(a, i, j0, j1, &lo, &hi);
        float *p = P + r * BK, *ds = DS + r * BK;
        row_scores(q + i * dh, KT, dh, p);
        row_scores(dO + i * dh, VT, dh, ds);
        const float Di = D[i];
        block_exp(p, a->scale, lse[i], lo, hi);
        for (int64_t j = 0; j < BK; j++) ds[j] = p[j] * (ds[j] - Di) * a->scale;
      }
      /* dq_i += sum_j dS_ij k_j;  dk_j += sum_i dS_ij q_i;  dv_j += sum_i P_ij dO_i (masked entries are 0) */
      for (int64_t r = 0; r < nr; r++) accumulate(dq + (i0 + r) * dh, 1.0f, DS + r * BK, 1, k + j0 * dh, nk, dh);
      for (int64_t j = 0; j < nk; j++) {
        accumulate(dk + (j0 + j) * dh, 1.0f, DS + j, BK, q + i0 * dh, nr, dh);
        accumulate(dv + (j0 + j) * dh, 1.0f, P + j, BK, dO + i0 * dh, nr, dh);
      }
    }
  }
}

/* The bodies with the usual head widths as constants: fixed trip counts keep accumulators in registers. */
#define BY_DH(body, a, bh, scr)                    \
  switch ((a)->dh) {                               \
    case 16: body(a, bh, scr, 16); break;          \
    case 32: body(a, bh, scr, 32); break;          \
    case 64: body(a, bh, scr, 64); break;          \
    default: body(a, bh, scr, (a)->dh); break;     \
  }

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void forward_avx2(const attn_args *a, int64_t bh, float *s) { BY_DH(forward_body, a, bh, s) }
__attribute__((target("avx2,fma"))) static void backward_avx2(const attn_args *a, int64_t bh, float *s) { BY_DH(backward_body, a, bh, s) }
#else
#define forward_avx2 forward_generic
#define backward_avx2 backward_generic
#endif
static void forward_generic(const attn_args *a, int64_t bh, float *s) { BY_DH(forward_body, a, bh, s) }
static void backward_generic(const attn_args *a, int64_t bh, float *s) { BY_DH(backward_body, a, bh, s) }
PAIR_FN(forward_unit, attn_args, forward_avx2, forward_generic)
PAIR_FN(backward_unit, attn_args, backward_avx2, backward_generic)

/* ---- N-API glue ---- */

static int parse(napi_env env, napi_callback_info info, const char *fn, int backward, attn_args *a, int64_t *BH) {
  static const int64_t min[4] = {1, 1, 1, 0};
  kernel_args k;
  if (!read_kernel_args(env, info, fn, "[BH, T, dh, window] (BH, T, dh >= 1, window >= 0)", min, &k)) return 0;
  memset(a, 0, sizeof *a);
  *BH = k.dims[0], a->T = k.dims[1], a->dh = k.dims[2], a->window = k.dims[3];
  a->scale = (float)(1.0 / sqrt((double)a->dh));
  const int64_t X = *BH * a->T * a->dh, L = *BH * a->T;
  float *p[9];
  const int64_t n[9] = {X, X, X, X, L, X, X, X, X};
  for (uint32_t i = 0; i < (backward ? 9u : 5u); i++)
    if (!kernel_slot(env, fn, &k, i, n[i], &p[i])) return 0;
  a->q = p[0], a->k = p[1], a->v = p[2];
  if (!backward) {
    a->out = p[3], a->lse_out = p[4];
    return 1;
  }
  a->o = p[3], a->lse = p[4], a->dO = p[5], a->dq = p[6], a->dk = p[7], a->dv = p[8];
  return 1;
}

static napi_value js_forward(napi_env env, napi_callback_info info) {
  attn_args a;
  int64_t BH;
  if (!parse(env, info, "attentionForward", 0, &a, &BH)) return NULL;
  seqlab_run_pairs(env, "attentionForward", &a, BH, a.dh * BK + BK + BQ * a.dh + 2 * BQ, forward_unit);
  return NULL;
}

static napi_value js_backward(napi_env env, napi_callback_info info) {
  attn_args a;
  int64_t BH;
  if (!parse(env, info, "attentionBackward", 1, &a, &BH)) return NULL;
  seqlab_run_pairs(env, "attentionBackward", &a, BH, 2 * a.dh * BK + 2 * BQ * BK + a.T, backward_unit);
  return NULL;
}

napi_status seqlab_register_attention(napi_env env, napi_value exports) {
  napi_status s = seqlab_export(env, exports, "attentionForward", js_forward);
  return s != napi_ok ? s : seqlab_export(env, exports, "attentionBackward", js_backward);
}
