// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  RMSNorm (rmsnorm.h) on the device.

  rmsnorm: one block per row. The sum of squares is accumulated in double (the squares of fp32
  values are exact there) with a block reduction and rounded once, as rmsnorm_cpu does; each
  thread then scales the elements it read, so y may alias x.
  head_rmsnorm_bf16: the query's per-head normalisation in bf16 arithmetic; one warp per row
  (rows are heads of 512), every intermediate rounded to bf16 exactly as the CPU twin.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;

__global__ void rmsnorm_kernel(RmsNormParams p, int xs, int ys)
{
    __shared__ double scratch[32];
    const float *x = p.x + static_cast<int64_t>(blockIdx.x) * xs;
    float *y = p.y + static_cast<int64_t>(blockIdx.x) * ys;
    double ss = 0.0;
    for (int i = threadIdx.x; i < p.dim; i += blockDim.x) {
        const double v = x[i];
        ss += v * v;
    }
    ss = cuda::block_sum(ss, scratch);
    const float var = static_cast<float>(ss / p.dim);
    const float rs = cuda::rsqrt_f32(__fadd_rn(var, p.eps));
    for (int i = threadIdx.x; i < p.dim; i += blockDim.x) {
        const float n = __fmul_rn(x[i], rs);
        y[i] = cuda::round_bf16(p.weight ? __fmul_rn(p.weight[i], n) : n);
    }
}

__global__ void head_rmsnorm_bf16_kernel(float *x, int rows, int dim, float eps)
{
    const int warp = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x & 31;
    if (warp >= rows)
        return;
    float *v = x + static_cast<int64_t>(warp) * dim;
    double s = 0.0;
    for (int i = lane; i < dim; i += 32)
        s += cuda::round_bf16(__fmul_rn(v[i], v[i]));
    s = cuda::warp_sum(s);
    const float mean = cuda::round_bf16(static_cast<float>(s / dim));
    const float var = cuda::round_bf16(__fadd_rn(mean, eps));
    const float rs = cuda::round_bf16(cuda::rsqrt_f32(var));
    for (int i = lane; i < dim; i += 32)
        v[i] = cuda::round_bf16(__fmul_rn(v[i], rs));
}

} // namespace

Status rmsnorm_cuda(const RmsNormParams &p, CUstream_st *stream)
{
    if (!p.x || !p.y || p.rows < 0 || p.dim <= 0)
        return Status::invalid("rmsnorm_cuda: bad arguments");
    if (p.rows == 0)
        return Status::success();
    const int xs = p.x_stride ? p.x_stride : p.dim;
    const int ys = p.y_stride ? p.y_stride : p.dim;
    FATHOM_LAUNCH(p.rows, k_threads, 0, stream, rmsnorm_kernel)(p, xs, ys);
    return cuda::launch_status();
}

Status head_rmsnorm_bf16_cuda(float *x, int rows, int dim, float eps, CUstream_st *stream)
{
    if (!x || rows < 0 || dim <= 0)
        return Status::invalid("head_rmsnorm_bf16_cuda: bad arguments");
    if (rows == 0)
        return Status::success();
    const int warps = k_threads / 32;
    FATHOM_LAUNCH(cuda::grid_for(rows, warps), k_threads, 0, stream, head_rmsnorm_bf16_kernel)
    (x, rows, dim, eps);
    return cuda::launch_status();
}

} // namespace fathom::kernels
