// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  The cuBLASLt expert path's per-expert row passes over a whole chunk in one launch each
  (fp4_fold_e4m3.h, ltexperts): the x quantisation (the warp of linear_fp8_quant.cu's
  act_quant_vec128_kernel, each expert's scales in its own [k/128][rows] block) and the bf16
  rounding of the outputs (convert.cu's round_rows_kernel). Same arithmetic, same bits as one
  launch per expert.
*/
#include "expert_rows.cuh"

#include <cstring>

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;

__global__ void __launch_bounds__(k_threads)
    act_quant_rows_kernel(const cuda::expert_rows_table t, int k, uint8_t *q, float *scales)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    cuda::row_block u;
    if (!cuda::row_block_of_warp(t, k / 128, u))
        return;
    const int lane = threadIdx.x & 31;
    const float *xr = t.in[u.s] + u.r * k + u.b * 128;
    float v[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
        v[i] = xr[lane + 32 * i];
    const float sc = cuda::warp_quant128_e4m3(v, q + u.R * k + u.b * 128);
    if (lane == 0)
        scales[u.scale_at] = sc;
}

__global__ void round_rows_multi_kernel(const cuda::expert_rows_table t, int cols)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= t.first[t.count] * cols)
        return;
    const int64_t R = i / cols;
    const int s = cuda::expert_of_row(t, R);
    float *y = t.out[s] + (R - t.first[s]) * cols + i % cols;
    *y = cuda::round_bf16(*y);
}

__global__ void gemm_ref_kernel(const uint8_t *w,
                                const float *w_scales,
                                int n,
                                int k,
                                const uint8_t *xq,
                                const float *x_scales,
                                int m,
                                float *y,
                                int64_t ldy)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= static_cast<int64_t>(m) * n)
        return;
    const int64_t r = i / n, j = i % n;
    const int kb = k / 128, l4 = (kb + 3) / 4 * 4;
    float acc = 0.0f;
    for (int b = 0; b < kb; ++b) {
        float sum = 0.0f;
        for (int t = b * 128; t < b * 128 + 128; ++t)
            sum = __fadd_rn(sum,
                            __fmul_rn(cuda::e4m3_to_f32(xq[r * k + t]),
                                      cuda::e4m3_to_f32(w[j * k + t])));
        const float s = __fmul_rn(x_scales[static_cast<int64_t>(b) * m + r],
                                  w_scales[(j / 128) * l4 + b]);
        acc = __fadd_rn(acc, __fmul_rn(sum, s));
    }
    y[r * ldy + j] = acc;
}

} // namespace

Status act_quant_vec128_rows_cuda(const float *const *x,
                                  const int *rows,
                                  int count,
                                  int k,
                                  uint8_t *q,
                                  float *scales,
                                  CUstream_st *stream)
{
    cuda::expert_rows_table t;
    if (!x || k <= 0 || k % 128 != 0 || !q || !scales
        || !cuda::make_expert_rows_table(t, x, nullptr, rows, count))
        return Status::invalid("act_quant_vec128_rows_cuda: 1 .. 16 experts, k % 128 == 0");
    for (int i = 0; i < count; ++i)
        if (rows[i] > 0 && !x[i])
            return Status::invalid("act_quant_vec128_rows_cuda: null x");
    const int64_t units = t.first[count] * (k / 128);
    if (units == 0)
        return Status::success();
    const int64_t blocks = (units + k_threads / 32 - 1) / (k_threads / 32);
    FATHOM_LAUNCH(static_cast<unsigned>(blocks), k_threads, 0, stream, act_quant_rows_kernel)
    (t, k, q, scales);
    return cuda::launch_status();
}

Status round_bf16_rows_multi_cuda(
    float *const *y, const int *rows, int count, int cols, CUstream_st *stream)
{
    cuda::expert_rows_table t;
    if (!y || cols <= 0 || !cuda::make_expert_rows_table(t, nullptr, y, rows, count))
        return Status::invalid("round_bf16_rows_multi_cuda: 1 .. 16 blocks, cols > 0");
    for (int i = 0; i < count; ++i)
        if (rows[i] > 0 && !y[i])
            return Status::invalid("round_bf16_rows_multi_cuda: null y");
    const long long n = static_cast<long long>(t.first[count]) * cols;
    if (n == 0)
        return Status::success();
    FATHOM_LAUNCH(cuda::grid_for(n, 256), 256, 0, stream, round_rows_multi_kernel)(t, cols);
    return cuda::launch_status();
}

Status gemm_e4m3_blk128_ref_cuda(const uint8_t *w,
                                 const float *w_scales,
                                 int n,
                                 int k,
                                 const uint8_t *xq,
                                 const float *x_scales,
                                 int m,
                                 float *y,
                                 int64_t ldy,
                                 CUstream_st *stream)
{
    if (!w || !w_scales || !xq || !x_scales || !y || m < 0 || n <= 0 || k <= 0 || n % 128 != 0
        || k % 128 != 0 || (ldy != 0 && ldy < n))
        return Status::invalid("gemm_e4m3_blk128_ref_cuda: bad arguments");
    const long long total = static_cast<long long>(m) * n;
    if (total == 0)
        return Status::success();
    FATHOM_LAUNCH(cuda::grid_for(total, 256), 256, 0, stream, gemm_ref_kernel)
    (w, w_scales, n, k, xq, x_scales, m, y, ldy ? ldy : n);
    return cuda::launch_status();
}

} // namespace fathom::kernels
