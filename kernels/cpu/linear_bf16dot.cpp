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
// Two kernels. Above 64 rows (attention linears, shared expert) the panel kernel (panel_path
// below). Up to 64 rows (the routed experts at prefill: ~48 rows each at 256 tokens, so each
// decoded weight serves few rows and decoding must be cheap) the row-vector kernel: x as bf16 pairs
// in 16-row vectors, [pair][16 rows] per vector (bf16dot_prepare_x: 16 x 16 dword transposes, once
// per call). Per group of 8 output columns and slab of 256 k-pairs the 8 weight rows are decoded
// row by row into [8][256] dwords (8 KiB, L1; FP8: shift/rebias plus a vpermw table for subnormal
// codes; FP4: one ternary op and one vpermw per 16 bytes; BF16: a copy), no transpose: in the tile
// each weight pair is the broadcast operand. Tile: 3 row vectors x 8 columns = 24 block sums in zmm
// registers; per k-pair 3 x loads, 8 broadcasts, 24 vdpbf16ps. At each block end acc[v][c] (in L1,
// [8][16] per vector) = fma(sum, sA * sW, acc); BF16's one block is summed on over the slabs as acc
// + sum (an fp32 sum in another order). The next group's weight lines are prefetched one per k-pair
// (the rows are too short for the hardware prefetcher; each weight comes from memory once per
// call).

#include "kernels/formats.h"
#include "linear_internal.h"

#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 reports the _mm512_undefined_*() inside its own intrinsics as maybe-uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace fathom::kernels {

namespace {

constexpr int k_cols = 8;             // output columns per register tile
constexpr int k_vecs = 3;             // row vectors (16 rows each) per register tile: 24 block sums
constexpr int64_t k_slab = 256;       // k-pairs per decoded slab (4 FP8 / 16 FP4 blocks, 8 KiB)
constexpr int64_t k_slab_blocks = 16; // weight blocks per slab at most (FP4)
// Up to this many rows the row-vector kernel (the experts at prefill), above it the panel kernel.
constexpr int64_t k_rowvec_max_rows = 64;

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

// Packed e2m1 bytes (low nibble = even element) -> bf16 pairs as dwords, nbytes bytes. Per
// byte b in a dword: low word = b & 15, high word = b >> 4 (one ternary op on b and b << 12),
// then one word-table lookup gives both bf16 halves.
void e2m1_to_bf16_pairs(const uint8_t *w, int64_t nbytes, uint32_t *out)
{
    const __m512i lut = _mm512_setr_epi32(0x3F000000,
                                          0x3FC03F80,
                                          0x40404000,
                                          0x40C04080,
                                          0xBF008000,
                                          0xBFC0BF80,
                                          0xC040C000,
                                          0xC0C0C080,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0);
    const __m512i nibbles = _mm512_set1_epi32(0x000F000F);
    int64_t i = 0;
    for (; i + 16 <= nbytes; i += 16) {
        const __m512i v = _mm512_cvtepu8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + i)));
        // (v | v << 12) & 0x000F000F: 0xA8 = (A | B) & C.
        const __m512i idx = _mm512_ternarylogic_epi32(v, _mm512_slli_epi32(v, 12), nibbles, 0xA8);
        _mm512_storeu_si512(out + i, _mm512_permutexvar_epi16(idx, lut));
    }
    for (; i < nbytes; ++i) {
        const float lo = e2m1_to_f32(w[i] & 0xF), hi = e2m1_to_f32(w[i] >> 4);
        uint32_t a, b;
        std::memcpy(&a, &lo, 4);
        std::memcpy(&b, &hi, 4);
        out[i] = (a >> 16) | (b >> 16 << 16);
    }
}

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

