// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Device helpers of the cuBLASLt GEMMs (engine/cuda/cublaslt_linear.h): the
  activation quantiser of linear.h (quant.h act_quant: e4m3 codes, blocks of 128 along k,
  power-of-two scales 2^ceil(log2(amax / 448)) with the 1e-4 amax floor) writing what cuBLASLt's
  CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F operand wants, and the host conversion of a weight's
  e8m0 128x128 scales to CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F.

  Layouts (cuBLAS "scaling factors layouts" for the 1x128 / 128x128 block modes; both operands
  K-major):
  - activations x [m, k]: codes q [m, k] packed (row stride k); scales fp32 [k/128][m], i.e.
    scale of row r, k-block b at b * m + r (outer dimension fastest).
  - weight W [n, k]: scales fp32 [ceil(n/128)][L4] with L4 = ceil(k/128) rounded up to a
    multiple of 4: block (nb, kb) at nb * L4 + kb; the padding is 0.
*/

#include "kernels/status.h"

#include <cstdint>

struct CUstream_st;

namespace fathom::kernels {

// x [m, k] f32, row stride ldx (0 = k); k % 128 == 0. q and scales as above (device memory).
Status act_quant_fp8_vec128_cuda(
    const float *x, int m, int k, int64_t ldx, uint8_t *q, float *scales, CUstream_st *stream);

// y [m, n] f32 (row stride ldy, 0 = n) = the bf16 values yb [m, n] (packed), widened exactly
// (the bf16-output fallback when cuBLASLt has no f32-output kernel for the block-scaled modes).
Status widen_bf16_rows_cuda(
    const uint16_t *yb, int m, int n, float *y, int64_t ldy, CUstream_st *stream);

// The bf16 dense GEMM's operand (CublasLtLinear::runDense): x [m, k] f32 (row stride ldx, 0 = k)
// as two packed bf16 matrices, hi = bf16(x) and lo = bf16(x - hi) (both round to nearest even),
// so x = hi + lo to about 2^-16 relative (exactly, with lo = 0, where x holds bf16 values - the
// engine's activations at the dense linears do, spec §3). hi and lo: [m, k] each (device).
Status split_bf16_rows_cuda(
    const float *x, int m, int k, int64_t ldx, uint16_t *hi, uint16_t *lo, CUstream_st *stream);

// Number of floats of the BLK128x128 weight scale tensor.
int64_t fp8_blk128_scale_count(int64_t n, int64_t k);
// e8m0 [ceil(n/128), ceil(k/128)] (host) -> fp32 BLK128x128 layout (host), 2^(s - 127) exactly
// (s = 255: NaN, as formats.h).
void fp8_blk128_scales_from_e8m0(const uint8_t *e8m0, int64_t n, int64_t k, float *out);

} // namespace fathom::kernels
