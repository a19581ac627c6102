// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  FP4 expert weights as FP8 block-scaled weights (ltexperts): the non-exact mode's prefill runs
  the FP4 experts' GEMMs through cuBLASLt's e4m3 x e4m3 block-scaled mode (cublaslt_linear.h),
  the weights converted on the fly into a scratch.

  FP4 weight (spec §6.3): W[i][j] = e2m1[i][j] * 2^(S[i][j/32] - 127), packed [rows, k/2] (low
  nibble = even j), e8m0 scales S [rows, k/32]. Per 128x128 block: Sb = max(S over the block)
  - 6, code[i][j] = e4m3 of e2m1[i][j] * 2^(S - Sb), block scale 2^(Sb - 127). Exact (the e4m3
  value times the block scale is the FP4 value times its 32-scale, bit for bit) when
  S - Sb = d lies in [-8, 6] for every 32-block of the block, i.e. max(S) - min(S) <= 14:
  6 * 2^6 = 384 <= 448 (e4m3's largest finite) and 0.5 * 2^-8 = 2^-9 (e4m3's smallest
  subnormal; every e2m1 value times 2^-8 is a multiple of it). fp4_fold_foldable() is the host
  scan that decides it per weight (it also wants Sb >= 1, a normal fp32 block scale, and no NaN
  scale byte 255); the kernel trusts it.

  Output layouts are those of cuBLASLt's CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F operand
  (linear_fp8_cublaslt.h): codes [rows, k] packed, block scales fp32 [rows/128][L4] with
  L4 = k/128 rounded up to a multiple of 4, the padding 0 (fp8_blk128_scale_count(rows, k)).
  rows and k multiples of 128 (others are refused).
*/

#include "kernels/status.h"

#include <cstdint>

struct CUstream_st;

namespace fathom::kernels {

constexpr int k_fp4_fold_max_spread = 14;
constexpr int k_fp4_fold_max_jobs = 16;

// One e4m3 matrix made of up to two FP4 weights stacked along rows (an expert's w1 then w3:
// one GEMM gives g | u). rows[1] = 0: one source. Device pointers.
struct fp4_fold_job
{
    const uint8_t *w[2] = {nullptr, nullptr};     // packed e2m1 [rows[i], k/2]
    const uint8_t *scale[2] = {nullptr, nullptr}; // e8m0 [rows[i], k/32]
    uint8_t *codes = nullptr;                     // e4m3 [rows[0] + rows[1], k]
    float *blk_scales = nullptr;                  // fp32 [(rows[0] + rows[1]) / 128][L4]
    int64_t rows[2] = {0, 0};
};

// Whether the FP4 weight with these host e8m0 scales [rows, k/32] folds exactly (see above).
bool fp4_fold_foldable(const uint8_t *scale, int64_t rows, int64_t k);

// The host twin: one FP4 weight [rows, k] -> codes [rows, k], block scales [rows/128][L4]
// (host memory). Invalid for shapes the kernel refuses; the exactness is the caller's scan.
Status fp4_fold_e4m3_cpu(const uint8_t *w,
                         const uint8_t *scale,
                         int64_t rows,
                         int64_t k,
                         uint8_t *codes,
                         float *blk_scales);

// 1 .. k_fp4_fold_max_jobs jobs over the same k in one launch (jobs in host memory).
Status fp4_fold_e4m3_cuda(const fp4_fold_job *jobs, int count, int64_t k, CUstream_st *stream);

// The expert path's SwiGLU between the two GEMMs (swiglu_quant.cu): gu [rows, 2 * inter] f32
// (row stride ld, 0 = 2 * inter), g | u of one row as one GEMM wrote them, unrounded; each
// rounded to bf16 (the expert projections' y_round_bf16), h = moe.h's swiglu (clamp `limit`,
// routing weight row_weights[r] or 1, rounded to bf16) and h quantised as
// act_quant_fp8_vec128_cuda does it (linear_fp8_cublaslt.h): codes q [rows, inter] packed,
// scales fp32 [inter/128][rows]. inter % 128 == 0. h itself is not stored (w2 reads q).
Status swiglu_quant_vec128_cuda(const float *gu,
                                int rows,
                                int inter,
                                int64_t ld,
                                const float *row_weights,
                                float limit,
                                uint8_t *q,
                                float *scales,
                                CUstream_st *stream);
// Its host twin is tst_cuda_ops.cpp's (swiglu_cpu on the rounded g, u, then act_quant).

// One launch for the rows of 1 .. k_fp4_fold_max_jobs experts of a chunk (expert_rows.cu and
// swiglu_quant.cu): expert i has rows[i] rows at chunk row first_i = rows[0] + .. + rows[i-1];
// its quantised rows are codes q + first_i * k and VEC128 scales scales + first_i * (k / 128)
// laid out [k/128][rows[i]] - each expert's own cuBLASLt operand, as one call per expert would
// write them (host arrays of count entries, device pointers).
// x[i] [rows[i], k] packed f32 -> as act_quant_fp8_vec128_cuda on each expert's rows.
Status act_quant_vec128_rows_cuda(const float *const *x,
                                  const int *rows,
                                  int count,
                                  int k,
                                  uint8_t *q,
                                  float *scales,
                                  CUstream_st *stream);
// swiglu_quant_vec128_cuda over the chunk's g | u rows (gu row first_i + r, row stride ld),
// expert i's routing weights row_weights[i] (nullptr: 1).
Status swiglu_quant_vec128_rows_cuda(const float *gu,
                                     const float *const *row_weights,
                                     const int *rows,
                                     int count,
                                     int inter,
                                     int64_t ld,
                                     float limit,
                                     uint8_t *q,
                                     float *scales,
                                     CUstream_st *stream);
// y[i] [rows[i], cols] packed rounded to bf16 values in place (round_bf16_rows_cuda on each).
Status round_bf16_rows_multi_cuda(
    float *const *y, const int *rows, int count, int cols, CUstream_st *stream);

// A plain SIMT stand-in for CublasLtLinear::runQuantized (expert_rows.cu): y [m, n] f32 (row
// stride ldy, 0 = n) = sum over 128-blocks b of (the block's e4m3 products summed in fp32, k
// order) * xScales[b][m] * wScales[j/128][b] in the BLK128x128 / VEC128 layouts above. Slow; for
// the emulation, where cuBLASLt does not run (FATHOM_CUDA_EXPERTS_LT_EMU=1 sends the executor's
// expert path through it, so the model tests check the path's glue). n, k multiples of 128.
Status gemm_e4m3_blk128_ref_cuda(const uint8_t *w,
                                 const float *w_scales,
                                 int n,
                                 int k,
                                 const uint8_t *xq,
                                 const float *x_scales,
                                 int m,
                                 float *y,
                                 int64_t ldy,
                                 CUstream_st *stream);

} // namespace fathom::kernels
