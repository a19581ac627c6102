// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR, fp32 mode, m < 4 rows of x (decode GEMV), AVX-512 with BF16 (vdpbf16ps) and VBMI
// (vpermi2b). Called only after cpu_has_avx512_bf16(). The goal is the memory bandwidth: each
// weight byte is loaded once, decoded in registers and used for every row of x.
//
// - fp8_e4m3: 64 codes per load; the 7-bit magnitude indexes two 128-byte tables (low and high
//   byte of the bf16 of the e4m3 value, subnormals included) with vpermi2b, the sign bit is OR-ed
//   into the high byte, and unpacking the two byte vectors gives 2 x 32 bf16 words (elements
//   16L + 0..7 and 16L + 8..15 of each 128-bit lane L). The activation codes (e4m3 values, exact
//   in bf16) are stored in the same order once per call, so vdpbf16ps multiplies matching
//   elements. Products of two e4m3 values are exact in fp32; they are summed in fp32 per 128-block
//   (order unspecified), then acc += block * (sA * sW) lane-wise, and the lanes summed at the end.
// - fp4_e2m1: 64 bytes (128 elements, four 32-blocks) per load, bytes widened to words, low and
//   high nibbles through a 16-entry bf16 table (vpermw): even and odd elements in two vectors, the
//   activation codes stored as [even 32][odd 32] per 64 elements. Each dot-product lane then
//   covers one 32-block (lanes 0-7 the first, 8-15 the second of a 64-element half), so the
//   per-lane scale vector holds sA * sW of that block.
// - bf16: bf16 -> fp32 in registers (element 2i: word << 16, element 2i+1: dword & 0xFFFF0000),
//   FMA against x in fp32 (x stored as [even 16][odd 16] per 32 elements).
// - f32: plain FMA.
// All paths read a row's tail with masked loads (no reads past the row) against zero padding.

#include "kernels/formats.h"
#include "linear_internal.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

// Loops over the rows of x (M <= 3) and weight rows of a group (R <= 4) must be unrolled so
// their accumulators stay in registers (GCC -O2 keeps such arrays in memory otherwise).
#define UNROLL_SMALL _Pragma("GCC unroll 4")

