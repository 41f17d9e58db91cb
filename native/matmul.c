/*
 * seqlab native matmul: the N-API entry points of two batched products that work in place on
 * memory owned by JavaScript (the tfjs wasm heap, or the cpu backend's Float32Arrays), so a tfjs
 * matmul kernel costs one native call and no copies: OpenBLAS cblas_sgemm (when the addon was
 * built with it) and the built-in GEMM of gemm.c (which this file calls down into).
 *
 * JS API (all offsets in BYTES from the start of the typed array's view,
 * strides in ELEMENTS; every typed array may alias the same heap):
 *   gemm(a, aOff, aStride, b, bOff, bStride, c, cOff, bias|null, biasOff,
 *        batch, M, N, K, transA, transB, act) -> undefined          (OpenBLAS builds only)
 *   gemmBuiltin(... the same 17 arguments ...) -> undefined           (always)
 *     C[i] = act(op(A[i]) @ op(B[i]) + bias),  i < batch,  C row-major [M, N],
 *     A[i] at aOff + i*aStride*4 (stride 0 broadcasts), act 0 linear, 1 relu.
 *   hasCblas: boolean
 *   setThreads(n) / threads() -> number      OpenBLAS threads (OpenBLAS builds only)
 *   config() -> string                       openblas_get_config(), or what the build lacks
 *   corename() -> string | null              openblas_get_corename() (null without OpenBLAS)
 *   builtinKernel() -> string                the built-in GEMM's micro-kernel ("avx512 12x32")
 *   setBuiltinKernel(name) -> boolean        true when `name` is compiled in and this CPU supports it
 * (the built-in GEMM's threads are the pool's: setBuiltinThreads in pool.c).
 *
 * Every extent is bounds-checked against the view's byteLength: a stale view
 * (wasm memory grew and detached the old buffer) has length 0 and throws
 * instead of writing to freed memory.
 */
#include "seqlab.h"

#include <stdio.h>
#include <string.h>

#ifdef SEQLAB_HAVE_CBLAS
#include <cblas.h>
/* OpenBLAS extensions (declared in its cblas.h, repeated for other headers). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
#endif

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "seqlab: N-API call failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* The 17 arguments of gemm / gemmBuiltin, checked and resolved to pointers. */
typedef struct {
  const float *A, *B, *bias;
  float *C;
  int64_t aStride, bStride, batch, M, N, K, act;
  bool transA, transB;
} gemm_args;

/* Returns 1 with *g filled, or 0 with a JS exception pending (or 2: empty output, nothing to do). */
static int parse_gemm(napi_env env, napi_callback_info info, const char *fn, gemm_args *g) {
  size_t argc = 17;
  napi_value argv[17];
#define TRY(call)                                                     \
  if ((call) != napi_ok) {                                            \
    napi_throw_error(env, NULL, "seqlab: N-API call failed"); \
    return 0;                                                         \
  }
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 17) {
    char msg[96];
    snprintf(msg, sizeof msg, "seqlab.%s: expected 17 arguments", fn);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  seqlab_view a, b, c, bias = {NULL, 0};
  int64_t aOff, bOff, cOff, biasOff;
  if (!seqlab_get_view(env, argv[0], &a, "a")) return 0;
  TRY(napi_get_value_int64(env, argv[1], &aOff));
  TRY(napi_get_value_int64(env, argv[2], &g->aStride));
  if (!seqlab_get_view(env, argv[3], &b, "b")) return 0;
  TRY(napi_get_value_int64(env, argv[4], &bOff));
  TRY(napi_get_value_int64(env, argv[5], &g->bStride));
  if (!seqlab_get_view(env, argv[6], &c, "c")) return 0;
  TRY(napi_get_value_int64(env, argv[7], &cOff));
  napi_valuetype bias_type;
  TRY(napi_typeof(env, argv[8], &bias_type));
  int has_bias = bias_type != napi_null && bias_type != napi_undefined;
  if (has_bias && !seqlab_get_view(env, argv[8], &bias, "bias")) return 0;
  TRY(napi_get_value_int64(env, argv[9], &biasOff));
  TRY(napi_get_value_int64(env, argv[10], &g->batch));
  TRY(napi_get_value_int64(env, argv[11], &g->M));
  TRY(napi_get_value_int64(env, argv[12], &g->N));
  TRY(napi_get_value_int64(env, argv[13], &g->K));
  TRY(napi_get_value_bool(env, argv[14], &g->transA));
  TRY(napi_get_value_bool(env, argv[15], &g->transB));
  TRY(napi_get_value_int64(env, argv[16], &g->act));
#undef TRY
  const int64_t M = g->M, N = g->N, K = g->K, batch = g->batch;
  if (batch < 1 || M < 0 || N < 0 || K < 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
    napi_throw_range_error(env, NULL, "seqlab.gemm: bad dimensions");
    return 0;
  }
  if (g->act != 0 && g->act != 1) {
    napi_throw_range_error(env, NULL, "seqlab.gemm: act must be 0 (linear) or 1 (relu)");
    return 0;
  }
  if (M == 0 || N == 0) return 2;
  if (!seqlab_in_bounds(env, &a, aOff, g->aStride, batch, M * K, "a")) return 0;
  if (!seqlab_in_bounds(env, &b, bOff, g->bStride, batch, K * N, "b")) return 0;
  if (!seqlab_in_bounds(env, &c, cOff, M * N, batch, M * N, "c")) return 0;
  if (has_bias && !seqlab_in_bounds(env, &bias, biasOff, 0, 1, N, "bias")) return 0;
  g->A = (const float *)(a.data + aOff);
  g->B = (const float *)(b.data + bOff);
  g->C = (float *)(c.data + cOff);
  g->bias = has_bias ? (const float *)(bias.data + biasOff) : NULL;
  return 1;
}

