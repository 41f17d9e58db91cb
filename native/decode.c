/*
 * Fused decode step of one pre-norm block (docs/models.md 0.3, 1.1): for each batch row,
 *   u  = Norm1(h);  h1 = h + Mixer(u, state);  h' = h1 + FFN(Norm2(h1))   (FFN optional)
 * with the mixer's recurrent form over one token, in a single call. Decoding one token through
 * tfjs costs ~100 kernel launches per layer, each far larger in overhead than its arithmetic at
 * batch 1; here a layer is one launch and the arithmetic is the same.
 *
 * Mixers (the same functions as the tensor code of src/models/mixers, in the same order):
 *   retention (RetNet 3.1-3.6, selective retention 5.1-5.3; per-head decay only):
 *     q = u Wq, k = (u Wk) dk^-1/2, rope(q, k) at `pos`; a_h = log gamma_h ('fixed') or
 *     -softplus(u w_dt + b_dt)_h exp(A_log_h) ('mamba'), clamped below at a_min; beta_h = 1, dt_h,
 *     sigmoid(u w_b + b_b)_h or -expm1(a_h);  S_h <- e^{a_h} S_h + (beta_h k_h) v_h^T;
 *     o_h = q_h S_h (/ sqrt(z_h), z_h <- e^{a_h} z_h + beta_h, with decaySqrt); per-head norm;
 *     y = (silu(u Wg) * o) Wo
 *   attention (2.1-2.3, full or sliding window): q, k, v = u W (+ b), rope(q, k) at `pos`; the KV
 *     cache gains (k, v) and drops its oldest row past the window; y = softmax(q K^T / sqrt(dh)) V Wo (+ b)
 *   mamba (Mamba-1 4.1-4.4): [x, z] = u W_in (+ b); conv state shifts in x; xa = silu(conv + b);
 *     [dtr, Bm, Cm] = xa W_x (RMS-normed with inner_norms); dt = softplus(dtr W_dt + b_dt);
 *     h <- exp(dt A) h + (dt xa) Bm^T; y = ((h Cm) + D xa) * silu(z); out = y W_out (+ b)
 *
 * JS API: blockStep(views, offs, ints, floats)
 *   views: Array of typed arrays (or null for an absent slot), offs: Float64Array of byte offsets,
 *   ints: Int32Array, floats: Float64Array; the slot and field layouts are the enums below, built
 *   from native/decode-layout.json (src/native/decode-layout.ts packs the arguments by its names).
 * decodeLayout() -> string[]: the layout this addon was compiled with ("ints.block.B", ...,
 *   "codes.mixer.retention=1"), in table order, so a stale addon or a diverging table is caught. Every extent is bounds-checked against its view.
 *   Outputs (h_out and the new state) may not alias inputs.
 */
#include "seqlab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layout of ints, floats and slots, and the codes of the enumerated ints: X-macros that build.js
 * generates from native/decode-layout.json (the table src/native/decode-layout.ts packs by). */
#include "decode_layout.h"

#define MIX_CODE(E, s, v) MIX_##E = v,
#define NORM_CODE(E, s, v) NORM_##E = v,
#define FFN_CODE(E, s, v) FFN_##E = v,
#define DECAY_CODE(E, s, v) DECAY_##E = v,
#define WRITE_CODE(E, s, v) WRITE_##E = v,
enum { SEQLAB_DL_CODES_MIXER(MIX_CODE) };
enum { SEQLAB_DL_CODES_NORM(NORM_CODE) };
enum { SEQLAB_DL_CODES_FFN(FFN_CODE) };
enum { SEQLAB_DL_CODES_DECAY(DECAY_CODE) };
enum { SEQLAB_DL_CODES_WRITE(WRITE_CODE) };

