// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  SwiGLU + activation quantisation of the cuBLASLt expert path (fp4_fold_e4m3.h, ltexperts):
  one warp per (row, 128-block of h), each lane 4 values. g and u rounded to bf16 first (the
  bits swiglu_cuda reads after a y_round_bf16 GEMM), h as swiglu.cu computes it (SiLU in double
  rounded to fp32, the products rounded separately, no FMA), then the block's amax, scale byte
  and e4m3 codes as linear_fp8_quant.cu's act_quant_vec128_kernel: bit-identical to swiglu_cpu
  followed by quant.h's act_quant.
*/
#include "expert_rows.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;

__global__ void __launch_bounds__(k_threads) swiglu_quant_kernel(const cuda::expert_rows_table t,
                                                                 const float *gu,
                                                                 int inter,
                                                                 int64_t ld,
                                                                 float limit,
                                                                 uint8_t *q,
                                                                 float *scales)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    cuda::row_block rb;
    if (!cuda::row_block_of_warp(t, inter / 128, rb))
        return;
    const int lane = threadIdx.x & 31;
    const float *g = gu + rb.R * ld + rb.b * 128;
    const float *u = g + inter;
    const float *row_weights = t.in[rb.s];
    const float w = row_weights ? row_weights[rb.r] : 1.0f;
    float v[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
        v[i] = cuda::swiglu_bf16(cuda::round_bf16(g[lane + 32 * i]),
                                 cuda::round_bf16(u[lane + 32 * i]),
                                 limit,
                                 row_weights != nullptr,
                                 w);
    const float sc = cuda::warp_quant128_e4m3(v, q + rb.R * inter + rb.b * 128);
    if (lane == 0)
        scales[rb.scale_at] = sc;
}

} // namespace

Status swiglu_quant_vec128_rows_cuda(const float *gu,
                                     const float *const *row_weights,
                                     const int *rows,
                                     int count,
                                     int inter,
                                     int64_t ld,
                                     float limit,
                                     uint8_t *q,
                                     float *scales,
                                     CUstream_st *stream)
{
    cuda::expert_rows_table t;
    if (inter <= 0 || inter % 128 != 0
        || !cuda::make_expert_rows_table(t, row_weights, nullptr, rows, count))
        return Status::invalid("swiglu_quant_vec128_cuda: 1 .. 16 experts, inter % 128 == 0");
    const int64_t units = t.first[count] * (inter / 128);
    if (units == 0)
        return Status::success();
    if (!gu || !q || !scales)
        return Status::invalid("swiglu_quant_vec128_cuda: null gu, q or scales");
    const int64_t blocks = (units + k_threads / 32 - 1) / (k_threads / 32);
    FATHOM_LAUNCH(static_cast<unsigned>(blocks), k_threads, 0, stream, swiglu_quant_kernel)
    (t, gu, inter, ld ? ld : 2 * static_cast<int64_t>(inter), limit, q, scales);
    return cuda::launch_status();
}

Status swiglu_quant_vec128_cuda(const float *gu,
                                int rows,
                                int inter,
                                int64_t ld,
                                const float *row_weights,
                                float limit,
                                uint8_t *q,
                                float *scales,
                                CUstream_st *stream)
{
    if (rows < 0)
        return Status::invalid("swiglu_quant_vec128_cuda: negative rows");
    return swiglu_quant_vec128_rows_cuda(
        gu, &row_weights, &rows, 1, inter, ld, limit, q, scales, stream);
}

} // namespace fathom::kernels
