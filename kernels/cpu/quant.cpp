// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Block quantisation with power-of-two scales (see kernels/quant.h for the exact rules).

#include "kernels/quant.h"

#include "kernels/formats.h"

#include "fwd_math.h"

#include <algorithm>
#include <cmath>

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

void quantize_weight_e2m1(const float *w, int64_t n, int64_t k, uint8_t *packed, uint8_t *scale)
{
    const int64_t kb = k / 32;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t bj = 0; bj < kb; ++bj) {
            const float *src = w + i * k + bj * 32;
            float amax = 0.0f;
            for (int j = 0; j < 32; ++j)
                amax = std::max(amax, std::fabs(src[j]));
            const uint8_t s = weight_scale_e8m0(amax, k_e2m1_max, k_e2m1_amax_floor);
            scale[i * kb + bj] = s;
            const float inv = e8m0_inverse_f32(s);
            uint8_t *dst = packed + i * (k / 2) + bj * 16;
            for (int j = 0; j < 16; ++j) {
                const uint8_t lo = f32_to_e2m1(src[2 * j] * inv);
                const uint8_t hi = f32_to_e2m1(src[2 * j + 1] * inv);
                dst[j] = static_cast<uint8_t>(lo | (hi << 4));
            }
        }
    }
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
    const int64_t kb = (k + 127) / 128;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j)
            out[i * k + j] = f32_to_bf16(e4m3_to_f32(q[i * k + j])
                                         * e8m0_to_f32(scale[(i / 128) * kb + j / 128]));
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