/* ints: the block's (I_*), then the mixer's from I_MIX (IR_* retention, IM_* mamba, IA_* attention) */
#define I_FIELD(E, s) I_##E,
#define IR_FIELD(E, s) IR_##E,
#define IM_FIELD(E, s) IM_##E,
#define IA_FIELD(E, s) IA_##E,
enum { SEQLAB_DL_INTS_BLOCK(I_FIELD) I_MIX };
enum { IR_BEFORE_ = I_MIX - 1, SEQLAB_DL_INTS_RETENTION(IR_FIELD) IR_COUNT };
enum { IM_BEFORE_ = I_MIX - 1, SEQLAB_DL_INTS_MAMBA(IM_FIELD) IM_COUNT };
enum { IA_BEFORE_ = I_MIX - 1, SEQLAB_DL_INTS_ATTENTION(IA_FIELD) IA_COUNT };
/* floats: the block's norm eps, then (retention) head-norm eps, a_min, log gamma [H], rope theta
 * [dk/2] (at FR_LOG_GAMMAS + H); (attention) rope theta [dh/2] */
#define F_FIELD(E, s) F_##E,
#define FR_FIELD(E, s) FR_##E,
#define FA_FIELD(E, s) FA_##E,
enum { SEQLAB_DL_FLOATS_BLOCK(F_FIELD) F_MIX };
enum { FR_BEFORE_ = F_MIX - 1, SEQLAB_DL_FLOATS_RETENTION(FR_FIELD) FR_COUNT };
enum { FA_BEFORE_ = F_MIX - 1, SEQLAB_DL_FLOATS_ATTENTION(FA_FIELD) FA_COUNT };

/* slots: the block's (S_*), then the mixer's from S_MIX: weights, state, new state */
#define S_FIELD(E, s) S_##E,
#define SR_FIELD(E, s) SR_##E,
#define SM_FIELD(E, s) SM_##E,
#define SA_FIELD(E, s) SA_##E,
enum { SEQLAB_DL_SLOTS_BLOCK(S_FIELD) S_MIX };
enum { SR_BEFORE_ = S_MIX - 1, SEQLAB_DL_SLOTS_RETENTION(SR_FIELD) SR_COUNT };
enum { SM_BEFORE_ = S_MIX - 1, SEQLAB_DL_SLOTS_MAMBA(SM_FIELD) SM_COUNT };
enum { SA_BEFORE_ = S_MIX - 1, SEQLAB_DL_SLOTS_ATTENTION(SA_FIELD) SA_COUNT };
#define MAX_SLOTS 32
_Static_assert(SR_COUNT <= MAX_SLOTS && SM_COUNT <= MAX_SLOTS && SA_COUNT <= MAX_SLOTS, "MAX_SLOTS below a mixer's slot count");

typedef struct {
  const int32_t *i;
  const double *f;
  float *p[MAX_SLOTS]; /* NULL = absent */
  float *scratch;
} step_args;

INLINE float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
INLINE float siluf_(float x) { return x * sigmoidf_(x); }
/* as the element-wise Softplus kernel (native/eltwise.c) */
INLINE float softplusf_(float x) { return (x > 0 ? x : 0.0f) + log1pf(expf(-fabsf(x))); }

/* y[n_out] = x[n_in] @ W[n_in, n_out] (+ bias): rows of W scaled and summed, the inner loop vectorised. */
INLINE void matvec(const float *x, int64_t n_in, const float *W, int64_t n_out, const float *bias, float *y) {
  for (int64_t o = 0; o < n_out; o++) y[o] = 0.0f;
  for (int64_t i = 0; i < n_in; i++) {
    const float xi = x[i];
    const float *w = W + i * n_out;
#pragma omp simd
    for (int64_t o = 0; o < n_out; o++) y[o] += xi * w[o];
  }
  if (bias)
    for (int64_t o = 0; o < n_out; o++) y[o] += bias[o];
}

/* The block's norm with its affine weight (and LayerNorm bias); w NULL: none (the per-head norm). */
INLINE void block_norm(const float *x, int64_t n, int kind, float eps, const float *w, const float *b, float *y) {
  seqlab_norm_row(x, n, kind == NORM_LAYER, eps, w, b, y, NULL);
}

