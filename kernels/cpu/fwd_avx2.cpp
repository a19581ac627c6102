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

namespace {

// round_bf16 of 8 floats: nearest even, NaN -> quiet NaN with the same sign (formats.h).
inline __m256 round_bf16_8(__m256 v)
{
    const __m256i b = _mm256_castps_si256(v);
    const __m256i hi = _mm256_set1_epi32(int(0xFFFF0000u));
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    const __m256i r
        = _mm256_and_si256(_mm256_add_epi32(b, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF))),
                           hi);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7FFFFFFF)),
                                           _mm256_set1_epi32(0x7F800000));
    const __m256i q = _mm256_and_si256(_mm256_or_si256(b, _mm256_set1_epi32(0x00400000)), hi);
    return _mm256_castsi256_ps(_mm256_blendv_epi8(r, q, nan));
}

// Σ_i double(w_i · x_i) from +0 in the order i = 0..n-1 for 4 lanes (products in fp32, as
// the scalar loops compute them), returned as float.
inline __m128 sum_products_4(const float *w, const float *x, int64_t ld, int n)
{
    __m256d acc = _mm256_setzero_pd();
    for (int i = 0; i < n; ++i)
        acc = _mm256_add_pd(acc,
                            _mm256_cvtps_pd(
                                _mm_mul_ps(_mm_set1_ps(w[i]), _mm_loadu_ps(x + i * ld))));
    return _mm256_cvtpd_ps(acc);
}

} // namespace

void round_bf16_inplace_avx2(float *v, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(v + i, round_bf16_8(_mm256_loadu_ps(v + i)));
    for (; i < n; ++i)
        v[i] = round_bf16(v[i]);
}

void mhc_collapse_avx2(
    const float *x, const float *pre, int n, int64_t d, int64_t e0, int64_t e1, float *u)
{
    int64_t e = e0;
    for (; e + 8 <= e1; e += 8) {
        const __m128 lo = sum_products_4(pre, x + e, d, n);
        const __m128 hi = sum_products_4(pre, x + e + 4, d, n);
        _mm256_storeu_ps(u + e, round_bf16_8(_mm256_set_m128(hi, lo)));
    }
    for (; e < e1; ++e) {
        double acc = 0.0;
        for (int i = 0; i < n; ++i)
            acc += static_cast<double>(pre[i] * x[static_cast<int64_t>(i) * d + e]);
        u[e] = round_bf16(static_cast<float>(acc));
    }
}

void mhc_post_avx2(const float *x,
                   const float *y,
                   const float *post,
                   const float *comb,
                   int n,
                   int64_t d,
                   int64_t e0,
                   int64_t e1,
                   float *out)
{
    float col[16];
    for (int j = 0; j < n; ++j) {
        for (int i = 0; i < n; ++i)
            col[i] = comb[i * n + j];
        const __m256 pj = _mm256_set1_ps(post[j]);
        float *o = out + j * d;
        int64_t e = e0;
        for (; e + 8 <= e1; e += 8) {
            const __m128 lo = sum_products_4(col, x + e, d, n);
            const __m128 hi = sum_products_4(col, x + e + 4, d, n);
            __m256 a = _mm256_mul_ps(pj, _mm256_loadu_ps(y + e));
            // The product is rounded on its own as in the scalar loop: no fused multiply-add
            // (GCC contracts vector mul + add in C++ under -mfma).
            __asm__("" : "+x"(a));
            _mm256_storeu_ps(o + e, round_bf16_8(_mm256_add_ps(a, _mm256_set_m128(hi, lo))));
        }
        for (; e < e1; ++e) {
            double acc = 0.0;
            for (int i = 0; i < n; ++i)
                acc += static_cast<double>(col[i] * x[i * d + e]);
            const float a = post[j] * y[e];
            o[e] = round_bf16(a + static_cast<float>(acc));
        }
    }
}

} // namespace fathom::kernels::detail
