/*
 * Fused Mamba-1 selective scan (docs/models.md 4.1 steps 7-9), forward and backward, in place on
 * memory owned by JavaScript (the tfjs wasm heap or the cpu backend's Float32Arrays).
 *
 *   a_t[d, n] = exp(dt_t[d] A[d, n])                                   (discretisation, 4.2)
 *   h_t[d, n] = a_t[d, n] h_{t-1}[d, n] + dt_t[d] x_t[d] Bm_t[n]       (scan, h_{-1} = h0 or 0)
 *   s_t[d]    = sum_n Cm_t[n] h_t[d, n] + Dsk[d] x_t[d]                 (C-projection + D skip)
 *   y_t[d]    = s_t[d] * silu(z_t[d])                                   (optional gate)
 * Shapes (row-major): x, dt, z, y [B, T, D]; A [D, N]; Bm, Cm [B, T, N]; Dsk [D]; h0, hT [B, D, N].
 *
 * Neither direction materialises [B, T, D, N]. The forward keeps only the state before each
 * chunk of C steps, S [B, nc, D, N] (nc = ceil(T / C)); the backward walks the chunks from the
 * last to the first, recomputes the chunk's states from its boundary state into a per-thread
 * scratch of C x DB x N floats, and runs the reverse recurrence
 *   lam_t = dL/dh_t = g_t Cm_t + a_{t+1} lam_{t+1}   (lam_{T-1} starts from dL/dhT)
 * with g_t = dL/ds_t, from which every input gradient is a local sum (see scan_backward_unit).
 *
 * Work is split over (b, block of DB channels) units into `threads` parts run on the addon's
 * thread pool (pool.c); the reductions over b (dA, dDsk) and over d (dBm, dCm) go to per-part
 * buffers summed in part order at the end (so the result depends on `threads`, not on the pool).
 *
 * JS API (offsets in BYTES from the start of each typed array's view):
 *   scanForward(views, offs, dims)   views: [x, dt, A, Bm, Cm, Dsk|null, z|null, h0|null, y, hT, S]
 *   scanBackward(views, offs, dims)  views: [x, dt, A, Bm, Cm, Dsk|null, z|null, h0|null, S, dy, dhT|null,
 *                                            dx, ddt, dA, dBm, dCm, dDsk|null, dz|null, dh0|null]
 *   dims = [B, T, D, N, C, threads]. Every extent is bounds-checked against its view.
 */
#include "seqlab.h"
#include "pool.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB 16 /* channels per work unit: the unit's state is DB x N floats */


INLINE float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

typedef struct {
  const float *x, *dt, *A, *Bm, *Cm, *Dsk, *z, *h0;
  float *y, *hT, *S;            /* forward outputs */
  const float *Sin, *dy, *dhT;  /* backward inputs (Sin = forward's S) */
  float *dx, *ddt, *dA, *dBm, *dCm, *dDsk, *dz, *dh0; /* backward outputs */
  int64_t B, T, D, N, C, nc, nd; /* nd = number of channel blocks */
} scan_args;

typedef struct {
  const scan_args *a;
  int64_t u0, u1;               /* units [u0, u1) of b * nd + block */
  float *dA, *dDsk, *dBm, *dCm; /* this thread's accumulators (backward) */
  float *scratch;
  int failed;
} scan_job;