namespace fathom::kernels {

namespace {

struct fp8_tables
{
    alignas(64) uint8_t lo[128];
    alignas(64) uint8_t hi[128];
};

const fp8_tables &fp8_lut()
{
    static const fp8_tables t = [] {
        fp8_tables r{};
        for (int c = 0; c < 128; ++c) {
            const uint16_t b = f32_to_bf16(e4m3_to_f32(static_cast<uint8_t>(c))); // exact
            r.lo[c] = static_cast<uint8_t>(b & 0xFF);
            r.hi[c] = static_cast<uint8_t>(b >> 8);
        }
        return r;
    }();
    return t;
}

// bf16 bits of an fp32 value that is exactly representable in bf16.
inline uint16_t bf16_bits_exact(float v)
{
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return static_cast<uint16_t>(u >> 16);
}

// Software prefetch of every weight cache line 4 KiB ahead (the rows are consecutive in memory, so
// this runs into the next rows): on the development VM the hardware prefetchers alone left a
// batch-1 stream at 4-7 GB/s per core, with this 16-23 GB/s (FP8 / FP4, 4096 x 1024, one thread).
constexpr int k_prefetch_bytes = 4096;
inline void prefetch_ahead(const void *p)
{
    _mm_prefetch(static_cast<const char *>(p) + k_prefetch_bytes, _MM_HINT_T0);
}

inline __m512 dp(__m512 acc, __m512i a, __m512i b)
{
    return _mm512_dpbf16_ps(acc, (__m512bh) a, (__m512bh) b);
}

inline __mmask64 tail_mask8(int64_t n) // n in [0, 64]
{
    return n >= 64 ? ~__mmask64(0) : (__mmask64(1) << n) - 1;
}

// Position p (0..63) of the FP8 activation layout holds element fp8_pos[p] of its 64-chunk.
int fp8_element(int p)
{
    const int half = p / 32, q = p % 32; // half 0: unpacklo, 1: unpackhi
    return 16 * (q / 8) + 8 * half + q % 8;
}

// Position p (0..63) of the FP4 / BF16-pair layout: even elements first, then odd.
int pair_element(int p, int half_len)
{
    return p < half_len ? 2 * p : 2 * (p - half_len) + 1;
}

struct prepared
{
    const uint16_t *xb = nullptr; // bf16 codes, [m][kp] in the weight type's order
    const float *xf = nullptr;    // f32 x, [m][kp] (bf16 weights: pair order; f32: natural)
    const float *sa = nullptr;    // [m][kb] activation scales (FP8/FP4)
    int64_t kp = 0, kb = 0;
};

template<int M>
void rows_fp8(const linear_params &p, const prepared &x, int64_t j0, int64_t j1)
{
    const fp8_tables &lut = fp8_lut();
    const __m512i tlo0 = _mm512_load_si512(lut.lo), tlo1 = _mm512_load_si512(lut.lo + 64);
    const __m512i thi0 = _mm512_load_si512(lut.hi), thi1 = _mm512_load_si512(lut.hi + 64);
    const __m512i signbit = _mm512_set1_epi8(static_cast<char>(0x80));
    const int64_t k = p.k, kb = x.kb;
    const uint8_t *wbase = static_cast<const uint8_t *>(p.w);
    for (int64_t j = j0; j < j1; ++j) {
        const uint8_t *w = wbase + j * k;
        const uint8_t *ws = p.w_scale + (j / 128) * kb;
        __m512 acc[M];
        UNROLL_SMALL
        for (int r = 0; r < M; ++r)
            acc[r] = _mm512_setzero_ps();
        for (int64_t b = 0; b < kb; ++b) {
            const int64_t i0 = b * 128;
            __m512 blk[M];
            UNROLL_SMALL
            for (int r = 0; r < M; ++r)
                blk[r] = _mm512_setzero_ps();
            for (int64_t c = i0; c < std::min<int64_t>(k, i0 + 128); c += 64) {
                prefetch_ahead(w + c);
                const __m512i codes = _mm512_maskz_loadu_epi8(tail_mask8(k - c), w + c);
                const __m512i lo = _mm512_permutex2var_epi8(tlo0, codes, tlo1);
                __m512i hi = _mm512_permutex2var_epi8(thi0, codes, thi1);
                hi = _mm512_ternarylogic_epi32(hi, codes, signbit, 0xF8); // hi | (codes & 0x80)
                const __m512i w0 = _mm512_unpacklo_epi8(lo, hi), w1 = _mm512_unpackhi_epi8(lo, hi);
                UNROLL_SMALL
                for (int r = 0; r < M; ++r) {
                    const uint16_t *xr = x.xb + r * x.kp + c;
                    const __m512 d0 = dp(_mm512_setzero_ps(), _mm512_loadu_si512(xr), w0);
                    const __m512 d1 = dp(_mm512_setzero_ps(), _mm512_loadu_si512(xr + 32), w1);
                    blk[r] = _mm512_add_ps(blk[r], _mm512_add_ps(d0, d1));
                }
            }
            const float sw = e8m0_to_f32(ws[b]);
            UNROLL_SMALL
            for (int r = 0; r < M; ++r)
                acc[r] = _mm512_fmadd_ps(blk[r], _mm512_set1_ps(x.sa[r * kb + b] * sw), acc[r]);
        }
        UNROLL_SMALL
        for (int r = 0; r < M; ++r)
            linear_store(p, r, j, _mm512_reduce_add_ps(acc[r]));
    }
}

// Four e8m0 bytes (fewer at a row's end: `n` valid) as fp32 scales in lanes 0..3 (byte 0 is
// 2^-127, a subnormal, as e8m0_to_f32 gives it).
inline __m128 e8m0x4(const uint8_t *s, int n)
{
    const __m128i b = _mm_cvtepu8_epi32(
        _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << n) - 1), s));
    const __m128i bits = _mm_slli_epi32(b, 23);
    const __m128i zero = _mm_cmpeq_epi32(b, _mm_setzero_si128());
    return _mm_castsi128_ps(_mm_blendv_epi8(bits, _mm_set1_epi32(0x00400000), zero));
}