static napi_value gemm_builtin(napi_env env, napi_callback_info info) {
  gemm_args g;
  if (parse_gemm(env, info, "gemmBuiltin", &g) != 1) return NULL;
  seqlab_sgemm_batch(g.batch, g.transA, g.transB, g.M, g.N, g.K, g.A, g.aStride, g.B, g.bStride, g.C, g.bias,
                     (int)g.act);
  return NULL;
}

#ifdef SEQLAB_HAVE_CBLAS
static napi_value gemm_cblas(napi_env env, napi_callback_info info) {
  gemm_args g;
  if (parse_gemm(env, info, "gemm", &g) != 1) return NULL;
  const int m = (int)g.M, n = (int)g.N, k = (int)g.K;
  const int lda = g.transA ? m : k, ldb = g.transB ? k : n;
  for (int64_t i = 0; i < g.batch; i++) {
    const float *A = g.A + i * g.aStride, *B = g.B + i * g.bStride;
    float *C = g.C + i * g.M * g.N;
    float beta = 0.0f;
    if (g.bias != NULL) {
      /* Seed C with the bias so sgemm accumulates onto it (beta = 1). */
      for (int r = 0; r < m; r++) memcpy(C + (int64_t)r * n, g.bias, (size_t)n * sizeof(float));
      beta = 1.0f;
    }
    if (k == 0) {
      if (g.bias == NULL) memset(C, 0, (size_t)(g.M * g.N) * sizeof(float));
    } else {
      cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans, g.transB ? CblasTrans : CblasNoTrans,
                  m, n, k, 1.0f, A, lda, B, ldb, beta, C, n);
    }
    if (g.act == 1) {
      for (int64_t j = 0; j < g.M * g.N; j++) C[j] = C[j] > 0.0f ? C[j] : 0.0f;
    }
  }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, NULL, "seqlab.setThreads: expected a positive integer");
    return NULL;
  }
  openblas_set_num_threads(n);
  napi_value out;
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

static napi_value threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}
#endif

static napi_value config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
#ifdef SEQLAB_HAVE_CBLAS
  const char *s = openblas_get_config();
  if (s == NULL) s = "unknown";
#else
  const char *s = "no OpenBLAS (built without cblas.h; built-in GEMM only)";
#endif
  CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value corename(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
#ifdef SEQLAB_HAVE_CBLAS
  const char *s = openblas_get_corename();
  if (s != NULL) {
    CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out));
    return out;
  }
#endif
  CHECK(napi_get_null(env, &out));
  return out;
}

/* "avx512 12x32": the built-in GEMM's micro-kernel. */
static napi_value builtin_kernel(napi_env env, napi_callback_info info) {
  (void)info;
  char s[48];
  int mr, nr;
  const char *name = seqlab_gemm_kernel(&mr, &nr);
  snprintf(s, sizeof s, "%s %dx%d", name, mr, nr);
  napi_value out;
  CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out));
  return out;
}

/* setBuiltinKernel(name) -> true when `name` is compiled in and this CPU supports it. */
static napi_value set_builtin_kernel(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], out;
  char name[32];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "seqlab gemm.setBuiltinKernel: expected a kernel name");
    return NULL;
  }
  CHECK(napi_get_boolean(env, seqlab_gemm_set_kernel(name), &out));
  return out;
}

napi_status seqlab_register_matmul(napi_env env, napi_value exports) {
  napi_status s;
  napi_value has;
#ifdef SEQLAB_HAVE_CBLAS
  if ((s = seqlab_export(env, exports, "gemm", gemm_cblas)) != napi_ok) return s;
  if ((s = seqlab_export(env, exports, "setThreads", set_threads)) != napi_ok) return s;
  if ((s = seqlab_export(env, exports, "threads", threads)) != napi_ok) return s;
  if ((s = napi_get_boolean(env, true, &has)) != napi_ok) return s;
#else
  if ((s = napi_get_boolean(env, false, &has)) != napi_ok) return s;
#endif
  if ((s = napi_set_named_property(env, exports, "hasCblas", has)) != napi_ok) return s;
  if ((s = seqlab_export(env, exports, "gemmBuiltin", gemm_builtin)) != napi_ok) return s;
  if ((s = seqlab_export(env, exports, "builtinKernel", builtin_kernel)) != napi_ok) return s;
  if ((s = seqlab_export(env, exports, "setBuiltinKernel", set_builtin_kernel)) != napi_ok) return s;
  if ((s = seqlab_export(env, exports, "config", config)) != napi_ok) return s;
  return seqlab_export(env, exports, "corename", corename);
}
