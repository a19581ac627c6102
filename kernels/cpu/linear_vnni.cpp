// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR, exact FP4 GEMM (prefill) on AVX-512 VNNI (compiled with -mavx512vnni, called only
// after cpu_has_avx512_vnni()). The FP4 x act-quantised-FP8 block sums are computed in integers
// with vpdpbusd (64 byte products per instruction) instead of exact double FMAs (8 per
// instruction), and the weight panel stays in bytes.
//
// Why it is exact (same bits as linear_ref): with X = e4m3 code value * 512 (an integer,
// |X| <= 448 * 512 < 2^18) and W = 2 * e2m1 value (an integer in [-12, 12]), the reference's
// block sum is S * 2^-10 with S = sum of X * W over the 32-block, |S| < 2^27. vpdpbusd needs one
// unsigned byte operand, so X' = X + 2^18 in [0, 2^19) is split into bytes d0, d1, d2 (d2 < 8):
//     S = s0 + 256 s1 + 65536 (s2 - 4 sum(W)),   sj = sum of dj * W  (each well inside int32).
// The int32 -> fp32 conversion of S is the reference's single rounding of the exact block sum;
// then, as in the reference, block * (sA * sW) is rounded and added to the fp32 accumulator in
// k order (separate multiply and add, no fused multiply-add).

#include "kernels/formats.h"
#include "linear_internal.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace fathom::kernels {

namespace {

constexpr int k_cols = 16; // output columns per panel (one zmm of int32 lanes)
constexpr int k_rows = 6;  // rows of x per micro-kernel pass (3 digit accumulators each)

// One 16-column panel: k/4 groups of 16 x 4 signed weight bytes, then per 32-block the
// 4 * sum(W) correction and the weight scales as floats.
struct fp4_panel
{
    std::vector<int8_t> w;      // [k/4][16][4]
    std::vector<int32_t> sumw4; // [k/32][16]
    std::vector<float> scale;   // [k/32][16]
};

void pack_panel(const linear_params &p, int64_t j0, int cols, fp4_panel &pn)
{
    const int64_t k = p.k, nb = k / 32;
    pn.w.assign(static_cast<size_t>(k) * k_cols, 0);
    pn.sumw4.assign(static_cast<size_t>(nb) * k_cols, 0);
    pn.scale.assign(static_cast<size_t>(nb) * k_cols, 1.0f);
    const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const __m128i ones8 = _mm_set1_epi8(1), ones16 = _mm_set1_epi16(1);
    const uint8_t *wbase = static_cast<const uint8_t *>(p.w);
    alignas(32) int8_t v[32];
    for (int c = 0; c < cols; ++c) {
        const uint8_t *wr = wbase + (j0 + c) * (k / 2);
        const uint8_t *ws = p.w_scale + (j0 + c) * nb;
        for (int64_t b = 0; b < nb; ++b) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(wr + b * 16));
            const __m128i lo = _mm_and_si128(bytes, low4);
            const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
            const __m128i v0 = _mm_shuffle_epi8(lut, _mm_unpacklo_epi8(lo, hi)); // elements 0..15
            const __m128i v1 = _mm_shuffle_epi8(lut, _mm_unpackhi_epi8(lo, hi)); // 16..31
            _mm_store_si128(reinterpret_cast<__m128i *>(v), v0);
            _mm_store_si128(reinterpret_cast<__m128i *>(v + 16), v1);
            // sum(W) of the block: byte pairs (1 * W, no saturation) then int32 lanes.
            __m128i s = _mm_madd_epi16(_mm_add_epi16(_mm_maddubs_epi16(ones8, v0),
                                                     _mm_maddubs_epi16(ones8, v1)),
                                       ones16);
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
            pn.sumw4[b * k_cols + c] = 4 * _mm_cvtsi128_si32(s);
            pn.scale[b * k_cols + c] = e8m0_to_f32(ws[b]);
            for (int q = 0; q < 8; ++q)
                std::memcpy(&pn.w[((b * 8 + q) * k_cols + c) * 4], v + 4 * q, 4);
        }
    }
}