template<int M>
void rows_fp4(const linear_params &p, const prepared &x, int64_t j0, int64_t j1)
{
    // 2 x e2m1 as bf16 words would be exact too; the table holds the values themselves.
    alignas(64) uint16_t table[32] = {};
    for (int c = 0; c < 16; ++c)
        table[c] = bf16_bits_exact(e2m1_to_f32(static_cast<uint8_t>(c)));
    const __m512i lut = _mm512_load_si512(table);
    const __m512i low4 = _mm512_set1_epi16(0x0F);
    const __m512i lanes01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i lanes23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const int64_t k = p.k, kb32 = k / 32, rowb = k / 2, kb = x.kb;
    const uint8_t *wbase = static_cast<const uint8_t *>(p.w);
    for (int64_t j = j0; j < j1; ++j) {
        const uint8_t *w = wbase + j * rowb;
        const uint8_t *ws = p.w_scale + j * kb32;
        __m512 acc[M][2];
        UNROLL_SMALL
        for (int r = 0; r < M; ++r)
            acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (int64_t c = 0; c < kb; ++c) { // 128 elements = 64 bytes = one activation block
            prefetch_ahead(w + c * 64);
            const __mmask64 mk = tail_mask8(rowb - c * 64);
            const __m512i a = _mm512_cvtepu8_epi16(
                _mm256_maskz_loadu_epi8(static_cast<__mmask32>(mk), w + c * 64));
            const __m512i bb = _mm512_cvtepu8_epi16(
                _mm256_maskz_loadu_epi8(static_cast<__mmask32>(mk >> 32), w + c * 64 + 32));
            const __m512i al = _mm512_permutexvar_epi16(_mm512_and_si512(a, low4), lut);
            const __m512i ah = _mm512_permutexvar_epi16(_mm512_srli_epi16(a, 4), lut);
            const __m512i bl = _mm512_permutexvar_epi16(_mm512_and_si512(bb, low4), lut);
            const __m512i bh = _mm512_permutexvar_epi16(_mm512_srli_epi16(bb, 4), lut);
            const int nblk = static_cast<int>(std::min<int64_t>(4, kb32 - c * 4));
            const __m512 sw = _mm512_zextps128_ps512(e8m0x4(ws + c * 4, nblk));
            const __m512 s01 = _mm512_permutexvar_ps(lanes01, sw);
            const __m512 s23 = _mm512_permutexvar_ps(lanes23, sw);
            UNROLL_SMALL
            for (int r = 0; r < M; ++r) {
                const uint16_t *xr = x.xb + r * x.kp + c * 128;
                const __m512 sa = _mm512_set1_ps(x.sa[r * kb + c]);
                const __m512 da = _mm512_add_ps(dp(_mm512_setzero_ps(), _mm512_loadu_si512(xr), al),
                                                dp(_mm512_setzero_ps(),
                                                   _mm512_loadu_si512(xr + 32),
                                                   ah));
                const __m512 db
                    = _mm512_add_ps(dp(_mm512_setzero_ps(), _mm512_loadu_si512(xr + 64), bl),
                                    dp(_mm512_setzero_ps(), _mm512_loadu_si512(xr + 96), bh));
                acc[r][0] = _mm512_fmadd_ps(da, _mm512_mul_ps(s01, sa), acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(db, _mm512_mul_ps(s23, sa), acc[r][1]);
            }
        }
        UNROLL_SMALL
        for (int r = 0; r < M; ++r)
            linear_store(p, r, j, _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1])));
    }
}