// Many rows (m > k_rowvec_max_rows: the attention linears at prefill, the shared expert): the
// panel kernel of the first version, where a decoded panel of 32 columns serves many rows. x as
// bf16 [m][kp] rows; per 32 columns the weights decoded and 16 x 16-transposed into k-pairs
// [kp/2][32], 6 rows x 32 columns per pass (12 block sums + 12 accumulators in registers). The
// row-vector kernel below measured no faster there in a whole prefill.
namespace panel_path {

constexpr int k_cols = k_bf16dot_tile_cols; // 32: two zmm of fp32 lanes
constexpr int k_rows = 6;

struct panel
{
    aligned_buf<uint32_t> w;   // [pairs][32]
    aligned_buf<float> scale;  // [blocks][32] (FP8/FP4)
    aligned_buf<uint32_t> col; // [32][pairs rounded up to 16]: columns before the transpose
};

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

bool prepare_rows(const linear_job &job, int64_t r0, int64_t r1, uint16_t *xb)
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

void gemm_panels(const linear_job &job, int64_t t0, int64_t t1)
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

} // namespace panel_path

// Rows of x as 16-lane vectors: vector v holds rows 16v .. 16v + lanes(v) - 1 (lanes < 16 only
// for the last), stored [pairs][lanes] dwords from dword offset 16 v pairs (xb is m * pairs
// dwords, no padding rows).
inline int x_lanes(int64_t m, int64_t v)
{
    return static_cast<int>(std::min<int64_t>(16, m - 16 * v));
}

// Prefetches [p, p + bytes) into the caches (nothing when bytes <= 0).
inline void prefetch_rows(const uint8_t *p, int64_t bytes)
{
    for (int64_t i = 0; i < bytes; i += 64)
        _mm_prefetch(reinterpret_cast<const char *>(p + i), _MM_HINT_T1);
}

// Decodes pairs [q0, q0 + sp) of output columns [j0, j0 + cols) into wd[c][k_slab] (columns
// >= cols are zero; the odd element of an odd k is zero).
void decode_slab(const linear_params &p, int64_t j0, int cols, int64_t q0, int64_t sp, uint32_t *wd)
{
    const int64_t k = p.k, e0 = 2 * q0, ne = std::min<int64_t>(2 * sp, k - e0);
    for (int c = 0; c < k_cols; ++c) {
        uint32_t *col = wd + c * k_slab;
        if (c >= cols) {
            std::memset(col, 0, static_cast<size_t>(sp) * 4);
            continue;
        }
        const int64_t j = j0 + c;
        switch (p.w_type) {
        case linear_weight_type::fp8_e4m3:
            e4m3_to_bf16(static_cast<const uint8_t *>(p.w) + j * k + e0,
                         ne,
                         reinterpret_cast<uint16_t *>(col));
            break;
        case linear_weight_type::fp4_e2m1: // k is a multiple of 32
            e2m1_to_bf16_pairs(static_cast<const uint8_t *>(p.w) + j * (k / 2) + q0, sp, col);
            break;
        default: // bf16
            std::memcpy(col,
                        static_cast<const uint16_t *>(p.w) + j * k + e0,
                        static_cast<size_t>(ne) * 2);
            break;
        }
        if (ne & 1)
            reinterpret_cast<uint16_t *>(col)[ne] = 0;
    }
}

