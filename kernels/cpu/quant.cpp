// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Block quantisation with power-of-two scales (see kernels/quant.h for the exact rules).

#include "kernels/quant.h"

#include "kernels/formats.h"

#include "fwd_avx512.h"
#include "fwd_math.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

namespace fathom::kernels {

namespace {

template<typename Load>
void act_quant_row(Load load, int64_t k, int block, uint8_t *q, uint8_t *scale)
{
    for (int64_t b0 = 0, bi = 0; b0 < k; b0 += block, ++bi) {
        const int64_t b1 = std::min<int64_t>(k, b0 + block);
        float amax = 0.0f;
        for (int64_t i = b0; i < b1; ++i)
            amax = std::max(amax, std::fabs(load(i)));
        const uint8_t s = pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor);
        scale[bi] = s;
        const float inv = e8m0_inverse_f32(s);
        for (int64_t i = b0; i < b1; ++i)
            q[i] = f32_to_e4m3(load(i) * inv);
    }
}

// Checkpoint weights: 2^ceil(log2(amax / max)) with a true division (testdata/README.md §1.2),
// unlike the kernels' multiplication by fl32(1/max) for activations.
uint8_t weight_scale_e8m0(float amax, float max, float amax_floor)
{
    return pow2_scale_e8m0(std::max(amax, amax_floor) / max, 1.0f, 0.0f);
}

} // namespace

void act_quant_e4m3_bf16(const uint16_t *x, int64_t k, int block, uint8_t *q, uint8_t *scale)
{
    act_quant_row([x](int64_t i) { return bf16_to_f32(x[i]); }, k, block, q, scale);
}

void act_quant_e4m3_f32(const float *x, int64_t k, int block, uint8_t *q, uint8_t *scale)
{
    act_quant_row([x](int64_t i) { return x[i]; }, k, block, q, scale);
}

void fake_quant_e4m3_bf16(uint16_t *x, int64_t n, int block)
{
    for (int64_t b0 = 0; b0 < n; b0 += block) {
        const int64_t b1 = std::min<int64_t>(n, b0 + block);
        float amax = 0.0f;
        for (int64_t i = b0; i < b1; ++i)
            amax = std::max(amax, std::fabs(bf16_to_f32(x[i])));
        const uint8_t s = pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor);
        const float inv = e8m0_inverse_f32(s);
        const float sv = e8m0_to_f32(s);
        for (int64_t i = b0; i < b1; ++i)
            x[i] = f32_to_bf16(e4m3_to_f32(f32_to_e4m3(bf16_to_f32(x[i]) * inv)) * sv);
    }
}

void round_bf16_inplace(float *x, int64_t n)
{
    detail::round_bf16_inplace(x, n);
}

void fake_quant_e2m1_bf16(uint16_t *x, int64_t n, int block)
{
    for (int64_t b0 = 0; b0 < n; b0 += block) {
        const int64_t b1 = std::min<int64_t>(n, b0 + block);
        float amax = 0.0f;
        for (int64_t i = b0; i < b1; ++i)
            amax = std::max(amax, std::fabs(bf16_to_f32(x[i])));
        const uint8_t s = pow2_scale_e8m0(amax, k_e2m1_inv_max, k_e2m1_amax_floor);
        const float inv = e8m0_inverse_f32(s);
        const float sv = e8m0_to_f32(s);
        for (int64_t i = b0; i < b1; ++i)
            x[i] = f32_to_bf16(e2m1_to_f32(f32_to_e2m1(bf16_to_f32(x[i]) * inv)) * sv);
    }
}

