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
 *   ints: Int32Array, floats: Float64Array; the slot and field layouts are the enums below
 *   (src/models/fused-step.ts writes them). Every extent is bounds-checked against its view.
 *   Outputs (h_out and the new state) may not alias inputs.
 */
#include "seqlab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MIX_RETENTION = 1, MIX_MAMBA = 2, MIX_ATTENTION = 3 };
enum { NORM_RMS = 0, NORM_LAYER = 1 };
enum { FFN_NONE = 0, FFN_GELU = 1, FFN_SWIGLU = 2 };
enum { DECAY_FIXED = 0, DECAY_MAMBA = 1 };
enum { WRITE_NONE = 0, WRITE_DT = 1, WRITE_SIGMOID = 2, WRITE_COMPLEMENT = 3 };

/* ints: the block, then the mixer's fields from I_MIX */
enum { I_B, I_D, I_MIXER, I_NORM, I_FFN, I_F, I_POS, I_MIX };
enum { IR_H = I_MIX, IR_DK, IR_DV, IR_HEAD_NORM, IR_ROPE, IR_DECAY, IR_WRITE, IR_DECAY_SQRT, IR_COUNT };
enum { IM_DIN = I_MIX, IM_N, IM_K, IM_R, IM_INNER_NORMS, IM_COUNT };
enum { IA_H = I_MIX, IA_DH, IA_ROPE, IA_N, IA_NOUT, IA_COUNT };
/* floats: norm eps, then (retention) head-norm eps, a_min, log gamma [H], rope theta [dk/2];
 * (attention) rope theta [dh/2] */
enum { F_NORM_EPS, FR_HEAD_EPS, FR_A_MIN, FR_GAMMAS };
enum { FA_THETA = 1 };

/* slots: the block's, then the mixer's from S_MIX */
enum { S_H, S_N1W, S_N1B, S_N2W, S_N2B, S_W1, S_B1, S_WG, S_BG, S_W2, S_B2, S_HOUT, S_MIX };
enum { SR_WQ = S_MIX, SR_WK, SR_WV, SR_WG, SR_WO, SR_WDT, SR_BDT, SR_ALOG, SR_WB, SR_BB, SR_S, SR_Z, SR_SOUT, SR_ZOUT, SR_COUNT };
enum { SM_WIN = S_MIX, SM_BIN, SM_CONVW, SM_CONVB, SM_WX, SM_WDT, SM_BDT, SM_ALOG, SM_D, SM_WOUT, SM_BOUT,
       SM_DTNORM, SM_BNORM, SM_CNORM, SM_CONV, SM_H, SM_CONVOUT, SM_HOUT, SM_COUNT };
enum { SA_WQ = S_MIX, SA_WK, SA_WV, SA_WO, SA_BQ, SA_BK, SA_BV, SA_BO, SA_K, SA_V, SA_KOUT, SA_VOUT, SA_COUNT };
#define MAX_SLOTS 32

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
      rope(q + h * dk, dk, I[I_POS], a->f + FR_GAMMAS + H);
      rope(k + h * dk, dk, I[I_POS], a->f + FR_GAMMAS + H);
    }
  if (I[IR_DECAY] == DECAY_MAMBA) {
    matvec(u, d, a->p[SR_WDT], H, a->p[SR_BDT], dt);
    for (int64_t h = 0; h < H; h++) dt[h] = softplusf_(dt[h]);
  }
  if (I[IR_WRITE] == WRITE_SIGMOID) {
    matvec(u, d, a->p[SR_WB], H, a->p[SR_BB], tmp);
    for (int64_t h = 0; h < H; h++) beta[h] = sigmoidf_(tmp[h]);
  }
  const float a_min = (float)a->f[FR_A_MIN];
  const float *S0 = a->p[SR_S] + b * H * dk * dv;
  float *S1 = a->p[SR_SOUT] + b * H * dk * dv;
  for (int64_t h = 0; h < H; h++) {
    float ah = I[IR_DECAY] == DECAY_MAMBA ? -(dt[h] * expf(a->p[SR_ALOG][h])) : (float)a->f[FR_GAMMAS + h];
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
      a->p[SR_ZOUT][b * H + h] = z;
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
  matvec(u, d, a->p[SM_WIN], 2 * din, a->p[SM_BIN], xz);
  const float *x = xz, *z = xz + din;
  const float *c0 = a->p[SM_CONV] + b * din * K;
  float *c1 = a->p[SM_CONVOUT] + b * din * K;
  const float *cw = a->p[SM_CONVW], *cb = a->p[SM_CONVB];
  for (int64_t c = 0; c < din; c++) {
    float acc = 0.0f;
    for (int64_t j = 0; j < K; j++) {
      const float s = j < K - 1 ? c0[c * K + j + 1] : x[c];
      c1[c * K + j] = s;
      acc += s * cw[c * K + j];
    }
    xa[c] = siluf_(cb ? acc + cb[c] : acc);
  }
  matvec(xa, din, a->p[SM_WX], R + 2 * N, NULL, p);
  float *dtr = p, *Bm = p + R, *Cm = p + R + N;
  if (I[IM_INNER_NORMS]) {
    inner_norm(dtr, R, a->p[SM_DTNORM]);
    inner_norm(Bm, N, a->p[SM_BNORM]);
    inner_norm(Cm, N, a->p[SM_CNORM]);
  }
  matvec(dtr, R, a->p[SM_WDT], din, a->p[SM_BDT], dt);
  const float *Alog = a->p[SM_ALOG], *Dsk = a->p[SM_D];
  const float *h0 = a->p[SM_H] + b * din * N;
  float *h1 = a->p[SM_HOUT] + b * din * N;
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
  matvec(dt, din, a->p[SM_WOUT], d, a->p[SM_BOUT], y);
}

