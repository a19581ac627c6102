// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR, scalar reference: written for obviousness, not speed. Each output element follows
// kernels/linear.h literally: act_quant of the row, exact block sums in double (exact for the
// FP8/FP4 products), fl32 per block, fp32 accumulation of the scaled block sums in k order.

#include "kernels/linear.h"

#include "kernels/formats.h"
#include "kernels/quant.h"
#include "linear_internal.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fathom::kernels {

int64_t linear_weight_bytes(linear_weight_type type, int64_t n, int64_t k)
{
    switch (type) {
    case linear_weight_type::bf16:
        return n * k * 2;
    case linear_weight_type::f32:
        return n * k * 4;
    case linear_weight_type::fp8_e4m3:
        return n * k + ((n + 127) / 128) * ((k + 127) / 128);
    case linear_weight_type::fp4_e2m1:
        return n * (k / 2) + n * (k / 32);
    }
    return 0;
}

Status linear_check(const linear_params &p)
{
    if (p.m < 0 || p.n < 0 || p.k < 0)
        return Status::invalid("linear: negative shape");
    if (p.m == 0 || p.n == 0)
        return Status::success();
    if (!p.x || !p.w || !p.y)
        return Status::invalid("linear: null x, w or y");
    const bool quantized = p.w_type == linear_weight_type::fp8_e4m3
                           || p.w_type == linear_weight_type::fp4_e2m1;
    if (quantized && !p.w_scale)
        return Status::invalid("linear: FP8/FP4 weight without scales");
    if (p.w_type == linear_weight_type::fp4_e2m1 && p.k % 32 != 0)
        return Status::invalid("linear: FP4 weight needs k % 32 == 0");
    if ((p.ldx != 0 && p.ldx < p.k) || (p.ldy != 0 && p.ldy < p.n))
        return Status::invalid("linear: row stride smaller than the row");
    return Status::success();
}

static float load_x(const linear_params &p, int64_t row, int64_t i)
{
    const int64_t ld = p.ldx ? p.ldx : p.k;
    if (p.x_type == act_type::bf16)
        return bf16_to_f32(static_cast<const uint16_t *>(p.x)[row * ld + i]);
    return static_cast<const float *>(p.x)[row * ld + i];
}

void linear_store(const linear_params &p, int64_t row, int64_t col, float v)
{
    const int64_t ld = p.ldy ? p.ldy : p.n;
    if (p.y_type == act_type::bf16)
        static_cast<uint16_t *>(p.y)[row * ld + col] = f32_to_bf16(v);
    else
        static_cast<float *>(p.y)[row * ld + col] = v;
}

void linear_store_tile(
    const linear_params &p, int64_t r, int mr, int64_t j0, int cols, const float *out, int pitch)
{
    const int64_t ld = p.ldy ? p.ldy : p.n;
    for (int i = 0; i < mr; ++i) {
        const float *row = out + static_cast<int64_t>(i) * pitch;
        if (p.y_type == act_type::f32)
            std::copy_n(row, cols, static_cast<float *>(p.y) + (r + i) * ld + j0);
        else
            for (int c = 0; c < cols; ++c)
                linear_store(p, r + i, j0 + c, row[c]);
    }
}

// Scale product sA * sW as the kernels form it in fp32: an exact power of two.
static float scale_product(uint8_t sa, uint8_t sw)
{
    return e8m0_to_f32(sa) * e8m0_to_f32(sw);
}

Status linear_ref(const linear_params &p)
{
    if (Status s = linear_check(p); !s.ok() || p.m == 0 || p.n == 0)
        return s;
    const int64_t k = p.k;
    std::vector<float> xr(static_cast<size_t>(k));
    std::vector<uint8_t> q(static_cast<size_t>(k)), sa(static_cast<size_t>((k + 127) / 128 + 1));
    for (int64_t r = 0; r < p.m; ++r) {
        for (int64_t i = 0; i < k; ++i)
            xr[i] = load_x(p, r, i);
        switch (p.w_type) {
        case linear_weight_type::bf16:
        case linear_weight_type::f32: {
            for (int64_t j = 0; j < p.n; ++j) {
                double acc = 0.0;
                float facc = 0.0f;
                for (int64_t i = 0; i < k; ++i) {
                    const float w = p.w_type == linear_weight_type::bf16
                                        ? bf16_to_f32(static_cast<const uint16_t *>(p.w)[j * k + i])
                                        : static_cast<const float *>(p.w)[j * k + i];
                    acc += static_cast<double>(xr[i]) * static_cast<double>(w);
                    facc = std::fma(xr[i], w, facc);
                }
                linear_store(p,
                             r,
                             j,
                             p.accum == linear_accum::exact ? static_cast<float>(acc) : facc);
            }
            break;
        }
        case linear_weight_type::fp8_e4m3: {
            act_quant_e4m3_f32(xr.data(), k, 128, q.data(), sa.data());
            const int64_t kb = (k + 127) / 128;
            const uint8_t *w = static_cast<const uint8_t *>(p.w);
            for (int64_t j = 0; j < p.n; ++j) {
                float acc = 0.0f;
                for (int64_t b = 0; b < kb; ++b) {
                    double bs = 0.0;
                    float fbs = 0.0f;
                    for (int64_t i = b * 128; i < std::min<int64_t>(k, b * 128 + 128); ++i) {
                        const float prod = e4m3_to_f32(q[i]) * e4m3_to_f32(w[j * k + i]);
                        bs += prod;
                        fbs += prod;
                    }
                    const float block = p.accum == linear_accum::exact ? static_cast<float>(bs)
                                                                       : fbs;
                    acc = acc + block * scale_product(sa[b], p.w_scale[(j / 128) * kb + b]);
                }
                linear_store(p, r, j, acc);
            }
            break;
        }
        case linear_weight_type::fp4_e2m1: {
            act_quant_e4m3_f32(xr.data(), k, 128, q.data(), sa.data());
            const int64_t kb32 = k / 32;
            const uint8_t *w = static_cast<const uint8_t *>(p.w);
            for (int64_t j = 0; j < p.n; ++j) {
                float acc = 0.0f;
                for (int64_t b = 0; b < kb32; ++b) {
                    double bs = 0.0;
                    float fbs = 0.0f;
                    for (int64_t i = b * 32; i < b * 32 + 32; ++i) {
                        const float prod = e4m3_to_f32(q[i])
                                           * e2m1_to_f32(e2m1_unpack(w + j * (k / 2), i));
                        bs += prod;
                        fbs += prod;
                    }
                    const float block = p.accum == linear_accum::exact ? static_cast<float>(bs)
                                                                       : fbs;
                    acc = acc + block * scale_product(sa[b / 4], p.w_scale[j * kb32 + b]);
                }
                linear_store(p, r, j, acc);
            }
            break;
        }
        }
    }
    return Status::success();
}

} // namespace fathom::kernels
