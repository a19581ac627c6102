// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Row conversions bf16 <-> f32 with run-time AVX2 dispatch.

#include "kernels/cpu_features.h"
#include "kernels/formats.h"

namespace fathom::kernels {

#if defined(FATHOM_KERNELS_HAVE_AVX2)
void bf16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n);
void f32_to_bf16_row_avx2(const float *src, uint16_t *dst, int64_t n);
#endif

void bf16_to_f32_row(const uint16_t *src, float *dst, int64_t n)
{
#if defined(FATHOM_KERNELS_HAVE_AVX2)
    if (cpu_has_avx2_fma())
        return bf16_to_f32_row_avx2(src, dst, n);
#endif
    for (int64_t i = 0; i < n; ++i)
        dst[i] = bf16_to_f32(src[i]);
}

void f32_to_bf16_row(const float *src, uint16_t *dst, int64_t n)
{
#if defined(FATHOM_KERNELS_HAVE_AVX2)
    if (cpu_has_avx2_fma())
        return f32_to_bf16_row_avx2(src, dst, n);
#endif
    for (int64_t i = 0; i < n; ++i)
        dst[i] = f32_to_bf16(src[i]);
}

} // namespace fathom::kernels
