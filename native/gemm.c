/*
 * Built-in packed single-precision GEMM: the fast matmul path when no OpenBLAS is installed.
 *
 * GotoBLAS / BLIS structure (Goto & van de Geijn, "Anatomy of high-performance matrix
 * multiplication", TOMS 2008; Van Zee & van de Geijn, "BLIS", TOMS 2015):
 *
 *   for jc in N step NC:                 B panel  op(B)[pc:pc+KC, jc:jc+NC] packed -> Bp  (L3)
 *     for pc in K step KC:
 *       for ic in M step MC:             A block  op(A)[ic:ic+MC, pc:pc+KC] packed -> Ap  (L2)
 *         for jr in NC step NR:          Bp micro-panel KC x NR                          (L1)
 *           for ir in MC step MR:        C[ic+ir : +MR, jc+jr : +NR] += Ap_ir @ Bp_jr  (registers)
 *
 * Packing stores A as MR-row micro-panels (k-major: MR values per k) and B as NR-column
 * micro-panels (NR values per k), zero-padded at the edges, so the micro-kernel streams both
 * with unit stride; transposes are absorbed by the packing (element (i, k) of op(A) is
 * A[i*rsA + k*csA]). The micro-kernel is chosen at run time from the CPU's features:
 * AVX-512F 12x32, AVX2+FMA 6x16, or portable C 4x16; the SIMD kernels are compiled with
 * target attributes, so one binary runs on every x86-64. The parts of a product (the M or N
 * extent, or the batch when the products are small) run on the addon's thread pool (pool.c).
 * Pure C: the N-API entry points (matmul.c) call down into this file, which calls nothing back up.
 */
#include "seqlab.h"
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SEQLAB_X86 1
#endif

#define MR_MAX 16
#define NR_MAX 32
#define KC_MAX 384
#define MC_MAX 192
#define NC_MAX 3072
#define THREADS_MAX SEQLAB_THREADS_MAX

/* C[0:MR, 0:NR] (row stride ldc) = (accumulate ? C : 0) + Ap @ Bp over kc steps. */
typedef void (*ukr_fn)(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int accumulate);

typedef struct {
  const char *name;
  int mr, nr;
  int64_t kc, mc, nc; /* mc a multiple of mr, nc of nr */
  ukr_fn ukr;
} kernel_t;

/* ---- micro-kernels ---- */

/* Portable C, 4 x 16, on GCC/clang vector extensions (SSE2 on any x86-64, NEON on arm64). */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f load4(const float *p) {
  v4f v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

static void ukr_generic(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int accumulate) {
  v4f c[4][4] = {{{0}}};
  for (int64_t p = 0; p < kc; p++, Ap += 4, Bp += 16) {
    const v4f b0 = load4(Bp), b1 = load4(Bp + 4), b2 = load4(Bp + 8), b3 = load4(Bp + 12);
    for (int i = 0; i < 4; i++) {
      const v4f a = {Ap[i], Ap[i], Ap[i], Ap[i]};
      c[i][0] += a * b0;
      c[i][1] += a * b1;
      c[i][2] += a * b2;
      c[i][3] += a * b3;
    }
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      float *r = C + i * ldc + 4 * j;
      store4(r, accumulate ? load4(r) + c[i][j] : c[i][j]);
    }
}

#ifdef SEQLAB_X86
/* AVX2 + FMA, 6 x 16: 12 accumulators, 2 B vectors, 1 broadcast = 15 of 16 ymm registers. */
__attribute__((target("avx2,fma"))) static void ukr_avx2(int64_t kc, const float *Ap, const float *Bp, float *C,
                                                          int64_t ldc, int accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; p++, Ap += 6, Bp += 16) {
    const __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8);
    __m256 a;
#define ROW(i)                              \
  a = _mm256_broadcast_ss(Ap + i);          \
  c##i##0 = _mm256_fmadd_ps(a, b0, c##i##0); \
  c##i##1 = _mm256_fmadd_ps(a, b1, c##i##1);
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
  }
