// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR and row conversions with AVX2 + FMA + F16C (compiled with FATHOM_AVX2_FLAGS; called
// only after cpu_has_avx2_fma()).
//
// Weight decoding:
// - e4m3 -> fp32 through fp16: sign-extend the byte to 16 bits, shift left by 7 and clear bit 14;
//   the result is the fp16 with the same exponent and mantissa fields, i.e. value * 2^-8 (normals
//   and subnormals alike, fp16 has the wider range), converted exactly by vcvtph2ps. The 2^8 is
//   folded into the block scale.
// - e2m1 -> fp32: nibbles through a pshufb table of 2 * value as int8, then int -> float; the 1/2
//   is folded into the scale.
// Per output column a weight row is decoded once into an L1-resident fp32 buffer and reused for
// every row of x. Exact mode sums the (exact) fp32 products in 4-lane double accumulators per
// block (exact, so order-free) and rounds each block once; fp32 mode is a plain FMA dot product.

#include "kernels/formats.h"
#include "linear_internal.h"

#include <immintrin.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

namespace fathom::kernels {

void bf16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i));
        const __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
    }
    for (; i < n; ++i)
        dst[i] = bf16_to_f32(src[i]);
}

void f32_to_bf16_row_avx2(const float *src, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
    const __m256i bias = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1);
    const __m256i expmask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
    for (; i + 8 <= n; i += 8) {
        const __m256i b = _mm256_castps_si256(_mm256_loadu_ps(src + i));
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, expmask), inf);
        __m256i r = _mm256_add_epi32(b,
                                     _mm256_add_epi32(bias,
                                                      _mm256_and_si256(_mm256_srli_epi32(b, 16),
                                                                       one)));
        r = _mm256_srli_epi32(r, 16);
        const __m256i q = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
        r = _mm256_blendv_epi8(r, q, nan);
        // pack 8 x u32 (< 65536) to u16
        const __m128i lo = _mm256_castsi256_si128(r), hi = _mm256_extracti128_si256(r, 1);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), _mm_packus_epi32(lo, hi));
    }
    for (; i < n; ++i)
        dst[i] = f32_to_bf16(src[i]);
}

float amax_avx2(const float *x, int64_t n)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) // maxps returns its second operand when either is NaN
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), absmask), m);
    alignas(32) float t[8];
    _mm256_store_ps(t, m);
    float amax = 0.0f;
    for (float v : t)
        amax = std::max(amax, v);
    for (; i < n; ++i)
        amax = std::max(amax, std::fabs(x[i]));
    return amax;
}

void act_quant_block_avx2(float *x, int64_t n, float inv, float sv, float *xq, int32_t *xi)
{
    const __m256 vinv = _mm256_set1_ps(inv), vsv = _mm256_set1_ps(sv);
    const __m256i absmask = _mm256_set1_epi32(0x7FFFFFFF), signmask = _mm256_set1_epi32(INT32_MIN);
    const __m256 maxv = _mm256_set1_ps(448.0f), subn = _mm256_set1_ps(0x1p-6f);
    const __m256 c512 = _mm256_set1_ps(512.0f), inv512 = _mm256_set1_ps(0x1p-9f);
    const __m256i rnd = _mm256_set1_epi32(0x7FFFF), one = _mm256_set1_epi32(1);
    const __m256i keep = _mm256_set1_epi32(static_cast<int>(0xFFF00000u));
    const __m256 nanv = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000));
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i b = _mm256_castps_si256(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
        const __m256i sign = _mm256_and_si256(b, signmask);
        const __m256i ab = _mm256_and_si256(b, absmask);
        const __m256 a = _mm256_castsi256_ps(ab);
        // Normal e4m3 range: round to nearest even at 3 mantissa bits on the bit pattern.
        __m256i nb = _mm256_add_epi32(ab,
                                      _mm256_add_epi32(rnd,
                                                       _mm256_and_si256(_mm256_srli_epi32(ab, 20),
                                                                        one)));
        __m256 q = _mm256_castsi256_ps(_mm256_and_si256(nb, keep));
        // Subnormal grid 2^-9 (a < 2^-6): exact scaling, round half to even.
        const __m256 qs = _mm256_mul_ps(_mm256_round_ps(_mm256_mul_ps(a, c512),
                                                        _MM_FROUND_TO_NEAREST_INT
                                                            | _MM_FROUND_NO_EXC),
                                        inv512);
        q = _mm256_blendv_ps(q, qs, _mm256_cmp_ps(a, subn, _CMP_LT_OQ));
        q = _mm256_blendv_ps(q, maxv, _mm256_cmp_ps(a, maxv, _CMP_GE_OQ)); // saturate (and inf)
        q = _mm256_blendv_ps(q, nanv, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));  // NaN stays NaN
        q = _mm256_or_ps(q, _mm256_castsi256_ps(sign));
        if (xq)
            _mm256_storeu_ps(xq + i, q);
        if (xi)
            _mm256_storeu_si256(reinterpret_cast<__m256i *>(xi + i),
                                _mm256_cvttps_epi32(_mm256_mul_ps(q, c512)));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(q, vsv));
    }
    for (; i < n; ++i) {
        const float q = e4m3_to_f32(f32_to_e4m3(x[i] * inv));
        if (xi)
            xi[i] = static_cast<int32_t>(q * 512.0f);
        if (xq)
            xq[i] = q;
        x[i] = q * sv;
    }
}