// Weight scales of blocks [b0, b0 + nbl) of columns [j0, j0 + cols) as floats, sw[c][16]
// (columns >= cols zero). FP8: one scale per 128 x 128 block, the same for the 8 columns (j0 is
// a multiple of 8). FP4: 16 bytes of a column at once (e8m0 -> f32 is a shift, but for 0 and
// 255: those through e8m0_to_f32).
void fill_scales(const linear_params &p, int64_t j0, int cols, int64_t b0, int64_t nbl, float *sw)
{
    const int64_t k = p.k;
    if (p.w_type == linear_weight_type::fp8_e4m3) {
        const uint8_t *s = p.w_scale + (j0 / 128) * ((k + 127) / 128) + b0;
        for (int64_t b = 0; b < nbl; ++b) {
            const float f = e8m0_to_f32(s[b]);
            for (int c = 0; c < k_cols; ++c)
                sw[c * k_slab_blocks + b] = c < cols ? f : 0.0f;
        }
        return;
    }
    for (int c = 0; c < k_cols; ++c) {
        float *d = sw + c * k_slab_blocks;
        if (c >= cols) {
            _mm512_store_ps(d, _mm512_setzero_ps());
            continue;
        }
        const uint8_t *s = p.w_scale + (j0 + c) * (k / 32) + b0;
        const __mmask16 mk = static_cast<__mmask16>((1u << nbl) - 1);
        const __m512i e = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mk, s));
        _mm512_store_si512(d, _mm512_slli_epi32(e, 23));
        const __mmask16 odd = _mm512_mask_cmpeq_epi32_mask(mk, e, _mm512_setzero_si512())
                              | _mm512_mask_cmpeq_epi32_mask(mk, e, _mm512_set1_epi32(255));
        if (odd)
            for (int64_t b = 0; b < nbl; ++b)
                d[b] = e8m0_to_f32(s[b]);
    }
}

// V row vectors (16 rows each) x 8 columns over the pairs [0, sp) of one slab: per block of bp
// pairs the block sums s[v][c] start at zero in registers (24 zmm for V = 3), then acc[v][c] =
// fma(s, sA * sW, acc) (scaled) or acc + s (BF16: one block, its sum continued over the slabs).
// x[v]: the vector's pairs from the slab start, xs[v] dwords per pair, mk[v] its lanes; wd the
// decoded slab [8][k_slab]; sw [8][k_slab_blocks]; sa[v] the vector's sA [act block][16] from the
// slab's first act block (block b uses act block b >> act_shift); acc[v] [8][16].
template<int V>
void tile(const uint32_t *const x[V],
          const int64_t xs[V],
          const __mmask16 mk[V],
          const float *const sa[V],
          const uint32_t *wd,
          const float *sw,
          int64_t sp,
          int64_t bp,
          int act_shift,
          bool scaled,
          float *const acc_in[V],
          const uint8_t *const *pf,
          int64_t npf)
{
    // Local copies: the stores through acc must not make the compiler reload the pointers.
    float *acc[V];
    const float *sav[V];
    const uint32_t *xb[V];
    int64_t xst[V];
    __mmask16 xmk[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
        acc[v] = acc_in[v];
        sav[v] = sa[v];
        xb[v] = x[v];
        xst[v] = xs[v];
        xmk[v] = mk[v];
    }
    for (int64_t q0 = 0, b = 0; q0 < sp; q0 += bp, ++b) {
        const int64_t q1 = std::min(sp, q0 + bp);
        __m512 s[V][k_cols];
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v)
#pragma GCC unroll 8
            for (int c = 0; c < k_cols; ++c)
                s[v][c] = _mm512_setzero_ps();
        const uint32_t *xp[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v)
            xp[v] = xb[v] + q0 * xst[v];
        for (int64_t q = q0; q < q1; ++q) {
            if (npf > 0) { // one line of the next group's weights per pair
                _mm_prefetch(reinterpret_cast<const char *>(*pf++), _MM_HINT_T1);
                --npf;
            }
            __m512i xv[V];
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v) {
                xv[v] = _mm512_maskz_loadu_epi32(xmk[v], xp[v]);
                xp[v] += xst[v];
            }
#pragma GCC unroll 8
            for (int c = 0; c < k_cols; ++c) {
                // The weight pair as the broadcast (memory) operand; the products are the same
                // either way round.
                const __m512i wb = _mm512_set1_epi32(static_cast<int>(wd[c * k_slab + q]));
#pragma GCC unroll 8
                for (int v = 0; v < V; ++v)
                    s[v][c] = _mm512_dpbf16_ps(s[v][c], (__m512bh) xv[v], (__m512bh) wb);
            }
        }
        if (!scaled) {
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v)
#pragma GCC unroll 8
                for (int c = 0; c < k_cols; ++c) {
                    float *a = acc[v] + c * 16;
                    _mm512_store_ps(a, _mm512_add_ps(_mm512_load_ps(a), s[v][c]));
                }
            continue;
        }
        __m512 av[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v)
            av[v] = _mm512_load_ps(sav[v] + (b >> act_shift) * 16);