namespace {

enum class fq_format { e4m3, e2m1 };

// The definition: each row through bf16, fake_quant_*_bf16, back to floats.
void fake_quant_rows_scalar(
    float *x, int64_t rows, int64_t row_stride, int64_t dims, int block, fq_format fmt)
{
    std::vector<uint16_t> tmp(static_cast<size_t>(dims));
    for (int64_t r = 0; r < rows; ++r) {
        float *v = x + r * row_stride;
        for (int64_t i = 0; i < dims; ++i)
            tmp[static_cast<size_t>(i)] = f32_to_bf16(v[i]);
        if (fmt == fq_format::e4m3)
            fake_quant_e4m3_bf16(tmp.data(), dims, block);
        else
            fake_quant_e2m1_bf16(tmp.data(), dims, block);
        for (int64_t i = 0; i < dims; ++i)
            v[i] = bf16_to_f32(tmp[static_cast<size_t>(i)]);
    }
}

#if FATHOM_FWD_AVX512
// The value of f32_to_e4m3(y) / f32_to_e2m1(y) (formats.h): nearest even on the format's grid,
// saturating, NaN -> NaN (e4m3) or 6 (e2m1), the sign of y kept (also on zero).
FATHOM_FWD_AVX512_TARGET inline __m512 grid_e4m3_ps(__m512 y)
{
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(y),
                                          _mm512_set1_epi32(int(0x80000000u)));
    const __m512i abits = _mm512_and_si512(_mm512_castps_si512(y), _mm512_set1_epi32(0x7FFFFFFF));
    const __m512 a = _mm512_castsi512_ps(abits);
    // Normal range: round to 3 mantissa bits (nearest even) in the bit pattern.
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(abits, 20), _mm512_set1_epi32(1));
    __m512 q = _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_add_epi32(abits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFFF))),
                         _mm512_set1_epi32(int(0xFFF00000u))));
    // Subnormals: the 2^-9 grid (the scalings are exact).
    const __m512 sub = _mm512_mul_ps(_mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(512.0f)),
                                                          _MM_FROUND_TO_NEAREST_INT
                                                              | _MM_FROUND_NO_EXC),
                                     _mm512_set1_ps(0x1p-9f));
    q = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p-6f), _CMP_LT_OQ), sub);
    q = _mm512_mask_mov_ps(q,
                           _mm512_cmp_ps_mask(a, _mm512_set1_ps(448.0f), _CMP_GE_OQ),
                           _mm512_set1_ps(448.0f));
    q = _mm512_mask_mov_ps(q,
                           _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q),
                           _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(q), sign));
}

FATHOM_FWD_AVX512_TARGET inline __m512 grid_e2m1_ps(__m512 y)
{
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(y),
                                          _mm512_set1_epi32(int(0x80000000u)));
    const __m512 a = _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(y), _mm512_set1_epi32(0x7FFFFFFF)));
    // Steps 0.5 below 2, 1 below 4, 2 above: round a / step to the nearest even integer.
    __m512 f = _mm512_set1_ps(0.5f);
    f = _mm512_mask_mov_ps(f,
                           _mm512_cmp_ps_mask(a, _mm512_set1_ps(4.0f), _CMP_LT_OQ),
                           _mm512_set1_ps(1.0f));
    f = _mm512_mask_mov_ps(f,
                           _mm512_cmp_ps_mask(a, _mm512_set1_ps(2.0f), _CMP_LT_OQ),
                           _mm512_set1_ps(2.0f));
    __m512 q = _mm512_div_ps(_mm512_roundscale_ps(_mm512_mul_ps(a, f),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                             f);
    // Saturation; min returns its second operand for NaN, so NaN gives 6 as well.
    q = _mm512_min_ps(q, _mm512_set1_ps(6.0f));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(q), sign));
}

