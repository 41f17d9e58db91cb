/*
 * seqlab native addon: what its C sources share.
 *
 * The addon (build/Release/seqlab.node) is one shared object built from every source
 * listed in binding.gyp's "sources" (build.js compiles that list with the system C compiler).
 * Each source that exports functions to JavaScript defines
 *     napi_status seqlab_register_<name>(napi_env env, napi_value exports);
 * and adds X(<name>) to SEQLAB_MODULES below; the module init (addon.c) calls them in order.
 * Calls go one way: the N-API entry points (matmul.c, eltwise.c, ...) call down into the engines
 * (gemm.c, pure C; pool.c, the one thread pool) and the argument glue (args.c); none of those calls
 * back into an entry point.
 *
 * SEQLAB_HAVE_CBLAS is defined only when cblas.h and an OpenBLAS library compiled and linked
 * at install time; without it the addon still builds (with the built-in GEMM of gemm.c).
 */
#ifndef SEQLAB_H
#define SEQLAB_H

#include <node_api.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>

/* X-macro of the modules whose exports the init registers (one line per C source). */
#define SEQLAB_MODULES(X) \
  X(matmul)               \
  X(pool)                 \
  X(isa)                  \
  X(scan)                 \
  X(eltwise)              \
  X(softmax)              \
  X(decay)                \
  X(rope)                 \
  X(decode)               \
  X(attention)            \
  X(retention)            \
  X(norm)

#define SEQLAB_DECLARE_REGISTER(name) napi_status seqlab_register_##name(napi_env env, napi_value exports);
SEQLAB_MODULES(SEQLAB_DECLARE_REGISTER)
#undef SEQLAB_DECLARE_REGISTER

/* ---- N-API argument glue (args.c) ---- */

/* A typed array as raw bytes: data pointer and length in bytes (0 for a detached buffer). */
typedef struct {
  uint8_t *data;
  size_t bytes;
} seqlab_view;

/* Reads a typed array into *out; on failure throws a TypeError naming `name` and returns 0. */
int seqlab_get_view(napi_env env, napi_value v, seqlab_view *out, const char *name);

/*
 * Checks that `batch` slices of `elems` float32s, `stride` elements apart, starting `off` bytes
 * into the view, lie inside it (a stale wasm heap view has 0 bytes); throws a RangeError and
 * returns 0 otherwise.
 */
int seqlab_in_bounds(napi_env env, const seqlab_view *v, int64_t off, int64_t stride, int64_t batch,
                     int64_t elems, const char *name);

/*
 * Slot i of a (views, offsets) pair of arguments (a JS array of typed arrays or nulls, and a
 * Float64Array of byte offsets) as a pointer to `elems` float32s; null is accepted when `optional`
 * (*out = NULL). Returns 0 with a RangeError naming `fn` and the slot pending otherwise.
 */
int seqlab_slot(napi_env env, const char *fn, napi_value views, const double *offs, uint32_t n_offs, uint32_t i,
                int64_t elems, int optional, float **out);

/*
 * The (views, offsets, dims) arguments of a fused kernel: views a JS array of typed arrays or nulls,
 * offsets and dims Float64Arrays, dims at least n_dims long (`doc` describes them in the error).
 * Returns 0 with a JS error pending otherwise.
 */
int seqlab_kernel_args(napi_env env, napi_callback_info info, const char *fn, const char *doc, size_t n_dims,
                       napi_value *views, const double **offs, uint32_t *n_offs, const double **dims);

/* Defines `fn` as exports[name]; returns the N-API status. */
napi_status seqlab_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

/* The positional arguments of the element-wise kernels; each returns 0 with a JS error pending on bad input. */
int seqlab_arg_i64(napi_env env, napi_value v, int64_t *out, const char *name);
/* A typed array at byte offset `off` holding `elems` 4-byte elements, as a pointer. */
int seqlab_arg_floats(napi_env env, napi_value view, napi_value off, int64_t elems, const char *name, void **out);
/* A non-empty Int32Array of metadata (shape, strides, perm). */
int seqlab_arg_meta(napi_env env, napi_value v, int32_t **out, size_t *len);
/* An optional mask view (null / undefined: *out = NULL) holding `extent` elements. */
int seqlab_arg_mask(napi_env env, napi_value view, napi_value off, int64_t extent, void **out);