#pragma GCC unroll 8
        for (int c = 0; c < k_cols; ++c) {
            const __m512 w = _mm512_set1_ps(sw[c * k_slab_blocks + b]);
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v) {
                float *a = acc[v] + c * 16;
                _mm512_store_ps(a,
                                _mm512_fmadd_ps(s[v][c],
                                                _mm512_mul_ps(av[v], w),
                                                _mm512_load_ps(a)));
            }
        }
    }
}

using tile_fn = void (*)(const uint32_t *const[],
                         const int64_t[],
                         const __mmask16[],
                         const float *const[],
                         const uint32_t *,
                         const float *,
                         int64_t,
                         int64_t,
                         int,
                         bool,
                         float *const[],
                         const uint8_t *const *,
                         int64_t);
constexpr tile_fn k_tiles[k_vecs + 1] = {nullptr, tile<1>, tile<2>, tile<3>};

} // namespace

bool bf16dot_prepare_x(const linear_job &job, int64_t r0, int64_t r1, uint16_t *xb)
{
    if (job.p->m > k_rowvec_max_rows)
        return panel_path::prepare_rows(job, r0, r1, xb);
    const linear_params &p = *job.p;
    const int64_t k = p.k, kp = bf16dot_row_elems(k), pairs = kp / 2;
    const bool ints = p.w_type == linear_weight_type::fp4_e2m1;
    const __m512 inv512 = _mm512_set1_ps(0x1p-9f);
    const __m512i low16 = _mm512_set1_epi32(0xFFFF);
    __m512i inexact = _mm512_setzero_si512();
    uint32_t inexact_tail = 0;
    // FP4 weights: the code values from xi (code * 512, exact in fp32 and bf16). FP8 weights:
    // the code values (xq, exact in bf16). BF16 weights: x itself (job.xs, x as floats), exact
    // in bf16 when the low 16 bits are zero. As fp32 bits, elements [i, i + 16) of row r.
    const float *src = p.w_type == linear_weight_type::fp8_e4m3 ? job.xq : job.xs;
    auto bits16 = [&](int64_t r, int64_t i) {
        return ints ? _mm512_castps_si512(
                   _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(job.xi + r * k + i)), inv512))
                    : _mm512_loadu_si512(src + r * k + i);
    };
    auto *xt = reinterpret_cast<uint32_t *>(xb);
    // 32 elements of 16 rows at a time: the high halves packed to 16 bf16 pairs per row, then a
    // 16 x 16 transpose to [pair][16 rows] (rows past m zero, not stored).
    const int64_t pairs32 = k / 32 * 16; // pairs done this way
    const __m512i hi_words = _mm512_setr_epi32(0x00030001,
                                               0x00070005,
                                               0x000B0009,
                                               0x000F000D,
                                               0x00130011,
                                               0x00170015,
                                               0x001B0019,
                                               0x001F001D,
                                               0x00230021,
                                               0x00270025,
                                               0x002B0029,
                                               0x002F002D,
                                               0x00330031,
                                               0x00370035,
                                               0x003B0039,
                                               0x003F003D);
    thread_local aligned_buf<uint16_t> row;
    uint16_t *d = row.get(static_cast<size_t>(kp));
    const auto *d32 = reinterpret_cast<const uint32_t *>(d);
    // The row vectors that start in [r0, r1), each whole (the ranges of a parallel_for partition
    // the rows, so every vector is written by one thread, and none shares its cache lines).
    for (int64_t v = (r0 + 15) / 16; v < (r1 + 15) / 16; ++v) {
        const int64_t r = v * 16;
        const int lanes = x_lanes(p.m, v);
        const __mmask16 mk = static_cast<__mmask16>((1u << lanes) - 1);
        uint32_t *base = xt + v * 16 * pairs;
        for (int64_t q = 0; q < pairs32; q += 16) {
            __m512i t[16];
            for (int i = 0; i < 16; ++i) {
                if (i >= lanes) {
                    t[i] = _mm512_setzero_si512();
                    continue;
                }
                const __m512i a = bits16(r + i, 2 * q), b = bits16(r + i, 2 * q + 16);
                inexact = _mm512_or_si512(inexact,
                                          _mm512_or_si512(_mm512_and_si512(a, low16),
                                                          _mm512_and_si512(b, low16)));
                t[i] = _mm512_permutex2var_epi16(a, hi_words, b);
            }
            transpose16(t);
            for (int i = 0; i < 16; ++i)
                _mm512_mask_storeu_epi32(base + (q + i) * lanes, mk, t[i]);
        }
        const int64_t q_from = pairs32; // pairs [q_from, pairs) of each row still to do
        for (int64_t rr = r; rr < r + lanes && q_from < pairs; ++rr) {
            // The rest of the row (k % 32 elements) through a row buffer.
            const int64_t e0 = 2 * q_from;
            int64_t i = e0;
            for (; i + 16 <= k; i += 16) {
                const __m512i a = bits16(rr, i);
                inexact = _mm512_or_si512(inexact, _mm512_and_si512(a, low16));
                _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + i),
                                    _mm512_cvtepi32_epi16(_mm512_srli_epi32(a, 16)));
            }
            for (; i < k; ++i) {
                const float f = ints ? static_cast<float>(job.xi[rr * k + i]) * 0x1p-9f
                                     : src[rr * k + i];
                uint32_t b;
                std::memcpy(&b, &f, 4);
                inexact_tail |= b & 0xFFFFu;
                d[i] = static_cast<uint16_t>(b >> 16);
            }
            if (kp != k)
                d[k] = 0;
            uint32_t *dst = base + rr % 16;
            for (int64_t q = q_from; q < pairs; ++q)
                dst[q * lanes] = d32[q];
        }
    }
    return inexact_tail == 0 && _mm512_test_epi32_mask(inexact, inexact) == 0;
}

