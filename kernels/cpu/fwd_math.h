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

#include "kernels/cpu_features.h"
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

double dot_f64_avx2(const float *a, const float *b, int64_t n);
void axpy_f64_avx2(double *acc, double alpha, const float *x, int64_t n);

// Σ a[i]·b[i] with exact products, accumulated in double.
inline double dot_f64(const float *a, const float *b, int64_t n)
{
#if FATHOM_KERNELS_HAVE_AVX2
    if (cpu_has_avx2_fma())
        return dot_f64_avx2(a, b, n);
#endif
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i)
        s += static_cast<double>(a[i]) * b[i];
    return s;
}

// acc[i] += alpha · x[i] in double.
inline void axpy_f64(double *acc, double alpha, const float *x, int64_t n)
{
#if FATHOM_KERNELS_HAVE_AVX2
    if (cpu_has_avx2_fma()) {
        axpy_f64_avx2(acc, alpha, x, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; ++i)
        acc[i] += alpha * x[i];
}

void dot_f64_heads_avx2(
    const double *qd, int64_t ldq, int heads, const float *b, int64_t n, double *out);
void axpy_f64_heads_avx2(
    double *acc, int64_t ldacc, const double *alpha, int heads, const float *x, int64_t n);
#if FATHOM_KERNELS_HAVE_AVX512
// The same bits as the AVX2 versions, 8 doubles per instruction (linear_avx512.cpp).
void dot_f64_heads_avx512(
    const double *qd, int64_t ldq, int heads, const float *b, int64_t n, double *out);
void axpy_f64_heads_avx512(
    double *acc, int64_t ldacc, const double *alpha, int heads, const float *x, int64_t n);
#endif

// out[h] = dot_f64(q_h, b, n) for `heads` rows q_h given as doubles (qd + h * ldq, the exact
// conversions of the float rows): the same bits as one dot_f64 call per head.
inline void dot_f64_heads(
    const double *qd, int64_t ldq, int heads, const float *b, int64_t n, double *out)
{
#if FATHOM_KERNELS_HAVE_AVX512
    if (cpu_has_avx512()) {
        dot_f64_heads_avx512(qd, ldq, heads, b, n, out);
        return;
    }
#endif
#if FATHOM_KERNELS_HAVE_AVX2
    if (cpu_has_avx2_fma()) {
        dot_f64_heads_avx2(qd, ldq, heads, b, n, out);
        return;
    }
#endif
    for (int h = 0; h < heads; ++h) {
        const double *q = qd + h * ldq;
        double s = 0.0;
        for (int64_t i = 0; i < n; ++i)
            s += q[i] * b[i];
        out[h] = s;
    }
}

// axpy_f64(acc + h * ldacc, alpha[h], x, n) for every head: the same bits.
inline void axpy_f64_heads(
    double *acc, int64_t ldacc, const double *alpha, int heads, const float *x, int64_t n)
{
#if FATHOM_KERNELS_HAVE_AVX512
    if (cpu_has_avx512()) {
        axpy_f64_heads_avx512(acc, ldacc, alpha, heads, x, n);
        return;
    }
#endif
#if FATHOM_KERNELS_HAVE_AVX2
    if (cpu_has_avx2_fma()) {
        axpy_f64_heads_avx2(acc, ldacc, alpha, heads, x, n);
        return;
    }
#endif
    for (int h = 0; h < heads; ++h)
        axpy_f64(acc + h * ldacc, alpha[h], x, n);
}

// Element-wise AVX2 versions of scalar loops, the same bits (the same fp32 products, double
// sums in the same order, the same bf16 rounding incl. NaN): v[i] = round_bf16(v[i]);
// mhc.cpp's collapse and post mix over the elements [e0, e1) of one token.
void round_bf16_inplace_avx2(float *v, int64_t n);
void mhc_collapse_avx2(
    const float *x, const float *pre, int n, int64_t d, int64_t e0, int64_t e1, float *u);
void mhc_post_avx2(const float *x,
                   const float *y,
                   const float *post,
                   const float *comb,
                   int n,
                   int64_t d,
                   int64_t e0,
                   int64_t e1,
                   float *out);

// v[i] = round_bf16(v[i]) for n floats.
inline void round_bf16_inplace(float *v, int64_t n)
{
#if FATHOM_KERNELS_HAVE_AVX2
    if (cpu_has_avx2_fma()) {
        round_bf16_inplace_avx2(v, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; ++i)
        v[i] = round_bf16(v[i]);
}

// Total order of torch.topk on CUDA (radix order): -0.0 sorts below +0.0.
inline uint32_t radix_key(float v)
{
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

} // namespace fathom::kernels::detail