template<fq_format Fmt>
FATHOM_FWD_AVX512_TARGET void fake_quant_rows_avx512(
    float *x, int64_t rows, int64_t row_stride, int64_t dims, int block)
{
    constexpr float inv_max = Fmt == fq_format::e4m3 ? k_e4m3_inv_max : k_e2m1_inv_max;
    constexpr float floor = Fmt == fq_format::e4m3 ? k_e4m3_amax_floor : k_e2m1_amax_floor;
    const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    for (int64_t r = 0; r < rows; ++r) {
        float *v = x + r * row_stride;
        for (int64_t b0 = 0; b0 < dims; b0 += block) {
            const int64_t b1 = std::min<int64_t>(dims, b0 + block);
            // The block through bf16 (kept in place) and its largest magnitude; max_ps returns
            // its second operand for a NaN lane, so NaN is skipped as std::max skips it.
            __m512 amax = _mm512_setzero_ps();
            for (int64_t i = b0; i < b1; i += 16) {
                const __mmask16 mk = detail::lanes16(static_cast<int>(b1 - i));
                const __m512 t = detail::round_bf16_nan_ps(_mm512_maskz_loadu_ps(mk, v + i));
                _mm512_mask_storeu_ps(v + i, mk, t);
                amax = _mm512_max_ps(_mm512_and_ps(t, abs_mask), amax);
            }
            const uint8_t s = pow2_scale_e8m0(detail::hmax_ps(amax), inv_max, floor);
            const __m512 inv = _mm512_set1_ps(e8m0_inverse_f32(s));
            const __m512 sv = _mm512_set1_ps(e8m0_to_f32(s));
            for (int64_t i = b0; i < b1; i += 16) {
                const __mmask16 mk = detail::lanes16(static_cast<int>(b1 - i));
                const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, v + i), inv);
                const __m512 q = Fmt == fq_format::e4m3 ? grid_e4m3_ps(y) : grid_e2m1_ps(y);
                // A NaN code keeps its sign through q * s also when s is NaN (a block with an
                // infinity), as the scalar product does.
                __m512 o = _mm512_mul_ps(q, sv);
                if constexpr (Fmt == fq_format::e4m3)
                    o = _mm512_mask_mov_ps(o, _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q), q);
                _mm512_mask_storeu_ps(v + i, mk, detail::round_bf16_nan_ps(o));
            }
        }
    }
}
#endif

void fake_quant_rows(
    float *x, int64_t rows, int64_t row_stride, int64_t dims, int block, fq_format fmt)
{
    if (rows <= 0 || dims <= 0 || block <= 0)
        return;
#if FATHOM_FWD_AVX512
    if (cpu_has_avx512()) {
        if (fmt == fq_format::e4m3)
            fake_quant_rows_avx512<fq_format::e4m3>(x, rows, row_stride, dims, block);
        else
            fake_quant_rows_avx512<fq_format::e2m1>(x, rows, row_stride, dims, block);
        return;
    }
#endif
    fake_quant_rows_scalar(x, rows, row_stride, dims, block, fmt);
}

} // namespace

void fake_quant_e4m3_f32_rows(float *x, int64_t rows, int64_t row_stride, int64_t dims, int block)
{
    fake_quant_rows(x, rows, row_stride, dims, block, fq_format::e4m3);
}

void fake_quant_e2m1_f32_rows(float *x, int64_t rows, int64_t row_stride, int64_t dims, int block)
{
    fake_quant_rows(x, rows, row_stride, dims, block, fq_format::e2m1);
}

void quantize_weight_e4m3(const float *w, int64_t n, int64_t k, uint8_t *q, uint8_t *scale)
{
    const int64_t nb = (n + 127) / 128, kb = (k + 127) / 128;
    for (int64_t bi = 0; bi < nb; ++bi) {
        for (int64_t bj = 0; bj < kb; ++bj) {
            const int64_t i1 = std::min(n, bi * 128 + 128), j1 = std::min(k, bj * 128 + 128);
            float amax = 0.0f;
            for (int64_t i = bi * 128; i < i1; ++i)
                for (int64_t j = bj * 128; j < j1; ++j)
                    amax = std::max(amax, std::fabs(w[i * k + j]));
            const uint8_t s = weight_scale_e8m0(amax, k_e4m3_max, k_e4m3_amax_floor);
            scale[bi * kb + bj] = s;
            const float inv = e8m0_inverse_f32(s);
            for (int64_t i = bi * 128; i < i1; ++i)
                for (int64_t j = bj * 128; j < j1; ++j)
                    q[i * k + j] = f32_to_e4m3(w[i * k + j] * inv);
        }
    }
}