// acc [v][c][16 rows] -> buf[row][32] at columns [8 g, 8 g + 8) (all 16 lanes of every vector:
// buf has nv * 16 rows). 8 x 16 transposes; the 32-column rows go to y at the end of the tile.
void acc_to_tile(const float *acc, int64_t nv, int g, float *buf)
{
    for (int64_t v = 0; v < nv; ++v) {
        const float *a = acc + v * k_cols * 16;
        __m512 u[k_cols];
        for (int h = 0; h < 2; ++h) {
            const float *a4 = a + 4 * h * 16;
            const __m512 c0 = _mm512_load_ps(a4), c1 = _mm512_load_ps(a4 + 16);
            const __m512 c2 = _mm512_load_ps(a4 + 32), c3 = _mm512_load_ps(a4 + 48);
            const __m512 lo01 = _mm512_unpacklo_ps(c0, c1), hi01 = _mm512_unpackhi_ps(c0, c1);
            const __m512 lo23 = _mm512_unpacklo_ps(c2, c3), hi23 = _mm512_unpackhi_ps(c2, c3);
            // u[4h + s], 128-bit lane L: columns 4h..4h+3 of row 4L + s.
            u[4 * h + 0] = _mm512_castpd_ps(
                _mm512_unpacklo_pd(_mm512_castps_pd(lo01), _mm512_castps_pd(lo23)));
            u[4 * h + 1] = _mm512_castpd_ps(
                _mm512_unpackhi_pd(_mm512_castps_pd(lo01), _mm512_castps_pd(lo23)));
            u[4 * h + 2] = _mm512_castpd_ps(
                _mm512_unpacklo_pd(_mm512_castps_pd(hi01), _mm512_castps_pd(hi23)));
            u[4 * h + 3] = _mm512_castpd_ps(
                _mm512_unpackhi_pd(_mm512_castps_pd(hi01), _mm512_castps_pd(hi23)));
        }
        float *rows = buf + v * 16 * k_bf16dot_tile_cols + g * k_cols;
        for (int s = 0; s < 4; ++s) {
            // Row 4L + s: lane L of u[s] (columns 0-3) and of u[4 + s] (columns 4-7), as one
            // 256-bit row: lanes (L of u[s], L of u[4 + s]).
            const __m512 lo = _mm512_shuffle_f32x4(u[s],
                                                   u[4 + s],
                                                   0x44); // L0 s, L1 s, L0 4+s, L1 4+s
            const __m512 hi = _mm512_shuffle_f32x4(u[s],
                                                   u[4 + s],
                                                   0xEE);          // L2 s, L3 s, L2 4+s, L3 4+s
            const __m512 r01 = _mm512_shuffle_f32x4(lo, lo, 0xD8); // L0 s, L0 4+s, L1 s, L1 4+s
            const __m512 r23 = _mm512_shuffle_f32x4(hi, hi, 0xD8);
            _mm256_store_ps(rows + (0 + s) * k_bf16dot_tile_cols, _mm512_castps512_ps256(r01));
            _mm256_store_ps(rows + (4 + s) * k_bf16dot_tile_cols,
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r01), 1)));
            _mm256_store_ps(rows + (8 + s) * k_bf16dot_tile_cols, _mm512_castps512_ps256(r23));
            _mm256_store_ps(rows + (12 + s) * k_bf16dot_tile_cols,
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r23), 1)));
        }
    }
}

