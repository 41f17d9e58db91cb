/*
 * seqlab native matmul: a thin N-API wrapper around OpenBLAS cblas_sgemm that
 * works in place on memory owned by JavaScript (the tfjs wasm heap, or the cpu
 * backend's Float32Arrays), so a tfjs matmul kernel costs one BLAS call per
 * batch slice and no copies.
 *
 * JS API (all offsets in BYTES from the start of the typed array's view,
 * strides in ELEMENTS; every typed array may alias the same heap):
 *   gemm(a, aOff, aStride, b, bOff, bStride, c, cOff, bias|null, biasOff,
 *        batch, M, N, K, transA, transB, act) -> undefined
 *     C[i] = act(op(A[i]) @ op(B[i]) + bias),  i < batch,  C row-major [M, N],
 *     A[i] at aOff + i*aStride*4 (stride 0 broadcasts), act 0 linear, 1 relu.
 *   setThreads(n) -> number (threads now used)
 *   threads() -> number
 *   config() -> string (openblas_get_config)
 *
 * Every extent is bounds-checked against the view's byteLength: a stale view
 * (wasm memory grew and detached the old buffer) has length 0 and throws
 * instead of writing to freed memory.
 */
#include <node_api.h>
#include <cblas.h>
#include "seqlab.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* OpenBLAS extensions (declared in its cblas.h, repeated for other headers). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "seqlab_matmul: N-API call failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

typedef struct {
  uint8_t *data;
  size_t bytes;
} view_t;

/* Typed array -> (pointer, byte length). */
static int get_view(napi_env env, napi_value v, view_t *out, const char *name) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    char msg[96];
    snprintf(msg, sizeof msg, "seqlab_matmul: %s must be a typed array", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  napi_typedarray_type type;
  size_t length, byte_offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byte_offset) != napi_ok) {
    napi_throw_error(env, NULL, "seqlab_matmul: cannot read typed array");
    return 0;
  }
  size_t elem = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  out->data = (uint8_t *)data;
  out->bytes = data == NULL ? 0 : length * elem;
  return 1;
}

static int in_bounds(napi_env env, const view_t *v, int64_t off, int64_t stride, int64_t batch,
                     int64_t elems, const char *name) {
  /* Last byte touched: off + ((batch-1)*stride + elems) * 4. */
  int64_t end = off + ((batch - 1) * stride + elems) * 4;
  if (off < 0 || stride < 0 || (off & 3) != 0 || end > (int64_t)v->bytes) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "seqlab_matmul: %s out of bounds (offset %lld, end %lld, view %zu bytes; stale wasm heap view?)",
             name, (long long)off, (long long)end, v->bytes);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 17) {
    napi_throw_type_error(env, NULL, "seqlab_matmul.gemm: expected 17 arguments");
    return NULL;
  }
  view_t a, b, c, bias = {NULL, 0};
  int64_t aOff, aStride, bOff, bStride, cOff, biasOff, batch, M, N, K, act;
  bool transA, transB;
  if (!get_view(env, argv[0], &a, "a")) return NULL;
  CHECK(napi_get_value_int64(env, argv[1], &aOff));
  CHECK(napi_get_value_int64(env, argv[2], &aStride));
  if (!get_view(env, argv[3], &b, "b")) return NULL;
  CHECK(napi_get_value_int64(env, argv[4], &bOff));
  CHECK(napi_get_value_int64(env, argv[5], &bStride));
  if (!get_view(env, argv[6], &c, "c")) return NULL;
  CHECK(napi_get_value_int64(env, argv[7], &cOff));
  napi_valuetype bias_type;
  CHECK(napi_typeof(env, argv[8], &bias_type));
  int has_bias = bias_type != napi_null && bias_type != napi_undefined;
  if (has_bias && !get_view(env, argv[8], &bias, "bias")) return NULL;
  CHECK(napi_get_value_int64(env, argv[9], &biasOff));
  CHECK(napi_get_value_int64(env, argv[10], &batch));
  CHECK(napi_get_value_int64(env, argv[11], &M));
  CHECK(napi_get_value_int64(env, argv[12], &N));
  CHECK(napi_get_value_int64(env, argv[13], &K));
  CHECK(napi_get_value_bool(env, argv[14], &transA));
  CHECK(napi_get_value_bool(env, argv[15], &transB));
  CHECK(napi_get_value_int64(env, argv[16], &act));

  if (batch < 1 || M < 0 || N < 0 || K < 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
    napi_throw_range_error(env, NULL, "seqlab_matmul.gemm: bad dimensions");
    return NULL;
  }
  if (act != 0 && act != 1) {
    napi_throw_range_error(env, NULL, "seqlab_matmul.gemm: act must be 0 (linear) or 1 (relu)");
    return NULL;
  }
  if (M == 0 || N == 0) return NULL;
  if (!in_bounds(env, &a, aOff, aStride, batch, M * K, "a")) return NULL;
  if (!in_bounds(env, &b, bOff, bStride, batch, K * N, "b")) return NULL;
  if (!in_bounds(env, &c, cOff, M * N, batch, M * N, "c")) return NULL;
  if (has_bias && !in_bounds(env, &bias, biasOff, 0, 1, N, "bias")) return NULL;

  const int m = (int)M, n = (int)N, k = (int)K;
  const int lda = transA ? m : k, ldb = transB ? k : n;
  float *C0 = (float *)(c.data + cOff);
  const float *brow = has_bias ? (const float *)(bias.data + biasOff) : NULL;

  for (int64_t i = 0; i < batch; i++) {
    const float *A = (const float *)(a.data + aOff) + i * aStride;
    const float *B = (const float *)(b.data + bOff) + i * bStride;
    float *C = C0 + i * M * N;
    float beta = 0.0f;
    if (brow != NULL) {
      /* Seed C with the bias so sgemm accumulates onto it (beta = 1). */
      for (int r = 0; r < m; r++) memcpy(C + (int64_t)r * n, brow, (size_t)n * sizeof(float));
      beta = 1.0f;
    }
    if (k == 0) {
      if (brow == NULL) memset(C, 0, (size_t)(M * N) * sizeof(float));
    } else {
      cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                  m, n, k, 1.0f, A, lda, B, ldb, beta, C, n);
    }
    if (act == 1) {
      for (int64_t j = 0; j < M * N; j++) C[j] = C[j] > 0.0f ? C[j] : 0.0f;
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
    napi_throw_range_error(env, NULL, "seqlab_matmul.setThreads: expected a positive integer");
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

static napi_value config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  const char *s = openblas_get_config();
  CHECK(napi_create_string_utf8(env, s ? s : "unknown", NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threads", NULL, threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"config", NULL, config, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (seqlab_register_scan(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