namespace {

// quantize_weight_e2m1's loops; inlined into a baseline and an AVX-512 function (the same
// integer compares and float multiplies, so the same codes on both).
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
inline void
quantize_e2m1_rows(const float *w, int64_t n, int64_t k, uint8_t *packed, uint8_t *scale)
{
    // Branch-free loops the compiler vectorises (the random model writer quantises billions of
    // values here): the largest magnitude as the largest bit pattern of |x| (NaN lanes count as
    // 0, as std::max skips them), the codes by f32_to_e2m1_branchless (= f32_to_e2m1).
    const int64_t kb = k / 32;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t bj = 0; bj < kb; ++bj) {
            const float *src = w + i * k + bj * 32;
            uint32_t abits = 0;
            for (int j = 0; j < 32; ++j) {
                const uint32_t a = std::bit_cast<uint32_t>(src[j]) & 0x7FFFFFFFu;
                abits = std::max(abits, a > 0x7F800000u ? 0u : a);
            }
            const float amax = std::bit_cast<float>(abits);
            const uint8_t s = weight_scale_e8m0(amax, k_e2m1_max, k_e2m1_amax_floor);
            scale[i * kb + bj] = s;
            const float inv = e8m0_inverse_f32(s);
            uint8_t codes[32];
            for (int j = 0; j < 32; ++j)
                codes[j] = f32_to_e2m1_branchless(src[j] * inv);
            uint8_t *dst = packed + i * (k / 2) + bj * 16;
            for (int j = 0; j < 16; ++j)
                dst[j] = static_cast<uint8_t>(codes[2 * j] | (codes[2 * j + 1] << 4));
        }
    }
}

#if FATHOM_FWD_AVX512
FATHOM_FWD_AVX512_TARGET void quantize_e2m1_rows_avx512(
    const float *w, int64_t n, int64_t k, uint8_t *packed, uint8_t *scale)
{
    quantize_e2m1_rows(w, n, k, packed, scale);
}
#endif

} // namespace

void quantize_weight_e2m1(const float *w, int64_t n, int64_t k, uint8_t *packed, uint8_t *scale)
{
#if FATHOM_FWD_AVX512
    if (cpu_has_avx512())
        return quantize_e2m1_rows_avx512(w, n, k, packed, scale);
#endif
    quantize_e2m1_rows(w, n, k, packed, scale);
}

void dequantize_weight_e4m3(const uint8_t *q, const uint8_t *scale, int64_t n, int64_t k, float *out)
{
    const int64_t kb = (k + 127) / 128;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j)
            out[i * k + j] = e4m3_to_f32(q[i * k + j])
                             * e8m0_to_f32(scale[(i / 128) * kb + j / 128]);
}

void dequantize_weight_e4m3_bf16(
    const uint8_t *q, const uint8_t *scale, int64_t n, int64_t k, uint16_t *out)
{
    // The same products as e4m3_to_f32(q) * e8m0_to_f32(s) element by element, with the codes
    // from a table and the scale read once a 128-block: the per-element ldexpf calls made this
    // the bulk of a V4 model's load (wo_a of every layer, ~0.5 s a V4-Flash layer).
    float codes[256];
    for (int c = 0; c < 256; ++c)
        codes[c] = e4m3_to_f32(static_cast<uint8_t>(c));
    const int64_t kb = (k + 127) / 128;
    for (int64_t i = 0; i < n; ++i) {
        const uint8_t *row = q + i * k;
        uint16_t *o = out + i * k;
        for (int64_t b = 0; b < kb; ++b) {
            const float sc = e8m0_to_f32(scale[(i / 128) * kb + b]);
            const int64_t end = std::min(k, b * 128 + 128);
            for (int64_t j = b * 128; j < end; ++j)
                o[j] = f32_to_bf16(codes[row[j]] * sc);
        }
    }
}

void dequantize_weight_e2m1(
    const uint8_t *packed, const uint8_t *scale, int64_t n, int64_t k, float *out)
{
    const int64_t kb = k / 32;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j)
            out[i * k + j] = e2m1_to_f32(e2m1_unpack(packed + i * (k / 2), j))
                             * e8m0_to_f32(scale[i * kb + j / 32]);
}

} // namespace fathom::kernels