// buf[row][32] -> y rows [0, m), columns [j0, j0 + cols) (bf16: rounded once to nearest even,
// NaN quietened, as linear_store does): whole rows of the tile at once.
void flush_tile(const linear_params &p, const float *buf, int64_t j0, int cols)
{
    const int64_t ld = p.ldy ? p.ldy : p.n;
    const __mmask32 mk = cols >= 32 ? ~__mmask32(0) : (__mmask32(1) << cols) - 1;
    const __mmask16 m0 = static_cast<__mmask16>(mk), m1 = static_cast<__mmask16>(mk >> 16);
    for (int64_t r = 0; r < p.m; ++r) {
        const float *b = buf + r * k_bf16dot_tile_cols;
        if (p.y_type == act_type::f32) {
            float *y = static_cast<float *>(p.y) + r * ld + j0;
            _mm512_mask_storeu_ps(y, m0, _mm512_load_ps(b));
            _mm512_mask_storeu_ps(y + 16, m1, _mm512_load_ps(b + 16));
            continue;
        }
        auto bf16 = [](__m512i v) {
            const __mmask16 nan
                = _mm512_cmpgt_epu32_mask(_mm512_and_si512(v, _mm512_set1_epi32(0x7FFFFFFF)),
                                          _mm512_set1_epi32(0x7F800000));
            const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(v, 16), _mm512_set1_epi32(1));
            const __m512i rounded
                = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(v, _mm512_set1_epi32(0x7FFF)),
                                                     odd),
                                    16);
            return _mm512_mask_or_epi32(rounded,
                                        nan,
                                        _mm512_srli_epi32(v, 16),
                                        _mm512_set1_epi32(0x40));
        };
        const __m512i lo = bf16(_mm512_load_si512(b)), hi = bf16(_mm512_load_si512(b + 16));
        uint16_t *y = static_cast<uint16_t *>(p.y) + r * ld + j0;
        _mm256_mask_storeu_epi16(y, m0, _mm512_cvtepi32_epi16(lo));
        _mm256_mask_storeu_epi16(y + 16, m1, _mm512_cvtepi32_epi16(hi));
    }
}