// R weight rows at once (R = 4 for one row of x): four streams in flight, one x load for all.
template<int M, int R>
void rows_bf16_group(const linear_params &p, const prepared &x, int64_t j)
{
    const int64_t k = p.k;
    const uint16_t *w = static_cast<const uint16_t *>(p.w) + j * k;
    const __m512i himask = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    const int64_t ahead = R * k; // the same place in the next group of rows
    __m512 acc[M][R][2];
    UNROLL_SMALL
    for (int r = 0; r < M; ++r)
        UNROLL_SMALL
    for (int t = 0; t < R; ++t)
        acc[r][t][0] = acc[r][t][1] = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 32) {
        const int64_t left = k - c;
        const __mmask32 mk = left >= 32 ? ~__mmask32(0) : (__mmask32(1) << left) - 1;
        __m512 e[R], o[R];
        UNROLL_SMALL
        for (int t = 0; t < R; ++t) {
            _mm_prefetch(reinterpret_cast<const char *>(w + t * k + c + ahead), _MM_HINT_T0);
            const __m512i v = _mm512_maskz_loadu_epi16(mk, w + t * k + c);
            e[t] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
            o[t] = _mm512_castsi512_ps(_mm512_and_si512(v, himask));
        }
        UNROLL_SMALL
        for (int r = 0; r < M; ++r) {
            const __m512 xe = _mm512_loadu_ps(x.xf + r * x.kp + c);
            const __m512 xo = _mm512_loadu_ps(x.xf + r * x.kp + c + 16);
            UNROLL_SMALL
            for (int t = 0; t < R; ++t) {
                acc[r][t][0] = _mm512_fmadd_ps(xe, e[t], acc[r][t][0]);
                acc[r][t][1] = _mm512_fmadd_ps(xo, o[t], acc[r][t][1]);
            }
        }
    }
    UNROLL_SMALL
    for (int r = 0; r < M; ++r)
        UNROLL_SMALL
    for (int t = 0; t < R; ++t)
        linear_store(p, r, j + t, _mm512_reduce_add_ps(_mm512_add_ps(acc[r][t][0], acc[r][t][1])));
}

template<int M>
void rows_bf16(const linear_params &p, const prepared &x, int64_t j0, int64_t j1)
{
    constexpr int R = M == 1 ? 4 : 2;
    int64_t j = j0;
    for (; j + R <= j1; j += R)
        rows_bf16_group<M, R>(p, x, j);
    for (; j < j1; ++j)
        rows_bf16_group<M, 1>(p, x, j);
}

template<int M>
void rows_f32(const linear_params &p, const prepared &x, int64_t j0, int64_t j1)
{
    const int64_t k = p.k;
    const float *wbase = static_cast<const float *>(p.w);
    for (int64_t j = j0; j < j1; ++j) {
        const float *w = wbase + j * k;
        __m512 acc[M][2];
        UNROLL_SMALL
        for (int r = 0; r < M; ++r)
            acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        int64_t c = 0;
        for (; c + 32 <= k; c += 32) {
            prefetch_ahead(w + c);
            prefetch_ahead(w + c + 16);
            const __m512 w0 = _mm512_loadu_ps(w + c), w1 = _mm512_loadu_ps(w + c + 16);
            UNROLL_SMALL
            for (int r = 0; r < M; ++r) {
                acc[r][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x.xf + r * x.kp + c), w0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(_mm512_loadu_ps(x.xf + r * x.kp + c + 16),
                                            w1,
                                            acc[r][1]);
            }
        }
        for (; c < k; c += 16) {
            const int64_t left = k - c;
            const __mmask16 mk = left >= 16 ? __mmask16(0xFFFF) : (__mmask16(1) << left) - 1;
            const __m512 wv = _mm512_maskz_loadu_ps(mk, w + c);
            UNROLL_SMALL
            for (int r = 0; r < M; ++r)
                acc[r][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, x.xf + r * x.kp + c),
                                            wv,
                                            acc[r][0]);
        }
        UNROLL_SMALL
        for (int r = 0; r < M; ++r)
            linear_store(p, r, j, _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1])));
    }
}