// R rows of x digits (xv: [m][3][k] bytes, row stride 3k) against one panel; out[r][c].
template<int R>
void tile(const uint8_t *xv,
          int64_t k,
          const float *sa, // [R][k/128] activation scales as floats, row stride sa_ld
          int64_t sa_ld,
          const fp4_panel &pn,
          float out[][k_cols])
{
    const int64_t nb = k / 32;
    __m512 acc[R];
    for (int r = 0; r < R; ++r)
        acc[r] = _mm512_setzero_ps();
    const __m512 inv1024 = _mm512_set1_ps(0x1p-10f);
    for (int64_t b = 0; b < nb; ++b) {
        __m512i s0[R], s1[R], s2[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r)
            s0[r] = s1[r] = s2[r] = _mm512_setzero_si512();
        const int8_t *wp = pn.w.data() + b * 8 * k_cols * 4;
        for (int q = 0; q < 8; ++q) {
            const __m512i w = _mm512_loadu_si512(wp + q * k_cols * 4);
            const int64_t at = b * 32 + q * 4;
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const uint8_t *x = xv + r * 3 * k + at;
                int32_t d0, d1, d2;
                std::memcpy(&d0, x, 4);
                std::memcpy(&d1, x + k, 4);
                std::memcpy(&d2, x + 2 * k, 4);
                s0[r] = _mm512_dpbusd_epi32(s0[r], _mm512_set1_epi32(d0), w);
                s1[r] = _mm512_dpbusd_epi32(s1[r], _mm512_set1_epi32(d1), w);
                s2[r] = _mm512_dpbusd_epi32(s2[r], _mm512_set1_epi32(d2), w);
            }
        }
        const __m512i corr = _mm512_loadu_si512(pn.sumw4.data() + b * k_cols);
        const __m512 sw = _mm512_loadu_ps(pn.scale.data() + b * k_cols);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const __m512i s = _mm512_add_epi32(_mm512_add_epi32(s0[r], _mm512_slli_epi32(s1[r], 8)),
                                               _mm512_slli_epi32(_mm512_sub_epi32(s2[r], corr), 16));
            const __m512 block = _mm512_mul_ps(_mm512_cvtepi32_ps(s), inv1024); // exact scaling
            const __m512 sp = _mm512_mul_ps(_mm512_set1_ps(sa[r * sa_ld + b / 4]), sw);
            acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(block, sp));
        }
    }
    for (int r = 0; r < R; ++r)
        _mm512_storeu_ps(out[r], acc[r]);
}

void run_rows(int mr,
              const uint8_t *xv,
              int64_t k,
              const float *sa,
              int64_t sa_ld,
              const fp4_panel &pn,
              float out[][k_cols])
{
    switch (mr) {
    case 6:
        return tile<6>(xv, k, sa, sa_ld, pn, out);
    case 5:
        return tile<5>(xv, k, sa, sa_ld, pn, out);
    case 4:
        return tile<4>(xv, k, sa, sa_ld, pn, out);
    case 3:
        return tile<3>(xv, k, sa, sa_ld, pn, out);
    case 2:
        return tile<2>(xv, k, sa, sa_ld, pn, out);
    case 1:
        return tile<1>(xv, k, sa, sa_ld, pn, out);
    default:
        return;
    }
}

} // namespace

void fp4_vnni_digits(const int32_t *xi, int64_t m, int64_t k, uint8_t *xv)
{
    const __m512i offset = _mm512_set1_epi32(1 << 18);
    for (int64_t r = 0; r < m; ++r) {
        const int32_t *x = xi + r * k;
        uint8_t *d = xv + r * 3 * k;
        int64_t i = 0;
        for (; i + 16 <= k; i += 16) {
            const __m512i v = _mm512_add_epi32(_mm512_loadu_si512(x + i), offset);
            // vpmovdb keeps the low byte of each lane.
            _mm_storeu_si128(reinterpret_cast<__m128i *>(d + i), _mm512_cvtepi32_epi8(v));
            _mm_storeu_si128(reinterpret_cast<__m128i *>(d + k + i),
                             _mm512_cvtepi32_epi8(_mm512_srli_epi32(v, 8)));
            _mm_storeu_si128(reinterpret_cast<__m128i *>(d + 2 * k + i),
                             _mm512_cvtepi32_epi8(_mm512_srli_epi32(v, 16)));
        }
        for (; i < k; ++i) {
            const uint32_t v = static_cast<uint32_t>(x[i] + (1 << 18));
            d[i] = static_cast<uint8_t>(v);
            d[k + i] = static_cast<uint8_t>(v >> 8);
            d[2 * k + i] = static_cast<uint8_t>(v >> 16);
        }
    }
}

void linear_gemm_fp4_vnni(const linear_job &job, int64_t t0, int64_t t1)
{
    const linear_params &p = *job.p;
    const int64_t k = p.k, kb = (k + 127) / 128;
    thread_local fp4_panel pn;
    thread_local std::vector<float> sa;
    sa.resize(static_cast<size_t>(p.m * kb));
    for (int64_t i = 0; i < p.m * kb; ++i)
        sa[i] = e8m0_to_f32(job.xsa[i]);
    float out[k_rows][k_cols];
    for (int64_t t = t0; t < t1; ++t) {
        const int64_t j0 = t * k_cols;
        const int cols = static_cast<int>(std::min<int64_t>(k_cols, p.n - j0));
        pack_panel(p, j0, cols, pn);
        for (int64_t r = 0; r < p.m; r += k_rows) {
            const int mr = static_cast<int>(std::min<int64_t>(k_rows, p.m - r));
            run_rows(mr, job.xv + r * 3 * k, k, sa.data() + r * kb, kb, pn, out);
            linear_store_tile(p, r, mr, j0, cols, &out[0][0], k_cols);
        }
    }
}

} // namespace fathom::kernels