/* Reads exactly `count` arguments into argv, or throws a TypeError and returns NULL. */
#define SEQLAB_ARGS(count)                                                                  \
  size_t argc = count;                                                                      \
  napi_value argv[count];                                                                   \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count) {   \
    napi_throw_type_error(env, NULL, "seqlab eltwise: expected " #count " arguments");     \
    return NULL;                                                                            \
  }

/* ---- built-in packed SGEMM (gemm.c) ---- */

/*
 * C[i] = act(op(A[i]) @ op(B[i]) + bias) for i < batch, all row-major, op = transpose when
 * trans* is set; A[i] = A + i*strideA (0 broadcasts), C[i] = C + i*M*N; bias: N floats or NULL;
 * relu: 0 linear, 1 max(., 0). lda = transA ? M : K, ldb = transB ? K : N, ldc = N.
 */
void seqlab_sgemm_batch(int64_t batch, int transA, int transB, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t strideA, const float *B, int64_t strideB, float *C,
                        const float *bias, int relu);

/* The micro-kernel in use ("avx512", "avx2" or "generic") and its tile, and picking one by name:
 * returns 1 when `name` is compiled in and this CPU supports it (then it is used from now on). */
const char *seqlab_gemm_kernel(int *mr, int *nr);
int seqlab_gemm_set_kernel(const char *name);


/* ---- shared numerics ---- */

/* Whether the AVX2+FMA code paths run (CPU support, unless setEltwiseIsa('generic') forced them off; isa.c). */
int seqlab_use_avx2(void);

#define INLINE static inline __attribute__((always_inline))

/* One row of LayerNorm (layer != 0; mu = mean(x)) or RMSNorm (mu = 0) over n values (docs/models.md
 * 1.2): y = (x - mu) r w + b with r = 1 / sqrt(mean((x - mu)^2) + eps); w and b may be NULL (no
 * affine weight / no bias), y may be x. Returns r; stores mu when mu_out is given. */
INLINE float seqlab_norm_row(const float *x, int64_t n, int layer, float eps, const float *w, const float *b, float *y, float *mu_out) {
  float mu = 0.0f, ss = 0.0f;
  if (layer) {
#pragma omp simd reduction(+ : mu)
    for (int64_t j = 0; j < n; j++) mu += x[j];
    mu /= (float)n;
  }
#pragma omp simd reduction(+ : ss)
  for (int64_t j = 0; j < n; j++) ss += (x[j] - mu) * (x[j] - mu);
  const float r = 1.0f / sqrtf(ss / (float)n + eps);
  if (mu_out) *mu_out = mu;
  for (int64_t j = 0; j < n; j++) {
    const float xh = (x[j] - mu) * r;
    y[j] = w ? (b ? xh * w[j] + b[j] : xh * w[j]) : xh;
  }
  return r;
}

/* exp(x) for x <= 0 in straight-line arithmetic the compiler vectorises over n: Cody-Waite
 * reduction x = k ln2 + r, |r| <= ln2/2, a degree-6 Taylor polynomial (relative error < 4e-8
 * before rounding) and 2^k by exponent bits. Below -87.3 (under FLT_MIN) the result is 0. */
INLINE float exp_nonpos(float x) {
  const float lo = -87.3f;
  const float xc = x < lo ? lo : x;
  const float magic = 12582912.0f; /* 1.5 * 2^23: adding and subtracting rounds to an integer */
  float kf = (xc * 1.44269504088896341f + magic) - magic;
  float r = xc - kf * 0.693145751953125f;
  r = r - kf * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  union { uint32_t u; float f; } s;
  s.u = (uint32_t)((int32_t)kf + 127) << 23;
  const float out = p * s.f;
  return x < lo ? 0.0f : out;
}

#endif
