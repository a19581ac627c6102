// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR, fp32-mode GEMM (prefill, m >= k_gemm_min_rows) with AVX-512 BF16 vdpbf16ps (compiled
// with -mavx512bf16, called only after cpu_has_avx512_bf16()). The numerics are those of the
// reference's tensor-core GEMMs (v4-model-spec.md §6.3): per weight block (128 along k for FP8,
// 32 for FP4) the block sum of the unscaled code products in fp32, then acc = fma(block,
// sA * sW, acc) in increasing block order.
//
// Why bf16 is enough: e4m3 and e2m1 code values have at most 4 significant bits and exponents in
// [-9, 8], so they are exact in bf16 (8 bits, the fp32 exponent range), and every product of two
// codes (<= 8 significant bits, >= 2^-18) is exact in fp32: vdpbf16ps's only roundings are its
// fp32 additions (its flush of denormals never applies to codes). BF16 weights with bf16 x are
// exact in bf16 too (one block of k, no scales); there denormal inputs and products below
// 2^-126 are flushed to zero, far below the fp32 rounding of the sum.
//
// Layout: x as bf16 [m][kp] (kp = k rounded up to even, zero padded); per tile of 32 output
// columns the weights are decoded once into a panel of k-pairs [kp/2][32] dwords (two bf16 each)
// plus the weight scales [blocks][32], then 6 rows of x at a time run against the whole panel:
// per k-pair one broadcast of the row's pair and two vdpbf16ps (32 columns), 12 block sums and
// 12 fp32 accumulators in registers.

#include "kernels/formats.h"
#include "linear_internal.h"

#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 reports the _mm512_undefined_*() inside its own intrinsics as maybe-uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstring>
#include <vector>

namespace fathom::kernels {

namespace {

constexpr int k_cols = k_bf16dot_tile_cols; // 32: two zmm of fp32 lanes
constexpr int k_rows = 6;

// 64-byte aligned scratch that keeps its capacity (one per thread).
template<typename T>
struct aligned_buf
{
    std::vector<T> v;
    T *data = nullptr;
    T *get(size_t n)
    {
        const size_t extra = 64 / sizeof(T);
        if (v.size() < n + extra)
            v.resize(n + extra);
        auto a = reinterpret_cast<uintptr_t>(v.data());
        data = reinterpret_cast<T *>((a + 63) & ~uintptr_t(63));
        return data;
    }
};

// e4m3 bytes -> bf16 bits, n elements (out has room for n rounded up to 32).
void e4m3_to_bf16(const uint8_t *w, int64_t n, uint16_t *out)
{
    // Subnormal codes m * 2^-9 (m = 0..7) as bf16; normal codes are a shift and a rebias
    // (exponent bias 7 -> 127: + 120 << 7).
    alignas(64) static const uint16_t sub_table[32]
        = {0x0000, 0x3B00, 0x3B80, 0x3BC0, 0x3C00, 0x3C20, 0x3C40, 0x3C60};
    const __m512i sub = _mm512_load_si512(sub_table);
    const __m512i m7f = _mm512_set1_epi16(0x7F), m80 = _mm512_set1_epi16(0x80);
    const __m512i bias = _mm512_set1_epi16(0x3C00), eight = _mm512_set1_epi16(8);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512i v = _mm512_cvtepu8_epi16(
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + i)));
        const __m512i mag = _mm512_and_si512(v, m7f);
        const __m512i normal = _mm512_add_epi16(_mm512_slli_epi16(mag, 4), bias);
        const __m512i small = _mm512_permutexvar_epi16(mag, sub);
        __m512i r = _mm512_mask_blend_epi16(_mm512_cmplt_epu16_mask(mag, eight), normal, small);
        r = _mm512_or_si512(r, _mm512_slli_epi16(_mm512_and_si512(v, m80), 8));
        _mm512_storeu_si512(out + i, r);
    }
    for (; i < n; ++i) {
        const float f = e4m3_to_f32(w[i]);
        uint32_t b;
        std::memcpy(&b, &f, 4);
        out[i] = static_cast<uint16_t>(b >> 16);
    }
}