/* Interleaved-pair rotary encoding of x[m] at position pos (docs/models.md 1.4). */
INLINE void rope(float *x, int64_t m, int64_t pos, const double *theta) {
  for (int64_t i = 0; i < m / 2; i++) {
    const double ang = (double)pos * theta[i];
    const float c = (float)cos(ang), s = (float)sin(ang);
    const float x0 = x[2 * i], x1 = x[2 * i + 1];
    x[2 * i] = x0 * c + (-x1) * s;
    x[2 * i + 1] = x1 * c + x0 * s;
  }
}

/* Retention over one token of row b: u[d] -> y[d]; scratch >= 3 dqk + 3 dvt + 2 H floats. */
INLINE void retention_row(const step_args *a, int64_t b, const float *u, float *y, float *scr) {
  const int32_t *I = a->i;
  const int64_t d = I[I_D], H = I[IR_H], dk = I[IR_DK], dv = I[IR_DV], dqk = H * dk, dvt = H * dv;
  float *q = scr, *k = q + dqk, *v = k + dqk, *g = v + dvt, *o = g + dvt, *dt = o + dvt, *beta = dt + H, *tmp = beta + H;
  matvec(u, d, a->p[SR_WQ], dqk, NULL, q);
  matvec(u, d, a->p[SR_WK], dqk, NULL, k);
  const float kscale = (float)(1.0 / sqrt((double)dk));
  for (int64_t j = 0; j < dqk; j++) k[j] *= kscale;
  matvec(u, d, a->p[SR_WV], dvt, NULL, v);
  matvec(u, d, a->p[SR_WG], dvt, NULL, g);
  if (I[IR_ROPE])
    for (int64_t h = 0; h < H; h++) {
      rope(q + h * dk, dk, I[I_POS], a->f + FR_LOG_GAMMAS + H);
      rope(k + h * dk, dk, I[I_POS], a->f + FR_LOG_GAMMAS + H);
    }
  if (I[IR_DECAY] == DECAY_MAMBA) {
    matvec(u, d, a->p[SR_W_DT], H, a->p[SR_B_DT], dt);
    for (int64_t h = 0; h < H; h++) dt[h] = softplusf_(dt[h]);
  }
  if (I[IR_WRITE] == WRITE_SIGMOID) {
    matvec(u, d, a->p[SR_W_B], H, a->p[SR_B_B], tmp);
    for (int64_t h = 0; h < H; h++) beta[h] = sigmoidf_(tmp[h]);
  }
  const float a_min = (float)a->f[FR_A_MIN];
  const float *S0 = a->p[SR_S] + b * H * dk * dv;
  float *S1 = a->p[SR_S_OUT] + b * H * dk * dv;
  for (int64_t h = 0; h < H; h++) {
    float ah = I[IR_DECAY] == DECAY_MAMBA ? -(dt[h] * expf(a->p[SR_A_LOG][h])) : (float)a->f[FR_LOG_GAMMAS + h];
    if (isfinite(a_min) && ah < a_min) ah = a_min;
    const int w = I[IR_WRITE];
    const float bh = w == WRITE_DT ? dt[h] : w == WRITE_SIGMOID ? beta[h] : w == WRITE_COMPLEMENT ? -expm1f(ah) : 1.0f;
    const float e = expf(ah);
    const float *qh = q + h * dk, *kh = k + h * dk, *vh = v + h * dv;
    float *oh = o + h * dv;
    for (int64_t j = 0; j < dv; j++) oh[j] = 0.0f;
    for (int64_t i = 0; i < dk; i++) {
      const float *s0 = S0 + (h * dk + i) * dv;
      float *s1 = S1 + (h * dk + i) * dv;
      const float kt = w == WRITE_NONE ? kh[i] : kh[i] * bh, qi = qh[i];
#pragma omp simd
      for (int64_t j = 0; j < dv; j++) {
        s1[j] = e * s0[j] + kt * vh[j];
        oh[j] += qi * s1[j];
      }
    }
    if (I[IR_DECAY_SQRT]) {
      const float z = e * a->p[SR_Z][b * H + h] + bh;
      a->p[SR_Z_OUT][b * H + h] = z;
      const float sz = sqrtf(z);
      for (int64_t j = 0; j < dv; j++) oh[j] /= sz;
    }
    block_norm(oh, dv, I[IR_HEAD_NORM], (float)a->f[FR_HEAD_EPS], NULL, NULL, oh);
  }
  for (int64_t j = 0; j < dvt; j++) o[j] *= siluf_(g[j]);
  matvec(o, dvt, a->p[SR_WO], d, NULL, y);
}