/* Forward over one unit: batch row b, channels [d0, d1). */
INLINE void scan_forward_body(const scan_args *a, int64_t b, int64_t d0, int64_t d1) {
  const int64_t T = a->T, D = a->D, N = a->N, C = a->C;
  float h[DB * 64];
  const int64_t nb = d1 - d0;
  for (int64_t dd = 0; dd < nb; dd++)
    for (int64_t n = 0; n < N; n++)
      h[dd * N + n] = a->h0 ? a->h0[(b * D + d0 + dd) * N + n] : 0.0f;
  for (int64_t t = 0; t < T; t++) {
    if (t % C == 0) memcpy(a->S + ((b * a->nc + t / C) * D + d0) * N, h, (size_t)(nb * N) * sizeof(float));
    const float *Bt = a->Bm + (b * T + t) * N, *Ct = a->Cm + (b * T + t) * N;
    for (int64_t dd = 0; dd < nb; dd++) {
      const int64_t d = d0 + dd, r = (b * T + t) * D + d;
      const float delta = a->dt[r], xv = a->x[r], w = delta * xv;
      const float *Ad = a->A + d * N;
      float *hd = h + dd * N;
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int64_t n = 0; n < N; n++) {
        const float hn = exp_nonpos(delta * Ad[n]) * hd[n] + w * Bt[n];
        hd[n] = hn;
        acc += Ct[n] * hn;
      }
      if (a->Dsk) acc += a->Dsk[d] * xv;
      if (a->z) {
        const float zz = a->z[r];
        acc *= zz * sigmoidf(zz);
      }
      a->y[r] = acc;
    }
  }
  for (int64_t dd = 0; dd < nb; dd++) memcpy(a->hT + (b * D + d0 + dd) * N, h + dd * N, (size_t)N * sizeof(float));
}

/*
 * Backward over one unit. Per step t (reverse) and channel d, with g = dL/ds_t[d]:
 *   gate:  dz = dy s_t sig(z)(1 + z(1 - sig(z))),  g = dy silu(z)      (g = dy without a gate)
 *   skip:  dDsk[d] += g x,  dx += g Dsk[d]
 *   per n: l = lam[n] + g Cm_t[n]                  (= dL/dh_t[d, n])
 *          dCm_t[n] += g h_t[n];  dBm_t[n] += l dt x;  dw += l Bm_t[n]      (w = dt x)
 *          q = l h_{t-1}[n] a_t[n]                 (= dL/d log a_t[d, n])
 *          ddt += q A[d, n];  dA[d, n] += q dt;  lam[n] = l a_t[n]
 *   dx += dw dt;  ddt += dw x;   after t = 0: dh0 = lam.
 */
