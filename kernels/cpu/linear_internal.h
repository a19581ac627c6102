// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

// Shared between the LINEAR translation units (portable and AVX2); not a public header.

#include "kernels/linear.h"

#include <cstdint>

namespace fathom::kernels {

/*
  The fast paths work on dequantised values: x as fp32 (for FP8/FP4 weights: the act-quantised
  x, xq * sA, exact in fp32) and each weight row decoded to fp32 (code * sW, exact). Products of
  these are exact fp32 numbers equal to (xq * wq) * sA * sW, so an exact block sum rounded once
  and accumulated in fp32 per block gives bit for bit the reference's result (power-of-two
  scaling commutes with rounding while nothing is subnormal).
*/
struct linear_job
{
    const linear_params *p = nullptr;
    const float *xs = nullptr; // [m, k] prepared x, row stride k
    int64_t block = 0;         // exact mode: k-block of the per-block rounding (128 / 32 / k)
    // FP4 weights only: the act-quantised codes as integers (code value * 512, exact) and the
    // activation scale bytes per 128-block, for the fused integer batch-1 kernel.
    const int32_t *xi = nullptr;  // [m, k]
    const uint8_t *xsa = nullptr; // [m, ceil(k/128)] (FP8 and FP4 weights)
    // FP8 weights only: the act-quantised code values as floats (unscaled).
    const float *xq = nullptr; // [m, k]
    // Exact mode on AVX2 (GEMM and the BF16 batch-1 kernel): xs as doubles, [m, k].
    const double *xd = nullptr;
    // FP4 weights, batch 1 on AVX2: |xi| split into bytes and its sign, per 32-block
    // [d0[32], d1[32], d2[32], sign[32]] with the block's elements in nibble order (even k
    // first, then odd k), see fp4_digits(). [m, k / 32, 128] bytes.
    const uint8_t *x4 = nullptr;
    // Use the AVX-512 loops (linear_avx512.cpp) where there are any.
    bool avx512 = false;
    // FP4 weights, exact GEMM on AVX-512 VNNI: xi + 2^18 split into bytes, [m][3][k]
    // (digit-major per row), see linear_vnni.cpp.
    const uint8_t *xv = nullptr;
    // fp32 mode, GEMM with vdpbf16ps (linear_bf16dot.cpp): x as bf16 (FP8/FP4 weights: the
    // act-quantised code values; BF16 weights: x itself), m * bf16dot_row_elems(k) elements, an
    // odd k's last pair zero padded. Up to 64 rows as k-pairs of 16-row vectors (vector v, rows
    // 16v.., lanes = min(16, m - 16v): [pairs][lanes] dwords from dword 16 v pairs), above that
    // as rows [m][bf16dot_row_elems(k)].
    const uint16_t *xb = nullptr;
};

// fp32-mode GEMM on AVX-512 BF16 (linear_bf16dot.cpp, after cpu_has_avx512_bf16()): FP8/FP4
// weights, or BF16 weights with bf16 x; output-column tiles of k_bf16dot_tile_cols, [t0, t1).
// Needs job.xb (bf16dot_prepare_x writes rows [r0, r1), or with the 16-row vectors those that
// start in [r0, r1): the ranges of a partition of [0, m) fill it; false: some x of a BF16 weight
// is not a bf16 value, use another path) and for FP8/FP4 job.xsa.
constexpr int k_bf16dot_tile_cols = 32;
inline int64_t bf16dot_row_elems(int64_t k)
{
    return (k + 1) / 2 * 2;
}
#if defined(FATHOM_KERNELS_HAVE_AVX512BF16)
bool bf16dot_prepare_x(const linear_job &job, int64_t r0, int64_t r1, uint16_t *xb);
void linear_gemm_bf16dot(const linear_job &job, int64_t t0, int64_t t1);
#else
inline bool bf16dot_prepare_x(const linear_job &, int64_t, int64_t, uint16_t *)
{
    return false;
}
inline void linear_gemm_bf16dot(const linear_job &, int64_t, int64_t) {}
#endif

// AVX-512 variants (linear_avx512.cpp), same results as their AVX2 twins.
#if defined(FATHOM_KERNELS_HAVE_AVX512)
float dot_bf16_f64_avx512(const double *x, const uint16_t *w, int64_t k);
// Rows w, w + ldw, w + 2 ldw, w + 3 ldw: the same four results as dot_bf16_f64_avx512.
void dot4_bf16_f64_avx512(const double *x, const uint16_t *w, int64_t ldw, int64_t k, float out[4]);
float dot_fp8_fused_avx512(
    const float *xq, const uint8_t *xsa, const uint8_t *w, const uint8_t *ws, int64_t k);
// mr (1..12) rows of x against one packed 8-column panel (see linear_avx2.cpp gemm_f64_tile).
void gemm_rows_avx512(const double *x,
                      int64_t ldx,
                      int mr,
                      const double *panel,
                      int64_t k,
                      int64_t block,
                      float out[][8]);
// Exact FP4 GEMM with vpdpbusd (linear_vnni.cpp): output-column tiles of 16, [t0, t1).
// Needs job.xv (fp4_vnni_digits) and job.xsa. Bit-identical to linear_ref.
constexpr int k_vnni_tile_cols = 16;
void fp4_vnni_digits(const int32_t *xi, int64_t m, int64_t k, uint8_t *xv);
void linear_gemm_fp4_vnni(const linear_job &job, int64_t t0, int64_t t1);
#else
// Builds without the AVX-512 unit (MSVC, non-x86): never called, job.avx512 stays false.
constexpr int k_vnni_tile_cols = 16;
inline void fp4_vnni_digits(const int32_t *, int64_t, int64_t, uint8_t *) {}
inline void linear_gemm_fp4_vnni(const linear_job &, int64_t, int64_t) {}
inline float dot_bf16_f64_avx512(const double *, const uint16_t *, int64_t)
{
    return 0.0f;
}
inline void dot4_bf16_f64_avx512(const double *, const uint16_t *, int64_t, int64_t, float[4]) {}
inline float dot_fp8_fused_avx512(
    const float *, const uint8_t *, const uint8_t *, const uint8_t *, int64_t)
{
    return 0.0f;
}
inline void gemm_rows_avx512(
    const double *, int64_t, int, const double *, int64_t, int64_t, float[][8])
{}
#endif

// fp32 mode, m < k_gemm_min_rows (decode GEMV) with vdpbf16ps / vpermi2b
// (linear_bf16dot_gemv.cpp): prepares x from job.xs / xq / xi / xsa and runs all output columns
// on `pool`. Only after cpu_has_avx512_bf16().
#if defined(FATHOM_KERNELS_HAVE_AVX512BF16)
void linear_gemv_bf16dot(const linear_job &job, parallel_runner *pool);
#else
inline void linear_gemv_bf16dot(const linear_job &, parallel_runner *) {}
#endif

// AVX2 pieces of the activation quantisation (bit-identical to the scalar loop in linear_cpu.cpp):
// the largest magnitude of x[0, n) (NaN ignored, as std::max does), and for one block x[i] <-
// e4m3(x[i] * inv) * sv with the code values to xq / xi (value * 512) where not nullptr.
float amax_avx2(const float *x, int64_t n);
void act_quant_block_avx2(float *x, int64_t n, float inv, float sv, float *xq, int32_t *xi);

// Writes the x4 layout above for one row of act-quantised integers xi [k] (k % 32 == 0).
void fp4_digits(const int32_t *xi, int64_t k, uint8_t *out);

Status linear_check(const linear_params &p);
void linear_store(const linear_params &p, int64_t row, int64_t col, float v);
// Rows [r, r + mr) x columns [j0, j0 + cols) of a GEMM tile, out[i * pitch + c], into y (f32
// copied, bf16 rounded once as linear_store does).
void linear_store_tile(
    const linear_params &p, int64_t r, int mr, int64_t j0, int cols, const float *out, int pitch);

// Output columns [j0, j1) for every row of x.
void linear_rows_portable(const linear_job &job, int64_t j0, int64_t j1);
void linear_rows_avx2(const linear_job &job, int64_t j0, int64_t j1); // only on x86-64 builds

// Exact mode, many rows of x (prefill): blocked GEMM over output-column tiles of
// k_gemm_tile_cols, tiles [t0, t1). Needs job.xd. Bit-identical to linear_rows_*.
constexpr int k_gemm_tile_cols = 8;
constexpr int k_gemm_min_rows = 4;
void linear_gemm_tiles_avx2(const linear_job &job, int64_t t0, int64_t t1);

} // namespace fathom::kernels