/* RMS-normalise x[n] (eps 1e-5) and scale by w: Mamba's inner norms. */
INLINE void inner_norm(float *x, int64_t n, const float *w) { block_norm(x, n, NORM_RMS, 1e-5f, w, NULL, x); }

/* Mamba-1 over one token of row b: u[d] -> y[d]; scratch >= 4 din + R + 2N + din floats. */
INLINE void mamba_row(const step_args *a, int64_t b, const float *u, float *y, float *scr) {
  const int32_t *I = a->i;
  const int64_t d = I[I_D], din = I[IM_DIN], N = I[IM_N], K = I[IM_K], R = I[IM_R];
  float *xz = scr, *xa = xz + 2 * din, *p = xa + din, *dt = p + R + 2 * N;
  matvec(u, d, a->p[SM_W_IN], 2 * din, a->p[SM_B_IN], xz);
  const float *x = xz, *z = xz + din;
  const float *c0 = a->p[SM_CONV] + b * din * K;
  float *c1 = a->p[SM_CONV_OUT] + b * din * K;
  const float *cw = a->p[SM_CONV_W], *cb = a->p[SM_CONV_B];
  for (int64_t c = 0; c < din; c++) {
    float acc = 0.0f;
    for (int64_t j = 0; j < K; j++) {
      const float s = j < K - 1 ? c0[c * K + j + 1] : x[c];
      c1[c * K + j] = s;
      acc += s * cw[c * K + j];
    }
    xa[c] = siluf_(cb ? acc + cb[c] : acc);
  }
  matvec(xa, din, a->p[SM_W_X], R + 2 * N, NULL, p);
  float *dtr = p, *Bm = p + R, *Cm = p + R + N;
  if (I[IM_INNER_NORMS]) {
    inner_norm(dtr, R, a->p[SM_DT_NORM]);
    inner_norm(Bm, N, a->p[SM_B_NORM]);
    inner_norm(Cm, N, a->p[SM_C_NORM]);
  }
  matvec(dtr, R, a->p[SM_W_DT], din, a->p[SM_B_DT], dt);
  const float *Alog = a->p[SM_A_LOG], *Dsk = a->p[SM_D];
  const float *h0 = a->p[SM_H] + b * din * N;
  float *h1 = a->p[SM_H_OUT] + b * din * N;
  for (int64_t c = 0; c < din; c++) {
    const float dtc = softplusf_(dt[c]), dx = dtc * xa[c];
    const float *al = Alog + c * N, *hc0 = h0 + c * N;
    float *hc1 = h1 + c * N;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t n = 0; n < N; n++) {
      const float hn = exp_nonpos(dtc * -expf(al[n])) * hc0[n] + dx * Bm[n];
      hc1[n] = hn;
      s += hn * Cm[n];
    }
    dt[c] = (s + Dsk[c] * xa[c]) * siluf_(z[c]); /* dt[c] is not read again: reuse as the gated output */
  }
  matvec(dt, din, a->p[SM_W_OUT], d, a->p[SM_B_OUT], y);
}

/* Causal softmax attention over the KV cache plus one token, row b (docs/models.md 2.1-2.3): the
 * cache [H, n, dh] keeps its last n_out - 1 rows (a sliding window drops the oldest) and appends
 * the rotated k and raw v; scratch >= 4 H dh + n_out floats. */