namespace {

inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

void decode_row_avx2(const linear_params &p, int64_t j, float *out)
{
    const int64_t k = p.k;
    switch (p.w_type) {
    case linear_weight_type::bf16:
        bf16_to_f32_row_avx2(static_cast<const uint16_t *>(p.w) + j * k, out, k);
        break;
    case linear_weight_type::f32:
        std::copy_n(static_cast<const float *>(p.w) + j * k, k, out);
        break;
    case linear_weight_type::fp8_e4m3: {
        const uint8_t *w = static_cast<const uint8_t *>(p.w) + j * k;
        const int64_t kb = (k + 127) / 128;
        const __m256i mask = _mm256_set1_epi16(static_cast<short>(0xBF80));
        for (int64_t b = 0; b < kb; ++b) {
            const uint8_t sb = p.w_scale[(j / 128) * kb + b];
            const float s = e8m0_to_f32(sb);
            const __m256 vs = _mm256_set1_ps(s * 256.0f);
            const int64_t i1 = std::min<int64_t>(k, b * 128 + 128);
            int64_t i = b * 128;
            for (; i + 16 <= i1; i += 16) {
                const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + i));
                const __m256i h = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(bytes), 7),
                                                   mask);
                const __m256 lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
                const __m256 hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
                _mm256_storeu_ps(out + i, _mm256_mul_ps(lo, vs));
                _mm256_storeu_ps(out + i + 8, _mm256_mul_ps(hi, vs));
            }
            for (; i < i1; ++i)
                out[i] = e4m3_to_f32(w[i]) * s;
        }
        break;
    }
    case linear_weight_type::fp4_e2m1: {
        const uint8_t *w = static_cast<const uint8_t *>(p.w) + j * (k / 2);
        const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
        const __m128i low4 = _mm_set1_epi8(0x0F);
        for (int64_t b = 0; b < k / 32; ++b) {
            const float s = e8m0_to_f32(p.w_scale[j * (k / 32) + b]) * 0.5f;
            const __m256 vs = _mm256_set1_ps(s);
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + b * 16));
            const __m128i lo = _mm_and_si128(bytes, low4);
            const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
            const __m128i v0 = _mm_shuffle_epi8(lut, _mm_unpacklo_epi8(lo, hi)); // elements 0..15
            const __m128i v1 = _mm_shuffle_epi8(lut, _mm_unpackhi_epi8(lo, hi)); // 16..31
            float *o = out + b * 32;
            _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v0)), vs));
            _mm256_storeu_ps(o + 8,
                             _mm256_mul_ps(_mm256_cvtepi32_ps(
                                               _mm256_cvtepi8_epi32(_mm_srli_si128(v0, 8))),
                                           vs));
            _mm256_storeu_ps(o + 16,
                             _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v1)), vs));
            _mm256_storeu_ps(o + 24,
                             _mm256_mul_ps(_mm256_cvtepi32_ps(
                                               _mm256_cvtepi8_epi32(_mm_srli_si128(v1, 8))),
                                           vs));
        }
        break;
    }
    }
}

// Exact block sum of x[i] * w[i], i in [0, len): products exact in fp32 (both operands have at
// most 8 significant bits) or, with f32 operands, formed in double.
template<bool ProductsExactInF32>
inline double block_dot_exact(const float *x, const float *w, int64_t len)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i), wv = _mm256_loadu_ps(w + i);
        if constexpr (ProductsExactInF32) {
            const __m256 pr = _mm256_mul_ps(xv, wv);
            a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(pr)));
            a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(pr, 1)));
        } else {
            a0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xv)),
                                 _mm256_cvtps_pd(_mm256_castps256_ps128(wv)),
                                 a0);
            a1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)),
                                 _mm256_cvtps_pd(_mm256_extractf128_ps(wv, 1)),
                                 a1);
        }
    }
    double s = hsum_pd(_mm256_add_pd(a0, a1));
    for (; i < len; ++i)
        s += static_cast<double>(x[i]) * static_cast<double>(w[i]);
    return s;
}