// Packed e2m1 bytes (low nibble = even element) -> bf16 pairs as dwords, nbytes bytes.
void e2m1_to_bf16_pairs(const uint8_t *w, int64_t nbytes, uint32_t *out)
{
    const __m512i lut = _mm512_setr_epi32(0x0000,
                                          0x3F00,
                                          0x3F80,
                                          0x3FC0,
                                          0x4000,
                                          0x4040,
                                          0x4080,
                                          0x40C0,
                                          0x8000,
                                          0xBF00,
                                          0xBF80,
                                          0xBFC0,
                                          0xC000,
                                          0xC040,
                                          0xC080,
                                          0xC0C0);
    const __m512i low4 = _mm512_set1_epi32(0xF);
    int64_t i = 0;
    for (; i + 16 <= nbytes; i += 16) {
        const __m512i v = _mm512_cvtepu8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + i)));
        const __m512i lo = _mm512_permutexvar_epi32(_mm512_and_si512(v, low4), lut);
        const __m512i hi = _mm512_permutexvar_epi32(_mm512_srli_epi32(v, 4), lut);
        _mm512_storeu_si512(out + i, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
    for (; i < nbytes; ++i) {
        const float lo = e2m1_to_f32(w[i] & 0xF), hi = e2m1_to_f32(w[i] >> 4);
        uint32_t a, b;
        std::memcpy(&a, &lo, 4);
        std::memcpy(&b, &hi, 4);
        out[i] = (a >> 16) | (b >> 16 << 16);
    }
}

struct panel
{
    aligned_buf<uint32_t> w;   // [pairs][32]
    aligned_buf<float> scale;  // [blocks][32] (FP8/FP4)
    aligned_buf<uint32_t> col; // [32][pairs rounded up to 16]: columns before the transpose
};