INLINE void attention_row(const step_args *a, int64_t b, const float *u, float *y, float *scr) {
  const int32_t *I = a->i;
  const int64_t d = I[I_D], H = I[IA_H], dh = I[IA_DH], n = I[IA_N], n1 = I[IA_N_OUT], inner = H * dh;
  const int64_t keep = n1 - 1, from = n - keep; /* cache rows from..n-1 stay */
  float *q = scr, *k = q + inner, *v = k + inner, *o = v + inner, *p = o + inner;
  matvec(u, d, a->p[SA_WQ], inner, a->p[SA_BQ], q);
  matvec(u, d, a->p[SA_WK], inner, a->p[SA_BK], k);
  matvec(u, d, a->p[SA_WV], inner, a->p[SA_BV], v);
  const float scale = (float)(1.0 / sqrt((double)dh));
  for (int64_t h = 0; h < H; h++) {
    float *qh = q + h * dh, *kh = k + h * dh, *vh = v + h * dh, *oh = o + h * dh;
    if (I[IA_ROPE]) {
      rope(qh, dh, I[I_POS], a->f + FA_ROPE_THETA);
      rope(kh, dh, I[I_POS], a->f + FA_ROPE_THETA);
    }
    const float *K0 = a->p[SA_K] + (b * H + h) * n * dh, *V0 = a->p[SA_V] + (b * H + h) * n * dh;
    float *K1 = a->p[SA_K_OUT] + (b * H + h) * n1 * dh, *V1 = a->p[SA_V_OUT] + (b * H + h) * n1 * dh;
    if (keep > 0) {
      memcpy(K1, K0 + from * dh, (size_t)(keep * dh) * sizeof(float));
      memcpy(V1, V0 + from * dh, (size_t)(keep * dh) * sizeof(float));
    }
    memcpy(K1 + keep * dh, kh, (size_t)dh * sizeof(float));
    memcpy(V1 + keep * dh, vh, (size_t)dh * sizeof(float));
    float mx = -INFINITY;
    for (int64_t j = 0; j < n1; j++) {
      const float *kj = K1 + j * dh;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < dh; c++) s += qh[c] * kj[c];
      p[j] = s * scale;
      if (p[j] > mx) mx = p[j];
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < n1; j++) sum += (p[j] = expf(p[j] - mx));
    for (int64_t c = 0; c < dh; c++) oh[c] = 0.0f;
    for (int64_t j = 0; j < n1; j++) {
      const float pj = p[j] / sum, *vj = V1 + j * dh;
#pragma omp simd
      for (int64_t c = 0; c < dh; c++) oh[c] += pj * vj[c];
    }
  }
  matvec(o, inner, a->p[SA_WO], d, a->p[SA_BO], y);
}

/* The FFN of row b: x[d] -> y[d]; scratch >= 2 f floats. */
INLINE void ffn_row(const step_args *a, const float *x, float *y, float *scr) {
  const int64_t d = a->i[I_D], f = a->i[I_F];
  float *h1 = scr, *hg = scr + f;
  matvec(x, d, a->p[S_FFN_W1], f, a->p[S_FFN_B1], h1);
  if (a->i[I_FFN] == FFN_GELU) {
    for (int64_t j = 0; j < f; j++) h1[j] = h1[j] * (erff(h1[j] * (float)M_SQRT1_2) + 1.0f) * 0.5f;
  } else {
    matvec(x, d, a->p[S_FFN_WG], f, a->p[S_FFN_BG], hg);
    for (int64_t j = 0; j < f; j++) h1[j] = siluf_(h1[j]) * hg[j];
  }
  matvec(h1, f, a->p[S_FFN_W2], d, a->p[S_FFN_B2], y);
}

