// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// AVX2 inner loops of the forward-pass kernels (compiled with -mavx2 -mfma; called only when
// cpu_has_avx2_fma()). Products of two floats are exact in double, so these sums equal the
// scalar references' up to the order of double additions, far below the final fp32 rounding.

#include "fwd_math.h"

#include <immintrin.h>

namespace fathom::kernels::detail {

double dot_f64_avx2(const float *a, const float *b, int64_t n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 va = _mm256_loadu_ps(a + i), vb = _mm256_loadu_ps(b + i);
        s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(va)),
                             _mm256_cvtps_pd(_mm256_castps256_ps128(vb)),
                             s0);
        s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(va, 1)),
                             _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)),
                             s1);
    }
    s0 = _mm256_add_pd(s0, s1);
    alignas(32) double t[4];
    _mm256_store_pd(t, s0);
    double s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; ++i)
        s += static_cast<double>(a[i]) * b[i];
    return s;
}

void axpy_f64_avx2(double *acc, double alpha, const float *x, int64_t n)
{
    const __m256d va = _mm256_set1_pd(alpha);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(acc + i,
                         _mm256_fmadd_pd(va,
                                         _mm256_cvtps_pd(_mm_loadu_ps(x + i)),
                                         _mm256_loadu_pd(acc + i)));
    for (; i < n; ++i)
        acc[i] += alpha * x[i];
}

void dot_f64_heads_avx2(
    const double *qd, int64_t ldq, int heads, const float *b, int64_t n, double *out)
{
    // Per head exactly dot_f64_avx2 (a = q as float, converted once to qd): the same two
    // 4-lane accumulators over the same elements, the same reduction and tail. Four heads per
    // pass share each conversion of b.
    int h0 = 0;
    for (; h0 + 4 <= heads; h0 += 4) {
        __m256d s0[4], s1[4];
        for (int h = 0; h < 4; ++h)
            s0[h] = s1[h] = _mm256_setzero_pd();
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256 vb = _mm256_loadu_ps(b + i);
            const __m256d blo = _mm256_cvtps_pd(_mm256_castps256_ps128(vb));
            const __m256d bhi = _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1));
            for (int h = 0; h < 4; ++h) {
                const double *q = qd + (h0 + h) * ldq + i;
                s0[h] = _mm256_fmadd_pd(_mm256_loadu_pd(q), blo, s0[h]);
                s1[h] = _mm256_fmadd_pd(_mm256_loadu_pd(q + 4), bhi, s1[h]);
            }
        }
        for (int h = 0; h < 4; ++h) {
            const __m256d v = _mm256_add_pd(s0[h], s1[h]);
            alignas(32) double t[4];
            _mm256_store_pd(t, v);
            double s = (t[0] + t[1]) + (t[2] + t[3]);
            const double *q = qd + (h0 + h) * ldq;
            for (int64_t j = i; j < n; ++j)
                s += q[j] * b[j];
            out[h0 + h] = s;
        }
    }
    for (; h0 < heads; ++h0) {
        __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
        const double *q = qd + h0 * ldq;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256 vb = _mm256_loadu_ps(b + i);
            s0 = _mm256_fmadd_pd(_mm256_loadu_pd(q + i),
                                 _mm256_cvtps_pd(_mm256_castps256_ps128(vb)),
                                 s0);
            s1 = _mm256_fmadd_pd(_mm256_loadu_pd(q + i + 4),
                                 _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)),
                                 s1);
        }
        s0 = _mm256_add_pd(s0, s1);
        alignas(32) double t[4];
        _mm256_store_pd(t, s0);
        double s = (t[0] + t[1]) + (t[2] + t[3]);
        for (; i < n; ++i)
            s += q[i] * b[i];
        out[h0] = s;
    }
}

void axpy_f64_heads_avx2(
    double *acc, int64_t ldacc, const double *alpha, int heads, const float *x, int64_t n)
{
    // Element-wise the same fused multiply-add as axpy_f64_avx2 (any grouping gives the same
    // bits); x is converted once for all heads.
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256d vx = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        for (int h = 0; h < heads; ++h) {
            double *a = acc + h * ldacc + i;
            _mm256_storeu_pd(a, _mm256_fmadd_pd(_mm256_set1_pd(alpha[h]), vx, _mm256_loadu_pd(a)));
        }
    }
    if (i < n)
        for (int h = 0; h < heads; ++h)
            axpy_f64_avx2(acc + h * ldacc + i, alpha[h], x + i, n - i);
}

} // namespace fathom::kernels::detail