// Decodes output columns [j0, j0 + cols) into the panel (missing columns are zero).
// 16 x 16 dwords: out row j = column j of the 16 rows r[0..15] (unpack 32, unpack 64, then a
// 4 x 4 transpose of 128-bit lanes).
inline void transpose16(__m512i r[16])
{
    __m512i a[16], b[16];
    for (int i = 0; i < 16; i += 2) {
        a[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        a[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        b[i] = _mm512_unpacklo_epi64(a[i], a[i + 2]);
        b[i + 1] = _mm512_unpackhi_epi64(a[i], a[i + 2]);
        b[i + 2] = _mm512_unpacklo_epi64(a[i + 1], a[i + 3]);
        b[i + 3] = _mm512_unpackhi_epi64(a[i + 1], a[i + 3]);
    }
    // b[4g + s], 128-bit lane L: column 4L + s of rows 4g..4g+3.
    for (int s = 0; s < 4; ++s) {
        const __m512i c0 = _mm512_shuffle_i32x4(b[s], b[4 + s], 0x44);
        const __m512i c1 = _mm512_shuffle_i32x4(b[s], b[4 + s], 0xEE);
        const __m512i c2 = _mm512_shuffle_i32x4(b[8 + s], b[12 + s], 0x44);
        const __m512i c3 = _mm512_shuffle_i32x4(b[8 + s], b[12 + s], 0xEE);
        r[s] = _mm512_shuffle_i32x4(c0, c2, 0x88);
        r[4 + s] = _mm512_shuffle_i32x4(c0, c2, 0xDD);
        r[8 + s] = _mm512_shuffle_i32x4(c1, c3, 0x88);
        r[12 + s] = _mm512_shuffle_i32x4(c1, c3, 0xDD);
    }
}

// Decodes output columns [j0, j0 + cols) into the panel (missing columns are zero): each column
// to its own row of k-pairs (padded with zeros to a multiple of 16 pairs), then 16 x 16
// transposes into [pairs][32].
void pack_panel(const linear_params &p, int64_t j0, int cols, int64_t pairs, int64_t nb, panel &pn)
{
    const int64_t k = p.k, p16 = (pairs + 15) / 16 * 16;
    uint32_t *pw = pn.w.get(static_cast<size_t>(p16) * k_cols);
    uint32_t *colbuf = pn.col.get(static_cast<size_t>(p16) * k_cols + 32);
    float *sc = nullptr;
    if (nb > 0)
        sc = pn.scale.get(static_cast<size_t>(nb) * k_cols);
    const int64_t kb = (k + 127) / 128;
    for (int c = 0; c < k_cols; ++c) {
        const int64_t j = j0 + c;
        uint32_t *col = colbuf + c * p16;
        if (c >= cols) {
            std::memset(col, 0, static_cast<size_t>(p16) * 4);
            for (int64_t b = 0; b < nb; ++b)
                sc[b * k_cols + c] = 0.0f;
            continue;
        }
        for (int64_t q = pairs - 1; q < p16; ++q)
            col[q] = 0; // the padding (and the odd element of an odd k)
        switch (p.w_type) {
        case linear_weight_type::fp8_e4m3:
            e4m3_to_bf16(static_cast<const uint8_t *>(p.w) + j * k,
                         k,
                         reinterpret_cast<uint16_t *>(col));
            for (int64_t b = 0; b < nb; ++b)
                sc[b * k_cols + c] = e8m0_to_f32(p.w_scale[(j / 128) * kb + b]);
            break;
        case linear_weight_type::fp4_e2m1:
            e2m1_to_bf16_pairs(static_cast<const uint8_t *>(p.w) + j * (k / 2), k / 2, col);
            for (int64_t b = 0; b < nb; ++b)
                sc[b * k_cols + c] = e8m0_to_f32(p.w_scale[j * (k / 32) + b]);
            break;
        default: // bf16
            std::memcpy(col, static_cast<const uint16_t *>(p.w) + j * k, static_cast<size_t>(k) * 2);
            break;
        }
    }
    __m512i r[16];
    for (int64_t q = 0; q < p16; q += 16)
        for (int h = 0; h < k_cols; h += 16) {
            for (int i = 0; i < 16; ++i)
                r[i] = _mm512_loadu_si512(colbuf + (h + i) * p16 + q);
            transpose16(r);
            for (int i = 0; i < 16; ++i)
                _mm512_store_si512(pw + (q + i) * k_cols + h, r[i]);
        }
}

// R rows of x (bf16 pairs, row stride ldx dwords) against one panel; out[r][32].
// Blocks of bp pairs; scaled: acc = fma(block, sa[r][b / per_act] * sw[b], acc), else one block.
template<int R>
void tile(const uint32_t *x,
          int64_t ldx,
          const float *sa,
          int64_t sa_ld,
          const panel &pn,
          int64_t pairs,
          int64_t bp,
          int per_act,
          bool scaled,
          float out[][k_cols])
{
    __m512 acc0[R], acc1[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        acc0[r] = acc1[r] = _mm512_setzero_ps();
    const uint32_t *pw = pn.w.data;
    for (int64_t q0 = 0, b = 0; q0 < pairs; q0 += bp, ++b) {
        const int64_t q1 = std::min(pairs, q0 + bp);
        __m512 s0[R], s1[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r)
            s0[r] = s1[r] = _mm512_setzero_ps();
        for (int64_t q = q0; q < q1; ++q) {
            const __m512i w0 = _mm512_load_si512(pw + q * k_cols);
            const __m512i w1 = _mm512_load_si512(pw + q * k_cols + 16);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const __m512i xv = _mm512_set1_epi32(static_cast<int>(x[r * ldx + q]));
                s0[r] = _mm512_dpbf16_ps(s0[r], (__m512bh) xv, (__m512bh) w0);
                s1[r] = _mm512_dpbf16_ps(s1[r], (__m512bh) xv, (__m512bh) w1);
            }
        }
        if (!scaled) {
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                acc0[r] = _mm512_add_ps(acc0[r], s0[r]);
                acc1[r] = _mm512_add_ps(acc1[r], s1[r]);
            }
            continue;
        }
        const __m512 sw0 = _mm512_load_ps(pn.scale.data + b * k_cols);
        const __m512 sw1 = _mm512_load_ps(pn.scale.data + b * k_cols + 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const __m512 a = _mm512_set1_ps(sa[r * sa_ld + b / per_act]);
            acc0[r] = _mm512_fmadd_ps(s0[r], _mm512_mul_ps(a, sw0), acc0[r]);
            acc1[r] = _mm512_fmadd_ps(s1[r], _mm512_mul_ps(a, sw1), acc1[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        _mm512_storeu_ps(out[r], acc0[r]);
        _mm512_storeu_ps(out[r] + 16, acc1[r]);
    }
}

using tile_fn = void (*)(const uint32_t *,
                         int64_t,
                         const float *,
                         int64_t,
                         const panel &,
                         int64_t,
                         int64_t,
                         int,
                         bool,
                         float[][k_cols]);
constexpr tile_fn k_tiles[k_rows + 1]
    = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

} // namespace

bool bf16dot_prepare_x(const linear_job &job, int64_t r0, int64_t r1, uint16_t *xb)
{
    const linear_params &p = *job.p;
    const int64_t k = p.k, kp = bf16dot_row_elems(k);
    const bool ints = p.w_type == linear_weight_type::fp4_e2m1;
    const __m512 inv512 = _mm512_set1_ps(0x1p-9f);
    const __m512i low16 = _mm512_set1_epi32(0xFFFF);
    __m512i inexact = _mm512_setzero_si512();
    uint32_t inexact_tail = 0;
    for (int64_t r = r0; r < r1; ++r) {
        uint16_t *d = xb + r * kp;
        // FP4 weights: the code values from xi (code * 512, exact in fp32 and bf16). FP8 weights:
        // the code values (xq, exact in bf16). BF16 weights: x itself (job.xs, x as floats), exact
        // in bf16 when the low 16 bits are zero.
        const float *q = p.w_type == linear_weight_type::fp8_e4m3 ? job.xq + r * k : job.xs + r * k;
        const int32_t *qi = ints ? job.xi + r * k : nullptr;
        int64_t i = 0;
        for (; i + 16 <= k; i += 16) {
            const __m512i v = ints ? _mm512_castps_si512(
                                  _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(qi + i)),
                                                inv512))
                                   : _mm512_loadu_si512(q + i);
            inexact = _mm512_or_si512(inexact, _mm512_and_si512(v, low16));
            _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + i),
                                _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
        }
        for (; i < k; ++i) {
            const float f = ints ? static_cast<float>(qi[i]) * 0x1p-9f : q[i];
            uint32_t b;
            std::memcpy(&b, &f, 4);
            inexact_tail |= b & 0xFFFFu;
            d[i] = static_cast<uint16_t>(b >> 16);
        }
        if (kp != k)
            d[k] = 0;
    }
    return inexact_tail == 0 && _mm512_test_epi32_mask(inexact, inexact) == 0;
}