template<bool ProductsExactInF32>
float dot_exact(const float *x, const float *w, int64_t k, int64_t block)
{
    float acc = 0.0f;
    for (int64_t b0 = 0; b0 < k; b0 += block)
        acc += static_cast<float>(
            block_dot_exact<ProductsExactInF32>(x + b0, w + b0, std::min(block, k - b0)));
    return acc;
}

float dot_fp32(const float *x, const float *w, int64_t k)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
           a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(w + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(w + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(w + i + 24), a3);
    }
    for (; i + 8 <= k; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), a0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < k; ++i)
        s = std::fma(x[i], w[i], s);
    return s;
}

// fp32 mode, 4 rows of x against one weight row: shares the weight loads.
void dot_fp32_x4(const float *x, int64_t ldx, const float *w, int64_t k, float *out)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
           a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 wv = _mm256_loadu_ps(w + i);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), wv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + ldx + i), wv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 2 * ldx + i), wv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 3 * ldx + i), wv, a3);
    }
    out[0] = hsum_ps(a0);
    out[1] = hsum_ps(a1);
    out[2] = hsum_ps(a2);
    out[3] = hsum_ps(a3);
    for (; i < k; ++i)
        for (int r = 0; r < 4; ++r)
            out[r] = std::fma(x[r * ldx + i], w[i], out[r]);
}

inline int32_t hsum_epi32(__m256i v)
{
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    return _mm_cvtsi128_si32(t);
}

// FP4 x act-quantised row, fused and exact in integers: X = code value * 512 (|X| <= 448 * 512)
// times W = 2 * e2m1 value (|W| <= 12); a 32-block sum stays below 2^27, so int32 is exact and
// one int -> float conversion is the single rounding of the exact block sum (times 2^10).
float dot_fp4_fused(
    const int32_t *x, const uint8_t *xsa, const uint8_t *w, const uint8_t *ws, int64_t k)
{
    const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    const __m128i low4 = _mm_set1_epi8(0x0F);
    float acc = 0.0f;
    for (int64_t b = 0; b < k / 32; ++b) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + b * 16));
        const __m128i lo = _mm_and_si128(bytes, low4);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
        const __m128i v0 = _mm_shuffle_epi8(lut, _mm_unpacklo_epi8(lo, hi));
        const __m128i v1 = _mm_shuffle_epi8(lut, _mm_unpackhi_epi8(lo, hi));
        const int32_t *xb = x + b * 32;
        __m256i s = _mm256_mullo_epi32(_mm256_cvtepi8_epi32(v0),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb)));
        s = _mm256_add_epi32(s,
                             _mm256_mullo_epi32(_mm256_cvtepi8_epi32(_mm_srli_si128(v0, 8)),
                                                _mm256_loadu_si256(
                                                    reinterpret_cast<const __m256i *>(xb + 8))));
        s = _mm256_add_epi32(s,
                             _mm256_mullo_epi32(_mm256_cvtepi8_epi32(v1),
                                                _mm256_loadu_si256(
                                                    reinterpret_cast<const __m256i *>(xb + 16))));
        s = _mm256_add_epi32(s,
                             _mm256_mullo_epi32(_mm256_cvtepi8_epi32(_mm_srli_si128(v1, 8)),
                                                _mm256_loadu_si256(
                                                    reinterpret_cast<const __m256i *>(xb + 24))));
        const float block = static_cast<float>(hsum_epi32(s)) * 0x1p-10f; // exact scaling
        acc = acc + block * (e8m0_to_f32(xsa[b / 4]) * e8m0_to_f32(ws[b]));
    }
    return acc;
}

