/*
 * Vector math the element-wise, softmax and decay kernels share: AVX2+FMA exp, erf and GELU on eight
 * lanes, compiled with target attributes so one binary runs on every x86-64 (the callers check
 * seqlab_use_avx2() before calling them). The scalar forms (libm) are the references they follow.
 */
#ifndef SEQLAB_VECMATH_H
#define SEQLAB_VECMATH_H

#include "seqlab.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SEQLAB_X86 1
#define AVX2 __attribute__((target("avx2,fma")))

/* exp(x): x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial for e^r, times 2^n. Exact 0
 * below -87.3 (denormals flushed; exp(-1e4) must be exactly 0), +inf above 88.7, NaN kept. */
AVX2 static inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447505531f);
  const __m256 big = _mm256_cmp_ps(x, hi, _CMP_GT_OQ), small = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), small);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), big);
  return _mm256_blendv_ps(y, x, nan);
}

/* erf(x) as x P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf is +-1 in float32 beyond): the
 * rational approximation of Eigen's and XLA's float erf, within 2e-7 of erf for |x| < 1 and 4.2e-7
 * (7 ulps, near |x| = 3.3) everywhere; libm's erff costs ~10 ns an element. NaN kept. */
AVX2 static inline __m256 erf8(__m256 x) {
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
  const __m256 x2 = _mm256_mul_ps(xc, xc);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
  p = _mm256_mul_ps(xc, p);
  __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
  return _mm256_blendv_ps(_mm256_div_ps(p, q), x, nan);
}

/* GELU(x) = x (erf(x / sqrt 2) + 1) / 2 in the tensor form's order, and its derivative. */
AVX2 static inline __m256 gelu8(__m256 x) {
  const __m256 e = erf8(_mm256_mul_ps(x, _mm256_set1_ps((float)M_SQRT1_2)));
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_add_ps(e, _mm256_set1_ps(1.0f))), _mm256_set1_ps(0.5f));
}
AVX2 static inline __m256 gelu_grad8(__m256 x) {
  const __m256 cdf = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(_mm256_set1_ps(1.0f), erf8(_mm256_mul_ps(x, _mm256_set1_ps((float)M_SQRT1_2)))));
  const __m256 pdf = _mm256_mul_ps(exp8(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(x, x))), _mm256_set1_ps(0.3989422804014327f));
  return _mm256_fmadd_ps(x, pdf, cdf);
}

/* y[0:n'] = exp(x[0:n']) for the largest multiple n' of 8 in n; returns n' (the caller does the tail). */
AVX2 static inline int64_t exp_avx2(const float *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
  return i;
}

#endif

#endif