INLINE void scan_backward_body(const scan_args *a, scan_job *job, int64_t b, int64_t d0, int64_t d1) {
  const int64_t T = a->T, D = a->D, N = a->N, C = a->C;
  const int64_t nb = d1 - d0, W = nb * N;
  float lam[DB * 64];
  float *H = job->scratch;                 /* [(C + 1), nb, N]: H[0] = boundary state */
  float *Ae = H + (C + 1) * W;             /* [C, nb, N] step decays */
  float *Ys = Ae + C * W;                  /* [C, nb] scan read-outs (without skip) */
  for (int64_t dd = 0; dd < nb; dd++)
    for (int64_t n = 0; n < N; n++)
      lam[dd * N + n] = a->dhT ? a->dhT[(b * D + d0 + dd) * N + n] : 0.0f;
  for (int64_t c = a->nc - 1; c >= 0; c--) {
    const int64_t t0 = c * C, len = (T - t0) < C ? (T - t0) : C;
    memcpy(H, a->Sin + ((b * a->nc + c) * D + d0) * N, (size_t)W * sizeof(float));
    for (int64_t j = 0; j < len; j++) {
      const int64_t t = t0 + j;
      const float *Bt = a->Bm + (b * T + t) * N, *Ct = a->Cm + (b * T + t) * N;
      for (int64_t dd = 0; dd < nb; dd++) {
        const int64_t d = d0 + dd, r = (b * T + t) * D + d;
        const float delta = a->dt[r], w = delta * a->x[r];
        const float *Ad = a->A + d * N, *hp = H + j * W + dd * N;
        float *hn = H + (j + 1) * W + dd * N, *ae = Ae + j * W + dd * N;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t n = 0; n < N; n++) {
          const float e = exp_nonpos(delta * Ad[n]);
          const float v = e * hp[n] + w * Bt[n];
          ae[n] = e;
          hn[n] = v;
          acc += Ct[n] * v;
        }
        Ys[j * nb + dd] = acc;
      }
    }
    for (int64_t j = len - 1; j >= 0; j--) {
      const int64_t t = t0 + j;
      const float *Bt = a->Bm + (b * T + t) * N, *Ct = a->Cm + (b * T + t) * N;
      float *dBt = job->dBm + (b * T + t) * N, *dCt = job->dCm + (b * T + t) * N;
      for (int64_t dd = 0; dd < nb; dd++) {
        const int64_t d = d0 + dd, r = (b * T + t) * D + d;
        const float delta = a->dt[r], xv = a->x[r], w = delta * xv;
        float g = a->dy[r], dx = 0.0f;
        if (a->z) {
          const float zz = a->z[r], sg = sigmoidf(zz);
          const float s = Ys[j * nb + dd] + (a->Dsk ? a->Dsk[d] * xv : 0.0f);
          a->dz[r] = g * s * sg * (1.0f + zz * (1.0f - sg));
          g *= zz * sg;
        }
        if (a->Dsk) {
          job->dDsk[d] += g * xv;
          dx = g * a->Dsk[d];
        }
        const float *Ad = a->A + d * N, *hp = H + j * W + dd * N, *hc = H + (j + 1) * W + dd * N;
        const float *ae = Ae + j * W + dd * N;
        float *ld = lam + dd * N, *dAd = job->dA + d * N;
        float dw = 0.0f, dlog = 0.0f;
#pragma omp simd reduction(+ : dw, dlog)
        for (int64_t n = 0; n < N; n++) {
          const float l = ld[n] + g * Ct[n];
          dCt[n] += g * hc[n];
          dBt[n] += l * w;
          dw += l * Bt[n];
          const float q = l * hp[n] * ae[n];
          dlog += q * Ad[n];
          dAd[n] += q * delta;
          ld[n] = l * ae[n];
        }
        a->dx[r] = dx + dw * delta;
        a->ddt[r] = dw * xv + dlog;
      }
    }
  }
  if (a->dh0)
    for (int64_t dd = 0; dd < nb; dd++) memcpy(a->dh0 + (b * D + d0 + dd) * N, lam + dd * N, (size_t)N * sizeof(float));
}