// FP4 x act-quantised row, batch 1, exact in integers with byte multiplies: per 32-block the
// e2m1 codes become 2 * value as int8 (pshufb), take the sign of x, and multiply the bytes of |X|
// (X = code value * 512, < 2^18: three bytes, x4 layout of linear_internal.h) with vpmaddubsw.
// Pair sums stay below 2 * 255 * 12 (no saturation); d1 + 256 * d2 partial sums below 2^15.
// The block sum (< 2^27) is exact in int32 and converted once (the reference's single rounding);
// eight blocks are reduced together and then accumulated in k order as in dot_fp4_fused.
[[gnu::noinline]] float dot_fp4_bytes(
    const uint8_t *x4, const uint8_t *xsa, const uint8_t *w, const uint8_t *ws, int64_t k)
{
    const __m256i lut = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12));
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i shifts = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
    const __m256i ones = _mm256_set1_epi16(1), c256 = _mm256_set1_epi16(256);
    const int64_t nb = k / 32;
    float acc = 0.0f;
    alignas(32) int32_t sums[8];
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int cnt = static_cast<int>(std::min<int64_t>(8, nb - b0));
        __m256i t[8];
        for (int i = 0; i < 8; ++i) {
            if (i >= cnt) {
                t[i] = _mm256_setzero_si256();
                continue;
            }
            const int64_t b = b0 + i;
            const uint8_t *xb = x4 + b * 128;
            const __m256i bytes = _mm256_broadcastsi128_si256(
                _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + b * 16)));
            const __m256i codes = _mm256_and_si256(_mm256_srlv_epi32(bytes, shifts), low4);
            const __m256i wv = _mm256_sign_epi8(_mm256_shuffle_epi8(lut, codes),
                                                _mm256_loadu_si256(
                                                    reinterpret_cast<const __m256i *>(xb + 96)));
            const __m256i p0 = _mm256_maddubs_epi16(_mm256_loadu_si256(
                                                        reinterpret_cast<const __m256i *>(xb)),
                                                    wv);
            const __m256i p1 = _mm256_maddubs_epi16(_mm256_loadu_si256(
                                                        reinterpret_cast<const __m256i *>(xb + 32)),
                                                    wv);
            const __m256i p2 = _mm256_maddubs_epi16(_mm256_loadu_si256(
                                                        reinterpret_cast<const __m256i *>(xb + 64)),
                                                    wv);
            const __m256i q = _mm256_add_epi16(p1, _mm256_slli_epi16(p2, 8));
            t[i] = _mm256_add_epi32(_mm256_madd_epi16(p0, ones), _mm256_madd_epi16(q, c256));
        }
        const __m256i h01 = _mm256_hadd_epi32(t[0], t[1]), h23 = _mm256_hadd_epi32(t[2], t[3]);
        const __m256i h45 = _mm256_hadd_epi32(t[4], t[5]), h67 = _mm256_hadd_epi32(t[6], t[7]);
        const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
        const __m128i s0 = _mm_add_epi32(_mm256_castsi256_si128(h0123),
                                         _mm256_extracti128_si256(h0123, 1));
        const __m128i s1 = _mm_add_epi32(_mm256_castsi256_si128(h4567),
                                         _mm256_extracti128_si256(h4567, 1));
        const __m256i isum = _mm256_set_m128i(s1, s0);
        if (cnt == 8) {
            // Scales of the eight blocks as fp32 in one go: e8m0 byte b in 1..254 is the float
            // with exponent field b; bytes 0 and 255 (subnormal 2^-127, NaN) take the scalar path.
            const __m128i wsb = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(ws + b0));
            const __m128i special = _mm_or_si128(_mm_cmpeq_epi8(wsb, _mm_setzero_si128()),
                                                 _mm_cmpeq_epi8(wsb, _mm_set1_epi8(-1)));
            const uint8_t a0 = xsa[b0 / 4], a1 = xsa[b0 / 4 + 1];
            if ((_mm_movemask_epi8(special) & 0xFF) == 0 && a0 != 0 && a0 != 255 && a1 != 0
                && a1 != 255) {
                const __m256 sw = _mm256_castsi256_ps(
                    _mm256_slli_epi32(_mm256_cvtepu8_epi32(wsb), 23));
                const __m256 sa = _mm256_set_m128(_mm_set1_ps(e8m0_to_f32(a1)),
                                                  _mm_set1_ps(e8m0_to_f32(a0)));
                // Same operations as below: fl32(sum) * 2^-10 (exact), times fl32(sA * sW).
                const __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum),
                                                             _mm256_set1_ps(0x1p-10f)),
                                               _mm256_mul_ps(sa, sw));
                alignas(32) float vals[8];
                _mm256_store_ps(vals, v);
                for (float val : vals) // in k order: the reference's fp32 accumulation
                    acc = acc + val;
                continue;
            }
        }
        _mm256_store_si256(reinterpret_cast<__m256i *>(sums), isum);
        for (int i = 0; i < cnt; ++i) {
            const int64_t b = b0 + i;
            const float block = static_cast<float>(sums[i]) * 0x1p-10f; // exact scaling
            acc = acc + block * (e8m0_to_f32(xsa[b / 4]) * e8m0_to_f32(ws[b]));
        }
    }
    return acc;
}