template<int M>
void rows(const linear_params &p, const prepared &x, int64_t j0, int64_t j1)
{
    switch (p.w_type) {
    case linear_weight_type::fp8_e4m3:
        rows_fp8<M>(p, x, j0, j1);
        break;
    case linear_weight_type::fp4_e2m1:
        rows_fp4<M>(p, x, j0, j1);
        break;
    case linear_weight_type::bf16:
        rows_bf16<M>(p, x, j0, j1);
        break;
    case linear_weight_type::f32:
        rows_f32<M>(p, x, j0, j1);
        break;
    }
}

} // namespace

void linear_gemv_bf16dot(const linear_job &job, parallel_runner *pool)
{
    const linear_params &p = *job.p;
    const int64_t k = p.k, m = p.m, kb = (k + 127) / 128;
    // Per calling thread; plain pointers go into the pool's lambda.
    thread_local std::vector<uint16_t> xb;
    thread_local std::vector<float> xf, sa;
    prepared x;
    x.kb = kb;
    switch (p.w_type) {
    case linear_weight_type::fp8_e4m3:
    case linear_weight_type::fp4_e2m1: {
        const bool fp8 = p.w_type == linear_weight_type::fp8_e4m3;
        x.kp = kb * 128;
        xb.assign(static_cast<size_t>(m * x.kp), 0);
        sa.resize(static_cast<size_t>(m * kb));
        for (int64_t r = 0; r < m; ++r) {
            uint16_t *dst = xb.data() + r * x.kp;
            for (int64_t c = 0; c < k; c += 64)
                for (int q = 0; q < 64; ++q) {
                    const int64_t i = c + (fp8 ? fp8_element(q) : pair_element(q, 32));
                    if (i >= k)
                        continue;
                    const float v = fp8 ? job.xq[r * k + i]
                                        : static_cast<float>(job.xi[r * k + i]) * 0x1p-9f;
                    dst[c + q] = bf16_bits_exact(v); // e4m3 values are exact in bf16
                }
            for (int64_t b = 0; b < kb; ++b)
                sa[static_cast<size_t>(r * kb + b)] = e8m0_to_f32(job.xsa[r * kb + b]);
        }
        x.xb = xb.data();
        x.sa = sa.data();
        break;
    }
    case linear_weight_type::bf16: {
        x.kp = (k + 63) / 64 * 64;
        xf.assign(static_cast<size_t>(m * x.kp), 0.0f);
        for (int64_t r = 0; r < m; ++r)
            for (int64_t c = 0; c < k; c += 32)
                for (int q = 0; q < 32; ++q)
                    if (const int64_t i = c + pair_element(q, 16); i < k)
                        xf[static_cast<size_t>(r * x.kp + c + q)] = job.xs[r * k + i];
        x.xf = xf.data();
        break;
    }
    case linear_weight_type::f32:
        x.kp = k;
        x.xf = job.xs;
        break;
    }
    // ~16 KiB of weights per range at least, so small linears stay on one thread.
    const int64_t row_bytes = std::max<int64_t>(1, linear_weight_bytes(p.w_type, 1, k));
    const int64_t grain = std::max<int64_t>(4, (16 * 1024) / row_bytes);
    parallel_for(pool, p.n, grain, [&p, x, m](int64_t j0, int64_t j1) {
        if (m == 1)
            rows<1>(p, x, j0, j1);
        else if (m == 2)
            rows<2>(p, x, j0, j1);
        else
            rows<3>(p, x, j0, j1);
    });
}

} // namespace fathom::kernels
