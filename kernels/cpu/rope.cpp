// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/rope.h"

#include "fwd_avx512.h"
#include "fwd_math.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fathom::kernels {

Status rope_freqs_cpu(const RopeFreqParams &p, float *freqs)
{
    if (!freqs || p.rope_dim <= 0 || (p.rope_dim & 1))
        return Status::invalid("rope_freqs: rope_dim must be even and positive");
    const int half = p.rope_dim / 2;
    const float base = static_cast<float>(p.base);
    for (int j = 0; j < half; ++j) {
        const float e = static_cast<float>(2 * j) / static_cast<float>(p.rope_dim);
        const float pw = static_cast<float>(
            std::pow(static_cast<double>(base), static_cast<double>(e)));
        freqs[j] = 1.0f / pw;
    }
    if (p.yarn_factor > 1.0) {
        const double pi = 3.14159265358979323846;
        auto corrDim = [&](double rotations) {
            return p.rope_dim * std::log(p.original_seq_len / (rotations * 2 * pi))
                   / (2 * std::log(p.base));
        };
        double low = std::max(std::floor(corrDim(p.beta_fast)), 0.0);
        double high = std::min(std::ceil(corrDim(p.beta_slow)), static_cast<double>(p.rope_dim - 1));
        if (low == high)
            high += 0.001;
        const float factor = static_cast<float>(p.yarn_factor);
        for (int j = 0; j < half; ++j) {
            float ramp = (static_cast<float>(j) - static_cast<float>(low))
                         / static_cast<float>(high - low);
            ramp = std::clamp(ramp, 0.0f, 1.0f);
            const float smooth = 1.0f - ramp;
            const float a = (freqs[j] / factor) * (1.0f - smooth);
            const float b = freqs[j] * smooth;
            freqs[j] = a + b;
        }
    }
    return Status::success();
}

void rope_cos_sin_cpu(int32_t position, const float *freqs, int half, float *cs, float *sn)
{
    for (int j = 0; j < half; ++j) {
        const float angle = static_cast<float>(position) * freqs[j];
        cs[j] = static_cast<float>(std::cos(static_cast<double>(angle)));
        sn[j] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
}

namespace {

#if FATHOM_FWD_AVX512
// One row's pairs (a, b) -> (bf16(a·c - b·s), bf16(a·s + b·c)), 8 pairs a step: the products
// rounded on their own (no fused multiply-add), b·(-s) = -(b·s) exactly, the sum in the scalar
// loop's order up to the commutative addition.
FATHOM_FWD_AVX512_TARGET void rotate_row_avx512(
    float *x, const float *cs, const float *sn, int half, bool inverse)
{
    const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512 signEven = _mm512_castsi512_ps(_mm512_set_epi32(0,
                                                                 int(0x80000000u),
                                                                 0,
                                                                 int(0x80000000u),
                                                                 0,
                                                                 int(0x80000000u),
                                                                 0,
                                                                 int(0x80000000u),
                                                                 0,
                                                                 int(0x80000000u),
                                                                 0,
                                                                 int(0x80000000u),
                                                                 0,
                                                                 int(0x80000000u),
                                                                 0,
                                                                 int(0x80000000u)));
    const __m512 flip = inverse ? _mm512_castsi512_ps(_mm512_set1_epi32(int(0x80000000u)))
                                : _mm512_setzero_ps();
    for (int j = 0; j < half; j += 8) {
        const int n = std::min(8, half - j);
        const __mmask16 mk = detail::lanes16(2 * n);
        const __mmask8 mh = static_cast<__mmask8>((1u << n) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(mk, x + 2 * j);
        const __m512 c = _mm512_permutexvar_ps(dup,
                                               _mm512_castps256_ps512(
                                                   _mm256_maskz_loadu_ps(mh, cs + j)));
        __m512 s = _mm512_permutexvar_ps(dup,
                                         _mm512_castps256_ps512(_mm256_maskz_loadu_ps(mh, sn + j)));
        s = _mm512_xor_ps(_mm512_xor_ps(s, flip),
                          signEven); // (-s, s) per pair, s negated first if inverse
        const __m512 sw = _mm512_permute_ps(v, 0xB1); // (b, a)
        __m512 p1 = _mm512_mul_ps(v, c), p2 = _mm512_mul_ps(sw, s);
        __asm__("" : "+v"(p1), "+v"(p2));
        _mm512_mask_storeu_ps(x + 2 * j, mk, detail::round_bf16_nan_ps(_mm512_add_ps(p1, p2)));
    }
}
#endif

} // namespace

Status rope_table_cpu(const RopeParams &p, const float *cos_sin, int64_t ld)
{
    if (!p.x || !cos_sin || p.rope_dim <= 0 || (p.rope_dim & 1) || p.rows_per_position <= 0
        || p.offset + p.rope_dim > p.row_stride)
        return Status::invalid("rope: bad arguments");
    const int half = p.rope_dim / 2;
    const bool inverse = p.direction == RopeDirection::Inverse;
#if FATHOM_FWD_AVX512
    const bool avx512 = cpu_has_avx512();
#endif
    for (int r = 0; r < p.rows; ++r) {
        const float *cs = cos_sin + static_cast<int64_t>(r / p.rows_per_position) * ld;
        const float *sn = cs + half;
        float *x = p.x + static_cast<long>(r) * p.row_stride + p.offset;
#if FATHOM_FWD_AVX512
        if (avx512) {
            rotate_row_avx512(x, cs, sn, half, inverse);
            continue;
        }
#endif
        for (int j = 0; j < half; ++j) {
            const float s = inverse ? -sn[j] : sn[j];
            const float a = x[2 * j], b = x[2 * j + 1];
            const float ac = a * cs[j], bd = b * s, ad = a * s, bc = b * cs[j];
            x[2 * j] = round_bf16(ac - bd);
            x[2 * j + 1] = round_bf16(ad + bc);
        }
    }
    return Status::success();
}

Status rope_cpu(const RopeParams &p)
{
    if (!p.x || !p.positions || !p.freqs || p.rope_dim <= 0 || (p.rope_dim & 1)
        || p.rows_per_position <= 0 || p.offset + p.rope_dim > p.row_stride)
        return Status::invalid("rope: bad arguments");
    const int half = p.rope_dim / 2;
    std::vector<float> cs(half), sn(half);
    int lastPos = -1;
    for (int r = 0; r < p.rows; ++r) {
        const int pos = p.positions[r / p.rows_per_position];
        if (pos != lastPos) {
            for (int j = 0; j < half; ++j) {
                const float angle = static_cast<float>(pos) * p.freqs[j];
                cs[j] = static_cast<float>(std::cos(static_cast<double>(angle)));
                sn[j] = static_cast<float>(std::sin(static_cast<double>(angle)));
                if (p.direction == RopeDirection::Inverse)
                    sn[j] = -sn[j];
            }
            lastPos = pos;
        }
        float *x = p.x + static_cast<long>(r) * p.row_stride + p.offset;
        for (int j = 0; j < half; ++j) {
            const float a = x[2 * j], b = x[2 * j + 1];
            const float ac = a * cs[j], bd = b * sn[j], ad = a * sn[j], bc = b * cs[j];
            x[2 * j] = round_bf16(ac - bd);
            x[2 * j + 1] = round_bf16(ad + bc);
        }
    }
    return Status::success();
}

} // namespace fathom::kernels