INLINE void block_body(const step_args *a) {
  const int32_t *I = a->i;
  const int64_t B = I[I_B], d = I[I_D];
  const float eps = (float)a->f[F_NORM_EPS];
  float *u = a->scratch, *y = u + d, *scr = y + d;
  for (int64_t b = 0; b < B; b++) {
    const float *h = a->p[S_H] + b * d;
    float *out = a->p[S_H_OUT] + b * d;
    block_norm(h, d, I[I_NORM], eps, a->p[S_NORM1_W], a->p[S_NORM1_B], u);
    if (I[I_MIXER] == MIX_RETENTION) retention_row(a, b, u, y, scr);
    else if (I[I_MIXER] == MIX_MAMBA) mamba_row(a, b, u, y, scr);
    else attention_row(a, b, u, y, scr);
    for (int64_t j = 0; j < d; j++) out[j] = h[j] + y[j];
    if (I[I_FFN] == FFN_NONE) continue;
    block_norm(out, d, I[I_NORM], eps, a->p[S_NORM2_W], a->p[S_NORM2_B], u);
    ffn_row(a, u, y, scr);
    for (int64_t j = 0; j < d; j++) out[j] += y[j];
  }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void block_avx2(const step_args *a) { block_body(a); }
#endif
static void block_generic(const step_args *a) { block_body(a); }

/* ---- N-API glue ---- */

static napi_value fail(napi_env env, const char *what) {
  char msg[200];
  snprintf(msg, sizeof msg, "seqlab decode.blockStep: %s", what);
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static napi_value block_step(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4)
    return fail(env, "expected (views, offsets, ints, floats)");
  seqlab_view vo, vi, vf;
  if (!seqlab_get_view(env, argv[1], &vo, "offsets") || !seqlab_get_view(env, argv[2], &vi, "ints") ||
      !seqlab_get_view(env, argv[3], &vf, "floats"))
    return NULL;
  const double *offs = (const double *)vo.data;
  const uint32_t n_offs = (uint32_t)(vo.bytes / 8);
  step_args a;
  memset(&a, 0, sizeof a);
  a.i = (const int32_t *)vi.data;
  a.f = (const double *)vf.data;
  const int32_t *I = a.i;
  const int64_t n_i = (int64_t)(vi.bytes / 4), n_f = (int64_t)(vf.bytes / 8);
  if (n_i < I_MIX || n_f < 1) return fail(env, "ints / floats too short");
  const int64_t B = I[I_B], d = I[I_D], f = I[I_F];
  if (B < 1 || d < 1 || I[I_POS] < 0 || (I[I_FFN] != FFN_NONE && f < 1)) return fail(env, "B, d, f or pos out of range");
  if (I[I_NORM] != NORM_RMS && I[I_NORM] != NORM_LAYER) return fail(env, "unknown norm kind");
  if (I[I_FFN] < FFN_NONE || I[I_FFN] > FFN_SWIGLU) return fail(env, "unknown FFN kind");

#define SLOT(i, n, opt) \
  if (!seqlab_slot(env, "decode.blockStep", argv[0], offs, n_offs, i, n, opt, &a.p[i])) return NULL
  const int layer = I[I_NORM] == NORM_LAYER, ffn = I[I_FFN] != FFN_NONE, swiglu = I[I_FFN] == FFN_SWIGLU;
  SLOT(S_H, B * d, 0);
  SLOT(S_NORM1_W, d, 0);
  SLOT(S_NORM1_B, d, !layer);
  SLOT(S_NORM2_W, d, !ffn);
  SLOT(S_NORM2_B, d, !(ffn && layer));
  SLOT(S_FFN_W1, d * f, !ffn);
  SLOT(S_FFN_B1, f, 1);
  SLOT(S_FFN_WG, d * f, !swiglu);
  SLOT(S_FFN_BG, f, 1);
  SLOT(S_FFN_W2, f * d, !ffn);
  SLOT(S_FFN_B2, d, 1);
  SLOT(S_H_OUT, B * d, 0);
  int64_t scratch = 2 * d + 2 * f;
  if (I[I_MIXER] == MIX_RETENTION) {
    if (n_i < IR_COUNT) return fail(env, "ints too short for retention");
    const int64_t H = I[IR_H], dk = I[IR_DK], dv = I[IR_DV];
    if (H < 1 || dk < 1 || (I[IR_ROPE] && dk % 2) || dv < 1 || n_f < FR_LOG_GAMMAS + H + dk / 2) return fail(env, "retention H, dk, dv or floats out of range");
    if (I[IR_DECAY] < DECAY_FIXED || I[IR_DECAY] > DECAY_MAMBA || I[IR_WRITE] < WRITE_NONE || I[IR_WRITE] > WRITE_COMPLEMENT)
      return fail(env, "unknown retention decay or write kind");
    if (I[IR_WRITE] == WRITE_DT && I[IR_DECAY] != DECAY_MAMBA) return fail(env, "write 'dt' needs decay 'mamba'");
    const int mdecay = I[IR_DECAY] == DECAY_MAMBA, sig = I[IR_WRITE] == WRITE_SIGMOID, dsq = I[IR_DECAY_SQRT] != 0;
    SLOT(SR_WQ, d * H * dk, 0);
    SLOT(SR_WK, d * H * dk, 0);
    SLOT(SR_WV, d * H * dv, 0);
    SLOT(SR_WG, d * H * dv, 0);
    SLOT(SR_WO, H * dv * d, 0);
    SLOT(SR_W_DT, d * H, !mdecay);
    SLOT(SR_B_DT, H, !mdecay);
    SLOT(SR_A_LOG, H, !mdecay);
    SLOT(SR_W_B, d * H, !sig);
    SLOT(SR_B_B, H, !sig);
    SLOT(SR_S, B * H * dk * dv, 0);
    SLOT(SR_Z, B * H, !dsq);
    SLOT(SR_S_OUT, B * H * dk * dv, 0);
    SLOT(SR_Z_OUT, B * H, !dsq);
    scratch += 3 * H * dk + 3 * H * dv + 3 * H;
  } else if (I[I_MIXER] == MIX_MAMBA) {
    if (n_i < IM_COUNT) return fail(env, "ints too short for mamba");
    const int64_t din = I[IM_DIN], N = I[IM_N], K = I[IM_K], R = I[IM_R];
    if (din < 1 || N < 1 || K < 1 || R < 1) return fail(env, "mamba din, N, K or R out of range");
    const int inner = I[IM_INNER_NORMS] != 0;
    SLOT(SM_W_IN, d * 2 * din, 0);
    SLOT(SM_B_IN, 2 * din, 1);
    SLOT(SM_CONV_W, din * K, 0);
    SLOT(SM_CONV_B, din, 1);
    SLOT(SM_W_X, din * (R + 2 * N), 0);
    SLOT(SM_W_DT, R * din, 0);
    SLOT(SM_B_DT, din, 0);
    SLOT(SM_A_LOG, din * N, 0);
    SLOT(SM_D, din, 0);
    SLOT(SM_W_OUT, din * d, 0);
    SLOT(SM_B_OUT, d, 1);
    SLOT(SM_DT_NORM, R, !inner);
    SLOT(SM_B_NORM, N, !inner);
    SLOT(SM_C_NORM, N, !inner);
    SLOT(SM_CONV, B * din * K, 0);
    SLOT(SM_H, B * din * N, 0);
    SLOT(SM_CONV_OUT, B * din * K, 0);
    SLOT(SM_H_OUT, B * din * N, 0);
    scratch += 4 * din + R + 2 * N;
  } else if (I[I_MIXER] == MIX_ATTENTION) {
    if (n_i < IA_COUNT) return fail(env, "ints too short for attention");
    const int64_t H = I[IA_H], dh = I[IA_DH], n = I[IA_N], n1 = I[IA_N_OUT], inner = H * dh;
    if (H < 1 || dh < 1 || (I[IA_ROPE] && (dh % 2 || n_f < FA_ROPE_THETA + dh / 2)) || n < 0 || n1 < 1 || n1 > n + 1)
      return fail(env, "attention H, dh, cache lengths or floats out of range");
    SLOT(SA_WQ, d * inner, 0);
    SLOT(SA_WK, d * inner, 0);
    SLOT(SA_WV, d * inner, 0);
    SLOT(SA_WO, inner * d, 0);
    SLOT(SA_BQ, inner, 1);
    SLOT(SA_BK, inner, 1);
    SLOT(SA_BV, inner, 1);
    SLOT(SA_BO, d, 1);
    SLOT(SA_K, B * H * n * dh, n == 0);
    SLOT(SA_V, B * H * n * dh, n == 0);
    SLOT(SA_K_OUT, B * H * n1 * dh, 0);
    SLOT(SA_V_OUT, B * H * n1 * dh, 0);
    scratch += 4 * inner + n1;
  } else {
    return fail(env, "unknown mixer kind");
  }
#undef SLOT
  a.scratch = (float *)malloc((size_t)scratch * sizeof(float));
  if (!a.scratch) return fail(env, "out of memory for the scratch buffer");
#if defined(__x86_64__) || defined(__i386__)
  if (seqlab_use_avx2()) block_avx2(&a);
  else
#endif
    block_generic(&a);
  free(a.scratch);
  return NULL;
}

/* ---- the compiled layout ---- */

#define DL_NAME(E, s) s,
#define DL_CODE(E, s, v) {s, v},
typedef struct {
  const char *kind, *part;
  const char *const *names; /* NULL-terminated */
} dl_list;
typedef struct {
  const char *name;
  int value;
} dl_code;
#define DL_INTS(P, p) {"ints", p, (const char *const[]){SEQLAB_DL_INTS_##P(DL_NAME) NULL}},
#define DL_FLOATS(P, p) {"floats", p, (const char *const[]){SEQLAB_DL_FLOATS_##P(DL_NAME) NULL}},
#define DL_SLOTS(P, p) {"slots", p, (const char *const[]){SEQLAB_DL_SLOTS_##P(DL_NAME) NULL}},
static const dl_list DL_LISTS[] = {SEQLAB_DL_INTS(DL_INTS) SEQLAB_DL_FLOATS(DL_FLOATS) SEQLAB_DL_SLOTS(DL_SLOTS)};
#define DL_CODES(G, g) {g, (const dl_code[]){SEQLAB_DL_CODES_##G(DL_CODE){NULL, 0}}},
static const struct {
  const char *group;
  const dl_code *codes;
} DL_CODE_GROUPS[] = {SEQLAB_DL_CODES(DL_CODES)};

static napi_value decode_layout(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, str;
  char name[128];
  uint32_t n = 0;
  if (napi_create_array(env, &out) != napi_ok) return NULL;
  for (size_t l = 0; l < sizeof DL_LISTS / sizeof DL_LISTS[0]; l++)
    for (const char *const *p = DL_LISTS[l].names; *p; p++) {
      snprintf(name, sizeof name, "%s.%s.%s", DL_LISTS[l].kind, DL_LISTS[l].part, *p);
      if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &str) != napi_ok || napi_set_element(env, out, n++, str) != napi_ok) return NULL;
    }
  for (size_t g = 0; g < sizeof DL_CODE_GROUPS / sizeof DL_CODE_GROUPS[0]; g++)
    for (const dl_code *c = DL_CODE_GROUPS[g].codes; c->name; c++) {
      snprintf(name, sizeof name, "codes.%s.%s=%d", DL_CODE_GROUPS[g].group, c->name, c->value);
      if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &str) != napi_ok || napi_set_element(env, out, n++, str) != napi_ok) return NULL;
    }
  return out;
}

napi_status seqlab_register_decode(napi_env env, napi_value exports) {
  napi_status s = seqlab_export(env, exports, "blockStep", block_step);
  return s != napi_ok ? s : seqlab_export(env, exports, "decodeLayout", decode_layout);
}