/* Causal softmax attention over the KV cache plus one token, row b (docs/models.md 2.1-2.3): the
 * cache [H, n, dh] keeps its last n_out - 1 rows (a sliding window drops the oldest) and appends
 * the rotated k and raw v; scratch >= 4 H dh + n_out floats. */
INLINE void attention_row(const step_args *a, int64_t b, const float *u, float *y, float *scr) {
  const int32_t *I = a->i;
  const int64_t d = I[I_D], H = I[IA_H], dh = I[IA_DH], n = I[IA_N], n1 = I[IA_NOUT], inner = H * dh;
  const int64_t keep = n1 - 1, from = n - keep; /* cache rows from..n-1 stay */
  float *q = scr, *k = q + inner, *v = k + inner, *o = v + inner, *p = o + inner;
  matvec(u, d, a->p[SA_WQ], inner, a->p[SA_BQ], q);
  matvec(u, d, a->p[SA_WK], inner, a->p[SA_BK], k);
  matvec(u, d, a->p[SA_WV], inner, a->p[SA_BV], v);
  const float scale = (float)(1.0 / sqrt((double)dh));
  for (int64_t h = 0; h < H; h++) {
    float *qh = q + h * dh, *kh = k + h * dh, *vh = v + h * dh, *oh = o + h * dh;
    if (I[IA_ROPE]) {
      rope(qh, dh, I[I_POS], a->f + FA_THETA);
      rope(kh, dh, I[I_POS], a->f + FA_THETA);
    }
    const float *K0 = a->p[SA_K] + (b * H + h) * n * dh, *V0 = a->p[SA_V] + (b * H + h) * n * dh;
    float *K1 = a->p[SA_KOUT] + (b * H + h) * n1 * dh, *V1 = a->p[SA_VOUT] + (b * H + h) * n1 * dh;
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
  matvec(x, d, a->p[S_W1], f, a->p[S_B1], h1);
  if (a->i[I_FFN] == FFN_GELU) {
    for (int64_t j = 0; j < f; j++) h1[j] = h1[j] * (erff(h1[j] * (float)M_SQRT1_2) + 1.0f) * 0.5f;
  } else {
    matvec(x, d, a->p[S_WG], f, a->p[S_BG], hg);
    for (int64_t j = 0; j < f; j++) h1[j] = siluf_(h1[j]) * hg[j];
  }
  matvec(h1, f, a->p[S_W2], d, a->p[S_B2], y);
}

INLINE void block_body(const step_args *a) {
  const int32_t *I = a->i;
  const int64_t B = I[I_B], d = I[I_D];
  const float eps = (float)a->f[F_NORM_EPS];
  float *u = a->scratch, *y = u + d, *scr = y + d;
  for (int64_t b = 0; b < B; b++) {
    const float *h = a->p[S_H] + b * d;
    float *out = a->p[S_HOUT] + b * d;
    block_norm(h, d, I[I_NORM], eps, a->p[S_N1W], a->p[S_N1B], u);
    if (I[I_MIXER] == MIX_RETENTION) retention_row(a, b, u, y, scr);
    else if (I[I_MIXER] == MIX_MAMBA) mamba_row(a, b, u, y, scr);
    else attention_row(a, b, u, y, scr);
    for (int64_t j = 0; j < d; j++) out[j] = h[j] + y[j];
    if (I[I_FFN] == FFN_NONE) continue;
    block_norm(out, d, I[I_NORM], eps, a->p[S_N2W], a->p[S_N2B], u);
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
  SLOT(S_N1W, d, 0);
  SLOT(S_N1B, d, !layer);
  SLOT(S_N2W, d, !ffn);
  SLOT(S_N2B, d, !(ffn && layer));
  SLOT(S_W1, d * f, !ffn);
  SLOT(S_B1, f, 1);
  SLOT(S_WG, d * f, !swiglu);
  SLOT(S_BG, f, 1);
  SLOT(S_W2, f * d, !ffn);
  SLOT(S_B2, d, 1);
  SLOT(S_HOUT, B * d, 0);
  int64_t scratch = 2 * d + 2 * f;
  if (I[I_MIXER] == MIX_RETENTION) {
    if (n_i < IR_COUNT) return fail(env, "ints too short for retention");
    const int64_t H = I[IR_H], dk = I[IR_DK], dv = I[IR_DV];
    if (H < 1 || dk < 1 || (I[IR_ROPE] && dk % 2) || dv < 1 || n_f < FR_GAMMAS + H + dk / 2) return fail(env, "retention H, dk, dv or floats out of range");
    if (I[IR_DECAY] < DECAY_FIXED || I[IR_DECAY] > DECAY_MAMBA || I[IR_WRITE] < WRITE_NONE || I[IR_WRITE] > WRITE_COMPLEMENT)
      return fail(env, "unknown retention decay or write kind");
    if (I[IR_WRITE] == WRITE_DT && I[IR_DECAY] != DECAY_MAMBA) return fail(env, "write 'dt' needs decay 'mamba'");
    const int mdecay = I[IR_DECAY] == DECAY_MAMBA, sig = I[IR_WRITE] == WRITE_SIGMOID, dsq = I[IR_DECAY_SQRT] != 0;
    SLOT(SR_WQ, d * H * dk, 0);
    SLOT(SR_WK, d * H * dk, 0);
    SLOT(SR_WV, d * H * dv, 0);
    SLOT(SR_WG, d * H * dv, 0);
    SLOT(SR_WO, H * dv * d, 0);
    SLOT(SR_WDT, d * H, !mdecay);
    SLOT(SR_BDT, H, !mdecay);
    SLOT(SR_ALOG, H, !mdecay);
    SLOT(SR_WB, d * H, !sig);
    SLOT(SR_BB, H, !sig);
    SLOT(SR_S, B * H * dk * dv, 0);
    SLOT(SR_Z, B * H, !dsq);
    SLOT(SR_SOUT, B * H * dk * dv, 0);
    SLOT(SR_ZOUT, B * H, !dsq);
    scratch += 3 * H * dk + 3 * H * dv + 3 * H;
  } else if (I[I_MIXER] == MIX_MAMBA) {
    if (n_i < IM_COUNT) return fail(env, "ints too short for mamba");
    const int64_t din = I[IM_DIN], N = I[IM_N], K = I[IM_K], R = I[IM_R];
    if (din < 1 || N < 1 || K < 1 || R < 1) return fail(env, "mamba din, N, K or R out of range");
    const int inner = I[IM_INNER_NORMS] != 0;
    SLOT(SM_WIN, d * 2 * din, 0);
    SLOT(SM_BIN, 2 * din, 1);
    SLOT(SM_CONVW, din * K, 0);
    SLOT(SM_CONVB, din, 1);
    SLOT(SM_WX, din * (R + 2 * N), 0);
    SLOT(SM_WDT, R * din, 0);
    SLOT(SM_BDT, din, 0);
    SLOT(SM_ALOG, din * N, 0);
    SLOT(SM_D, din, 0);
    SLOT(SM_WOUT, din * d, 0);
    SLOT(SM_BOUT, d, 1);
    SLOT(SM_DTNORM, R, !inner);
    SLOT(SM_BNORM, N, !inner);
    SLOT(SM_CNORM, N, !inner);
    SLOT(SM_CONV, B * din * K, 0);
    SLOT(SM_H, B * din * N, 0);
    SLOT(SM_CONVOUT, B * din * K, 0);
    SLOT(SM_HOUT, B * din * N, 0);
    scratch += 4 * din + R + 2 * N;
  } else if (I[I_MIXER] == MIX_ATTENTION) {
    if (n_i < IA_COUNT) return fail(env, "ints too short for attention");
    const int64_t H = I[IA_H], dh = I[IA_DH], n = I[IA_N], n1 = I[IA_NOUT], inner = H * dh;
    if (H < 1 || dh < 1 || (I[IA_ROPE] && (dh % 2 || n_f < FA_THETA + dh / 2)) || n < 0 || n1 < 1 || n1 > n + 1)
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
    SLOT(SA_KOUT, B * H * n1 * dh, 0);
    SLOT(SA_VOUT, B * H * n1 * dh, 0);
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

napi_status seqlab_register_decode(napi_env env, napi_value exports) {
  return seqlab_export(env, exports, "blockStep", block_step);
}