/*
 * The unit bodies compiled twice: for AVX2+FMA (8-lane vectors over n, fused multiply-adds) and
 * for the baseline ISA, chosen at run time, so one binary runs on every x86-64.
 */
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void scan_forward_avx2(const scan_args *a, int64_t b, int64_t d0, int64_t d1) {
  scan_forward_body(a, b, d0, d1);
}
__attribute__((target("avx2,fma"))) static void scan_backward_avx2(const scan_args *a, scan_job *job, int64_t b, int64_t d0, int64_t d1) {
  scan_backward_body(a, job, b, d0, d1);
}
static int have_avx2(void) {
  static int v = -1;
  if (v < 0) {
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return v;
}
#endif

static void scan_forward_unit(const scan_args *a, int64_t b, int64_t d0, int64_t d1) {
#if defined(__x86_64__) || defined(__i386__)
  if (have_avx2()) {
    scan_forward_avx2(a, b, d0, d1);
    return;
  }
#endif
  scan_forward_body(a, b, d0, d1);
}

static void scan_backward_unit(const scan_args *a, scan_job *job, int64_t b, int64_t d0, int64_t d1) {
#if defined(__x86_64__) || defined(__i386__)
  if (have_avx2()) {
    scan_backward_avx2(a, job, b, d0, d1);
    return;
  }
#endif
  scan_backward_body(a, job, b, d0, d1);
}

static void *forward_job(void *p) {
  scan_job *job = (scan_job *)p;
  const scan_args *a = job->a;
  for (int64_t u = job->u0; u < job->u1; u++) {
    const int64_t b = u / a->nd, d0 = (u % a->nd) * DB, d1 = d0 + DB < a->D ? d0 + DB : a->D;
    scan_forward_unit(a, b, d0, d1);
  }
  return NULL;
}

static void *backward_job(void *p) {
  scan_job *job = (scan_job *)p;
  const scan_args *a = job->a;
  for (int64_t u = job->u0; u < job->u1; u++) {
    const int64_t b = u / a->nd, d0 = (u % a->nd) * DB, d1 = d0 + DB < a->D ? d0 + DB : a->D;
    scan_backward_unit(a, job, b, d0, d1);
  }
  return NULL;
}

typedef struct {
  scan_job *jobs;
  void *(*fn)(void *);
} jobs_run;

static void job_part(void *ctx, int part, int parts) {
  const jobs_run *r = (const jobs_run *)ctx;
  r->fn(&r->jobs[part]);
}

/* Runs fn over the units in `nt` parts (job k takes the k-th share) on the thread pool. */
static int run_jobs(scan_job *jobs, int nt, int64_t units, void *(*fn)(void *)) {
  for (int k = 0; k < nt; k++) {
    jobs[k].u0 = units * k / nt;
    jobs[k].u1 = units * (k + 1) / nt;
  }
  jobs_run r = {jobs, fn};
  seqlab_pool_run(nt, job_part, &r);
  return 0;
}

/* ---- N-API glue ---- */

typedef struct {
  uint8_t *data;
  size_t bytes;
} view_t;

static int throw_range(napi_env env, const char *fn, const char *msg, const char *name) {
  char buf[200];
  snprintf(buf, sizeof buf, "seqlab_scan.%s: %s %s", fn, name, msg);
  napi_throw_range_error(env, NULL, buf);
  return 0;
}

/* views[i] at offs[i] must hold `elems` float32s (or be null when `optional`). */
static int get_ptr(napi_env env, const char *fn, napi_value views, napi_value offs, uint32_t i, int64_t elems,
                   int optional, const char *name, float **out) {
  napi_value v, o;
  if (napi_get_element(env, views, i, &v) != napi_ok || napi_get_element(env, offs, i, &o) != napi_ok)
    return throw_range(env, fn, "missing", name);
  napi_valuetype vt;
  napi_typeof(env, v, &vt);
  if (vt == napi_null || vt == napi_undefined) {
    if (!optional) return throw_range(env, fn, "is required", name);
    *out = NULL;
    return 1;
  }
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return throw_range(env, fn, "must be a typed array", name);
  napi_typedarray_type type;
  size_t length, byte_offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byte_offset) != napi_ok)
    return throw_range(env, fn, "cannot be read", name);
  size_t elem = (type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array) ? 4
                : (type == napi_float64_array) ? 8 : (type == napi_int16_array || type == napi_uint16_array) ? 2 : 1;
  int64_t off;
  if (napi_get_value_int64(env, o, &off) != napi_ok) return throw_range(env, fn, "offset is not a number", name);
  const int64_t bytes = data == NULL ? 0 : (int64_t)(length * elem);
  if (off < 0 || (off & 3) != 0 || off + elems * 4 > bytes) {
    char msg[160];
    snprintf(msg, sizeof msg, "out of bounds (offset %lld, %lld floats, view %lld bytes; stale wasm heap view?)",
             (long long)off, (long long)elems, (long long)bytes);
    return throw_range(env, fn, msg, name);
  }
  *out = (float *)((uint8_t *)data + off);
  return 1;
}

static int read_dims(napi_env env, const char *fn, napi_value arr, int64_t *dims) {
  for (uint32_t i = 0; i < 6; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) != napi_ok || napi_get_value_int64(env, v, &dims[i]) != napi_ok)
      return throw_range(env, fn, "must be 6 integers [B, T, D, N, C, threads]", "dims");
  }
  const int64_t B = dims[0], T = dims[1], D = dims[2], N = dims[3], C = dims[4];
  if (B < 1 || T < 1 || D < 1 || N < 1 || N > 64 || C < 1 || dims[5] < 1)
    return throw_range(env, fn, "out of range (B, T, D, C >= 1; 1 <= N <= 64; threads >= 1)", "dims");
  return 1;
}

