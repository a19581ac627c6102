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
#include "row_ops.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;

__global__ void rmsnorm_kernel(RmsNormParams p, int xs, int ys)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ double scratch[32];
    cuda::rmsnorm_row(p.x + static_cast<int64_t>(blockIdx.x) * xs,
                      p.y + static_cast<int64_t>(blockIdx.x) * ys,
                      p.weight,
                      p.dim,
                      p.eps,
                      scratch);
}

__global__ void head_rmsnorm_bf16_kernel(float *x, int rows, int dim, float eps)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int warp = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x & 31;
    if (warp >= rows)
        return;
    float *v = x + static_cast<int64_t>(warp) * dim;
    const float rs = cuda::head_rms_scale_bf16(v, dim, eps, lane);
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
