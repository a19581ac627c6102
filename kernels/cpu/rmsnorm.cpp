// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/rmsnorm.h"

#include "fwd_avx512.h"
#include "fwd_math.h"

#include <bit>

namespace fathom::kernels {

Status rmsnorm_cpu(const RmsNormParams &p)
{
    if (!p.x || !p.y || p.rows < 0 || p.dim <= 0)
        return Status::invalid("rmsnorm: bad arguments");
    const int xs = p.x_stride ? p.x_stride : p.dim;
    const int ys = p.y_stride ? p.y_stride : p.dim;
    for (int r = 0; r < p.rows; ++r) {
        const float *x = p.x + static_cast<long>(r) * xs;
        float *y = p.y + static_cast<long>(r) * ys;
        const double ss = detail::dot_f64(x, x, p.dim);
        const float var = static_cast<float>(ss / p.dim);
        const float rs = detail::rsqrt_f32(var + p.eps);
        for (int i = 0; i < p.dim; ++i) {
            const float n = x[i] * rs;
            y[i] = round_bf16(p.weight ? p.weight[i] * n : n);
        }
    }
    return Status::success();
}

namespace {

#if FATHOM_FWD_AVX512
// Σ round_bf16(v[i]²) as the scalar loop below sums it (in double, in index order), when that sum
// is exact; false where it might not be. The terms are non-negative bf16 values, multiples of
// 2^(emin - 7) for the smallest exponent emin among them, and every partial sum is at most
// dim · 2^(emax + 1); while that is below 2^53 · 2^(emin - 7) no partial sum is ever rounded, so
// any order gives the same (exact) double: here 8 lanes. Infinities and NaN take the scalar loop.
FATHOM_FWD_AVX512_TARGET bool sum_sq_bf16_exact(const float *v, int dim, double &sum)
{
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    __m512i emax = _mm512_setzero_si512(), emin = _mm512_set1_epi32(255);
    const __m512i expMask = _mm512_set1_epi32(0xFF);
    __mmask16 bad = 0;
    for (int i = 0; i < dim; i += 16) {
        const __mmask16 mk = detail::lanes16(dim - i);
        const __m512 x = _mm512_maskz_loadu_ps(mk, v + i);
        const __m512 sq = _mm512_mul_ps(x, x);
        bad |= _mm512_cmp_ps_mask(sq, sq, _CMP_UNORD_Q);
        const __m512 t = detail::round_bf16_ps(sq); // NaN lanes are caught above
        const __m512i e = _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(t), 23), expMask);
        emax = _mm512_max_epi32(emax, e);
        // Zero terms add nothing; subnormal ones (field 0) share the grid of field 1.
        const __mmask16 nz = _mm512_mask_cmpneq_epi32_mask(mk,
                                                           _mm512_castps_si512(t),
                                                           _mm512_setzero_si512());
        emin = _mm512_mask_min_epi32(emin, nz, emin, _mm512_max_epi32(e, _mm512_set1_epi32(1)));
        acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(t)));
        acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(t, 1)));
    }
    const int hi = _mm512_reduce_max_epi32(emax), lo = _mm512_reduce_min_epi32(emin);
    if (bad || hi == 255) // NaN, or an infinity (also from the rounding)
        return false;
    if (hi == 0 && lo == 255) { // every term zero
        sum = 0.0;
        return true;
    }
    // dim · 2^(emax + 1) <= 2^(53 + emin - 7)  <=>  emax - emin + 1 + ceil(log2 dim) <= 46.
    const int logDim = std::bit_width(static_cast<unsigned>(dim - 1));
    if (hi - lo + 1 + logDim > 46)
        return false;
    sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
    return true;
}

// v[i] = round_bf16(v[i] * rs), NaN as formats.h rounds it.
FATHOM_FWD_AVX512_TARGET void scale_round_bf16(float *v, int dim, float rs)
{
    const __m512 s = _mm512_set1_ps(rs);
    for (int i = 0; i < dim; i += 16) {
        const __mmask16 mk = detail::lanes16(dim - i);
        _mm512_mask_storeu_ps(v + i,
                              mk,
                              detail::round_bf16_nan_ps(
                                  _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, v + i), s)));
    }
}
#endif

} // namespace

Status head_rmsnorm_bf16_cpu(float *x, int rows, int dim, float eps)
{
    if (!x || rows < 0 || dim <= 0)
        return Status::invalid("head_rmsnorm_bf16: bad arguments");
#if FATHOM_FWD_AVX512
    const bool avx512 = cpu_has_avx512();
#endif
    for (int r = 0; r < rows; ++r) {
        float *v = x + static_cast<long>(r) * dim;
        double s = 0.0;
#if FATHOM_FWD_AVX512
        if (avx512 && sum_sq_bf16_exact(v, dim, s)) {
            const float mean = round_bf16(static_cast<float>(s / dim));
            const float var = round_bf16(mean + eps);
            const float rs = round_bf16(detail::rsqrt_f32(var));
            scale_round_bf16(v, dim, rs);
            continue;
        }
#endif
        for (int i = 0; i < dim; ++i)
            s += round_bf16(v[i] * v[i]);
        const float mean = round_bf16(static_cast<float>(s / dim));
        const float var = round_bf16(mean + eps);
        const float rs = round_bf16(detail::rsqrt_f32(var));
        for (int i = 0; i < dim; ++i)
            v[i] = round_bf16(v[i] * rs);
    }
    return Status::success();
}

} // namespace fathom::kernels