#define STORE(i)                                                                              \
  {                                                                                           \
    float *r = C + i * ldc;                                                                   \
    if (accumulate) {                                                                         \
      c##i##0 = _mm256_add_ps(c##i##0, _mm256_loadu_ps(r));                                  \
      c##i##1 = _mm256_add_ps(c##i##1, _mm256_loadu_ps(r + 8));                              \
    }                                                                                         \
    _mm256_storeu_ps(r, c##i##0);                                                             \
    _mm256_storeu_ps(r + 8, c##i##1);                                                         \
  }
  STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
#undef STORE
}

/* AVX-512F, 12 x 32: 24 accumulators, 2 B vectors, 1 broadcast of 32 zmm registers. */
__attribute__((target("avx512f"))) static void ukr_avx512(int64_t kc, const float *Ap, const float *Bp, float *C,
                                                           int64_t ldc, int accumulate) {
#define Z _mm512_setzero_ps()
  __m512 c00 = Z, c01 = Z, c10 = Z, c11 = Z, c20 = Z, c21 = Z, c30 = Z, c31 = Z, c40 = Z, c41 = Z, c50 = Z, c51 = Z;
  __m512 c60 = Z, c61 = Z, c70 = Z, c71 = Z, c80 = Z, c81 = Z, c90 = Z, c91 = Z, cA0 = Z, cA1 = Z, cB0 = Z, cB1 = Z;
#undef Z
  for (int64_t p = 0; p < kc; p++, Ap += 12, Bp += 32) {
    const __m512 b0 = _mm512_load_ps(Bp), b1 = _mm512_load_ps(Bp + 16);
    __m512 a;
#define ROW(i, x)                           \
  a = _mm512_set1_ps(Ap[i]);                \
  c##x##0 = _mm512_fmadd_ps(a, b0, c##x##0); \
  c##x##1 = _mm512_fmadd_ps(a, b1, c##x##1);
    ROW(0, 0) ROW(1, 1) ROW(2, 2) ROW(3, 3) ROW(4, 4) ROW(5, 5)
    ROW(6, 6) ROW(7, 7) ROW(8, 8) ROW(9, 9) ROW(10, A) ROW(11, B)
#undef ROW
  }
#define STORE(i, x)                                                   \
  {                                                                   \
    float *r = C + i * ldc;                                           \
    if (accumulate) {                                                 \
      c##x##0 = _mm512_add_ps(c##x##0, _mm512_loadu_ps(r));          \
      c##x##1 = _mm512_add_ps(c##x##1, _mm512_loadu_ps(r + 16));     \
    }                                                                 \
    _mm512_storeu_ps(r, c##x##0);                                     \
    _mm512_storeu_ps(r + 16, c##x##1);                                \
  }
  STORE(0, 0) STORE(1, 1) STORE(2, 2) STORE(3, 3) STORE(4, 4) STORE(5, 5)
  STORE(6, 6) STORE(7, 7) STORE(8, 8) STORE(9, 9) STORE(10, A) STORE(11, B)
#undef STORE
}
#endif

static const kernel_t KERNELS[] = {
#ifdef SEQLAB_X86
    {"avx512", 12, 32, 384, 192, 3072, ukr_avx512},
    {"avx2", 6, 16, 256, 144, 3072, ukr_avx2},
#endif
    {"generic", 4, 16, 256, 128, 2048, ukr_generic},
};
#define NKERNELS ((int)(sizeof KERNELS / sizeof KERNELS[0]))

static int kernel_supported(const kernel_t *k) {
#ifdef SEQLAB_X86
  __builtin_cpu_init();
  if (strcmp(k->name, "avx512") == 0) return __builtin_cpu_supports("avx512f");
  if (strcmp(k->name, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  (void)k;
  return 1;
}

static const kernel_t *g_kernel = NULL; /* NULL until first use: the best supported one */

static const kernel_t *kernel(void) {
  if (g_kernel == NULL) {
    for (int i = 0; i < NKERNELS; i++)
      if (kernel_supported(&KERNELS[i])) {
        g_kernel = &KERNELS[i];
        break;
      }
  }
  return g_kernel;
}

/* ---- packing ---- */

/* Ap <- op(A)[0:mc, 0:kc] as ceil(mc/mr) micro-panels of mr rows, k-major, zero-padded. */
static void pack_a(int64_t mc, int64_t kc, const float *A, int64_t rs, int64_t cs, int mr, float *Ap) {
  for (int64_t ir = 0; ir < mc; ir += mr, Ap += mr * kc) {
    const int64_t m = mc - ir < mr ? mc - ir : mr;
    const float *a = A + ir * rs;
    if (cs == 1) { /* rows contiguous: read along k, scatter into the panel */
      for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < kc; p++) Ap[p * mr + i] = a[i * rs + p];
    } else {
      for (int64_t p = 0; p < kc; p++)
        for (int64_t i = 0; i < m; i++) Ap[p * mr + i] = a[i * rs + p * cs];
    }
    for (int64_t i = m; i < mr; i++)
      for (int64_t p = 0; p < kc; p++) Ap[p * mr + i] = 0.0f;
  }
}

/* Bp <- op(B)[0:kc, 0:nc] as ceil(nc/nr) micro-panels of nr columns, k-major, zero-padded. */
static void pack_b(int64_t kc, int64_t nc, const float *B, int64_t rs, int64_t cs, int nr, float *Bp) {
  for (int64_t jr = 0; jr < nc; jr += nr, Bp += nr * kc) {
    const int64_t n = nc - jr < nr ? nc - jr : nr;
    const float *b = B + jr * cs;
    if (cs == 1) {
      for (int64_t p = 0; p < kc; p++) {
        memcpy(Bp + p * nr, b + p * rs, (size_t)n * sizeof(float));
        for (int64_t j = n; j < nr; j++) Bp[p * nr + j] = 0.0f;
      }
    } else {
      for (int64_t j = 0; j < n; j++)
        for (int64_t p = 0; p < kc; p++) Bp[p * nr + j] = b[j * cs + p * rs];
      for (int64_t p = 0; p < kc; p++)
        for (int64_t j = n; j < nr; j++) Bp[p * nr + j] = 0.0f;
    }
  }
}

/* ---- one product on a sub-block ---- */

typedef struct {
  const kernel_t *k;
  int64_t batch, M, N, K;
  const float *A, *B, *bias;
  int64_t strideA, strideB;
  int64_t rsA, csA, rsB, csB; /* element (i, k) of op(A) is A[i*rsA + k*csA]; (k, j) of op(B) is B[k*rsB + j*csB] */
  float *C;
  int relu;
  int split; /* 0 batch, 1 M, 2 N */
} problem_t;

static float *g_bufA[THREADS_MAX], *g_bufB[THREADS_MAX];

static int ensure_buffers(int part) {
  if (g_bufA[part] == NULL && posix_memalign((void **)&g_bufA[part], 64, sizeof(float) * MC_MAX * KC_MAX) != 0) g_bufA[part] = NULL;
  if (g_bufB[part] == NULL && posix_memalign((void **)&g_bufB[part], 64, sizeof(float) * KC_MAX * NC_MAX) != 0) g_bufB[part] = NULL;
  return g_bufA[part] != NULL && g_bufB[part] != NULL;
}

/* C[m0:m1, n0:n1] of batch element b, using this part's pack buffers. */
static void block(const problem_t *P, int64_t b, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *Ap, float *Bp) {
  const kernel_t *k = P->k;
  const int mr = k->mr, nr = k->nr;
  const int64_t N = P->N, K = P->K;
  const float *A = P->A + b * P->strideA, *B = P->B + b * P->strideB;
  float *C = P->C + b * P->M * N;
  _Alignas(64) float tmp[MR_MAX * NR_MAX];

  if (P->bias != NULL || K == 0)
    for (int64_t i = m0; i < m1; i++)
      for (int64_t j = n0; j < n1; j++) C[i * N + j] = P->bias ? P->bias[j] : 0.0f;

  for (int64_t jc = n0; jc < n1; jc += k->nc) {
    const int64_t nc = n1 - jc < k->nc ? n1 - jc : k->nc;
    for (int64_t pc = 0; pc < K; pc += k->kc) {
      const int64_t kc = K - pc < k->kc ? K - pc : k->kc;
      const int accumulate = pc > 0 || P->bias != NULL;
      pack_b(kc, nc, B + pc * P->rsB + jc * P->csB, P->rsB, P->csB, nr, Bp);
      for (int64_t ic = m0; ic < m1; ic += k->mc) {
        const int64_t mc = m1 - ic < k->mc ? m1 - ic : k->mc;
        pack_a(mc, kc, A + ic * P->rsA + pc * P->csA, P->rsA, P->csA, mr, Ap);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int64_t n = nc - jr < nr ? nc - jr : nr;
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int64_t m = mc - ir < mr ? mc - ir : mr;
            float *c = C + (ic + ir) * N + jc + jr;
            if (m == mr && n == nr) {
              k->ukr(kc, Ap + ir * kc, Bp + jr * kc, c, N, accumulate);
            } else { /* edge tile: full tile into tmp, then the valid part */
              k->ukr(kc, Ap + ir * kc, Bp + jr * kc, tmp, nr, 0);
              for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                  c[i * N + j] = (accumulate ? c[i * N + j] : 0.0f) + tmp[i * nr + j];
            }
          }
        }
      }
    }
  }
  if (P->relu)
    for (int64_t i = m0; i < m1; i++)
      for (int64_t j = n0; j < n1; j++) C[i * N + j] = C[i * N + j] > 0.0f ? C[i * N + j] : 0.0f;
}

/* Part `part` of `parts`: [lo, hi) of `units` split evenly. */
static void share(int64_t units, int part, int parts, int64_t *lo, int64_t *hi) {
  *lo = units * part / parts;
  *hi = units * (part + 1) / parts;
}

static void run_part(const problem_t *P, int part, int parts) {
  float *Ap = g_bufA[part], *Bp = g_bufB[part];
  const int64_t mr = P->k->mr, nr = P->k->nr;
  int64_t lo, hi;
  if (P->split == 0) {
    share(P->batch, part, parts, &lo, &hi);
    for (int64_t b = lo; b < hi; b++) block(P, b, 0, P->M, 0, P->N, Ap, Bp);
  } else if (P->split == 1) {
    share((P->M + mr - 1) / mr, part, parts, &lo, &hi);
    const int64_t m0 = lo * mr, m1 = hi * mr < P->M ? hi * mr : P->M;
    for (int64_t b = 0; b < P->batch && m0 < m1; b++) block(P, b, m0, m1, 0, P->N, Ap, Bp);
  } else {
    share((P->N + nr - 1) / nr, part, parts, &lo, &hi);
    const int64_t n0 = lo * nr, n1 = hi * nr < P->N ? hi * nr : P->N;
    for (int64_t b = 0; b < P->batch && n0 < n1; b++) block(P, b, 0, P->M, n0, n1, Ap, Bp);
  }
}

/* One product at a time: the pack buffers and the kernel choice are the GEMM's own. */
static pthread_mutex_t g_call = PTHREAD_MUTEX_INITIALIZER;

static void part_fn(void *ctx, int part, int parts) { run_part((const problem_t *)ctx, part, parts); }

/* Runs `parts` parts of P on the pool (fewer if the pack buffers cannot be had). */
static void run_parallel(const problem_t *P, int parts) {
  for (int part = 1; part < parts; part++)
    if (!ensure_buffers(part)) {
      parts = part;
      break;
    }
  if (parts <= 1) run_part(P, 0, 1);
  else seqlab_pool_run(parts, part_fn, (void *)P);
}

void seqlab_sgemm_batch(int64_t batch, int transA, int transB, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t strideA, const float *B, int64_t strideB, float *C,
                        const float *bias, int relu) {
  if (batch < 1 || M < 1 || N < 1) return;
  pthread_mutex_lock(&g_call);
  problem_t P = {
      .k = kernel(), .batch = batch, .M = M, .N = N, .K = K, .A = A, .B = B, .bias = bias,
      .strideA = strideA, .strideB = strideB, .C = C, .relu = relu,
      .rsA = transA ? 1 : K, .csA = transA ? M : 1, .rsB = transB ? 1 : N, .csB = transB ? K : 1,
  };
  if (!ensure_buffers(0)) { /* out of memory: one plain triple loop rather than nothing */
    for (int64_t b = 0; b < batch; b++)
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          float acc = bias ? bias[j] : 0.0f;
          for (int64_t p = 0; p < K; p++)
            acc += A[b * strideA + i * P.rsA + p * P.csA] * B[b * strideB + p * P.rsB + j * P.csB];
          C[(b * M + i) * N + j] = relu && acc < 0.0f ? 0.0f : acc;
        }
    pthread_mutex_unlock(&g_call);
    return;
  }
  /* Threads pay off above ~1 MFLOP per part; small batched products split the batch. */
  const double flops = 2.0 * (double)batch * (double)M * (double)N * (double)(K > 0 ? K : 1);
  int parts = seqlab_pool_threads();
  if (flops / parts < 1e6) parts = (int)(flops / 1e6) > 1 ? (int)(flops / 1e6) : 1;
  const int64_t tilesM = (M + P.k->mr - 1) / P.k->mr, tilesN = (N + P.k->nr - 1) / P.k->nr;
  if (batch >= parts && (batch % parts == 0 || M * N < 256 * 256)) P.split = 0;
  else if (tilesM >= tilesN && tilesM >= parts) P.split = 1;
  else if (tilesN >= parts) P.split = 2;
  else if (tilesM >= parts) P.split = 1;
  else parts = 1;
  run_parallel(&P, parts);
  pthread_mutex_unlock(&g_call);
}

/* ---- the micro-kernel ---- */

const char *seqlab_gemm_kernel(int *mr, int *nr) {
  const kernel_t *k = kernel();
  *mr = k->mr, *nr = k->nr;
  return k->name;
}

int seqlab_gemm_set_kernel(const char *name) {
  int ok = 0;
  pthread_mutex_lock(&g_call);
  for (int i = 0; i < NKERNELS; i++)
    if (strcmp(KERNELS[i].name, name) == 0 && kernel_supported(&KERNELS[i])) {
      g_kernel = &KERNELS[i];
      ok = 1;
    }
  pthread_mutex_unlock(&g_call);
  return ok;
}