void linear_gemm_bf16dot(const linear_job &job, int64_t t0, int64_t t1)
{
    if (job.p->m > k_rowvec_max_rows)
        return panel_path::gemm_panels(job, t0, t1);
    const linear_params &p = *job.p;
    const int64_t m = p.m, k = p.k, pairs = bf16dot_row_elems(k) / 2, kb = (k + 127) / 128;
    const int64_t nv = (m + 15) / 16;
    const bool fp8 = p.w_type == linear_weight_type::fp8_e4m3;
    const bool scaled = fp8 || p.w_type == linear_weight_type::fp4_e2m1;
    // Blocks in k-pairs, weight blocks per activation block (both 128 for FP8; 32 vs 128 FP4).
    // BF16: one block; its sum runs on over the slabs in acc.
    const int64_t bp = fp8 ? 64 : scaled ? 16 : k_slab;
    const int per_act = fp8 ? 1 : 4;
    thread_local aligned_buf<float> sat_buf, acc_buf, sw_buf, tile_out;
    thread_local aligned_buf<uint32_t> wd_buf;
    // sA per row vector: [nv][kb][16] (lanes past m zero).
    float *sat = nullptr;
    if (scaled) {
        sat = sat_buf.get(static_cast<size_t>(nv * kb * 16));
        std::memset(sat, 0, static_cast<size_t>(nv * kb * 16) * 4);
        for (int64_t r = 0; r < m; ++r)
            for (int64_t b = 0; b < kb; ++b)
                sat[((r / 16) * kb + b) * 16 + r % 16] = e8m0_to_f32(job.xsa[r * kb + b]);
    }
    float *sw = sw_buf.get(static_cast<size_t>(k_slab_blocks * k_cols));
    float *tile_buf = tile_out.get(static_cast<size_t>(nv * 16 * k_bf16dot_tile_cols));
    uint32_t *wd = wd_buf.get(static_cast<size_t>(k_slab * k_cols));
    const auto *x = reinterpret_cast<const uint32_t *>(job.xb);
    // Row vectors in groups of at most k_vecs, as even as possible (16 -> 3,3,3,3,2,2).
    const int64_t groups = (nv + k_vecs - 1) / k_vecs;
    const int64_t j_end = std::min<int64_t>(p.n, t1 * k_bf16dot_tile_cols);
    // Bytes of one weight row and of its scales (FP4: one byte per 32 elements).
    const int64_t row_bytes = fp8 ? k : scaled ? k / 2 : 2 * k;
    const int64_t scale_bytes = fp8 || !scaled ? 0 : k / 32;
    // Cache lines of one slab of 8 rows: 8 x (1 KiB of BF16 + a partial line at each end).
    constexpr int64_t k_max_pf = k_cols * (k_slab * 4 / 64 + 2);
    const uint8_t *pf[k_max_pf];
    // Column blocks (whole 32-column tiles) whose accumulators fit ~64 KiB: within a block the
    // k-slab loop runs outside the 8-column groups, so the slab of x (256 pairs x m rows, 256 KiB
    // at m = 256) is read from L2 by every group instead of all of x from further out.
    const int64_t blk = std::clamp<int64_t>((65536 / (nv * 16 * 4)) / k_bf16dot_tile_cols
                                                * k_bf16dot_tile_cols,
                                            k_bf16dot_tile_cols,
                                            8 * k_bf16dot_tile_cols);
    float *acc_all = acc_buf.get(static_cast<size_t>(blk / k_cols * nv * k_cols * 16));
    for (int64_t cb = t0 * k_bf16dot_tile_cols; cb < j_end; cb += blk) {
        const int64_t ce = std::min(j_end, cb + blk);
        const int64_t ngroups = (ce - cb + k_cols - 1) / k_cols;
        std::memset(acc_all, 0, static_cast<size_t>(ngroups * nv * k_cols * 16) * 4);
        for (int64_t q0 = 0; q0 < pairs; q0 += k_slab) {
            const int64_t sp = std::min(k_slab, pairs - q0), b0 = q0 / bp;
            for (int64_t gi = 0; gi < ngroups; ++gi) {
                const int64_t j0 = cb + gi * k_cols;
                const int cols = static_cast<int>(std::min<int64_t>(k_cols, p.n - j0));
                float *acc = acc_all + gi * nv * k_cols * 16;
                decode_slab(p, j0, cols, q0, sp, wd);
                if (scaled)
                    fill_scales(p, j0, cols, b0, (sp + bp - 1) / bp, sw);
                // The next group's weights come from memory (each weight is read once per
                // call), in rows too short for the hardware prefetcher: the tiles ask for them
                // line by line while this group runs (all at once, the prefetches would wait for
                // each other). Next: the following group of this slab, else the block's first
                // group in the next slab, else the next block's first group.
                int64_t nj = j0 + k_cols, nq = q0;
                if (nj >= ce) {
                    nj = q0 + k_slab < pairs ? cb : ce;
                    nq = q0 + k_slab < pairs ? q0 + k_slab : 0;
                }
                const int64_t next_cols = std::min<int64_t>(k_cols, j_end - nj);
                if (scale_bytes && nq == 0)
                    prefetch_rows(p.w_scale + nj * scale_bytes, next_cols * scale_bytes);
                const int64_t nsp = std::min(k_slab, pairs - nq);
                const int64_t s0 = fp8 ? 2 * nq : scaled ? nq : 4 * nq;
                const int64_t s1 = std::min(row_bytes,
                                            fp8      ? 2 * (nq + nsp)
                                            : scaled ? nq + nsp
                                                     : 4 * (nq + nsp));
                int64_t npf = 0;
                for (int64_t c = 0; c < next_cols; ++c) {
                    const uint8_t *row = static_cast<const uint8_t *>(p.w) + (nj + c) * row_bytes;
                    const auto first = reinterpret_cast<uintptr_t>(row + s0) & ~uintptr_t(63);
                    for (auto a = first;
                         a < reinterpret_cast<uintptr_t>(row + s1) && npf < k_max_pf;
                         a += 64)
                        pf[npf++] = reinterpret_cast<const uint8_t *>(a);
                }
                const uint8_t *const *pf_at = pf;
                for (int64_t g = 0, v0 = 0; g < groups; ++g) {
                    const int V = static_cast<int>((nv - v0 + (groups - g) - 1) / (groups - g));
                    const uint32_t *xv[k_vecs];
                    int64_t xs[k_vecs];
                    __mmask16 mk[k_vecs];
                    const float *sav[k_vecs];
                    float *accv[k_vecs];
                    for (int i = 0; i < V; ++i) {
                        const int64_t v = v0 + i;
                        const int lanes = x_lanes(m, v);
                        xs[i] = lanes;
                        xv[i] = x + v * 16 * pairs + q0 * lanes;
                        mk[i] = static_cast<__mmask16>((1u << lanes) - 1);
                        sav[i] = scaled ? sat + (v * kb + b0 / per_act) * 16 : nullptr;
                        accv[i] = acc + v * k_cols * 16;
                    }
                    k_tiles[V](xv,
                               xs,
                               mk,
                               sav,
                               wd,
                               sw,
                               sp,
                               bp,
                               per_act == 4 ? 2 : 0,
                               scaled,
                               accv,
                               pf_at,
                               npf);
                    const int64_t issued = std::min(npf, sp);
                    pf_at += issued;
                    npf -= issued;
                    v0 += V;
                }
            }
        }
        // Per 32-column tile: the groups' results to a row buffer, then whole rows to y (full
        // cache lines of y).
        for (int64_t gi = 0; gi < ngroups; ++gi) {
            const int g = static_cast<int>(gi % (k_bf16dot_tile_cols / k_cols));
            acc_to_tile(acc_all + gi * nv * k_cols * 16, nv, g, tile_buf);
            if (g == k_bf16dot_tile_cols / k_cols - 1 || gi + 1 == ngroups) {
                const int64_t tj = cb + (gi - g) * k_cols;
                flush_tile(p,
                           tile_buf,
                           tj,
                           static_cast<int>(std::min<int64_t>(k_bf16dot_tile_cols, p.n - tj)));
            }
        }
    }
}

} // namespace fathom::kernels