// FP8 x act-quantised row, fused: e4m3 weights decoded through fp16 (value * 2^-8), products
// with the code values exact in fp32, summed exactly in double per 128-block, rounded once.
[[gnu::noinline]] float dot_fp8_fused(
    const float *xq, const uint8_t *xsa, const uint8_t *w, const uint8_t *ws, int64_t k)
{
    const __m256i mask = _mm256_set1_epi16(static_cast<short>(0xBF80));
    float acc = 0.0f;
    for (int64_t b0 = 0, b = 0; b0 < k; b0 += 128, ++b) {
        const int64_t b1 = std::min<int64_t>(k, b0 + 128);
        __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(),
                a3 = _mm256_setzero_pd();
        int64_t i = b0;
        for (; i + 16 <= b1; i += 16) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + i));
            const __m256i h = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(bytes), 7),
                                               mask);
            const __m256 pl = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)),
                                            _mm256_loadu_ps(xq + i));
            const __m256 ph = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)),
                                            _mm256_loadu_ps(xq + i + 8));
            a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(pl)));
            a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(pl, 1)));
            a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(ph)));
            a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(ph, 1)));
        }
        double s = hsum_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
        for (; i < b1; ++i)
            s += static_cast<double>(e4m3_to_f32(w[i]) * 0x1p-8f) * static_cast<double>(xq[i]);
        // s is the exact block sum times 2^-8 (a multiple of 2^-26: never subnormal).
        const float block = static_cast<float>(s) * 256.0f;
        acc = acc + block * (e8m0_to_f32(xsa[b]) * e8m0_to_f32(ws[b]));
    }
    return acc;
}

inline __m256 bf16x8_to_ps(const uint16_t *p)
{
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// BF16 weight row x bf16-valued x row, fused (no fp32 row buffer). Exact: bf16 x bf16 products are
// exact in fp32 and summed exactly in double; fp32 mode: FMA.
float dot_bf16_fused(const float *x, const uint16_t *w, int64_t k, bool exact)
{
    int64_t i = 0;
    if (exact) {
        __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(),
                a3 = _mm256_setzero_pd();
        for (; i + 16 <= k; i += 16) {
            const __m256 p0 = _mm256_mul_ps(bf16x8_to_ps(w + i), _mm256_loadu_ps(x + i));
            const __m256 p1 = _mm256_mul_ps(bf16x8_to_ps(w + i + 8), _mm256_loadu_ps(x + i + 8));
            a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(p0)));
            a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(p0, 1)));
            a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(p1)));
            a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(p1, 1)));
        }
        double s = hsum_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
        for (; i < k; ++i)
            s += static_cast<double>(x[i]) * static_cast<double>(bf16_to_f32(w[i]));
        return static_cast<float>(s);
    }
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
           a3 = _mm256_setzero_ps();
    for (; i + 32 <= k; i += 32) {
        a0 = _mm256_fmadd_ps(bf16x8_to_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(bf16x8_to_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(bf16x8_to_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(bf16x8_to_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= k; i += 8)
        a0 = _mm256_fmadd_ps(bf16x8_to_ps(w + i), _mm256_loadu_ps(x + i), a0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < k; ++i)
        s = std::fma(x[i], bf16_to_f32(w[i]), s);
    return s;
}

// BF16 weight row x any fp32 x row (as doubles), exact mode: every product of a bf16 and an fp32
// value is exact in double; four independent accumulator chains per lane keep the FMA units busy
// (the chains differ from the reference's single chain only in the rounding of pathological
// exponent spreads, as documented in linear.h).
[[gnu::noinline]] float dot_bf16_f64(const double *x, const uint16_t *w, int64_t k)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(),
            a3 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        const __m256 w0 = bf16x8_to_ps(w + i), w1 = bf16x8_to_ps(w + i + 8);
        a0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(w0)),
                             _mm256_loadu_pd(x + i),
                             a0);
        a1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(w0, 1)),
                             _mm256_loadu_pd(x + i + 4),
                             a1);
        a2 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(w1)),
                             _mm256_loadu_pd(x + i + 8),
                             a2);
        a3 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(w1, 1)),
                             _mm256_loadu_pd(x + i + 12),
                             a3);
    }
    double s = hsum_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    for (; i < k; ++i)
        s += x[i] * static_cast<double>(bf16_to_f32(w[i]));
    return static_cast<float>(s);
}