static int setup(napi_env env, napi_callback_info info, const char *fn, napi_value *views, napi_value *offs,
                 int64_t *dims) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3)
    return throw_range(env, fn, "expected (views, offsets, dims)", "arguments");
  *views = argv[0];
  *offs = argv[1];
  return read_dims(env, fn, argv[2], dims);
}

static int threads_for(const int64_t *dims, int64_t units) {
  int64_t nt = dims[5] < 64 ? dims[5] : 64;
  if (nt > units) nt = units;
  /* a thread costs tens of microseconds: not worth it below ~64k state updates */
  if (dims[0] * dims[1] * dims[2] * dims[3] < 65536) nt = 1;
  return (int)(nt < 1 ? 1 : nt);
}

#define GET(i, n, opt, name, dst) \
  if (!get_ptr(env, fn, views, offs, i, n, opt, name, dst)) return NULL

/* The arguments both entry points share: the dims, the chunk layout and inputs 0-7 (x, dt, A, Bm,
 * Cm and the optional Dsk, z, h0). Returns 0 with a JS exception pending on bad input. */
static int shared_args(napi_env env, napi_callback_info info, const char *fn, napi_value *views, napi_value *offs,
                       int64_t *dims, scan_args *a) {
  if (!setup(env, info, fn, views, offs, dims)) return 0;
  memset(a, 0, sizeof *a);
  a->B = dims[0], a->T = dims[1], a->D = dims[2], a->N = dims[3], a->C = dims[4] < dims[1] ? dims[4] : dims[1];
  a->nc = (a->T + a->C - 1) / a->C;
  a->nd = (a->D + DB - 1) / DB;
  const int64_t BTD = a->B * a->T * a->D, BTN = a->B * a->T * a->N, DN = a->D * a->N, BDN = a->B * a->D * a->N;
  return get_ptr(env, fn, *views, *offs, 0, BTD, 0, "x", (float **)&a->x) &&
         get_ptr(env, fn, *views, *offs, 1, BTD, 0, "dt", (float **)&a->dt) &&
         get_ptr(env, fn, *views, *offs, 2, DN, 0, "A", (float **)&a->A) &&
         get_ptr(env, fn, *views, *offs, 3, BTN, 0, "Bm", (float **)&a->Bm) &&
         get_ptr(env, fn, *views, *offs, 4, BTN, 0, "Cm", (float **)&a->Cm) &&
         get_ptr(env, fn, *views, *offs, 5, a->D, 1, "Dsk", (float **)&a->Dsk) &&
         get_ptr(env, fn, *views, *offs, 6, BTD, 1, "z", (float **)&a->z) &&
         get_ptr(env, fn, *views, *offs, 7, BDN, 1, "h0", (float **)&a->h0);
}

static napi_value scan_forward(napi_env env, napi_callback_info info) {
  const char *fn = "scanForward";
  napi_value views, offs;
  int64_t dims[6];
  scan_args a;
  if (!shared_args(env, info, fn, &views, &offs, dims, &a)) return NULL;
  const int64_t BTD = a.B * a.T * a.D, BDN = a.B * a.D * a.N;
  GET(8, BTD, 0, "y", &a.y);
  GET(9, BDN, 0, "hT", &a.hT);
  GET(10, BDN * a.nc, 0, "S", &a.S);
  const int64_t units = a.B * a.nd;
  const int nt = threads_for(dims, units);
  scan_job jobs[64];
  memset(jobs, 0, sizeof jobs);
  for (int k = 0; k < nt; k++) jobs[k].a = &a;
  run_jobs(jobs, nt, units, forward_job);
  return NULL;
}

