// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR inner loops with AVX-512 (F, BW, VL; compiled with FATHOM_AVX512_FLAGS, called only
// after cpu_has_avx512()). Same arithmetic as the AVX2 kernels in linear_avx2.cpp, twice as wide:
// on cores with full-width 512-bit units (AMD Zen 5, recent Intel) the compute-bound FP8 and BF16
// batch-1 kernels and the exact GEMM need half the instructions per weight. The results are the
// same bits (exact block sums, see linear_internal.h).

#include "fwd_math.h"
#include "kernels/formats.h"
#include "linear_internal.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace fathom::kernels {

namespace {

inline double hsum_pd512(__m512d v)
{
    return _mm512_reduce_add_pd(v);
}

// 16 bf16 weights widened to fp32.
inline __m512 bf16x16_to_ps(const uint16_t *p)
{
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template<int MR>
void gemm_tile512(
    const double *x, int64_t ldx, const double *panel, int64_t k, int64_t block, float out[][8])
{
    __m256 acc[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
        acc[r] = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < k; b0 += block) {
        const int64_t b1 = std::min(k, b0 + block);
        __m512d c[MR];
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r)
            c[r] = _mm512_setzero_pd();
        const double *wp = panel + b0 * 8;
        const double *xp = x + b0;
        for (int64_t kk = b0; kk < b1; ++kk, wp += 8, ++xp) {
            const __m512d w = _mm512_load_pd(wp);
#pragma GCC unroll 16
            for (int r = 0; r < MR; ++r)
                c[r] = _mm512_fmadd_pd(_mm512_set1_pd(xp[r * ldx]), w, c[r]);
        }
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r)
            acc[r] = _mm256_add_ps(acc[r], _mm512_cvtpd_ps(c[r]));
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
        _mm256_storeu_ps(out[r], acc[r]);
}

} // namespace

float dot_bf16_f64_avx512(const double *x, const uint16_t *w, int64_t k)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd(), a2 = _mm512_setzero_pd(),
            a3 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        const __m512 w0 = bf16x16_to_ps(w + i), w1 = bf16x16_to_ps(w + i + 16);
        a0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(w0)),
                             _mm512_loadu_pd(x + i),
                             a0);
        a1 = _mm512_fmadd_pd(_mm512_cvtps_pd(
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w0), 1))),
                             _mm512_loadu_pd(x + i + 8),
                             a1);
        a2 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(w1)),
                             _mm512_loadu_pd(x + i + 16),
                             a2);
        a3 = _mm512_fmadd_pd(_mm512_cvtps_pd(
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w1), 1))),
                             _mm512_loadu_pd(x + i + 24),
                             a3);
    }
    double s = hsum_pd512(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
    for (; i < k; ++i)
        s += x[i] * static_cast<double>(bf16_to_f32(w[i]));
    return static_cast<float>(s);
}

void dot4_bf16_f64_avx512(const double *x, const uint16_t *w, int64_t ldw, int64_t k, float out[4])
{
    // Four weight rows against one x: each row's arithmetic is exactly dot_bf16_f64_avx512's
    // (same accumulators, same reduction), but every x load feeds four rows and the four
    // weight streams (plus a prefetch of the next four rows) keep more loads in flight.
    __m512d a[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r)
        a[r][0] = a[r][1] = a[r][2] = a[r][3] = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        const __m512d x0 = _mm512_loadu_pd(x + i), x1 = _mm512_loadu_pd(x + i + 8),
                      x2 = _mm512_loadu_pd(x + i + 16), x3 = _mm512_loadu_pd(x + i + 24);
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) {
            const uint16_t *wr = w + r * ldw + i;
            _mm_prefetch(reinterpret_cast<const char *>(wr + 4 * ldw), _MM_HINT_T0);
            const __m512 w0 = bf16x16_to_ps(wr), w1 = bf16x16_to_ps(wr + 16);
            a[r][0] = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(w0)), x0, a[r][0]);
            a[r][1] = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_castpd_ps(
                                          _mm512_extractf64x4_pd(_mm512_castps_pd(w0), 1))),
                                      x1,
                                      a[r][1]);
            a[r][2] = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(w1)), x2, a[r][2]);
            a[r][3] = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_castpd_ps(
                                          _mm512_extractf64x4_pd(_mm512_castps_pd(w1), 1))),
                                      x3,
                                      a[r][3]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
        double s = hsum_pd512(
            _mm512_add_pd(_mm512_add_pd(a[r][0], a[r][1]), _mm512_add_pd(a[r][2], a[r][3])));
        for (int64_t t = i; t < k; ++t)
            s += x[t] * static_cast<double>(bf16_to_f32(w[r * ldw + t]));
        out[r] = static_cast<float>(s);
    }
}