// fp32 mode, prefill: 4 weight rows x 2 rows of x per pass (8 accumulators), so every x load
// feeds 4 FMAs and every weight load 2.
void gemm_fp32_4x2(const float *w, int64_t k, const float *x0, const float *x1, float out[2][4])
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps(),
           c03 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(),
           c12 = _mm256_setzero_ps(), c13 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 a = _mm256_loadu_ps(x0 + i), b = _mm256_loadu_ps(x1 + i);
        const __m256 w0 = _mm256_loadu_ps(w + i), w1 = _mm256_loadu_ps(w + k + i),
                     w2 = _mm256_loadu_ps(w + 2 * k + i), w3 = _mm256_loadu_ps(w + 3 * k + i);
        c00 = _mm256_fmadd_ps(a, w0, c00);
        c01 = _mm256_fmadd_ps(a, w1, c01);
        c02 = _mm256_fmadd_ps(a, w2, c02);
        c03 = _mm256_fmadd_ps(a, w3, c03);
        c10 = _mm256_fmadd_ps(b, w0, c10);
        c11 = _mm256_fmadd_ps(b, w1, c11);
        c12 = _mm256_fmadd_ps(b, w2, c12);
        c13 = _mm256_fmadd_ps(b, w3, c13);
    }
    out[0][0] = hsum_ps(c00);
    out[0][1] = hsum_ps(c01);
    out[0][2] = hsum_ps(c02);
    out[0][3] = hsum_ps(c03);
    out[1][0] = hsum_ps(c10);
    out[1][1] = hsum_ps(c11);
    out[1][2] = hsum_ps(c12);
    out[1][3] = hsum_ps(c13);
    for (; i < k; ++i)
        for (int t = 0; t < 4; ++t) {
            out[0][t] = std::fma(x0[i], w[t * k + i], out[0][t]);
            out[1][t] = std::fma(x1[i], w[t * k + i], out[1][t]);
        }
}

} // namespace