static napi_value scan_backward(napi_env env, napi_callback_info info) {
  const char *fn = "scanBackward";
  napi_value views, offs;
  int64_t dims[6];
  scan_args a;
  if (!shared_args(env, info, fn, &views, &offs, dims, &a)) return NULL;
  const int64_t BTD = a.B * a.T * a.D, BTN = a.B * a.T * a.N, DN = a.D * a.N, BDN = a.B * a.D * a.N;
  GET(8, BDN * a.nc, 0, "S", (float **)&a.Sin);
  GET(9, BTD, 0, "dy", (float **)&a.dy);
  GET(10, BDN, 1, "dhT", (float **)&a.dhT);
  GET(11, BTD, 0, "dx", &a.dx);
  GET(12, BTD, 0, "ddt", &a.ddt);
  GET(13, DN, 0, "dA", &a.dA);
  GET(14, BTN, 0, "dBm", &a.dBm);
  GET(15, BTN, 0, "dCm", &a.dCm);
  GET(16, a.D, !a.Dsk, "dDsk", &a.dDsk);
  GET(17, BTD, !a.z, "dz", &a.dz);
  GET(18, BDN, !a.h0, "dh0", &a.dh0);
  if ((a.Dsk && !a.dDsk) || (a.z && !a.dz) || (a.h0 && !a.dh0)) {
    throw_range(env, fn, "must be given exactly when Dsk / z / h0 are", "dDsk / dz / dh0");
    return NULL;
  }
  const int64_t units = a.B * a.nd;
  const int nt = threads_for(dims, units);
  const int64_t W = DB * a.N, scratch = (a.C + 1) * W + a.C * W + a.C * DB;
  /* Thread k accumulates dA, dDsk, dBm, dCm in its own zeroed buffer; thread 0 in the outputs. */
  const int64_t priv = DN + a.D + 2 * BTN;
  scan_job jobs[64];
  memset(jobs, 0, sizeof jobs);
  float *mem = (float *)calloc((size_t)(nt * scratch + (nt - 1) * priv), sizeof(float));
  if (!mem) {
    napi_throw_error(env, NULL, "seqlab_scan.scanBackward: out of memory for the scratch buffers");
    return NULL;
  }
  memset(a.dA, 0, (size_t)DN * sizeof(float));
  memset(a.dBm, 0, (size_t)BTN * sizeof(float));
  memset(a.dCm, 0, (size_t)BTN * sizeof(float));
  float dDsk0[1] = {0};
  if (a.dDsk) memset(a.dDsk, 0, (size_t)a.D * sizeof(float));
  for (int k = 0; k < nt; k++) {
    jobs[k].a = &a;
    jobs[k].scratch = mem + k * scratch;
    if (k == 0) {
      jobs[k].dA = a.dA, jobs[k].dBm = a.dBm, jobs[k].dCm = a.dCm;
      jobs[k].dDsk = a.dDsk ? a.dDsk : dDsk0;
    } else {
      float *p = mem + nt * scratch + (k - 1) * priv;
      jobs[k].dA = p, jobs[k].dDsk = p + DN, jobs[k].dBm = p + DN + a.D, jobs[k].dCm = p + DN + a.D + BTN;
    }
  }
  run_jobs(jobs, nt, units, backward_job);
  for (int k = 1; k < nt; k++) {
    for (int64_t i = 0; i < DN; i++) a.dA[i] += jobs[k].dA[i];
    if (a.dDsk)
      for (int64_t i = 0; i < a.D; i++) a.dDsk[i] += jobs[k].dDsk[i];
    for (int64_t i = 0; i < BTN; i++) a.dBm[i] += jobs[k].dBm[i];
    for (int64_t i = 0; i < BTN; i++) a.dCm[i] += jobs[k].dCm[i];
  }
  free(mem);
  return NULL;
}

napi_status seqlab_register_scan(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"scanForward", NULL, scan_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scanBackward", NULL, scan_backward, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