void linear_gemm_bf16dot(const linear_job &job, int64_t t0, int64_t t1)
{
    const linear_params &p = *job.p;
    const int64_t k = p.k, kp = bf16dot_row_elems(k), pairs = kp / 2, kb = (k + 127) / 128;
    const bool fp8 = p.w_type == linear_weight_type::fp8_e4m3;
    const bool scaled = fp8 || p.w_type == linear_weight_type::fp4_e2m1;
    // Blocks in k-pairs, weight blocks per activation block (both 128 for FP8; 32 vs 128 FP4).
    const int64_t bp = fp8 ? 64 : scaled ? 16 : pairs;
    const int per_act = fp8 ? 1 : 4;
    const int64_t nb = scaled ? (pairs + bp - 1) / bp : 0;
    thread_local panel pn;
    thread_local std::vector<float> sa;
    if (scaled) {
        sa.resize(static_cast<size_t>(p.m * kb));
        for (int64_t i = 0; i < p.m * kb; ++i)
            sa[static_cast<size_t>(i)] = e8m0_to_f32(job.xsa[i]);
    }
    const auto *x = reinterpret_cast<const uint32_t *>(job.xb);
    float out[k_rows][k_cols];
    for (int64_t t = t0; t < t1; ++t) {
        const int64_t j0 = t * k_cols;
        const int cols = static_cast<int>(std::min<int64_t>(k_cols, p.n - j0));
        pack_panel(p, j0, cols, pairs, nb, pn);
        for (int64_t r = 0; r < p.m; r += k_rows) {
            const int mr = static_cast<int>(std::min<int64_t>(k_rows, p.m - r));
            k_tiles[mr](x + r * pairs,
                        pairs,
                        scaled ? sa.data() + r * kb : nullptr,
                        kb,
                        pn,
                        pairs,
                        bp,
                        per_act,
                        scaled,
                        out);
            linear_store_tile(p, r, mr, j0, cols, &out[0][0], k_cols);
        }
    }
}

} // namespace fathom::kernels