void linear_rows_avx2(const linear_job &job, int64_t j0, int64_t j1)
{
    const linear_params &p = *job.p;
    const int64_t k = p.k;
    thread_local std::vector<float> wbuf;
    wbuf.resize(static_cast<size_t>(k) + 8);
    float *w = wbuf.data();
    // bf16 x with bf16 or quantized weights: products exact in fp32.
    const bool f32_exact = p.w_type != linear_weight_type::f32
                           && !(p.x_type == act_type::f32 && p.w_type == linear_weight_type::bf16);
    if (p.w_type == linear_weight_type::fp4_e2m1 && job.x4 && p.m < 4) {
        const int64_t kb = (k + 127) / 128;
        const uint8_t *wbase = static_cast<const uint8_t *>(p.w);
        for (int64_t j = j0; j < j1; ++j)
            for (int64_t r = 0; r < p.m; ++r)
                linear_store(p,
                             r,
                             j,
                             dot_fp4_bytes(job.x4 + r * k * 4,
                                           job.xsa + r * kb,
                                           wbase + j * (k / 2),
                                           p.w_scale + j * (k / 32),
                                           k));
        return;
    }
    if (p.w_type == linear_weight_type::fp4_e2m1 && job.xi && p.m < 4) {
        // Batch-1 (decode): stream the packed weights once, no fp32 decode buffer.
        const int64_t kb = (k + 127) / 128;
        const uint8_t *wbase = static_cast<const uint8_t *>(p.w);
        for (int64_t j = j0; j < j1; ++j)
            for (int64_t r = 0; r < p.m; ++r)
                linear_store(p,
                             r,
                             j,
                             dot_fp4_fused(job.xi + r * k,
                                           job.xsa + r * kb,
                                           wbase + j * (k / 2),
                                           p.w_scale + j * (k / 32),
                                           k));
        return;
    }
    if (p.w_type == linear_weight_type::bf16 && p.m < 4 && job.xd
        && p.accum == linear_accum::exact) {
        // Batch-1 BF16 (the LM head): widen in registers, FMA in double against x.
        const uint16_t *wbase = static_cast<const uint16_t *>(p.w);
        int64_t j = j0;
        if (job.avx512) {
            for (; j + 4 <= j1; j += 4)
                for (int64_t r = 0; r < p.m; ++r) {
                    float o[4];
                    dot4_bf16_f64_avx512(job.xd + r * k, wbase + j * k, k, k, o);
                    for (int t = 0; t < 4; ++t)
                        linear_store(p, r, j + t, o[t]);
                }
        }
        for (; j < j1; ++j)
            for (int64_t r = 0; r < p.m; ++r)
                linear_store(p,
                             r,
                             j,
                             job.avx512 ? dot_bf16_f64_avx512(job.xd + r * k, wbase + j * k, k)
                                        : dot_bf16_f64(job.xd + r * k, wbase + j * k, k));
        return;
    }
    if (p.w_type == linear_weight_type::bf16 && p.m < 4
        && (p.x_type == act_type::bf16 || p.accum == linear_accum::fp32)) {
        const uint16_t *wbase = static_cast<const uint16_t *>(p.w);
        const bool exact = p.accum == linear_accum::exact;
        for (int64_t j = j0; j < j1; ++j)
            for (int64_t r = 0; r < p.m; ++r)
                linear_store(p, r, j, dot_bf16_fused(job.xs + r * k, wbase + j * k, k, exact));
        return;
    }
    if (p.w_type == linear_weight_type::fp8_e4m3 && job.xq && p.m < 4
        && p.accum == linear_accum::exact) {
        const int64_t kb = (k + 127) / 128;
        const uint8_t *wbase = static_cast<const uint8_t *>(p.w);
        for (int64_t j = j0; j < j1; ++j)
            for (int64_t r = 0; r < p.m; ++r)
                linear_store(p,
                             r,
                             j,
                             (job.avx512 ? dot_fp8_fused_avx512
                                         : dot_fp8_fused)(job.xq + r * k,
                                                          job.xsa + r * kb,
                                                          wbase + j * k,
                                                          p.w_scale + (j / 128) * kb,
                                                          k));
        return;
    }
    if (p.accum == linear_accum::fp32 && p.m >= 4 && j1 - j0 >= 4) {
        // Prefill in fp32 mode: decode 4 weight rows once, run the 4x2 micro-kernel over x.
        thread_local std::vector<float> panel;
        panel.resize(static_cast<size_t>(4 * k) + 8);
        int64_t j = j0;
        for (; j + 4 <= j1; j += 4) {
            for (int t = 0; t < 4; ++t)
                decode_row_avx2(p, j + t, panel.data() + t * k);
            int64_t r = 0;
            for (; r + 2 <= p.m; r += 2) {
                float o[2][4];
                gemm_fp32_4x2(panel.data(), k, job.xs + r * k, job.xs + (r + 1) * k, o);
                for (int t = 0; t < 4; ++t) {
                    linear_store(p, r, j + t, o[0][t]);
                    linear_store(p, r + 1, j + t, o[1][t]);
                }
            }
            for (; r < p.m; ++r)
                for (int t = 0; t < 4; ++t)
                    linear_store(p, r, j + t, dot_fp32(job.xs + r * k, panel.data() + t * k, k));
        }
        j0 = j; // the remaining < 4 columns below
    }
    for (int64_t j = j0; j < j1; ++j) {
        const float *wr = w;
        if (p.w_type == linear_weight_type::f32)
            wr = static_cast<const float *>(p.w) + j * k;
        else
            decode_row_avx2(p, j, w);
        int64_t r = 0;
        if (p.accum == linear_accum::fp32) {
            for (; r + 4 <= p.m; r += 4) {
                float o[4];
                dot_fp32_x4(job.xs + r * k, k, wr, k, o);
                for (int t = 0; t < 4; ++t)
                    linear_store(p, r + t, j, o[t]);
            }
            for (; r < p.m; ++r)
                linear_store(p, r, j, dot_fp32(job.xs + r * k, wr, k));
        } else if (f32_exact) {
            for (; r < p.m; ++r)
                linear_store(p, r, j, dot_exact<true>(job.xs + r * k, wr, k, job.block));
        } else {
            for (; r < p.m; ++r)
                linear_store(p, r, j, dot_exact<false>(job.xs + r * k, wr, k, job.block));
        }
    }
}

namespace {

// 8x8 transpose of floats: rows r[0..7] in, columns out (in place).
inline void transpose8_ps(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Decodes weight rows [j0, j0 + cols) (cols <= 8; missing columns are zero) and packs them
// k-major as doubles: panel[kk * 8 + c] = dequantised W[j0 + c][kk]. rows: scratch [8][k].
void pack_panel_f64(const linear_params &p, int64_t j0, int cols, float *rows, double *panel)
{
    const int64_t k = p.k;
    for (int c = 0; c < 8; ++c) {
        if (c < cols)
            decode_row_avx2(p, j0 + c, rows + c * k);
        else
            std::fill_n(rows + c * k, k, 0.0f);
    }
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        __m256 r[8];
        for (int c = 0; c < 8; ++c)
            r[c] = _mm256_loadu_ps(rows + c * k + kk);
        transpose8_ps(r);
        double *o = panel + kk * 8;
        for (int t = 0; t < 8; ++t) {
            _mm256_store_pd(o + t * 8, _mm256_cvtps_pd(_mm256_castps256_ps128(r[t])));
            _mm256_store_pd(o + t * 8 + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(r[t], 1)));
        }
    }
    for (; kk < k; ++kk)
        for (int c = 0; c < 8; ++c)
            panel[kk * 8 + c] = rows[c * k + kk];
}

