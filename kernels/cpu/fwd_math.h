// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Scalar helpers shared by the forward-pass CPU kernels (private to kernels/cpu).

  The golden reference evaluates fp32 transcendental functions correctly rounded and accumulates
  every fp32 reduction exactly before rounding once. Evaluating in double and rounding to float
  reproduces that except in vanishingly rare double-rounding cases, which the tolerances absorb.
  "bf16-valued" buffers are float arrays that hold values exactly representable in bfloat16.
*/

#include "kernels/formats.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace fathom::kernels::detail {

using ::fathom::kernels::round_bf16;

inline float exp_f32(float x)
{
    return static_cast<float>(std::exp(static_cast<double>(x)));
}

inline float sigmoid_f32(float x)
{
    return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
}

inline float silu_f32(float x)
{
    const double d = x;
    return static_cast<float>(d / (1.0 + std::exp(-d)));
}

// torch.nn.functional.softplus with beta 1 and threshold 20.
inline float softplus_f32(float x)
{
    if (x > 20.0f)
        return x;
    return static_cast<float>(std::log1p(std::exp(static_cast<double>(x))));
}

inline float sqrt_f32(float x)
{
    return std::sqrt(x);
} // IEEE sqrt is correctly rounded

inline float rsqrt_f32(float x)
{
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(x)));
}

// Total order of torch.topk on CUDA (radix order): -0.0 sorts below +0.0.
inline uint32_t radix_key(float v)
{
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

} // namespace fathom::kernels::detail