float dot_fp8_fused_avx512(
    const float *xq, const uint8_t *xsa, const uint8_t *w, const uint8_t *ws, int64_t k)
{
    // e4m3 -> fp16 bits of value * 2^-8 (see linear_avx2.cpp), 32 codes per step.
    const __m512i mask = _mm512_set1_epi16(static_cast<short>(0xBF80));
    float acc = 0.0f;
    for (int64_t b0 = 0, b = 0; b0 < k; b0 += 128, ++b) {
        const int64_t b1 = std::min<int64_t>(k, b0 + 128);
        __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd(), a2 = _mm512_setzero_pd(),
                a3 = _mm512_setzero_pd();
        int64_t i = b0;
        for (; i + 32 <= b1; i += 32) {
            const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + i));
            const __m512i h = _mm512_and_si512(_mm512_slli_epi16(_mm512_cvtepi8_epi16(bytes), 7),
                                               mask);
            const __m512 pl = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(h)),
                                            _mm512_loadu_ps(xq + i));
            const __m512 ph = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1)),
                                            _mm512_loadu_ps(xq + i + 16));
            a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(pl)));
            a1 = _mm512_add_pd(a1,
                               _mm512_cvtps_pd(_mm256_castpd_ps(
                                   _mm512_extractf64x4_pd(_mm512_castps_pd(pl), 1))));
            a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm512_castps512_ps256(ph)));
            a3 = _mm512_add_pd(a3,
                               _mm512_cvtps_pd(_mm256_castpd_ps(
                                   _mm512_extractf64x4_pd(_mm512_castps_pd(ph), 1))));
        }
        double s = hsum_pd512(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
        for (; i < b1; ++i)
            s += static_cast<double>(e4m3_to_f32(w[i]) * 0x1p-8f) * static_cast<double>(xq[i]);
        // s is the exact block sum times 2^-8 (a multiple of 2^-26: never subnormal).
        const float block = static_cast<float>(s) * 256.0f;
        acc = acc + block * (e8m0_to_f32(xsa[b]) * e8m0_to_f32(ws[b]));
    }
    return acc;
}

namespace detail {

void dot_f64_heads_avx512(
    const double *qd, int64_t ldq, int heads, const float *b, int64_t n, double *out)
{
    // Lane l of a head's accumulator sums elements i + l (i a multiple of 8): lanes 0-3 are
    // dot_f64_avx2's first 4-lane accumulator and lanes 4-7 its second, with the same fused
    // multiply-adds in the same order; the final reduction below is its (lo + hi), then
    // (t0 + t1) + (t2 + t3), then the tail. So every head gets dot_f64_avx2's bits.
    for (int h0 = 0; h0 < heads; h0 += 8) {
        const int nh = std::min(8, heads - h0);
        __m512d s[8];
        for (int h = 0; h < 8; ++h)
            s[h] = _mm512_setzero_pd();
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m512d vb = _mm512_cvtps_pd(_mm256_loadu_ps(b + i));
#pragma GCC unroll 8
            for (int h = 0; h < 8; ++h)
                if (h < nh)
                    s[h] = _mm512_fmadd_pd(_mm512_loadu_pd(qd + (h0 + h) * ldq + i), vb, s[h]);
        }
        for (int h = 0; h < nh; ++h) {
            const __m256d v = _mm256_add_pd(_mm512_castpd512_pd256(s[h]),
                                            _mm512_extractf64x4_pd(s[h], 1));
            alignas(32) double t[4];
            _mm256_store_pd(t, v);
            double r = (t[0] + t[1]) + (t[2] + t[3]);
            const double *q = qd + (h0 + h) * ldq;
            for (int64_t j = i; j < n; ++j)
                r += q[j] * b[j];
            out[h0 + h] = r;
        }
    }
}

void axpy_f64_heads_avx512(
    double *acc, int64_t ldacc, const double *alpha, int heads, const float *x, int64_t n)
{
    // Element-wise fused multiply-adds: the same bits as axpy_f64_avx2 for any vector width.
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512d vx = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        for (int h = 0; h < heads; ++h) {
            double *a = acc + h * ldacc + i;
            _mm512_storeu_pd(a, _mm512_fmadd_pd(_mm512_set1_pd(alpha[h]), vx, _mm512_loadu_pd(a)));
        }
    }
    if (i < n) // the AVX2 loop itself for the rest: its own instructions per element
        for (int h = 0; h < heads; ++h)
            axpy_f64_avx2(acc + h * ldacc + i, alpha[h], x + i, n - i);
}

} // namespace detail

void gemm_rows_avx512(const double *x,
                      int64_t ldx,
                      int mr,
                      const double *panel,
                      int64_t k,
                      int64_t block,
                      float out[][8])
{
    switch (mr) {
    case 12:
        return gemm_tile512<12>(x, ldx, panel, k, block, out);
    case 11:
        return gemm_tile512<11>(x, ldx, panel, k, block, out);
    case 10:
        return gemm_tile512<10>(x, ldx, panel, k, block, out);
    case 9:
        return gemm_tile512<9>(x, ldx, panel, k, block, out);
    case 8:
        return gemm_tile512<8>(x, ldx, panel, k, block, out);
    case 7:
        return gemm_tile512<7>(x, ldx, panel, k, block, out);
    case 6:
        return gemm_tile512<6>(x, ldx, panel, k, block, out);
    case 5:
        return gemm_tile512<5>(x, ldx, panel, k, block, out);
    case 4:
        return gemm_tile512<4>(x, ldx, panel, k, block, out);
    case 3:
        return gemm_tile512<3>(x, ldx, panel, k, block, out);
    case 2:
        return gemm_tile512<2>(x, ldx, panel, k, block, out);
    case 1:
        return gemm_tile512<1>(x, ldx, panel, k, block, out);
    default:
        return;
    }
}

} // namespace fathom::kernels