// MR rows of x (doubles, row stride ldx) times one packed 8-column panel. Per block of `block`
// k (aligned to 0) the double accumulators hold the exact block sums (every product of the
// dequantised values is exact in double and so is their sum, in any order); each block is
// rounded once to fp32 and added to the fp32 result in increasing k: the reference's numerics.
template<int MR>
void gemm_f64_tile(
    const double *x, int64_t ldx, const double *panel, int64_t k, int64_t block, float out[][8])
{
    __m256 acc[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
        acc[r] = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < k; b0 += block) {
        const int64_t b1 = std::min(k, b0 + block);
        __m256d c0[MR], c1[MR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            c0[r] = _mm256_setzero_pd();
            c1[r] = _mm256_setzero_pd();
        }
        const double *wp = panel + b0 * 8;
        const double *xp = x + b0;
        for (int64_t kk = b0; kk < b1; ++kk, wp += 8, ++xp) {
            const __m256d w0 = _mm256_load_pd(wp), w1 = _mm256_load_pd(wp + 4);
#pragma GCC unroll 8
            for (int r = 0; r < MR; ++r) {
                const __m256d xv = _mm256_broadcast_sd(xp + r * ldx);
                c0[r] = _mm256_fmadd_pd(xv, w0, c0[r]);
                c1[r] = _mm256_fmadd_pd(xv, w1, c1[r]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r)
            acc[r] = _mm256_add_ps(acc[r],
                                   _mm256_set_m128(_mm256_cvtpd_ps(c1[r]), _mm256_cvtpd_ps(c0[r])));
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
        _mm256_storeu_ps(out[r], acc[r]);
}

} // namespace

void linear_gemm_tiles_avx2(const linear_job &job, int64_t t0, int64_t t1)
{
    const linear_params &p = *job.p;
    const int64_t k = p.k;
    thread_local std::vector<float> rows;
    thread_local std::vector<double> panelBuf;
    rows.resize(static_cast<size_t>(8 * k) + 8);
    panelBuf.resize(static_cast<size_t>(8 * k) + 8);
    double *panel = panelBuf.data();
    while (reinterpret_cast<uintptr_t>(panel) % 64)
        ++panel; // aligned loads in the micro-kernels (64 bytes for AVX-512)
    constexpr int MR = 6, MR512 = 12;
    float out[MR512][8];
    for (int64_t t = t0; t < t1; ++t) {
        const int64_t j0 = t * k_gemm_tile_cols;
        const int cols = static_cast<int>(std::min<int64_t>(8, p.n - j0));
        pack_panel_f64(p, j0, cols, rows.data(), panel);
        auto store = [&](int64_t r0, int mr) {
            if (p.y_type == act_type::f32) {
                // The common case without a call per element (linear_store was ~10 % of a
                // prefill profile).
                const int64_t ld = p.ldy ? p.ldy : p.n;
                float *y = static_cast<float *>(p.y) + r0 * ld + j0;
                for (int r = 0; r < mr; ++r, y += ld)
                    std::copy_n(out[r], cols, y);
                return;
            }
            for (int r = 0; r < mr; ++r)
                for (int c = 0; c < cols; ++c)
                    linear_store(p, r0 + r, j0 + c, out[r][c]);
        };
        int64_t r = 0;
        if (job.avx512) {
            for (; r < p.m; r += MR512) {
                const int mr = static_cast<int>(std::min<int64_t>(MR512, p.m - r));
                gemm_rows_avx512(job.xd + r * k, k, mr, panel, k, job.block, out);
                store(r, mr);
            }
        }
        for (; r + MR <= p.m; r += MR) {
            gemm_f64_tile<MR>(job.xd + r * k, k, panel, k, job.block, out);
            store(r, MR);
        }
        switch (p.m - r) {
        case 5:
            gemm_f64_tile<5>(job.xd + r * k, k, panel, k, job.block, out);
            break;
        case 4:
            gemm_f64_tile<4>(job.xd + r * k, k, panel, k, job.block, out);
            break;
        case 3:
            gemm_f64_tile<3>(job.xd + r * k, k, panel, k, job.block, out);
            break;
        case 2:
            gemm_f64_tile<2>(job.xd + r * k, k, panel, k, job.block, out);
            break;
        case 1:
            gemm_f64_tile<1>(job.xd + r * k, k, panel, k, job.block, out);
            break;
        default:
            break;
        }
        if (p.m > r)
            store(r, static_cast<int>(p.m - r));
    }
}

} // namespace fathom::kernels
