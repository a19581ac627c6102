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

} // namespace fathom::kernels::detail
