// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  AVX-512 helpers of the non-exact (fp32 sum) forward-pass kernels, private to kernels/cpu.
  They live in functions with a target attribute, so the translation units keep the baseline
  flags and the callers dispatch on cpu_has_avx512() at run time. FATHOM_FWD_AVX512 is 1 where
  they exist (GCC/Clang x86-64 builds with the AVX-512 kernels).
*/

#if FATHOM_KERNELS_HAVE_AVX512 && (defined(__GNUC__) || defined(__clang__))
#define FATHOM_FWD_AVX512 1
// GCC 12's AVX-512 intrinsics, used in a target("avx512f") function, warn about their own
// deliberately undefined operands (_mm512_undefined_ps).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#define FATHOM_FWD_AVX512_TARGET \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

namespace fathom::kernels::detail {

// e^x for x >= -104 to ~2 ulp (NaN propagates; -inf and x < -104 give 0, large x +inf):
// 2^n · e^r with |r| <= ln2/2 and the degree-7 Taylor polynomial (truncation < 1e-8 relative).
FATHOM_FWD_AVX512_TARGET inline __m512 exp_ps(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 y = _mm512_set1_ps(1.0f / 5040.0f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 720.0f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 120.0f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 24.0f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 6.0f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.5f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

// bf16 rounding (nearest even) of finite values.
FATHOM_FWD_AVX512_TARGET inline __m512 round_bf16_ps(__m512 v)
{
    __m512i u = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    u = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
    return _mm512_castsi512_ps(_mm512_and_si512(u, _mm512_set1_epi32(int(0xFFFF0000u))));
}

// formats.h's f32_to_bf16 as a float for every value: nearest even, NaN -> the quiet NaN with
// its sign (round_bf16_ps's carry would turn some NaN payloads into infinities or zero).
FATHOM_FWD_AVX512_TARGET inline __m512 round_bf16_nan_ps(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v);
    const __m512i hi = _mm512_set1_epi32(int(0xFFFF0000u));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)),
                                                  _mm512_set1_epi32(0x7F800000));
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r
        = _mm512_and_si512(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))),
                           hi);
    return _mm512_castsi512_ps(
        _mm512_mask_mov_epi32(r,
                              nan,
                              _mm512_or_si512(_mm512_and_si512(u, hi),
                                              _mm512_set1_epi32(0x00400000))));
}

// Horizontal sum / max by lane swaps.
FATHOM_FWD_AVX512_TARGET inline float hsum_ps(__m512 v)
{
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}

FATHOM_FWD_AVX512_TARGET inline float hmax_ps(__m512 v)
{
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}

// The first n lanes (all 16 for n >= 16, none for n <= 0).
inline __mmask16 lanes16(int n)
{
    return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}

} // namespace fathom::kernels::detail

#endif
