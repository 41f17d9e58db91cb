/*
 * seqlab native addon: what its C sources share.
 *
 * The addon (build/Release/seqlab_matmul.node) is one shared object built from every source
 * listed in binding.gyp's "sources" (build.js compiles that list with the system C compiler).
 * Each source that exports functions to JavaScript defines
 *     napi_status seqlab_register_<name>(napi_env env, napi_value exports);
 * and adds X(<name>) to SEQLAB_MODULES below; the module init (matmul.c) calls them in order.
 *
 * SEQLAB_HAVE_CBLAS is defined only when cblas.h and an OpenBLAS library compiled and linked
 * at install time; without it the addon still builds (with the built-in GEMM of gemm.c).
 */
#ifndef SEQLAB_H
#define SEQLAB_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* X-macro of the modules whose exports the init registers (one line per C source). */
#define SEQLAB_MODULES(X) \
  X(matmul)               \
  X(gemm)                 \
  X(scan)                 \
  X(eltwise)

#define SEQLAB_DECLARE_REGISTER(name) napi_status seqlab_register_##name(napi_env env, napi_value exports);
SEQLAB_MODULES(SEQLAB_DECLARE_REGISTER)
#undef SEQLAB_DECLARE_REGISTER

/* ---- N-API helpers (matmul.c) ---- */

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

/* Defines `fn` as exports[name]; returns the N-API status. */
napi_status seqlab_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

/* ---- built-in packed SGEMM (gemm.c) ---- */

/*
 * C[i] = act(op(A[i]) @ op(B[i]) + bias) for i < batch, all row-major, op = transpose when
 * trans* is set; A[i] = A + i*strideA (0 broadcasts), C[i] = C + i*M*N; bias: N floats or NULL;
 * relu: 0 linear, 1 max(., 0). lda = transA ? M : K, ldb = transB ? K : N, ldc = N.
 */
void seqlab_sgemm_batch(int64_t batch, int transA, int transB, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t strideA, const float *B, int64_t strideB, float *C,
                        const float *bias, int relu);

#endif
